//! Fuzzes `netdisk_core::server::frame::decode` with any bytes, any limit and any split: the
//! first input byte picks the limit (1..=256), the second the chunk size the stream is fed in
//! (1..=16), the rest is the stream. Beyond "never panics" it checks, on every call, that a
//! yielded body has `1..=limit` bytes and is exactly what followed its header, that waiting
//! consumes nothing and only ever waits on a header announcing `1..=limit` bytes (a bad length
//! is refused from the four header bytes alone), that a refusal names the header's length, and
//! that feeding the stream whole gives the same outcome. See README.md.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use netdisk_core::server::frame::{self, FrameError, HEADER_LEN};

/// Frames decoded, then the refusal or the bytes left waiting.
type Outcome = (Vec<Vec<u8>>, Result<Vec<u8>, FrameError>);

/// Feeds `stream` in pieces of `chunk` bytes, decoding after each and checking every call.
fn decode_in_chunks(stream: &[u8], chunk: usize, limit: usize) -> Outcome {
    let mut buffer = BytesMut::new();
    let mut consumed = 0;
    let mut frames = Vec::new();
    for piece in stream.chunks(chunk) {
        buffer.extend_from_slice(piece);
        loop {
            let before = buffer.clone();
            match frame::decode(&mut buffer, limit) {
                Ok(Some(body)) => {
                    assert!((1..=limit).contains(&body.len()));
                    let framed = frame::encode(&body);
                    assert_eq!(&stream[consumed..consumed + framed.len()], &framed[..]);
                    consumed += framed.len();
                    assert_eq!(&buffer[..], &before[framed.len()..]);
                    frames.push(body.to_vec());
                }
                Ok(None) => {
                    assert_eq!(buffer, before, "nothing is consumed while waiting");
                    if let Some(header) = buffer.get(..HEADER_LEN) {
                        let length = i32::from_le_bytes(header.try_into().unwrap());
                        assert!(length >= 1 && length as usize <= limit);
                        assert!(buffer.len() < HEADER_LEN + length as usize);
                    }
                    break;
                }
                Err(error) => {
                    assert_eq!(buffer, before, "a refusal consumes nothing");
                    let length = i32::from_le_bytes(buffer[..HEADER_LEN].try_into().unwrap());
                    let expected = if length <= 0 {
                        FrameError::NotPositive(length)
                    } else {
                        FrameError::TooLong { length, limit }
                    };
                    assert_eq!(error, expected);
                    return (frames, Err(error));
                }
            }
        }
    }
    (frames, Ok(buffer.to_vec()))
}

fuzz_target!(|data: &[u8]| {
    let [limit, chunk, stream @ ..] = data else {
        return;
    };
    let limit = usize::from(*limit) + 1;
    let chunk = usize::from(*chunk % 16) + 1;
    let chunked = decode_in_chunks(stream, chunk, limit);
    let whole = decode_in_chunks(stream, stream.len().max(1), limit);
    assert_eq!(chunked, whole, "the outcome does not depend on the split");
});
