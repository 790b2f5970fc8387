//! trybuild harness package (tests only).
