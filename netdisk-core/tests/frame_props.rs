//! Property tests of the framing (`server::frame::decode`/`encode`) and of the connection-level
//! reader (`server::connection::Connection::read_frame` over `tokio::io::duplex`).
//!
//! Streams are built from valid frames, arbitrary headers (any `i32`, and values around 0 and
//! around the limit) and noise, then fed in arbitrary chunks. The properties:
//!
//! - decoding never panics, and every body it yields has `1..=limit` bytes, taken exactly from
//!   the stream after its header;
//! - while it waits for more bytes, nothing is consumed and the header it waits on announces
//!   `1..=limit` bytes: a length that is not positive or is over the limit is refused from the
//!   four header bytes alone, never buffered for;
//! - the outcome (frames, then a refusal or the bytes left waiting) is the same however the
//!   stream is split, and a stream of valid frames decodes to exactly those frames;
//! - the connection reader gives the same frames, then the refusal, a clean end, an unexpected
//!   EOF or (when the client keeps the stream open) a time-out, matching what was sent.
//!
//! `cargo test -p netdisk-core --test frame_props` runs proptest's default case count (256 per
//! property). A long run: `PROTOCOL_PROPTEST_CASES=100000 cargo test --release -p netdisk-core
//! --test frame_props` (`PROPTEST_CASES` works too). Each property prints its seed; rerun a
//! failure with `PROPTEST_RNG_SEED=<seed>`.

use std::hash::BuildHasher;
use std::time::Duration;

use bytes::BytesMut;
use netdisk_core::server::connection::{Connection, Limits, ReadError};
use netdisk_core::server::frame::{self, FrameError, HEADER_LEN};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use tokio::io::AsyncWriteExt;

/// The run's proptest configuration: proptest's defaults and environment, with
/// `PROTOCOL_PROPTEST_CASES` overriding the case count, and a printed seed (random unless
/// `PROPTEST_RNG_SEED` fixes it) so that any run can be repeated.
fn config() -> Config {
    let mut config = Config::default();
    if let Some(cases) = std::env::var("PROTOCOL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.cases = cases;
    }
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => std::collections::hash_map::RandomState::new().hash_one(0u8),
    };
    config.rng_seed = RngSeed::Fixed(seed);
    config.failure_persistence = None;
    eprintln!(
        "{} cases, seed {seed} (PROPTEST_RNG_SEED={seed} to repeat)",
        config.cases
    );
    config
}

/// One piece of a generated stream.
#[derive(Debug, Clone)]
enum Segment {
    /// A whole, valid frame with this body.
    Frame(Vec<u8>),
    /// A header announcing this length, whatever it is, and no body.
    Header(i32),
    /// Arbitrary bytes.
    Noise(Vec<u8>),
}

/// A limit, and a stream of segments whose headers are often near 0 or near the limit.
fn limit_and_segments() -> impl Strategy<Value = (usize, Vec<Segment>)> {
    (1usize..=100).prop_flat_map(|limit| {
        let near_limit = limit as i32 - 2..=limit as i32 + 2;
        let header = prop_oneof![any::<i32>(), -2i32..=2, near_limit, Just(i32::MIN)];
        let segment = prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 1..=limit).prop_map(Segment::Frame),
            1 => header.prop_map(Segment::Header),
            1 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(Segment::Noise),
        ];
        (Just(limit), proptest::collection::vec(segment, 0..12))
    })
}

/// The bytes of `segments`.
fn stream_of(segments: &[Segment]) -> Vec<u8> {
    let mut stream = Vec::new();
    for segment in segments {
        match segment {
            Segment::Frame(body) => stream.extend(frame::encode(body)),
            Segment::Header(length) => stream.extend(length.to_le_bytes()),
            Segment::Noise(bytes) => stream.extend(bytes),
        }
    }
    stream
}

/// Chunk lengths to split a stream with (used in turn, cyclically).
fn chunk_lengths() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..=16, 1..8)
}

/// `stream` cut into pieces of the lengths in `lengths`, cyclically.
fn split<'a>(stream: &'a [u8], lengths: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = stream;
    for &length in lengths.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(length.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// How decoding a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// A header was refused.
    Refused(FrameError),
    /// These bytes were left waiting for more.
    Waiting(Vec<u8>),
}

/// Appends `pieces` one at a time to a buffer and decodes after each, checking on every call
/// the properties in the module doc. Returns the frames and how it ended.
fn decode_incrementally(
    stream: &[u8],
    pieces: &[&[u8]],
    limit: usize,
) -> Result<(Vec<Vec<u8>>, End), TestCaseError> {
    let mut buffer = BytesMut::new();
    let mut consumed = 0;
    let mut frames = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            let before = buffer.clone();
            match frame::decode(&mut buffer, limit) {
                Ok(Some(body)) => {
                    prop_assert!((1..=limit).contains(&body.len()), "{} bytes", body.len());
                    let header = &stream[consumed..consumed + HEADER_LEN];
                    prop_assert_eq!(header, &(body.len() as i32).to_le_bytes()[..]);
                    consumed += HEADER_LEN;
                    prop_assert_eq!(&body[..], &stream[consumed..consumed + body.len()]);
                    consumed += body.len();
                    prop_assert_eq!(&buffer[..], &before[HEADER_LEN + body.len()..]);
                    frames.push(body.to_vec());
                }
                Ok(None) => {
                    prop_assert_eq!(&buffer, &before, "nothing is consumed while waiting");
                    if let Some(header) = buffer.get(..HEADER_LEN) {
                        let length = i32::from_le_bytes(header.try_into().unwrap());
                        prop_assert!(
                            length >= 1 && length as usize <= limit,
                            "waits on a header announcing {length} (limit {limit})"
                        );
                        prop_assert!(buffer.len() < HEADER_LEN + length as usize);
                    }
                    break;
                }
                Err(error) => {
                    prop_assert_eq!(&buffer, &before, "a refusal consumes nothing");
                    let header = buffer.get(..HEADER_LEN);
                    prop_assert!(header.is_some(), "refused before a whole header");
                    let length = i32::from_le_bytes(header.unwrap().try_into().unwrap());
                    let expected = if length <= 0 {
                        FrameError::NotPositive(length)
                    } else {
                        FrameError::TooLong { length, limit }
                    };
                    prop_assert_eq!(error, expected);
                    return Ok((frames, End::Refused(error)));
                }
            }
        }
    }
    Ok((frames, End::Waiting(buffer.to_vec())))
}

proptest! {
    #![proptest_config(config())]

    /// Any stream, any split: the checks of `decode_incrementally`, and one outcome whatever
    /// the split.
    #[test]
    fn any_stream_decodes_the_same_however_it_is_split(
        (limit, segments) in limit_and_segments(),
        lengths in chunk_lengths(),
    ) {
        let stream = stream_of(&segments);
        let whole = decode_incrementally(&stream, &[&stream], limit)?;
        let pieces = split(&stream, &lengths);
        let one_byte_at_a_time = split(&stream, &[1]);
        prop_assert_eq!(&decode_incrementally(&stream, &pieces, limit)?, &whole);
        prop_assert_eq!(&decode_incrementally(&stream, &one_byte_at_a_time, limit)?, &whole);
    }

    /// Valid frames, split anywhere, decode to exactly themselves with nothing left over.
    #[test]
    fn valid_frames_round_trip_however_split(
        (limit, bodies) in (1usize..=100).prop_flat_map(|limit| {
            let body = proptest::collection::vec(any::<u8>(), 1..=limit);
            (Just(limit), proptest::collection::vec(body, 0..12))
        }),
        lengths in chunk_lengths(),
    ) {
        let stream: Vec<u8> = bodies.iter().flat_map(|b| frame::encode(b)).collect();
        let (frames, end) = decode_incrementally(&stream, &split(&stream, &lengths), limit)?;
        prop_assert_eq!(frames, bodies);
        prop_assert_eq!(end, End::Waiting(Vec::new()));
    }

    /// The connection reader over an in-memory pipe: the frames the decoder finds in the
    /// stream, then the refusal (even while the client keeps the stream open), a clean end or
    /// an unexpected EOF when the client closes, or a time-out when it keeps the stream open.
    #[test]
    fn the_connection_reader_follows_the_decoder(
        (limit, segments) in limit_and_segments(),
        lengths in chunk_lengths(),
        pipe_capacity in 1usize..=32,
        client_closes in any::<bool>(),
    ) {
        let stream = stream_of(&segments);
        let (frames, end) = decode_incrementally(&stream, &[&stream], limit)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (read, outcome) = runtime.block_on(read_all(
            &stream, &lengths, limit, pipe_capacity, client_closes,
        ));
        prop_assert_eq!(read, frames);
        let expected = match (&end, client_closes) {
            (End::Refused(error), _) => format!("{:?}", ReadError::Frame(*error)),
            (End::Waiting(rest), true) if rest.is_empty() => "clean end".to_owned(),
            (End::Waiting(_), true) => format!("{:?}", std::io::ErrorKind::UnexpectedEof),
            (End::Waiting(_), false) => format!("{:?}", ReadError::TimedOut),
        };
        prop_assert_eq!(outcome, expected);
    }
}

/// Writes `stream` in pieces into a pipe of `pipe_capacity` bytes, closing it afterwards or
/// holding it open, and reads frames from the other end until `read_frame` stops yielding them.
/// Returns the frames and how reading ended, as text.
async fn read_all(
    stream: &[u8],
    lengths: &[usize],
    limit: usize,
    pipe_capacity: usize,
    client_closes: bool,
) -> (Vec<Vec<u8>>, String) {
    let (mut client, server) = tokio::io::duplex(pipe_capacity);
    let pieces: Vec<Vec<u8>> = split(stream, lengths)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let writer = tokio::spawn(async move {
        for piece in pieces {
            if client.write_all(&piece).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        if !client_closes {
            std::future::pending::<()>().await;
        }
    });
    let limits = Limits {
        max_frame: limit,
        idle_timeout: Duration::from_secs(60),
        frame_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_secs(60),
    };
    let mut connection = Connection::new(server, limits);
    let mut frames = Vec::new();
    let outcome = loop {
        match connection.read_frame().await {
            Ok(Some(body)) => frames.push(body.to_vec()),
            Ok(None) => break "clean end".to_owned(),
            Err(ReadError::Io(error)) => break format!("{:?}", error.kind()),
            Err(error) => break format!("{error:?}"),
        }
    };
    writer.abort();
    (frames, outcome)
}

#[test]
fn every_length_from_the_header_alone() {
    // The edges, exhaustively where it is cheap: every length in -300..=300 against limit 100,
    // with only the four header bytes buffered.
    for length in (-300i32..=300).chain([i32::MIN, i32::MIN + 1, i32::MAX - 1, i32::MAX]) {
        let mut buffer = BytesMut::from(&length.to_le_bytes()[..]);
        let outcome = frame::decode(&mut buffer, 100);
        match length {
            ..=0 => assert_eq!(outcome, Err(FrameError::NotPositive(length))),
            1..=100 => assert_eq!(outcome, Ok(None), "{length} waits for its body"),
            _ => assert_eq!(outcome, Err(FrameError::TooLong { length, limit: 100 })),
        }
    }
}
