//! Exercises for lesson 3 — projections.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l03_projections -- --ignored`.
//! You may change the private fields of the structs as you like.

use std::collections::{BTreeMap, BTreeSet};

use crate::l03_projections::{
    Consumer, EventStore, Notification, Position, Projection, ReadModel, RecordedEvent, StreamId,
    Timestamp,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l03_projections::{Delivery, PostEvent};

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
    titles: BTreeMap<StreamId, String>,
    published: BTreeMap<Position, (StreamId, Timestamp)>,
}

impl FrontPage {
    /// The published posts, most recently published first.
    pub fn headlines(&self) -> Vec<Headline> {
        // TODO: walk the published posts newest first and look up each title.
        let _ = (&self.titles, &self.published);
        todo!("exercise 3.1: list the front page")
    }
}

impl ReadModel for FrontPage {
    fn apply(&mut self, recorded: &RecordedEvent) {
        // TODO: remember titles; remember each publication by its position.
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
    titles: BTreeMap<StreamId, String>,
    published: BTreeSet<StreamId>,
    posts_by_word: BTreeMap<String, BTreeSet<StreamId>>,
}

impl SearchIndex {
    /// The published posts whose current title contains `word` (in any case),
    /// in id order.
    pub fn search(&self, word: &str) -> Vec<StreamId> {
        // TODO: look the lowercased word up in the index.
        let _ = (word, &self.posts_by_word);
        todo!("exercise 3.2: search the index")
    }
}

impl ReadModel for SearchIndex {
    fn apply(&mut self, recorded: &RecordedEvent) {
        // TODO: index a post's words when it is published, and re-index a
        // published post when it is retitled.
        let _ = (recorded, &self.titles, &self.published);
        todo!("exercise 3.2: fold events into the search index")
    }
}

/// Exercise 3.3: the mail sender at the far end of the notifier's outbox. It
/// receives notifications at least once (retries, a notifier that was wrongly
/// reset) and must send each one exactly once, using `caused_by` as the
/// dedupe key: the same cause with a reworded text is the same notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailer {
    seen: BTreeSet<Position>,
    sent: Vec<Notification>,
}

impl Mailer {
    /// Sends `notification` unless it was sent before; returns whether it sent.
    pub fn receive(&mut self, notification: &Notification) -> bool {
        // TODO: send (push to `sent`) only notifications with a new key.
        let _ = (notification, &self.seen);
        todo!("exercise 3.3: send each notification once")
    }

    /// Every notification sent, in the order it was sent.
    pub fn sent(&self) -> &[Notification] {
        &self.sent
    }
}

/// Exercise 3.4: a rebuild that runs in the background while the live
/// projection keeps serving. `step` advances the fresh copy a bounded number
/// of events at a time, so other work can run (and events can be appended)
/// between steps; `finish` applies the short remaining tail and swaps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackgroundRebuild<M> {
    fresh: Projection<M>,
}

impl<M: ReadModel> BackgroundRebuild<M> {
    /// How far the fresh copy has got.
    pub fn checkpoint(&self) -> Position {
        self.fresh.checkpoint()
    }

    /// Applies at most `max_events` events after the fresh copy's checkpoint
    /// and returns how many it applied (0 once it has caught up).
    pub fn step(&mut self, store: &EventStore, max_events: usize) -> usize {
        // TODO: deliver at most `max_events` events from the fresh checkpoint.
        let _ = (store, max_events);
        todo!("exercise 3.4: advance the background rebuild")
    }

    /// Catches the fresh copy up to the end of the log, swaps it into `live`,
    /// and returns the projection it replaced.
    pub fn finish(self, live: &mut Projection<M>, store: &EventStore) -> Projection<M> {
        // TODO: catch up, then swap.
        let _ = (live, store);
        todo!("exercise 3.4: finish the background rebuild")
    }
}
