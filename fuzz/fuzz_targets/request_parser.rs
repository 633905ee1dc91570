//! Fuzzes both request parsers with any frame body: the Youku one
//! (`netdisk_core::server::youku::parse`, JSON tagged by `type`) and the netdisk one
//! (`netdisk_core::server::netdisk_door::parse`, `{"api", "data"}`), the entry points the
//! servers themselves use. Beyond "never panics" it checks that a Youku refusal is always a
//! `bad_request`, that only uploads announce raw bytes, and that a netdisk request is
//! well-formed only for an api the server knows. See README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netdisk_core::server::{netdisk_door, youku};

fuzz_target!(|body: &[u8]| {
    match youku::parse(body) {
        Ok(request) => {
            let uploads = matches!(request.kind(), "upload_movie" | "upload_file");
            assert_eq!(request.upload_size().is_some(), uploads);
        }
        Err(malformed) => assert_eq!(malformed.error.code(), "bad_request"),
    }
    if let Some(request) = netdisk_door::parse(body) {
        let known = ["register", "login", "upload", "check", "download"];
        if request.well_formed() {
            assert!(known.contains(&request.api()));
        }
    }
});
