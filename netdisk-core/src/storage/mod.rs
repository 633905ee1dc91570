//! File storage that loses nothing: uploads are verified and made durable before they count.
//!
//! Files live under a storage root with server-chosen names; a client's file name never
//! becomes part of a path. The layout on disk is:
//!
//! ```text
//! <root>/tmp/<32 random hex chars>.part         an upload in progress (or a crash leftover)
//! <root>/blobs/<ab>/<sha256 hex>-<blob_id>      a stored blob; <ab> = first two hex chars of the sha
//! <root>/staged/<upload id>.part                 a resumable upload's bytes so far (`staged`)
//! ```
//!
//! Content is addressed by its SHA-256 so the caller can deduplicate identical uploads; the
//! database (not this module) keeps the reference counts and the `blob_id`s.
//!
//! The durability steps of an upload ([`Storage::receive`] then [`Received::persist`]):
//!
//! 1. the declared size is checked against the limit before anything is read or created;
//! 2. exactly `size` bytes are streamed through a few reused 256 KiB buffers into a new temporary
//!    file `<root>/tmp/<random>.part` (same filesystem as the blobs, so the final rename is
//!    atomic), MD5 and SHA-256 being computed on two threads alongside, and what was written
//!    so far being synced in the background every few megabytes ([`writeback`]);
//! 3. the size and the MD5 (if the client declared one) are checked;
//! 4. the temporary file is fsynced (`sync_all`);
//! 5. [`Received::persist`] renames it into `blobs/` and fsyncs the directory holding it (and
//!    `blobs/` itself when the two-character shard directory was just created).
//!
//! Any failure (reader error, reader ending early, MD5 mismatch, too large, the future being
//! dropped) removes the temporary file; a [`Received`] dropped without being persisted removes
//! its file too. Files left behind by a crash are removed by [`Storage::sweep_temporaries`] at
//! start-up. Downloads ([`Storage::open_blob`]) stream from an offset, in constant memory.
//!
//! The code is split by role: `layout` (the directories, the blob paths, reading, listing and
//! removing blobs), `receive` (steps 1 to 5: the temporary file, the checks, the fsync and the
//! rename), `hashing` (the MD5 and SHA-256 threads of step 2) and `writeback` (the syncs along
//! the way); their tests are in `tests`.

mod hashing;
mod layout;
mod receive;
mod staged;
mod writeback;

#[cfg(test)]
mod tests;

use std::io;

pub use layout::Storage;
pub use receive::Received;

/// What can go wrong storing or reading a file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The declared size is over the limit; nothing was read from the reader.
    #[error("file of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The declared size.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// The content's MD5 differs from the declared one (both lowercase hex).
    #[error("MD5 mismatch: expected {expected}, content has {actual}")]
    Integrity {
        /// The MD5 the client declared (lowercased).
        expected: String,
        /// The MD5 of the bytes actually received.
        actual: String,
    },
    /// The reader ended before `expected` bytes; `received` bytes came.
    #[error("upload ended early: {received} of {expected} bytes received")]
    Incomplete {
        /// The declared size.
        expected: u64,
        /// How many bytes came before the reader ended.
        received: u64,
    },
    /// A path given to `open_blob`/`remove_blob`/`blob_exists`/`persist` is not one
    /// [`Storage::blob_path`] makes.
    #[error("invalid blob path: {0:?}")]
    InvalidPath(String),
    /// An I/O error from the reader or the filesystem.
    #[error(transparent)]
    Io(#[from] io::Error),
}
