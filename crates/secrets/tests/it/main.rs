//! The secret stores against real backends: the file store on real directories, and the GCP Secret Manager
//! client against the fake REST, metadata and OAuth servers on 127.0.0.1.

mod file_store;
mod gcp_adc;
mod gcp_common;
mod gcp_errors;
mod gcp_fake;
mod gcp_tokens;
mod iam;
