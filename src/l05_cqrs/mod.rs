//! Lesson 5 — CQRS: a write side and a read side that never meet.
//!
//! The command side ([`write`](mod@write)) decides from each message's own history and
//! appends events to a shared log. The query side ([`read`]) builds read
//! models from that log, each kept up to date by a projection on its own
//! thread: an inbox per user and a global feed, as many replicas as you like. The two sides share only
//! [`shared`]: the ids, the events and the log. A test reads the two source
//! files and fails if either names the other.
//!
//! Because the read side runs on its own thread it lags behind: a query
//! right after a command may not see it yet. A command therefore returns the
//! position it wrote, and a query can wait for a read model to reach that
//! position, with a timeout ("read your writes").
//!
//! Chapter: `book/src/l05_cqrs.md`.
//! Run it: `cargo run --example l05_cqrs`.

pub mod read;
pub mod shared;
pub mod write;
