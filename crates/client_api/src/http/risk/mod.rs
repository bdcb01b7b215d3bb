//! `/v1/clients/{id}/risk-assessments`: the append-only assessment history; a new assessment becomes the
//! client's current risk when it is the latest (the schema's trigger, V5).

pub mod create;
pub mod list;
