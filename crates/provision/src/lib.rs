//! provision (work in progress).
