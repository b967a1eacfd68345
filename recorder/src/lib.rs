//! `scope-recorder`: the recorder's logic in plain Rust, covered by `cargo test`.
//!
//! The NIF crate (`recorder/native/scope_nif`) is a thin layer over this: it decodes terms and
//! calls in here. Data path: the traced process encodes a [`record::RawEvent`] into its
//! scheduler's [`ring::Ring`] (values copied by [`term_copy`], or rendered by [`render`] when
//! they cannot be copied whole, within their byte bound); the
//! writer thread drains the rings, resolves atom and pid words once each, and writes
//! `scope-format` segments.

pub mod clock;
pub mod drain;
pub mod msg_hash;
pub mod record;
pub mod recorder;
pub mod render;
pub mod ring;
pub mod term_copy;
