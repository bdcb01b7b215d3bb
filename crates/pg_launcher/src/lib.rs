//! pg_launcher (work in progress).
