//! The API through its router and over real HTTP, on a real primary + streaming replica (one shared cluster
//! for this binary, a migrated database per test).

mod clients;
mod concurrency;
mod contacts;
mod demo;
mod embedded_default;
mod erasure;
mod errors;
mod full_stack;
mod hierarchy;
mod history;
mod iam_login;
mod imports;
mod metadata;
mod over_http;
mod ownership;
mod production_build;
mod retry;
mod staleness;
mod support;
mod tokens;
mod upkeep;
