//! Reference solutions for the lesson 4 exercises.

use std::collections::{BTreeMap, BTreeSet};

use crate::l04_queries::{
    EventStore, HistoryEntry, Position, PostEvent, StreamId, Timestamp, evolve, history,
    post_as_of_time,
};

/// Exercise 4.1: the business time of a post's publication.
pub fn published_on(store: &EventStore, stream: &StreamId) -> Option<Timestamp> {
    // The first event that made the post visible decides; a later
    // `PostPublished` cannot happen (the command side rejects it), and if it
    // did, readers would still date the post from its first publication.
    // Keeping `published_at` in `Post` would answer this without a read of
    // the stream, at the cost of a wider state for every other query.
    store
        .read_stream(stream)
        .find_map(|recorded| match &recorded.event {
            PostEvent::PostPublished => Some(recorded.recorded_at),
            PostEvent::PostImported {
                originally_published_at,
                ..
            } => Some(*originally_published_at),
            PostEvent::PostCreated { .. } | PostEvent::PostRetitled { .. } => None,
        })
}

/// Exercise 4.2: the audit trail of the period `(after, until]`.
pub fn history_between(
    store: &EventStore,
    stream: &StreamId,
    after: Timestamp,
    until: Timestamp,
) -> Vec<HistoryEntry> {
    // The versions bound the period, so the two binary searches do the time
    // arithmetic and the rest is slicing. The history is still built from
    // the first event: folding only the events inside the period would lose
    // the title a retitle replaced. A long stream would keep a snapshot of
    // the state at the start of the period instead (lesson 9), taken at or
    // before `after`, never later.
    let from = store.stream_version_at(stream, after).0;
    let to = store.stream_version_at(stream, until).0;
    history(store, stream)
        .into_iter()
        .filter(|entry| from < entry.version.0 && entry.version.0 <= to)
        .collect()
}

/// Exercise 4.3: the front page at recorded time `at`.
pub fn front_page_as_of(store: &EventStore, at: Timestamp) -> BTreeMap<StreamId, String> {
    // Recorded times follow each stream, not the whole log: a post whose
    // clock runs behind may append after another post's later event. So the
    // events recorded by `at` are a prefix of every stream but not of the
    // log, and each post is asked on its own with `post_as_of_time`, which
    // is two binary searches in that stream. Reading the log once, skipping
    // the events recorded after `at` and folding the rest per stream with
    // `evolve`, gives the same answer; a `PostsView` could not do it, since
    // it refuses the filtered log's missing positions as gaps.
    let streams: BTreeSet<&StreamId> = store
        .read_all(Position(0))
        .iter()
        .map(|recorded| &recorded.stream)
        .collect();
    streams
        .into_iter()
        .filter_map(|stream| {
            let post = post_as_of_time(store, stream, at)?;
            post.published.then(|| (stream.clone(), post.title))
        })
        .collect()
}

/// Exercise 4.4: the archive at business date `on`, as known today.
pub fn archive_as_of(store: &EventStore, on: Timestamp) -> BTreeMap<StreamId, String> {
    // Business times are not recorded times (an import recorded today is
    // effective years ago), so `post_as_of_time` cannot help: every event is
    // read and filtered by its business time. Within one post the order still holds here, because
    // an import is the first event of its stream and every later change is
    // effective when recorded. A post that was edited on the old blog after
    // publication would need those edits imported as events with their own
    // business times, and then this becomes a real bitemporal query.
    let mut posts = BTreeMap::new();
    for recorded in store.read_all(Position(0)) {
        let effective_at = match &recorded.event {
            PostEvent::PostImported {
                originally_published_at,
                ..
            } => *originally_published_at,
            _ => recorded.recorded_at,
        };
        if effective_at > on {
            continue;
        }
        let before = posts.remove(&recorded.stream);
        if let Some(post) = evolve(before, &recorded.event) {
            posts.insert(recorded.stream.clone(), post);
        }
    }
    posts
        .into_iter()
        .filter(|(_, post)| post.published)
        .map(|(stream, post)| (stream, post.title))
        .collect()
}
