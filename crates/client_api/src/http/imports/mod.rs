//! Bulk import of clients over HTTP: `POST /v1/imports/clients` accepts a file and answers 202 with the job
//! (`create.rs`); `GET /v1/imports/{id}` shows its state, progress and report (`get.rs`). The work is in
//! `crate::imports`.

pub mod create;
pub mod get;
