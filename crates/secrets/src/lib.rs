//! secrets (work in progress).
