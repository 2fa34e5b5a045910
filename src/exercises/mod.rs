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

#[cfg_attr(feature = "solutions", path = "../solutions/l05_cqrs.rs")]
pub mod l05_cqrs;
