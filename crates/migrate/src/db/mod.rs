//! Everything that talks to PostgreSQL: the session (`session`), the history table
//! (`history`), the migration lock (`lock`), catalog facts and `clean` (`catalog`), pipelined
//! execution (`pipeline`) and applying migrations with their history rows (`apply`).

pub mod apply;
pub mod catalog;
pub mod history;
pub mod lock;
pub(crate) mod pipeline;
pub mod session;
