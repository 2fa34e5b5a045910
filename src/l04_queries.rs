//! Lesson 4 — queries and time travel.
//!
//! A question about the blog can be answered in two places: by folding the
//! event stream of one post, or by looking in a projection that has already
//! folded every stream. This lesson shows both, and then the questions only
//! the stream can answer: the state of a post as of a version, as of a
//! recorded time, and the full history of its changes. It also separates the
//! time an event was *recorded* from the *business* time it talks about.
//!
//! Chapter: `book/src/l04_queries.md`.
//! Run it: `cargo run --example l04_queries`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// The identity of one stream: the history of one blog post.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"post-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }
}

/// The number of an event within its stream, from 1; `Version(0)` is a
/// stream with no events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, from 1; `Position(0)` is
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// A point in time, in whole seconds since the Unix epoch (UTC), always
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The latest time the store accepts: 9999-12-31T23:59:59Z, the last
    /// second with a four-digit year. A time in milliseconds for any date
    /// after 1978 is later than this, so it cannot be taken for seconds.
    pub const LATEST: Timestamp = Timestamp(253_402_300_799);
}

// ANCHOR: events
/// Something that happened to a blog post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostEvent {
    /// An author started a new post, which begins as a draft.
    PostCreated {
        /// Who wrote the post.
        author: String,
        /// The post's first title.
        title: String,
    },
    /// A post written and published on the old blog was brought into this
    /// one. It arrives already published.
    PostImported {
        /// Who wrote the post.
        author: String,
        /// Its title on the old blog.
        title: String,
        /// Business time: when the old blog published it. The event itself
        /// is recorded when the import runs, usually years later.
        originally_published_at: Timestamp,
    },
    /// The post was given a new title.
    PostRetitled {
        /// The new title.
        title: String,
    },
    /// The post was made visible to readers.
    PostPublished,
}

// ANCHOR_END: events

/// An event as the store keeps it, with the metadata the store assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, starting at 1.
    pub version: Version,
    /// Its number across the whole store, starting at 1.
    pub position: Position,
    /// When the store recorded it: never earlier than the stream's event
    /// before it.
    pub recorded_at: Timestamp,
    /// The fact itself.
    pub event: PostEvent,
}

/// Why the store refused an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The recorded time given is after [`Timestamp::LATEST`], so it is not a
    /// time in seconds (most likely milliseconds).
    TimeOutOfRange {
        /// The time the caller supplied.
        given: Timestamp,
    },
    /// The recorded time given is earlier than that of the stream's last
    /// event, so the stream's recorded times would no longer follow its
    /// versions.
    ClockWentBackwards {
        /// The recorded time of the stream's last event.
        last: Timestamp,
        /// The earlier time the caller supplied.
        given: Timestamp,
    },
}

/// An in-memory, append-only event store whose recorded times never go
/// backwards along a stream.
#[derive(Debug, Default)]
pub struct EventStore {
    log: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
}

impl EventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: append
    /// Appends `events` to the end of `stream`, all recorded at `recorded_at`,
    /// and returns the stream's new version. Appending no events changes
    /// nothing and returns the stream's current version.
    ///
    /// # Errors
    ///
    /// [`AppendError::TimeOutOfRange`] when `recorded_at` is after
    /// [`Timestamp::LATEST`], and [`AppendError::ClockWentBackwards`] when it
    /// is earlier than the recorded time of the stream's last event. Either
    /// way nothing is appended, and other streams are not affected.
    pub fn append(
        &mut self,
        stream: &StreamId,
        events: Vec<PostEvent>,
        recorded_at: Timestamp,
    ) -> Result<Version, AppendError> {
        if recorded_at > Timestamp::LATEST {
            return Err(AppendError::TimeOutOfRange { given: recorded_at });
        }
        let last = self.indexes(stream).last();
        if let Some(last) = last.map(|&index| self.log[index].recorded_at)
            && recorded_at < last
        {
            return Err(AppendError::ClockWentBackwards {
                last,
                given: recorded_at,
            });
        }
        if events.is_empty() {
            return Ok(self.stream_version(stream));
        }
        let indexes = self.streams.entry(stream.clone()).or_default();
        for event in events {
            let index = self.log.len();
            indexes.push(index);
            self.log.push(RecordedEvent {
                stream: stream.clone(),
                version: Version(indexes.len() as u64),
                position: Position(index as u64 + 1),
                recorded_at,
                event,
            });
        }
        Ok(Version(indexes.len() as u64))
    }
    // ANCHOR_END: append

    /// The events of one stream, oldest first, read lazily: a caller that
    /// stops early (`take(v)`) never touches the later events. An unknown
    /// stream reads as empty.
    pub fn read_stream<'a>(
        &'a self,
        stream: &StreamId,
    ) -> impl ExactSizeIterator<Item = &'a RecordedEvent> + use<'a> {
        self.indexes(stream).iter().map(|&index| &self.log[index])
    }

    /// Every event after position `after`, across all streams, in the order
    /// they were appended.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(self.indexes(stream).len() as u64)
    }

    // ANCHOR: version_at
    /// The version `stream` had at time `at`: the number of its events
    /// recorded at or before `at`. Several events may share one recorded
    /// time; all of them count.
    pub fn stream_version_at(&self, stream: &StreamId, at: Timestamp) -> Version {
        // Recorded times never decrease along a stream (append refuses that),
        // so the events recorded by `at` are a prefix of the stream, which a
        // binary search can find.
        let recorded_by = self
            .indexes(stream)
            .partition_point(|&index| self.log[index].recorded_at <= at);
        Version(recorded_by as u64)
    }
    // ANCHOR_END: version_at

    /// The position of the last event appended, or `Position(0)`.
    pub fn last_position(&self) -> Position {
        Position(self.log.len() as u64)
    }

    fn indexes(&self, stream: &StreamId) -> &[usize] {
        self.streams.get(stream).map_or(&[], Vec::as_slice)
    }
}

// ANCHOR: evolve
/// What a post looks like at some point of its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Who wrote it.
    pub author: String,
    /// Its current title.
    pub title: String,
    /// Whether readers can see it.
    pub published: bool,
}

/// Applies one event to the state of a post: lesson 2's `evolve` with one
/// more arm, for the import. Total and pure: an event that cannot apply (a
/// retitle before the post exists, a second creation) leaves the state as it
/// is.
pub fn evolve(state: Option<Post>, event: &PostEvent) -> Option<Post> {
    match (state, event) {
        (None, PostEvent::PostCreated { author, title }) => Some(Post {
            author: author.clone(),
            title: title.clone(),
            published: false,
        }),
        (None, PostEvent::PostImported { author, title, .. }) => Some(Post {
            author: author.clone(),
            title: title.clone(),
            published: true,
        }),
        (Some(post), PostEvent::PostRetitled { title }) => Some(Post {
            title: title.clone(),
            ..post
        }),
        (Some(post), PostEvent::PostPublished) => Some(Post {
            published: true,
            ..post
        }),
        (state, _) => state,
    }
}

/// Folds recorded events, oldest first, into the state of one post.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a RecordedEvent>) -> Option<Post> {
    events
        .into_iter()
        .fold(None, |state, recorded| evolve(state, &recorded.event))
}
// ANCHOR_END: evolve

// ANCHOR: load
/// The current state of one post, folded from its own stream: always up to
/// date, and it reads only that post's events.
pub fn load_post(store: &EventStore, stream: &StreamId) -> Option<Post> {
    fold(store.read_stream(stream))
}
// ANCHOR_END: load

// ANCHOR: as_of
/// The post as it was at `version`: the fold of its first `version` events.
/// `Version(0)` gives no post; a version past the end gives the current post.
pub fn post_as_of_version(store: &EventStore, stream: &StreamId, version: Version) -> Option<Post> {
    let first = usize::try_from(version.0).unwrap_or(usize::MAX);
    fold(store.read_stream(stream).take(first))
}

/// The post as the store knew it at recorded time `at`: every event recorded
/// at or before `at` counts, and a time before the first event gives no post.
pub fn post_as_of_time(store: &EventStore, stream: &StreamId, at: Timestamp) -> Option<Post> {
    post_as_of_version(store, stream, store.stream_version_at(stream, at))
}
// ANCHOR_END: as_of

// ANCHOR: history
/// One line of a post's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The version the change produced.
    pub version: Version,
    /// When the store recorded the change.
    pub recorded_at: Timestamp,
    /// The business time the change is about. For a change made in this blog
    /// it is the recorded time; for an imported post it is when the old blog
    /// published it.
    pub effective_at: Timestamp,
    /// What changed, in words, such as `retitled "Helo" to "Hello"`.
    pub change: String,
}

/// Every change to one post, oldest first, each with its times. Describing a
/// retitle needs the title before it, so the history is itself a fold. An
/// event that `evolve` ignores (a second creation, say) is listed as
/// `ignored: …`, so the history never claims a change the post did not make.
pub fn history(store: &EventStore, stream: &StreamId) -> Vec<HistoryEntry> {
    let mut state: Option<Post> = None;
    let mut entries = Vec::with_capacity(store.read_stream(stream).len());
    for recorded in store.read_stream(stream) {
        let (effective_at, change) = match (&recorded.event, &state) {
            (PostEvent::PostCreated { author, title }, _) => {
                (recorded.recorded_at, format!("{author} created {title:?}"))
            }
            (
                PostEvent::PostImported {
                    author,
                    title,
                    originally_published_at,
                },
                _,
            ) => (
                *originally_published_at,
                format!("imported {title:?} by {author}, published on the old blog"),
            ),
            (PostEvent::PostRetitled { title }, Some(before)) => (
                recorded.recorded_at,
                format!("retitled {:?} to {title:?}", before.title),
            ),
            (PostEvent::PostRetitled { title }, None) => {
                (recorded.recorded_at, format!("retitled to {title:?}"))
            }
            (PostEvent::PostPublished, _) => (recorded.recorded_at, "published".to_string()),
        };
        // The events `evolve` passes over: a history that listed them as
        // changes would disagree with the post's state.
        let ignored = matches!(
            (&recorded.event, &state),
            (
                PostEvent::PostCreated { .. } | PostEvent::PostImported { .. },
                Some(_)
            ) | (
                PostEvent::PostRetitled { .. } | PostEvent::PostPublished,
                None
            )
        );
        let change = if ignored {
            format!("ignored: {change}")
        } else {
            change
        };
        entries.push(HistoryEntry {
            version: recorded.version,
            recorded_at: recorded.recorded_at,
            effective_at,
            change,
        });
        state = evolve(state, &recorded.event);
    }
    entries
}
// ANCHOR_END: history

// ANCHOR: view
/// What happened to one event handed to a [`PostsView`] (lesson 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The event was the next one: it is applied and the checkpoint moved to it.
    Applied,
    /// The event is at or below the checkpoint, so it was applied before: ignored.
    Duplicate,
    /// The event is beyond the next position, so an earlier one is missing.
    /// Nothing changed; catching up from the checkpoint fills the gap.
    Gap {
        /// The position the view needs next.
        expected: Position,
    },
}

/// A projection of every post, kept up to date by catching up with the log
/// from its checkpoint (lesson 3, condensed), with an index of the published
/// posts by author so that [`PostsView::published_by`] is a lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostsView {
    checkpoint: Position,
    posts: BTreeMap<StreamId, Post>,
    published: BTreeMap<String, BTreeSet<StreamId>>,
}

impl PostsView {
    /// An empty view that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event if it is the next one after the checkpoint. Positions
    /// in this store are dense, so anything else is a duplicate or a gap, and
    /// changes nothing.
    pub fn apply(&mut self, recorded: &RecordedEvent) -> Delivery {
        let expected = Position(self.checkpoint.0.saturating_add(1));
        if recorded.position <= self.checkpoint {
            return Delivery::Duplicate;
        }
        if recorded.position > expected {
            return Delivery::Gap { expected };
        }
        let stream = &recorded.stream;
        let before = self.posts.remove(stream);
        if let Some(post) = before.as_ref().filter(|post| post.published)
            && let Some(posts) = self.published.get_mut(&post.author)
        {
            posts.remove(stream);
        }
        if let Some(post) = evolve(before, &recorded.event) {
            if post.published {
                let posts = self.published.entry(post.author.clone()).or_default();
                posts.insert(stream.clone());
            }
            self.posts.insert(stream.clone(), post);
        }
        self.checkpoint = recorded.position;
        Delivery::Applied
    }

    /// Applies every event after the checkpoint and returns how many it read.
    pub fn catch_up(&mut self, store: &EventStore) -> usize {
        let new = store.read_all(self.checkpoint);
        for recorded in new {
            self.apply(recorded);
        }
        new.len()
    }

    /// The position of the last event the view has applied.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// Every post the view knows, by stream id.
    pub fn posts(&self) -> &BTreeMap<StreamId, Post> {
        &self.posts
    }

    /// The published posts of one author, by stream id: one lookup in the
    /// index, then one per post in the answer. No other post is read.
    pub fn published_by(&self, author: &str) -> Vec<(&StreamId, &Post)> {
        self.published
            .get(author)
            .into_iter()
            .flatten()
            .filter_map(|stream| self.posts.get_key_value(stream))
            .collect()
    }
}
// ANCHOR_END: view

impl fmt::Display for HistoryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4}{}  {}  {}",
            self.version.to_string(),
            self.recorded_at,
            self.effective_at,
            self.change
        )
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::TimeOutOfRange { given } => write!(
                f,
                "recorded time {} is after {}, so it is not in seconds",
                given.0,
                Timestamp::LATEST
            ),
            AppendError::ClockWentBackwards { last, given } => write!(
                f,
                "recorded time {given} is earlier than the stream's last recorded time {last}"
            ),
        }
    }
}

impl std::error::Error for AppendError {}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for Timestamp {
    /// Formats as an ISO 8601 UTC time, such as `2026-03-01T09:30:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let seconds = self.0 % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }
}

/// Turns a count of days since 1970-01-01 into a (year, month, day) date in
/// the proleptic Gregorian calendar ("days from civil", on 400-year eras).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
