//! Where one chat message ends (`../shared/PROTOCOL.md` section 4): at `\n` (a trailing `\r`
//! dropped), or, for clients that write one message per write with no terminator, at the end of
//! a burst: when no byte follows within a short pause. A connection whose messages ended with
//! `\n` is a newline client from then on, and its unfinished line waits for its `\n` however
//! long the pause. A message over the limit is refused and its bytes dropped up to the next
//! boundary; bytes that are not UTF-8 are refused; the stream carries on after either.

/// One piece of what a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A whole message, and whether it ended with `\n`.
    Message {
        /// Its text.
        text: String,
        /// Whether `\n` ended it (the client's style).
        newline: bool,
    },
    /// A message over the size limit; its bytes were dropped.
    TooLarge,
    /// A message that is not UTF-8.
    NotUtf8,
}

/// Cuts a client's bytes into messages.
#[derive(Debug)]
pub struct Framer {
    pending: Vec<u8>,
    max: usize,
    /// Dropping the rest of an oversized message, up to its boundary.
    discarding: bool,
    /// The client ended a message with `\n`.
    newline_client: bool,
}

impl Framer {
    /// A framer for messages of at most `max` bytes.
    pub fn new(max: usize) -> Framer {
        Framer {
            pending: Vec::new(),
            max,
            discarding: false,
            newline_client: false,
        }
    }

    /// Takes bytes as they arrive; returns the pieces they complete.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            self.newline_client = true;
            if self.discarding {
                self.discarding = false;
            } else if self.pending.len() + end > self.max {
                self.pending.clear();
                pieces.push(Piece::TooLarge);
            } else {
                self.pending.extend_from_slice(&bytes[..end]);
                if self.pending.last() == Some(&b'\r') {
                    self.pending.pop();
                }
                pieces.extend(self.take(true));
            }
            bytes = &bytes[end + 1..];
        }
        if self.discarding {
            return pieces;
        }
        if self.pending.len() + bytes.len() > self.max {
            self.pending.clear();
            self.discarding = true;
            pieces.push(Piece::TooLarge);
        } else {
            self.pending.extend_from_slice(bytes);
        }
        pieces
    }

    /// Whether a pause now ends a message: bytes wait, and the client writes no terminators.
    pub fn waits_for_pause(&self) -> bool {
        !self.newline_client && (!self.pending.is_empty() || self.discarding)
    }

    /// The pause came: what waited is one message (or the end of a dropped one).
    pub fn pause(&mut self) -> Option<Piece> {
        if self.newline_client {
            return None;
        }
        if self.discarding {
            self.discarding = false;
            return None;
        }
        self.take(false)
    }

    fn take(&mut self, newline: bool) -> Option<Piece> {
        let bytes = std::mem::take(&mut self.pending);
        if bytes.is_empty() {
            return None;
        }
        Some(match String::from_utf8(bytes) {
            Ok(text) => Piece::Message { text, newline },
            Err(_) => Piece::NotUtf8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, newline: bool) -> Piece {
        Piece::Message {
            text: text.to_owned(),
            newline,
        }
    }

    #[test]
    fn lines_end_at_newline_wherever_the_reads_split_them() {
        let stream = "0001|alice|pw\r\n0002|alice|hi | there\n";
        for split in 0..=stream.len() {
            let mut framer = Framer::new(64);
            let mut pieces = framer.push(&stream.as_bytes()[..split]);
            pieces.extend(framer.push(&stream.as_bytes()[split..]));
            assert_eq!(
                pieces,
                [
                    message("0001|alice|pw", true),
                    message("0002|alice|hi | there", true)
                ],
                "split at {split}"
            );
            assert!(!framer.waits_for_pause());
        }
    }

    #[test]
    fn without_terminators_a_pause_ends_the_message() {
        let mut framer = Framer::new(64);
        for byte in b"0001|bob|pw" {
            assert!(framer.push(&[*byte]).is_empty());
        }
        assert!(framer.waits_for_pause());
        assert_eq!(framer.pause(), Some(message("0001|bob|pw", false)));
        assert_eq!(framer.pause(), None);
    }

    #[test]
    fn a_newline_client_waits_for_its_newline_after_a_pause() {
        let mut framer = Framer::new(64);
        framer.push(b"0002|a|first\n0002|a|sec");
        assert!(!framer.waits_for_pause());
        assert_eq!(framer.pause(), None);
        assert_eq!(framer.push(b"ond\n"), [message("0002|a|second", true)]);
    }

    #[test]
    fn an_oversized_message_is_dropped_up_to_its_boundary() {
        let mut framer = Framer::new(10);
        let mut pieces = framer.push(b"0002|a|0123456789");
        pieces.extend(framer.push(b"more of the same"));
        assert_eq!(pieces, [Piece::TooLarge]);
        assert_eq!(framer.pause(), None, "the rest of the burst is dropped");
        framer.push(b"0002|a|ok");
        assert_eq!(framer.pause(), Some(message("0002|a|ok", false)));

        let mut lines = Framer::new(8);
        let pieces = lines.push(b"0002|a|0123456789\n0002|a|x\n");
        assert_eq!(pieces, [Piece::TooLarge, message("0002|a|x", true)]);
        let pieces = lines.push(b"0123456789abc");
        assert_eq!(pieces, [Piece::TooLarge]);
        assert_eq!(lines.push(b"def\nok\n"), [message("ok", true)]);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_and_the_stream_goes_on() {
        let mut framer = Framer::new(64);
        assert_eq!(
            framer.push(b"0002|a|\xff\xfe\n0002|a|fine\n"),
            [Piece::NotUtf8, message("0002|a|fine", true)]
        );
    }
}
