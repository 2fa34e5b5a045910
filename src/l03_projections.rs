//! Lesson 3 — projections.
//!
//! A projection folds the events of the log into a table shaped for reading
//! (a read model) and remembers its checkpoint: the position of the last event
//! it applied. Keeping the checkpoint inside the read model makes delivery
//! idempotent (an event at or below the checkpoint is skipped) and makes a
//! rebuild from position 0 equal to the table built event by event. A side
//! effect, such as notifying subscribers, is just another consumer of the log,
//! with its own checkpoint that a rebuild never resets: one added to a log
//! with a history starts at the end, and the sender drains its outbox by
//! acknowledging what it sent.
//!
//! Chapter: `book/src/l03_projections.md`.
//! Run it: `cargo run --example l03_projections`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

// --- Carried forward from lesson 1 (the store without `read_stream`) -------

/// The identity of one stream: the history of one thing, such as one blog post.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"post-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The number of an event within its stream, starting at 1; `Version(0)` is
/// an empty stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, starting at 1; `Position(0)`
/// means "before the first event", which is where every checkpoint starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the store recorded an event, in whole seconds since the Unix epoch
/// (UTC), as supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

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
    /// The post was given a new title.
    PostRetitled {
        /// The new title.
        title: String,
    },
    /// The post was made visible to readers.
    PostPublished,
}

impl PostEvent {
    /// The event's type name, as it is recorded next to the event.
    pub fn event_type(&self) -> &'static str {
        match self {
            PostEvent::PostCreated { .. } => "PostCreated",
            PostEvent::PostRetitled { .. } => "PostRetitled",
            PostEvent::PostPublished => "PostPublished",
        }
    }
}

/// An event as the store keeps it: the fact plus the metadata the store
/// assigned when it recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, starting at 1.
    pub version: Version,
    /// Its number across the whole store, starting at 1.
    pub position: Position,
    /// The event's type name, such as `"PostCreated"`.
    pub event_type: &'static str,
    /// When it was recorded, as supplied by the caller of `append`.
    pub recorded_at: Timestamp,
    /// The fact itself.
    pub event: PostEvent,
}

/// An in-memory, append-only event store: one global log, plus the current
/// version of each stream.
#[derive(Debug, Default)]
pub struct EventStore {
    log: Vec<RecordedEvent>,
    versions: HashMap<StreamId, Version>,
}

impl EventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `events` to the end of `stream`, all recorded at `recorded_at`,
    /// and returns the stream's new version.
    pub fn append(
        &mut self,
        stream: &StreamId,
        events: Vec<PostEvent>,
        recorded_at: Timestamp,
    ) -> Version {
        let version = self.versions.entry(stream.clone()).or_default();
        for event in events {
            version.0 += 1;
            self.log.push(RecordedEvent {
                stream: stream.clone(),
                version: *version,
                position: Position(self.log.len() as u64 + 1),
                event_type: event.event_type(),
                recorded_at,
                event,
            });
        }
        *version
    }

    /// Every event after position `after`, in the order they were appended.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }

    /// The position of the last event appended, or `Position(0)` when empty.
    pub fn last_position(&self) -> Position {
        Position(self.log.len() as u64)
    }
}

// --- New in lesson 3 --------------------------------------------------------

// ANCHOR: read_model
/// A table built from events. `apply` only folds: it knows nothing of
/// positions or checkpoints, which [`Projection`] takes care of. It must be
/// total (never fail, never panic) and pure: no clock, no I/O, no side effects.
pub trait ReadModel: Default {
    /// Folds one event into the table.
    fn apply(&mut self, recorded: &RecordedEvent);
}
// ANCHOR_END: read_model

// ANCHOR: posts_table
/// Whether readers can see a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PostStatus {
    /// Created but not yet published.
    Draft,
    /// Visible to readers.
    Published,
}

/// One row of the posts table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRow {
    /// Who wrote the post.
    pub author: String,
    /// The current title.
    pub title: String,
    /// Draft or published.
    pub status: PostStatus,
    /// When the post was created.
    pub created_at: Timestamp,
    /// When anything about the post last changed.
    pub updated_at: Timestamp,
    /// When the post was published, if it has been.
    pub published_at: Option<Timestamp>,
}

/// The posts read model: one row per post, keyed by the post's stream id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostsTable {
    rows: BTreeMap<StreamId, PostRow>,
}
// ANCHOR_END: posts_table

impl PostsTable {
    /// Every row, by post id.
    pub fn rows(&self) -> &BTreeMap<StreamId, PostRow> {
        &self.rows
    }

    /// The row of one post, if it exists.
    pub fn get(&self, post: &StreamId) -> Option<&PostRow> {
        self.rows.get(post)
    }
}

// ANCHOR: posts_apply
impl ReadModel for PostsTable {
    fn apply(&mut self, recorded: &RecordedEvent) {
        let at = recorded.recorded_at;
        if let PostEvent::PostCreated { author, title } = &recorded.event {
            // A second creation of the same post is ignored, as lesson 2's
            // `evolve` ignores it: the first one made the post.
            if self.rows.contains_key(&recorded.stream) {
                return;
            }
            let row = PostRow {
                author: author.clone(),
                title: title.clone(),
                status: PostStatus::Draft,
                created_at: at,
                updated_at: at,
                published_at: None,
            };
            self.rows.insert(recorded.stream.clone(), row);
            return;
        }
        // The write side never records these for an unknown post, nor a
        // second publication; if a log holds one anyway, a read model has
        // nothing to change and moves on.
        let Some(row) = self.rows.get_mut(&recorded.stream) else {
            return;
        };
        match &recorded.event {
            PostEvent::PostCreated { .. } => return,
            PostEvent::PostRetitled { title } => row.title = title.clone(),
            PostEvent::PostPublished if row.status == PostStatus::Published => return,
            PostEvent::PostPublished => {
                row.status = PostStatus::Published;
                row.published_at = Some(at);
            }
        }
        row.updated_at = at;
    }
}
// ANCHOR_END: posts_apply

// ANCHOR: per_author
/// How many posts one author has written, and how many of them are published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthorStats {
    /// Every post the author created.
    pub posts: u64,
    /// Those of them that are published.
    pub published: u64,
}

/// The second read model: posts per author. `PostPublished` does not name
/// the author, so the model remembers who wrote each post, and whether it
/// is published already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostsPerAuthor {
    author_of: BTreeMap<StreamId, (String, bool)>,
    stats: BTreeMap<String, AuthorStats>,
}

impl PostsPerAuthor {
    /// The counts of every author, by name.
    pub fn stats(&self) -> &BTreeMap<String, AuthorStats> {
        &self.stats
    }
}

impl ReadModel for PostsPerAuthor {
    fn apply(&mut self, recorded: &RecordedEvent) {
        match &recorded.event {
            PostEvent::PostCreated { author, .. } => {
                if self.author_of.contains_key(&recorded.stream) {
                    return; // created already: the first creation counts
                }
                self.author_of
                    .insert(recorded.stream.clone(), (author.clone(), false));
                self.stats.entry(author.clone()).or_default().posts += 1;
            }
            PostEvent::PostPublished => {
                // Unknown, or published already: nothing to count.
                let Some((author, published @ false)) = self.author_of.get_mut(&recorded.stream)
                else {
                    return;
                };
                *published = true;
                if let Some(stats) = self.stats.get_mut(author.as_str()) {
                    stats.published += 1;
                }
            }
            PostEvent::PostRetitled { .. } => {}
        }
    }
}
// ANCHOR_END: per_author

// ANCHOR: delivery
/// What happened to one event handed to a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The event was the next one: it is applied and the checkpoint moved to it.
    Applied,
    /// The event is at or below the checkpoint, so it was applied before: ignored.
    Duplicate,
    /// The event is beyond the next position, so an earlier one is missing.
    /// Nothing changed; catching up from the checkpoint fills the gap.
    Gap {
        /// The position the consumer needs next.
        expected: Position,
    },
}

impl Delivery {
    /// Sorts an event at `position` for a consumer whose checkpoint is
    /// `checkpoint`. This store's positions are dense (one writer hands out
    /// 1, 2, 3, …), so only `checkpoint + 1` is new. Stores whose positions
    /// have gaps need a high-water mark instead (lesson 11).
    fn of(position: Position, checkpoint: Position) -> Delivery {
        let expected = Position(checkpoint.0.saturating_add(1));
        if position <= checkpoint {
            Delivery::Duplicate
        } else if position > expected {
            Delivery::Gap { expected }
        } else {
            Delivery::Applied
        }
    }
}
// ANCHOR_END: delivery

/// Why a consumer refused to catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpError {
    /// The log ends before the consumer's checkpoint: it was restored from an
    /// older backup, or lost a tail it never made durable. Catching up would
    /// answer the next events `Duplicate` and lose them; the consumer must be
    /// rebuilt against this log, or the log repaired.
    LogBehindCheckpoint {
        /// The consumer's checkpoint.
        checkpoint: Position,
        /// The last position of the log.
        last_position: Position,
    },
}

impl fmt::Display for CatchUpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatchUpError::LogBehindCheckpoint {
                checkpoint,
                last_position,
            } => write!(
                f,
                "the log ends at {last_position}, before the checkpoint {checkpoint}: \
                 it lost events this consumer applied"
            ),
        }
    }
}

impl std::error::Error for CatchUpError {}

// ANCHOR: consumer
/// Anything that reads the log in order and remembers how far it got: a
/// projection, or a reactor with side effects.
pub trait Consumer {
    /// The position of the last event this consumer applied; `Position(0)`
    /// before the first.
    fn checkpoint(&self) -> Position;

    /// Hands one event to the consumer. Only the event right after the
    /// checkpoint is applied; anything else changes nothing.
    fn deliver(&mut self, recorded: &RecordedEvent) -> Delivery;

    /// Applies every event after the checkpoint and returns how many it
    /// applied: the whole log for a new consumer, only the tail afterwards.
    ///
    /// # Errors
    ///
    /// [`CatchUpError::LogBehindCheckpoint`] when the log ends before the
    /// checkpoint: it lost events this consumer applied, and the events
    /// appended next would take positions the consumer counts as seen.
    fn catch_up(&mut self, store: &EventStore) -> Result<usize, CatchUpError> {
        let (checkpoint, last_position) = (self.checkpoint(), store.last_position());
        if checkpoint > last_position {
            return Err(CatchUpError::LogBehindCheckpoint {
                checkpoint,
                last_position,
            });
        }
        let mut applied = 0;
        for recorded in store.read_all(checkpoint) {
            if self.deliver(recorded) == Delivery::Applied {
                applied += 1;
            }
        }
        Ok(applied)
    }
}
// ANCHOR_END: consumer

// ANCHOR: projection
/// A read model together with its checkpoint. They live in one value, so
/// saving the projection saves both, and they cannot drift apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection<M> {
    checkpoint: Position,
    model: M,
}

impl<M: ReadModel> Projection<M> {
    /// An empty read model at checkpoint `Position(0)`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table, as of the checkpoint.
    pub fn model(&self) -> &M {
        &self.model
    }
}

impl<M: ReadModel> Consumer for Projection<M> {
    fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    fn deliver(&mut self, recorded: &RecordedEvent) -> Delivery {
        let delivery = Delivery::of(recorded.position, self.checkpoint);
        if delivery == Delivery::Applied {
            self.model.apply(recorded);
            self.checkpoint = recorded.position;
        }
        delivery
    }
}
// ANCHOR_END: projection

// ANCHOR: rebuild
impl<M: ReadModel> Projection<M> {
    /// Rebuilds from position 0 into a fresh value, then swaps it in and
    /// returns the old one. Until the swap, `self` is untouched: readers never
    /// see a half-built table, and a failed rebuild leaves the old one in place.
    pub fn rebuild(&mut self, store: &EventStore) -> Self {
        let mut fresh = Self::new();
        // A fresh projection starts at 0, which no log is behind.
        let _ = fresh.catch_up(store);
        std::mem::replace(self, fresh)
    }
}
// ANCHOR_END: rebuild

// ANCHOR: notifier
/// A message telling subscribers that a post went live. Its `caused_by`
/// position is unique per notification, so a mail sender can use it as a
/// dedupe key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The position of the `PostPublished` event that caused it.
    pub caused_by: Position,
    /// The post that was published.
    pub post: StreamId,
    /// Its author.
    pub author: String,
    /// Its title when it was published.
    pub title: String,
}

/// A reactor: it consumes the log like a projection, but its output is a side
/// effect, notifications queued in an outbox for sending. Sent mail cannot be
/// unsent, so this consumer is never rebuilt: its checkpoint only moves forward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifier {
    checkpoint: Position,
    // The author and current title of each post, for the notification
    // text, and whether it was announced already.
    posts: BTreeMap<StreamId, KnownPost>,
    // Queued and not yet acknowledged by the sender, in position order.
    outbox: Vec<Notification>,
}
// ANCHOR_END: notifier

/// What the notifier knows of one post.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KnownPost {
    author: String,
    title: String,
    published: bool,
}

impl Notifier {
    /// A notifier that announces every publication in the log, past ones
    /// included: right only for a notifier that exists from the first event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every notification queued and not yet acknowledged, oldest first.
    pub fn outbox(&self) -> &[Notification] {
        &self.outbox
    }
}

// ANCHOR: notifier_deliver
impl Consumer for Notifier {
    fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    fn deliver(&mut self, recorded: &RecordedEvent) -> Delivery {
        let delivery = Delivery::of(recorded.position, self.checkpoint);
        if delivery == Delivery::Applied {
            if let Some(notification) = self.fold(recorded) {
                self.outbox.push(notification);
            }
            self.checkpoint = recorded.position;
        }
        delivery
    }
}

impl Notifier {
    /// Learns what the notification text needs from one event, and returns
    /// the notification the event calls for, if any.
    fn fold(&mut self, recorded: &RecordedEvent) -> Option<Notification> {
        let post = &recorded.stream;
        match &recorded.event {
            PostEvent::PostCreated { author, title } => {
                // A second creation is ignored: the first one made the post.
                self.posts.entry(post.clone()).or_insert_with(|| KnownPost {
                    author: author.clone(),
                    title: title.clone(),
                    published: false,
                });
                None
            }
            PostEvent::PostRetitled { title } => {
                if let Some(known) = self.posts.get_mut(post) {
                    known.title = title.clone();
                }
                None
            }
            PostEvent::PostPublished => {
                // Only the first publication of a known post is announced.
                let known = self.posts.get_mut(post).filter(|k| !k.published)?;
                known.published = true;
                Some(Notification {
                    caused_by: recorded.position,
                    post: post.clone(),
                    author: known.author.clone(),
                    title: known.title.clone(),
                })
            }
        }
    }
}
// ANCHOR_END: notifier_deliver

// ANCHOR: notifier_start
impl Notifier {
    /// A notifier deployed on a log that already has a history: it starts at
    /// the end, so nothing published before today is announced. It still
    /// reads the history once, silently, because a post created before today
    /// may be published tomorrow, and its announcement needs the author and
    /// title.
    pub fn starting_at_end(store: &EventStore) -> Self {
        let mut notifier = Self::new();
        for recorded in store.read_all(Position(0)) {
            // What the fold would announce here happened before this
            // notifier existed: it is dropped, not queued.
            let _ = notifier.fold(recorded);
        }
        notifier.checkpoint = store.last_position();
        notifier
    }
}
// ANCHOR_END: notifier_start

// ANCHOR: acknowledge
/// Notifications the sender took from the outbox, to send and then hand
/// back to [`Notifier::acknowledge`]. Only the notifier makes one, so an
/// acknowledgement can only name what the sender was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    notifications: Vec<Notification>,
}

impl Batch {
    /// The notifications to send, oldest first.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }
}

impl Notifier {
    /// The oldest `max` notifications of the outbox, for the sender. They
    /// stay queued until the batch is acknowledged.
    pub fn batch(&self, max: usize) -> Batch {
        let notifications = self.outbox.iter().take(max).cloned().collect();
        Batch { notifications }
    }

    /// Called by the sender once it has sent `sent`: removes those
    /// notifications from the outbox and returns how many it removed.
    /// Whatever was queued after the batch was taken stays queued, and
    /// acknowledging the same batch again removes nothing. A batch sent but
    /// not acknowledged (the sender stopped in between) is sent again: at
    /// least once, which the receiver absorbs with `caused_by` as its dedupe
    /// key.
    pub fn acknowledge(&mut self, sent: &Batch) -> usize {
        let Some(last) = sent.notifications.last() else {
            return 0;
        };
        // The outbox is in position order and a batch is a prefix of it, so
        // everything up to the batch's last cause was in the batch.
        let removed = self
            .outbox
            .partition_point(|n| n.caused_by <= last.caused_by);
        self.outbox.drain(..removed);
        removed
    }
}
// ANCHOR_END: acknowledge

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for PostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PostStatus::Draft => "draft",
            PostStatus::Published => "published",
        })
    }
}

impl fmt::Display for Notification {
    /// Formats as `post-1 "Hello" by ada (caused by #4)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} by {} (caused by {})",
            self.post, self.title, self.author, self.caused_by
        )
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
/// the proleptic Gregorian calendar ("days from civil" on 400-year eras).
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
