//! The service's vocabulary, independent of HTTP: representations, writable fields, ETags, wire formats, merge patch.

pub mod client;
pub mod client_view;
pub mod contact;
pub mod etag;
pub mod format;
pub mod merge_patch;
pub mod metadata;

pub use client::{CLIENT_COLUMNS, Client, ClientFields};
