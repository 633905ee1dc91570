//! The contract's framing: a signed 32-bit little-endian length, then that many bytes of body.
//!
//! [`decode`] is a pure function over a buffer so that it can be tested (and fuzzed) on any byte
//! sequence split at any boundary: it never panics, and it refuses a length that is not positive
//! or is over the limit before anything is allocated for the body.

use bytes::{Buf, Bytes, BytesMut};

/// Size of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length is zero or negative.
    #[error("frame length {0} is not positive")]
    NotPositive(i32),
    /// The length is over the limit.
    #[error("frame length {length} is over the limit of {limit} bytes")]
    TooLong {
        /// The announced length.
        length: i32,
        /// The limit.
        limit: usize,
    },
}

/// Takes one whole frame's body off the front of `buffer`, if a whole frame is there.
///
/// `Ok(None)`: more bytes are needed (nothing is consumed). `Err`: the header announces a length
/// that is not positive or is over `limit`; the stream cannot be resynchronised after that.
pub fn decode(buffer: &mut BytesMut, limit: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(header) = buffer.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let length = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let body_len = match usize::try_from(length) {
        Ok(0) | Err(_) => return Err(FrameError::NotPositive(length)),
        Ok(n) if n > limit => return Err(FrameError::TooLong { length, limit }),
        Ok(n) => n,
    };
    if buffer.len() < HEADER_LEN + body_len {
        return Ok(None);
    }
    buffer.advance(HEADER_LEN);
    Ok(Some(buffer.split_to(body_len).freeze()))
}

/// The header of a frame with a `len`-byte body: the length as a little-endian `i32`. A body
/// too long for it is `InvalidInput` (responses are far smaller).
pub fn header(len: usize) -> std::io::Result<[u8; HEADER_LEN]> {
    i32::try_from(len)
        .map(i32::to_le_bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a frame over 2 GiB"))
}

/// `body` framed: its [`header`], then the body.
///
/// # Panics
/// If `body` is longer than `i32::MAX` bytes; responses are far smaller.
pub fn encode(body: &[u8]) -> Vec<u8> {
    let header = header(body.len()).expect("a frame body fits in an i32 length");
    [&header[..], body].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(bytes: &[u8]) -> BytesMut {
        BytesMut::from(bytes)
    }

    #[test]
    fn whole_frames_decode_in_order_and_partial_ones_wait() {
        let mut stream = encode(br#"{"a":1}"#);
        stream.extend(encode(b"\"x\""));
        let mut buf = buffer(&stream[..5]);
        assert_eq!(decode(&mut buf, 100), Ok(None));
        assert_eq!(buf.len(), 5, "nothing consumed while incomplete");
        buf.extend_from_slice(&stream[5..]);
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap(), &br#"{"a":1}"#[..]);
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap(), &b"\"x\""[..]);
        assert_eq!(decode(&mut buf, 100), Ok(None));
    }

    #[test]
    fn non_positive_and_oversized_lengths_are_refused_from_the_header_alone() {
        assert_eq!(
            decode(&mut buffer(&0i32.to_le_bytes()), 100),
            Err(FrameError::NotPositive(0))
        );
        assert_eq!(
            decode(&mut buffer(&(-5i32).to_le_bytes()), 100),
            Err(FrameError::NotPositive(-5))
        );
        let huge = i32::MAX.to_le_bytes();
        assert_eq!(
            decode(&mut buffer(&huge), 100),
            Err(FrameError::TooLong {
                length: i32::MAX,
                limit: 100
            })
        );
        assert_eq!(
            decode(&mut buffer(&101i32.to_le_bytes()), 100),
            Err(FrameError::TooLong {
                length: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn the_header_is_what_python_struct_pack_i_writes() {
        // struct.pack('i', 258) on x86-64 / ARM
        assert_eq!(&encode(&[0; 258])[..4], b"\x02\x01\x00\x00");
    }
}
