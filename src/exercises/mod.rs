//! Exercise stubs, one module per lesson.
//!
//! Each stub has a `todo!()` body and a `// TODO:` where your code goes. The
//! matching tests in `tests/lNN_topic.rs` are ignored until you ask for them:
//!
//! ```text
//! cargo test --test l01_event_store -- --ignored
//! ```
//!
//! With `--features solutions`, each module below is swapped for its reference
//! solution in `src/solutions/`, which is how CI proves every exercise can be
//! solved.

#[cfg_attr(feature = "solutions", path = "../solutions/l01_event_store.rs")]
pub mod l01_event_store;

#[cfg_attr(feature = "solutions", path = "../solutions/l02_commands.rs")]
pub mod l02_commands;

#[cfg_attr(feature = "solutions", path = "../solutions/l03_projections.rs")]
pub mod l03_projections;

#[cfg_attr(feature = "solutions", path = "../solutions/l04_queries.rs")]
pub mod l04_queries;

#[cfg_attr(feature = "solutions", path = "../solutions/l05_cqrs.rs")]
pub mod l05_cqrs;

#[cfg_attr(feature = "solutions", path = "../solutions/l06_aggregates.rs")]
pub mod l06_aggregates;

#[cfg_attr(feature = "solutions", path = "../solutions/l07_testing.rs")]
pub mod l07_testing;

#[cfg_attr(feature = "solutions", path = "../solutions/l08_concurrency.rs")]
pub mod l08_concurrency;

#[cfg_attr(feature = "solutions", path = "../solutions/l09_snapshots.rs")]
pub mod l09_snapshots;

#[cfg_attr(feature = "solutions", path = "../solutions/l10_versioning.rs")]
pub mod l10_versioning;

#[cfg_attr(feature = "solutions", path = "../solutions/l11_subscriptions.rs")]
pub mod l11_subscriptions;

#[cfg_attr(feature = "solutions", path = "../solutions/l12_workflows.rs")]
pub mod l12_workflows;

#[cfg_attr(feature = "solutions", path = "../solutions/l13_durable_store.rs")]
pub mod l13_durable_store;
