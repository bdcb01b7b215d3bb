//! Bulk import of clients (`POST /v1/imports/clients`), as a job the service runs in the background:
//!
//! 1. `row.rs`: the columns of an import file (the API's field names plus the import's own references) and
//!    one parsed row; `parse.rs` reads CSV or JSON lines into rows, typing every value, and reports per line.
//! 2. `plan.rs`: the references between rows (by `key` or LEI, in any order) and to existing clients, keys
//!    used twice, cycles, and the order of insertion (parents before children, level by level).
//! 3. `write.rs`: the rows go to the database through `client_api.import_client_rows` (V14), which inserts
//!    them with every rule of the client table and reports each row that broke one.
//! 4. `job.rs`: the job as a row (`client_api.import_job` and its report `import_problem`), its state,
//!    progress and heartbeat, and the task that runs it; `upkeep.rs` fails jobs whose service stopped and
//!    purges old ones.
//!
//! `apply` writes all rows in one transaction or none; `validate` runs the very same transaction and rolls it
//! back, so both report exactly what the database would refuse.

pub mod job;
pub mod parse;
pub mod plan;
pub mod row;
pub mod upkeep;
pub mod write;

pub use job::{ImportJob, Mode, NewJob};
pub use row::{Format, LineProblem, MAX_BYTES, MAX_ROWS};
