//! Lesson 2 — commands.
//!
//! A command is a request to change something, and it may be refused; an
//! event is a fact that has already happened. This lesson turns one into the
//! other with a command handler: it loads a post's stream, folds it into the
//! post's current state, decides whether the command is allowed and which
//! events it produces, and appends them. Every refusal is a typed
//! [`PostError`].
//!
//! The event store is carried forward from lesson 1, condensed; `append`,
//! `read_stream` and `read_all` behave exactly as they did there.
//!
//! Chapter: `book/src/l02_commands.md`.
//! Run it: `cargo run --example l02_commands`.

use std::collections::HashMap;
use std::fmt;

// ---------------------------------------------------------------------------
// The store, carried forward from lesson 1
// ---------------------------------------------------------------------------

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

/// The number of an event within its stream, from 1; `Version(0)` is an
/// empty stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, from 1; `Position(0)` means
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the store recorded an event, in whole seconds since the Unix epoch
/// (UTC), supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// Something that happened to a blog post: a fact in the past tense.
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

/// An event as the store keeps it, with the metadata the store assigned.
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

/// An in-memory, append-only event store: one global log, plus the indexes
/// of each stream's events in that log.
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

    /// Appends `events` to the end of `stream`, all recorded at `recorded_at`,
    /// and returns the stream's new version. Appending no events changes
    /// nothing and returns the current version.
    pub fn append(
        &mut self,
        stream: &StreamId,
        events: Vec<PostEvent>,
        recorded_at: Timestamp,
    ) -> Version {
        if events.is_empty() {
            return self.stream_version(stream);
        }
        let indexes = self.streams.entry(stream.clone()).or_default();
        for event in events {
            let index = self.log.len();
            indexes.push(index);
            self.log.push(RecordedEvent {
                stream: stream.clone(),
                version: Version(indexes.len() as u64),
                position: Position(index as u64 + 1),
                event_type: event.event_type(),
                recorded_at,
                event,
            });
        }
        Version(indexes.len() as u64)
    }

    /// The events of one stream, oldest first; an unknown stream reads as
    /// empty.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent> {
        match self.streams.get(stream) {
            Some(indexes) => indexes.iter().map(|&index| &self.log[index]).collect(),
            None => Vec::new(),
        }
    }

    /// Every event after position `after`, across all streams, in the order
    /// they were appended.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(
            self.streams
                .get(stream)
                .map_or(0, |indexes| indexes.len() as u64),
        )
    }

    /// The position of the last event appended, or `Position(0)` when the
    /// store is empty.
    pub fn last_position(&self) -> Position {
        Position(self.log.len() as u64)
    }
}

// ---------------------------------------------------------------------------
// Commands, state and rules
// ---------------------------------------------------------------------------

// ANCHOR: commands
/// A request to change a blog post. Each variant is in the imperative: it
/// asks for something, and the handler may refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostCommand {
    /// Start a new post as a draft.
    CreatePost {
        /// Who is writing it.
        author: String,
        /// Its first title, before trimming.
        title: String,
    },
    /// Give an existing post a new title.
    RetitlePost {
        /// The new title, before trimming.
        title: String,
    },
    /// Make a draft visible to readers.
    PublishPost,
}
// ANCHOR_END: commands

// ANCHOR: errors
/// The most characters a title may have, after trimming.
pub const MAX_TITLE_CHARS: usize = 100;

/// The most characters an author's name may have, after trimming.
pub const MAX_AUTHOR_CHARS: usize = 50;

/// Why a command was refused. These are domain rejections: the command was
/// understood and the answer is no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostError {
    /// `CreatePost` for a post whose stream already has events.
    AlreadyExists,
    /// Any other command for a post that was never created.
    NotFound,
    /// The title is empty once surrounding whitespace is trimmed.
    EmptyTitle,
    /// The trimmed title has more than `max` characters.
    TitleTooLong {
        /// The trimmed title's length, in characters.
        length: usize,
        /// The most allowed, [`MAX_TITLE_CHARS`].
        max: usize,
    },
    /// `PublishPost` for a post that is already published.
    AlreadyPublished,
    /// The author is empty once surrounding whitespace is trimmed.
    EmptyAuthor,
    /// The trimmed author has more than `max` characters.
    AuthorTooLong {
        /// The trimmed author's length, in characters.
        length: usize,
        /// The most allowed, [`MAX_AUTHOR_CHARS`].
        max: usize,
    },
}
// ANCHOR_END: errors

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::AlreadyExists => f.write_str("post already exists"),
            PostError::NotFound => f.write_str("post not found"),
            PostError::EmptyTitle => f.write_str("title is empty"),
            PostError::TitleTooLong { length, max } => {
                write!(f, "title has {length} characters, at most {max} allowed")
            }
            PostError::AlreadyPublished => f.write_str("post already published"),
            PostError::EmptyAuthor => f.write_str("author is empty"),
            PostError::AuthorTooLong { length, max } => {
                write!(f, "author has {length} characters, at most {max} allowed")
            }
        }
    }
}

impl std::error::Error for PostError {}

// ANCHOR: state
/// What the rules need to know about a post, folded from its stream. A post
/// that was never created has no state at all: `Option<Post>` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Who wrote the post.
    pub author: String,
    /// Its current title.
    pub title: String,
    /// Whether readers can see it.
    pub published: bool,
}

/// Applies one event to the state. It never fails and never checks a rule:
/// the event is a fact, so the state simply follows it. An event that cannot
/// apply (a retitle before any creation) leaves the state as it was; the
/// handler never writes such a stream, and refusing to load history would
/// help nobody.
pub fn evolve(state: Option<Post>, event: &PostEvent) -> Option<Post> {
    match (state, event) {
        (None, PostEvent::PostCreated { author, title }) => Some(Post {
            author: author.clone(),
            title: title.clone(),
            published: false,
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

/// Loads the current state of the post in `stream` by folding its events,
/// oldest first, starting from `None`.
pub fn load_post(store: &EventStore, stream: &StreamId) -> Option<Post> {
    store
        .read_stream(stream)
        .into_iter()
        .fold(None, |state, recorded| evolve(state, &recorded.event))
}
// ANCHOR_END: state

// ANCHOR: validate_title
/// Trims `title` and checks it: not empty, at most [`MAX_TITLE_CHARS`]
/// characters (not bytes: "é" is one character and two bytes). Returns the
/// trimmed title, which is what events record.
///
/// # Errors
///
/// [`PostError::EmptyTitle`] or [`PostError::TitleTooLong`].
pub fn validate_title(title: &str) -> Result<String, PostError> {
    let title = title.trim();
    let length = title.chars().count();
    if length == 0 {
        return Err(PostError::EmptyTitle);
    }
    if length > MAX_TITLE_CHARS {
        return Err(PostError::TitleTooLong {
            length,
            max: MAX_TITLE_CHARS,
        });
    }
    Ok(title.to_string())
}
// ANCHOR_END: validate_title

/// Trims `author` and checks it like a title: not empty, at most
/// [`MAX_AUTHOR_CHARS`] characters. Returns the trimmed name.
///
/// # Errors
///
/// [`PostError::EmptyAuthor`] or [`PostError::AuthorTooLong`].
pub fn validate_author(author: &str) -> Result<String, PostError> {
    let author = author.trim();
    let length = author.chars().count();
    if length == 0 {
        return Err(PostError::EmptyAuthor);
    }
    if length > MAX_AUTHOR_CHARS {
        return Err(PostError::AuthorTooLong {
            length,
            max: MAX_AUTHOR_CHARS,
        });
    }
    Ok(author.to_string())
}

// ANCHOR: decide
/// Decides what `command` does to a post in `state`: the events to record,
/// or why it is refused. It is pure: no store, no clock, no I/O, so the same
/// command on the same state always gives the same answer.
///
/// State checks come before argument checks: retitling a post that does not
/// exist is `NotFound` whatever the title. Retitling to the current title is
/// accepted and records nothing.
///
/// # Errors
///
/// A [`PostError`] naming the rule the command breaks.
pub fn decide(command: &PostCommand, state: &Option<Post>) -> Result<Vec<PostEvent>, PostError> {
    match (command, state) {
        (PostCommand::CreatePost { .. }, Some(_)) => Err(PostError::AlreadyExists),
        (PostCommand::CreatePost { author, title }, None) => Ok(vec![PostEvent::PostCreated {
            author: validate_author(author)?,
            title: validate_title(title)?,
        }]),
        (PostCommand::RetitlePost { .. } | PostCommand::PublishPost, None) => {
            Err(PostError::NotFound)
        }
        (PostCommand::RetitlePost { title }, Some(post)) => {
            let title = validate_title(title)?;
            if title == post.title {
                Ok(Vec::new())
            } else {
                Ok(vec![PostEvent::PostRetitled { title }])
            }
        }
        (PostCommand::PublishPost, Some(post)) if post.published => {
            Err(PostError::AlreadyPublished)
        }
        (PostCommand::PublishPost, Some(_)) => Ok(vec![PostEvent::PostPublished]),
    }
}
// ANCHOR_END: decide

// ANCHOR: handle
/// Handles one command for the post in `stream`: load the stream, fold it to
/// state, decide, and append the resulting events recorded at `recorded_at`.
/// Returns the stream's version afterwards (unchanged when the command
/// decided that nothing needed recording).
///
/// Between the load and the append another handler could append to the same
/// stream; this store cannot detect that. Lesson 6 closes the gap with an
/// expected version.
///
/// # Errors
///
/// The [`PostError`] from [`decide`]; nothing is appended then.
pub fn handle(
    store: &mut EventStore,
    stream: &StreamId,
    command: &PostCommand,
    recorded_at: Timestamp,
) -> Result<Version, PostError> {
    let state = load_post(store, stream);
    let events = decide(command, &state)?;
    Ok(store.append(stream, events, recorded_at))
}
// ANCHOR_END: handle

// ---------------------------------------------------------------------------
// Display
// ---------------------------------------------------------------------------

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
        let (year, month, day) = civil_from_days(self.0 / 86_400);
        let seconds = self.0 % 86_400;
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
