//! # The Event Sourcing Workbook
//!
//! Learn Event Sourcing and CQRS by reading, running and extending small,
//! self-contained Rust lessons that use nothing but the standard library.
//!
//! Each lesson is one module, one runnable example, one test file and one
//! chapter of the book (`book/`):
//!
//! | # | module | teaches | run it |
//! |---|--------|---------|--------|
//! | 1 | [`l01_event_store`] | events as facts; an in-memory store with streams and global positions | `cargo run --example l01_event_store` |
//! | 5 | [`l05_cqrs`] | command and query sides that never import each other; projections on their own threads; read-your-writes with a timeout | `cargo run --example l05_cqrs` |
//!
//! Lessons never import one another: when a lesson builds on an earlier one it
//! carries the code it needs forward, so any lesson file can be copied into a
//! fresh crate on its own.
//!
//! The exercise stubs live in [`exercises`]; `cargo test --test lNN_topic --
//! --ignored` checks your answers, and `cargo test --features solutions` runs
//! the reference solutions instead.

pub mod l01_event_store;
pub mod l05_cqrs;

pub mod exercises;

/// Every chapter of the book is compiled and run as a doctest, so no Rust
/// listing in the book can drift from the crate.
#[cfg(doctest)]
mod book {
    #[doc = include_str!("../book/src/introduction.md")]
    mod introduction {}
    #[doc = include_str!("../book/src/l01_event_store.md")]
    mod l01_event_store {}
    #[doc = include_str!("../book/src/l05_cqrs.md")]
    mod l05_cqrs {}
}
