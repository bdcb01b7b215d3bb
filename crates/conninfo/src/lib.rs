//! conninfo (work in progress).
