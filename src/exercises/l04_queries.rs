//! Exercises for lesson 4 — queries and time travel.
//!
//! Each function below is a stub. Replace each `todo!()` with your code and
//! check your work with `cargo test --test l04_queries -- --ignored`.

use std::collections::BTreeMap;

use crate::l04_queries::{EventStore, HistoryEntry, StreamId, Timestamp};

/// Exercise 4.1: the date readers see under a post's title, "published on …":
/// the business time of its publication. For a post published in this blog
/// it is when `PostPublished` was recorded; for an imported post it is when
/// the old blog published it. A draft or an unknown post has none.
pub fn published_on(store: &EventStore, stream: &StreamId) -> Option<Timestamp> {
    // Your code here.
    let _ = (store, stream);
    todo!("exercise 4.1: the publication date readers see")
}

/// Exercise 4.2: the audit trail of one post for a period: the entries
/// recorded after `after` and at or before `until`. Consecutive periods
/// (`(a, b]`, then `(b, c]`) list every change exactly once. Each entry reads
/// exactly as it does in the full `history`, so a retitle still names the
/// title it replaced even when that title was set before the period began.
pub fn history_between(
    store: &EventStore,
    stream: &StreamId,
    after: Timestamp,
    until: Timestamp,
) -> Vec<HistoryEntry> {
    // Your code here.
    let _ = (store, stream, after, until);
    todo!("exercise 4.2: the audit trail of one period")
}

/// Exercise 4.3: the front page as readers saw it at recorded time `at`: the
/// title of every post that was published then, by stream id. Events
/// recorded exactly at `at` count.
pub fn front_page_as_of(store: &EventStore, at: Timestamp) -> BTreeMap<StreamId, String> {
    // Your code here.
    let _ = (store, at);
    todo!("exercise 4.3: the front page as of a recorded time")
}

/// Exercise 4.4: the blog's archive for a business date, as known today: the
/// title of every post that was published on or before `on` in business
/// time, imported posts included, by stream id. A change made in this blog
/// takes effect when it was recorded; an imported post takes effect when the
/// old blog published it.
pub fn archive_as_of(store: &EventStore, on: Timestamp) -> BTreeMap<StreamId, String> {
    // Your code here.
    let _ = (store, on);
    todo!("exercise 4.4: the archive as of a business date")
}
