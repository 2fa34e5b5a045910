//! Exercises for lesson 2 — commands.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l02_commands -- --ignored`.
//!
//! The lesson's enums cannot grow new variants from here, so each exercise
//! that adds a rule has its own error type, which wraps [`PostError`] for the
//! lesson's rules and adds a variant for the new one.

use std::fmt;

use crate::l02_commands::{
    EventStore, Post, PostCommand, PostError, PostEvent, StreamId, Timestamp, Version,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l02_commands::{decide, evolve, load_post};

/// Why [`decide_strict`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictError {
    /// One of the lesson's rules refused it.
    Post(PostError),
    /// The title it would record is written in capitals only.
    Shouting {
        /// The trimmed title.
        title: String,
    },
}

/// Exercise 2.1: [`decide`](crate::l02_commands::decide) plus one more rule:
/// no shouting. A command is refused with [`StrictError::Shouting`] when an
/// event it would record carries a title that has at least two letters, all
/// of them capitals (`"HELLO, WORLD!"` shouts; `"NASA at 60"`, `"A"` and
/// `"2026"` do not). The lesson's rules come first, so a shouted retitle of a
/// missing post is still `Post(NotFound)`.
///
/// # Errors
///
/// [`StrictError::Post`] for the lesson's rules, then
/// [`StrictError::Shouting`].
pub fn decide_strict(
    command: &PostCommand,
    state: &Option<Post>,
) -> Result<Vec<PostEvent>, StrictError> {
    // TODO: call the lesson's `decide`, then look at the titles in the events
    // it returns.
    let _ = (command, state);
    todo!("exercise 2.1: refuse titles written in capitals")
}

/// Why [`handle_with_retitle_limit`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetitleLimitError {
    /// One of the lesson's rules refused it.
    Post(PostError),
    /// The draft has already been retitled `limit` times.
    TooManyRetitles {
        /// The most retitles a draft may have.
        limit: usize,
    },
}

/// Exercise 2.2: [`handle`](crate::l02_commands::handle) with one more rule:
/// a draft may be retitled at most `limit` times. Only recorded retitles
/// count (retitling to the current title records nothing, so it is accepted
/// and does not count), and once the post is published there is no limit.
/// The lesson's rules come first.
///
/// `Post` does not remember how often it was retitled, and you cannot add a
/// field to it from here: fold what you need from the stream yourself.
///
/// # Errors
///
/// [`RetitleLimitError::Post`] for the lesson's rules, then
/// [`RetitleLimitError::TooManyRetitles`]. Nothing is appended then.
pub fn handle_with_retitle_limit(
    store: &mut EventStore,
    stream: &StreamId,
    command: &PostCommand,
    limit: usize,
    recorded_at: Timestamp,
) -> Result<Version, RetitleLimitError> {
    // TODO: fold what the rule needs from the stream, decide, check the limit,
    // and append.
    let _ = (store, stream, command, limit, recorded_at);
    todo!("exercise 2.2: limit how often a draft is retitled")
}

/// What an audit found about one recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding<E> {
    /// Today's rules refuse the command that would have produced the event.
    Refused(E),
    /// Today's rules accept that command, but it would record these events
    /// instead of the one recorded (none at all, for an empty list).
    RecordedDifferently(Vec<PostEvent>),
}

/// Exercise 2.3: checks a stream's history against a set of rules. For each
/// recorded event, oldest first, it asks `decide` about the command that
/// would have produced it (`PostCreated` ← `CreatePost`, `PostRetitled` ←
/// `RetitlePost`, `PostPublished` ← `PublishPost`) on the state folded from
/// the events before it, and reports the version of each event that `decide`
/// refuses, or accepts but would record as something other than exactly
/// that event. The history is never changed.
pub fn audit_stream<E>(
    store: &EventStore,
    stream: &StreamId,
    decide: impl Fn(&PostCommand, &Option<Post>) -> Result<Vec<PostEvent>, E>,
) -> Vec<(Version, Finding<E>)> {
    // TODO: replay the stream, asking `decide` about each event.
    let _ = (store, stream, &decide);
    todo!("exercise 2.3: audit a stream against today's rules")
}

/// Why [`handle_batch`] refused a batch: the first command that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// The index of the refused command in the batch, from 0.
    pub index: usize,
    /// Why it was refused.
    pub error: PostError,
}

/// Exercise 2.4: handles several commands for one post as a unit. Each
/// command is decided on the state left by the events of the commands before
/// it; if all are accepted, all their events are appended, recorded at
/// `recorded_at`, and if any is refused, nothing is appended. An empty batch
/// appends nothing and returns the current version.
///
/// # Errors
///
/// A [`BatchError`] naming the first refused command; nothing is appended.
pub fn handle_batch(
    store: &mut EventStore,
    stream: &StreamId,
    commands: &[PostCommand],
    recorded_at: Timestamp,
) -> Result<Version, BatchError> {
    // TODO: decide each command on the state the earlier ones leave; append
    // only once the whole batch is decided.
    let _ = (store, stream, commands, recorded_at);
    todo!("exercise 2.4: handle a batch of commands all or nothing")
}

// The wrapped `PostError` is shown by `Display`, so `source()` stays `None`:
// an error reporter that printed both would say the same thing twice.

impl fmt::Display for StrictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrictError::Post(error) => error.fmt(f),
            StrictError::Shouting { title } => write!(f, "title {title:?} is all capitals"),
        }
    }
}

impl std::error::Error for StrictError {}

impl From<PostError> for StrictError {
    fn from(error: PostError) -> Self {
        StrictError::Post(error)
    }
}

impl fmt::Display for RetitleLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetitleLimitError::Post(error) => error.fmt(f),
            RetitleLimitError::TooManyRetitles { limit } => {
                write!(f, "draft already retitled {limit} times, the most allowed")
            }
        }
    }
}

impl std::error::Error for RetitleLimitError {}

impl From<PostError> for RetitleLimitError {
    fn from(error: PostError) -> Self {
        RetitleLimitError::Post(error)
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command {} of the batch refused: {}",
            self.index, self.error
        )
    }
}

impl std::error::Error for BatchError {}
