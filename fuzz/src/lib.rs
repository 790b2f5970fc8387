//! Shared by the fuzz targets: the reference grammar and matcher (`reference.rs`, also used by
//! `tests/reliability_input.rs`).

pub mod reference;
