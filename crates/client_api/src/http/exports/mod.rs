//! Bulk export: `GET /v1/exports/clients` streams the filtered client list as CSV (`clients.rs`).

pub mod clients;
