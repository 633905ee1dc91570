//! The answer the contract gives (`../shared/PROTOCOL.md` sections 2 and 3): the outcomes a
//! request can get, what each field accepts, and so which answer each bad value must get
//! (`bad_request`, or the specific code, or success where the value is merely unusual text).

use crate::mutations::{Limit, Mutation};
use crate::stored::Stored;

/// The answer a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Youku: `flag: true`.
    Ok,
    /// Youku: `flag: false` with this code.
    Code(&'static str),
    /// Youku: `flag: false` with this code, then the server closes the connection.
    CodeThenClose(&'static str),
    /// Netdisk: this final code, after a `99999` go-ahead or not.
    Nd { code: i64, go_ahead: bool },
}

impl Outcome {
    /// Whether the request was accepted.
    pub(crate) fn succeeded(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Nd { code: 1, .. })
    }
}

/// The Youku codes of the contract (section 2).
pub(crate) const CODES: [&str; 10] = [
    "bad_request",
    "not_logged_in",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "locked",
    "integrity",
    "unavailable",
    "internal",
];

/// Netdisk's final code `code`, without a go-ahead.
pub(crate) const fn nd(code: i64) -> Outcome {
    Outcome::Nd {
        code,
        go_ahead: false,
    }
}

pub(crate) const BAD_REQUEST: Outcome = Outcome::Code("bad_request");
pub(crate) const NOT_LOGGED_IN: Outcome = Outcome::Code("not_logged_in");

/// The outcomes a request's contract gives to its classes of input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Codes {
    /// Accepted.
    pub(crate) ok: Outcome,
    /// A field missing or of the wrong type.
    pub(crate) malformed: Outcome,
    /// A field of the right type that the rules refuse (empty, too long, control characters).
    pub(crate) invalid: Outcome,
    /// An upload over the size limit.
    pub(crate) too_large: Outcome,
}

pub(crate) const YOUKU: Codes = Codes {
    ok: Outcome::Ok,
    malformed: BAD_REQUEST,
    invalid: BAD_REQUEST,
    too_large: Outcome::CodeThenClose("too_large"),
};

/// A netdisk api's codes: `bad` for bad parameters; success is 1.
pub(crate) const fn netdisk(bad: i64) -> Codes {
    Codes {
        ok: nd(1),
        malformed: nd(bad),
        invalid: nd(bad),
        too_large: nd(bad),
    }
}

/// What a field accepts, and so which answer each mutation gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Checked text: `1..=limit` (or `0..=`), control characters refused unless allowed.
    Text {
        limit: Limit,
        empty_ok: bool,
        control_ok: bool,
    },
    /// Any string is well-formed and gets this answer (a wrong password, an unknown session,
    /// a value outside a fixed set); anything else is malformed.
    Opaque(Outcome),
    /// A session token: any string, and no value at all (missing or `null`), gets this answer
    /// (a request that needs a login and carries none is not logged in); anything else is
    /// malformed.
    Token(Outcome),
    /// An optional string any value of which is accepted (a search keyword).
    OptionalText,
    /// Every mutation gets this answer.
    Any(Outcome),
    /// An `i64` id: any in-range number is simply not found.
    Id,
    /// An upload's `u64` size: a wrong size under the limit gets `under_limit`, a huge one
    /// `too_large`.
    Size { under_limit: Outcome },
    /// An optional `u64` (offset or limit): one past the end of what it pages gets `past_end`.
    Page { past_end: Outcome },
    /// `0`/`1` or a boolean.
    Flag,
}

/// One field of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The key (netdisk data fields are under `data`).
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Where an accepted value is stored, to check it was stored exactly.
    pub(crate) stored: Option<Stored>,
}

/// A field whose accepted values are not checked in a table.
pub(crate) const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        stored: None,
    }
}

/// A field whose accepted values must be stored exactly as sent, in `column`.
pub(crate) const fn stored(name: &'static str, kind: Kind, column: Stored) -> Field {
    Field {
        name,
        kind,
        stored: Some(column),
    }
}

/// A name or title: 1 to `chars` characters, no control characters.
pub(crate) const fn text(chars: usize) -> Kind {
    Kind::Text {
        limit: Limit::Chars(chars),
        empty_ok: false,
        control_ok: false,
    }
}

pub(crate) const PASSWORD: Kind = Kind::Text {
    limit: Limit::Bytes(1024),
    empty_ok: false,
    control_ok: true,
};

/// The answer the contract gives to `mutation` in a field of `kind`.
pub(crate) fn expected(kind: Kind, mutation: Mutation, codes: Codes) -> Outcome {
    use Mutation::*;
    let malformed = codes.malformed;
    match kind {
        Kind::Any(outcome) => outcome,
        Kind::Text {
            empty_ok,
            control_ok,
            ..
        } => match mutation {
            Empty if !empty_ok => codes.invalid,
            Huge | OverMax => codes.invalid,
            Nul | Control if !control_ok => codes.invalid,
            _ if mutation.is_string() => codes.ok,
            _ => malformed,
        },
        Kind::Opaque(outcome) if mutation.is_string() => outcome,
        Kind::Opaque(_) => malformed,
        Kind::Token(outcome) if mutation.is_string() || mutation.is_absent() => outcome,
        Kind::Token(_) => malformed,
        Kind::OptionalText if mutation.is_string() || mutation.is_absent() => codes.ok,
        Kind::OptionalText => malformed,
        Kind::Id => match mutation {
            Unused | Negative | MinI64 | MaxI64 => Outcome::Code("not_found"),
            _ => malformed,
        },
        Kind::Size { under_limit } => match mutation {
            Unused => under_limit,
            MaxI64 | MaxU64 => codes.too_large,
            _ => malformed,
        },
        Kind::Page { past_end } => match mutation {
            Missing | Null => codes.ok,
            Unused | MaxI64 | MaxU64 => past_end,
            _ => malformed,
        },
        Kind::Flag => match mutation {
            Bool => codes.ok,
            _ => malformed,
        },
    }
}

/// The length limit of a text field, for `AtMax`/`OverMax` (which apply to those only).
pub(crate) fn limit_of(kind: Kind) -> Option<Limit> {
    match kind {
        Kind::Text { limit, .. } => Some(limit),
        _ => None,
    }
}
