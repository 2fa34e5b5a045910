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
//! | 2 | [`l02_commands`] | commands vs events; a handler that loads, folds, decides and appends; typed rejections | `cargo run --example l02_commands` |
//! | 3 | [`l03_projections`] | read models with checkpoints; rebuild equals incremental; idempotent delivery; side effects that never re-fire | `cargo run --example l03_projections` |
//! | 4 | [`l04_queries`] | querying a stream or a projection; state as of a version or a recorded time; a post's history | `cargo run --example l04_queries` |
//! | 5 | [`l05_cqrs`] | command and query sides that never import each other; projections on their own threads; read-your-writes with a timeout | `cargo run --example l05_cqrs` |
//! | 6 | [`l06_aggregates`] | aggregates as deciders; a repository; unique emails via reservation streams | `cargo run --example l06_aggregates` |
//! | 7 | [`l07_testing`] | given/when/then for deciders; seeded property tests that check the laws and catch a planted bug | `cargo run --example l07_testing` |
//! | 8 | [`l08_concurrency`] | expected versions, conflicts and bounded retries; racing threads; idempotent commands | `cargo run --example l08_concurrency` |
//! | 9 | [`l09_snapshots`] | snapshots as a cache: snapshot + tail; discard on schema mismatch; as-of never uses a newer snapshot | `cargo run --example l09_snapshots` |
//! | 10 | [`l10_versioning`] | events to bytes and back, strictly; upcasting v1→v2→v3 on read, one-to-many too; versioned snapshots | `cargo run --example l10_versioning` |
//! | 11 | [`l11_subscriptions`] | the notification log; catch-up then live; checkpoints committed with the view; reactors apart from projections; failed subscriptions; gaps and the high-water mark | `cargo run --example l11_subscriptions` |
//! | 12 | [`l12_workflows`] | a transfer as a process manager in its own stream; compensation; timeouts on an injected clock; correlation and causation; one thread or many | `cargo run --example l12_workflows` |
//! | 13 | [`l13_durable_store`] | a file-backed log: framed and checksummed records, a sync before every acknowledgement, recovery from a torn tail, a single writer, failure drills | `cargo run --example l13_durable_store` |
//!
//! Lessons never import one another: when a lesson builds on an earlier one it
//! carries the code it needs forward, so any lesson module (its file, or its
//! folder) can be copied into a fresh crate on its own.
//!
//! The exercise stubs live in [`exercises`]; `cargo test --test lNN_topic --
//! --ignored` checks your answers, `cargo run --example exercises` lists every
//! exercise as solved or not yet with the command to run next, and
//! `cargo test --features solutions` runs the reference solutions instead.

pub mod l01_event_store;
pub mod l02_commands;
pub mod l03_projections;
pub mod l04_queries;
pub mod l05_cqrs;
pub mod l06_aggregates;
pub mod l07_testing;
pub mod l08_concurrency;
pub mod l09_snapshots;
pub mod l10_versioning;
pub mod l11_subscriptions;
pub mod l12_workflows;
pub mod l13_durable_store;

pub mod exercises;

/// Every chapter of the book is compiled and run as a doctest, so no Rust
/// listing in the book can drift from the crate.
#[cfg(doctest)]
mod book {
    #[doc = include_str!("../book/src/introduction.md")]
    mod introduction {}
    #[doc = include_str!("../book/src/l01_event_store.md")]
    mod l01_event_store {}
    #[doc = include_str!("../book/src/l02_commands.md")]
    mod l02_commands {}
    #[doc = include_str!("../book/src/l03_projections.md")]
    mod l03_projections {}
    #[doc = include_str!("../book/src/l04_queries.md")]
    mod l04_queries {}
    #[doc = include_str!("../book/src/l05_cqrs.md")]
    mod l05_cqrs {}
    #[doc = include_str!("../book/src/l06_aggregates.md")]
    mod l06_aggregates {}
    #[doc = include_str!("../book/src/l07_testing.md")]
    mod l07_testing {}
    #[doc = include_str!("../book/src/l08_concurrency.md")]
    mod l08_concurrency {}
    #[doc = include_str!("../book/src/l09_snapshots.md")]
    mod l09_snapshots {}
    #[doc = include_str!("../book/src/l10_versioning.md")]
    mod l10_versioning {}
    #[doc = include_str!("../book/src/l11_subscriptions.md")]
    mod l11_subscriptions {}
    #[doc = include_str!("../book/src/l12_workflows.md")]
    mod l12_workflows {}
    #[doc = include_str!("../book/src/l13_durable_store.md")]
    mod l13_durable_store {}
    #[doc = include_str!("../book/src/appendix_glossary.md")]
    mod appendix_glossary {}
    #[doc = include_str!("../book/src/appendix_laws.md")]
    mod appendix_laws {}
    #[doc = include_str!("../book/src/appendix_questions.md")]
    mod appendix_questions {}
    #[doc = include_str!("../book/src/appendix_reading.md")]
    mod appendix_reading {}
}
