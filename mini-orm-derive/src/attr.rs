//! The `#[model(...)]` and `#[field(...)]` attributes, parsed with their spans.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, UnOp};

const MODEL: &str = "model";
const FIELD: &str = "field";

const TABLE: &str = "table";
const INDEX: &str = "index";
const UNIQUE: &str = "unique";
const PRIMARY_KEY: &str = "primary_key";
const MAX_LEN: &str = "max_len";
const DEFAULT: &str = "default";
const COLUMN: &str = "column";
const SEARCHABLE: &str = "searchable";
const REFERENCES: &str = "references";
const ON_DELETE: &str = "on_delete";

const MODEL_KEYS: &str = "`table = \"name\"`, `index(field, ...)`, `unique(field, ...)`";
const FIELD_KEYS: &str = "`primary_key`, `unique`, `index`, `max_len = N`, `default = literal`, `column = \"name\"`, `searchable`, `references = Model`, `on_delete = \"cascade\" | \"restrict\" | \"set_null\"`";

/// Collects several errors so that one compilation reports them all.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// `#[model(...)]`.
#[derive(Default)]
pub struct ModelAttrs {
    pub table: Option<LitStr>,
    pub indexes: Vec<IndexAttr>,
}

/// `index(a, b)` or `unique(a, b)` inside `#[model(...)]`.
pub struct IndexAttr {
    pub unique: bool,
    pub fields: Vec<Ident>,
}

/// `#[field(...)]`.
#[derive(Default)]
pub struct FieldAttrs {
    pub primary_key: Option<Span>,
    pub unique: Option<Span>,
    pub index: Option<Span>,
    pub max_len: Option<u32>,
    pub default: Option<DefaultLit>,
    pub column: Option<LitStr>,
    /// `searchable`: the field's text goes into the search index.
    pub searchable: Option<Span>,
    /// `references = Model`: a foreign key to that model's primary key.
    pub references: Option<syn::Path>,
    /// `on_delete = "..."`, with the span of its value.
    pub on_delete: Option<(OnDelete, Span)>,
}

/// The `on_delete` actions, named as in `mini_orm::OnDelete`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    Restrict,
    Cascade,
    SetNull,
}

/// A column default: a literal, possibly negated.
pub struct DefaultLit {
    pub negative: bool,
    pub lit: Lit,
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &str,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("duplicate attribute `{key}`: give it once")));
    }
    *slot = Some(value);
    Ok(())
}

fn non_empty(lit: LitStr, what: &str) -> syn::Result<LitStr> {
    if lit.value().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("the {what} cannot be empty"),
        ));
    }
    Ok(lit)
}

pub fn model_attrs(attrs: &[Attribute], errors: &mut Errors) -> ModelAttrs {
    let mut parsed = ModelAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(MODEL)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(TABLE) {
                let name = non_empty(meta.value()?.parse()?, "table name")?;
                set_once(&mut parsed.table, name, &meta, TABLE)
            } else if meta.path.is_ident(INDEX) || meta.path.is_ident(UNIQUE) {
                let mut fields = Vec::new();
                meta.parse_nested_meta(|inner| match inner.path.get_ident() {
                    Some(ident) => {
                        fields.push(ident.clone());
                        Ok(())
                    }
                    None => Err(inner.error("expected a field name")),
                })?;
                if fields.is_empty() {
                    return Err(
                        meta.error("an index needs at least one field: `index(field, ...)`")
                    );
                }
                parsed.indexes.push(IndexAttr {
                    unique: meta.path.is_ident(UNIQUE),
                    fields,
                });
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown model attribute; expected one of {MODEL_KEYS}"
                )))
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    parsed
}

pub fn field_attrs(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut parsed = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(FIELD)) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident(PRIMARY_KEY) {
                set_once(&mut parsed.primary_key, span, &meta, PRIMARY_KEY)
            } else if meta.path.is_ident(UNIQUE) {
                set_once(&mut parsed.unique, span, &meta, UNIQUE)
            } else if meta.path.is_ident(INDEX) {
                set_once(&mut parsed.index, span, &meta, INDEX)
            } else if meta.path.is_ident(MAX_LEN) {
                let lit: syn::LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(lit.span(), "`max_len` must be at least 1"));
                }
                set_once(&mut parsed.max_len, n, &meta, MAX_LEN)
            } else if meta.path.is_ident(DEFAULT) {
                let expr: Expr = meta.value()?.parse()?;
                set_once(&mut parsed.default, default_lit(expr)?, &meta, DEFAULT)
            } else if meta.path.is_ident(COLUMN) {
                let name = non_empty(meta.value()?.parse()?, "column name")?;
                set_once(&mut parsed.column, name, &meta, COLUMN)
            } else if meta.path.is_ident(SEARCHABLE) {
                set_once(&mut parsed.searchable, span, &meta, SEARCHABLE)
            } else if meta.path.is_ident(REFERENCES) {
                let path: syn::Path = meta.value()?.parse()?;
                set_once(&mut parsed.references, path, &meta, REFERENCES)
            } else if meta.path.is_ident(ON_DELETE) {
                let lit: LitStr = meta.value()?.parse()?;
                let action = match lit.value().as_str() {
                    "restrict" => OnDelete::Restrict,
                    "cascade" => OnDelete::Cascade,
                    "set_null" => OnDelete::SetNull,
                    other => {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!("unknown `on_delete` action `{other}`; expected \"cascade\", \"restrict\" or \"set_null\""),
                        ));
                    }
                };
                set_once(&mut parsed.on_delete, (action, lit.span()), &meta, ON_DELETE)
            } else {
                Err(meta.error(format!(
                    "unknown field attribute; expected one of {FIELD_KEYS}"
                )))
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    parsed
}

fn default_lit(expr: Expr) -> syn::Result<DefaultLit> {
    let wrong = |span| {
        syn::Error::new(
            span,
            "`default` must be a literal: a number, a string or `true`/`false`",
        )
    };
    match expr {
        Expr::Lit(ExprLit {
            lit: lit @ (Lit::Int(_) | Lit::Float(_) | Lit::Str(_) | Lit::Bool(_)),
            ..
        }) => Ok(DefaultLit {
            negative: false,
            lit,
        }),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match *expr {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => Ok(DefaultLit {
                negative: true,
                lit,
            }),
            other => Err(wrong(other.span())),
        },
        other => Err(wrong(other.span())),
    }
}
