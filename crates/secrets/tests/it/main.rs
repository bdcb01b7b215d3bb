//! The secret stores against real backends: the file store on real directories, and the GCP Secret Manager
//! client against the fake REST server on 127.0.0.1.

mod file_store;
mod gcp_fake;
