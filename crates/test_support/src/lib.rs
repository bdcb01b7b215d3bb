//! test_support (work in progress).
