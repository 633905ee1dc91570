//! # netdisk-core
//!
//! The video site ("Youku clone") and personal netdisk as a library: the data model over
//! [`mini_orm`], and (as it grows) the services, the file storage and the protocol servers.
//!
//! - [`models`]: the tables, and [`models::create_schema`] to create them on either backend.

pub mod models;
