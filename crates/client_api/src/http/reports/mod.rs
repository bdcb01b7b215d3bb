//! `/v1/reports`: portfolio roll-ups and risk reviews due, read from the replica.

pub mod portfolio_summary;
pub mod reviews_due;
