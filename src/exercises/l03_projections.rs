//! Exercises for lesson 3 — projections.
//!
//! Each function below is a stub. Replace each `todo!()` and check your work
//! with `cargo test --test l03_projections -- --ignored`. The structs are
//! empty: give them whatever private fields your design needs.

// What the exercises need; the stubs do not use all of it yet.
#[allow(unused_imports)]
use std::collections::{BTreeMap, BTreeSet};

#[allow(unused_imports)]
use crate::l03_projections::{
    CatchUpError, Consumer, Delivery, EventStore, Notification, Position, PostEvent, PostRow,
    PostsTable, Projection, ReadModel, RecordedEvent, StreamId, Timestamp,
};

/// One entry of the front page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    /// The published post.
    pub post: StreamId,
    /// Its current title.
    pub title: String,
    /// When it was published.
    pub published_at: Timestamp,
}

/// Exercise 3.1: the front page, a read model of the published posts, newest
/// publication first, each with its current title. Drafts never appear.
/// Two posts published in the same second are in log order: the later
/// publication comes first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontPage {
    // your state here
}

impl FrontPage {
    /// The published posts, most recently published first.
    pub fn headlines(&self) -> Vec<Headline> {
        todo!("exercise 3.1: list the front page")
    }
}

impl ReadModel for FrontPage {
    fn apply(&mut self, recorded: &RecordedEvent) {
        let _ = recorded;
        todo!("exercise 3.1: fold events into the front page")
    }
}

/// Exercise 3.2: a search index over the titles of published posts. A word
/// is a run of alphanumeric characters, compared in lowercase. Drafts are
/// not searchable, even after a retitle. Retitling a published post must
/// stop it matching the words of its old title.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchIndex {
    // your state here
}

impl SearchIndex {
    /// The published posts whose current title contains `word` (in any case),
    /// in id order.
    pub fn search(&self, word: &str) -> Vec<StreamId> {
        let _ = word;
        todo!("exercise 3.2: search the index")
    }
}

impl ReadModel for SearchIndex {
    fn apply(&mut self, recorded: &RecordedEvent) {
        let _ = recorded;
        todo!("exercise 3.2: fold events into the search index")
    }
}

/// Exercise 3.3: the mail sender at the far end of the notifier's outbox. It
/// receives notifications at least once (retries, a notifier that was wrongly
/// reset) and must send each one once, using `caused_by` as the dedupe key:
/// the same cause with a reworded text is the same notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailer {
    // your state here
}

impl Mailer {
    /// Sends `notification` unless it was sent before; returns whether it sent.
    pub fn receive(&mut self, notification: &Notification) -> bool {
        let _ = notification;
        todo!("exercise 3.3: send each notification once")
    }

    /// Every notification sent, in the order it was sent.
    pub fn sent(&self) -> &[Notification] {
        todo!("exercise 3.3: list what was sent")
    }
}

/// The first post, in id order, whose row differs between the live posts
/// table and the one rebuilt from position 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDifference {
    /// The post.
    pub post: StreamId,
    /// Its row in the live table (`None`: the live table has no such row).
    pub live: Option<PostRow>,
    /// Its row in the rebuilt table (`None`: the rebuild has no such row).
    pub rebuilt: Option<PostRow>,
}

/// Exercise 3.4 (stretch): a shadow rebuild. Builds a fresh posts table from
/// position 0 next to `live`, compares the two as of the live checkpoint, and
/// returns the first row that differs (`None` if they agree); then brings the
/// fresh one to the end of the log and swaps it in.
///
/// # Errors
///
/// [`CatchUpError::LogBehindCheckpoint`] when the log ends before the live
/// checkpoint; `live` is then left as it was.
pub fn shadow_rebuild(
    live: &mut Projection<PostsTable>,
    store: &EventStore,
) -> Result<Option<RowDifference>, CatchUpError> {
    let _ = (live, store);
    todo!("exercise 3.4: rebuild in the shadow, compare, then swap")
}
