//! The HTTP side: the router, extractors that fail as problems, response helpers, keyset paging, middleware,
//! and one module per resource with one file per action.

pub mod addresses;
pub mod admission;
pub mod api_doc;
pub mod clients;
pub mod contacts;
pub mod exports;
pub mod extract;
pub mod hierarchy;
pub mod history;
pub mod idempotency;
pub mod imports;
pub mod links;
pub mod middleware;
pub mod ops;
pub mod paging;
pub mod reference;
pub mod reports;
pub mod respond;
pub mod risk;
pub mod router;
pub mod sql;
pub mod staleness;
pub mod unread_body;

pub use router::router;
