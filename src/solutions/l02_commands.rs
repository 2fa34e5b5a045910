//! Reference solutions for the lesson 2 exercises.

use std::fmt;

use crate::l02_commands::{
    EventStore, Post, PostCommand, PostError, PostEvent, StreamId, Timestamp, Version, decide,
    evolve, load_post,
};

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
    let events = decide(command, state)?;
    // The rule looks at what would be *recorded*, not at the command: the
    // titles in the events are already trimmed, and a retitle that records
    // nothing cannot make anything worse. Checking the command's title
    // instead is a different rule: it would also refuse `RetitlePost` to a
    // shouted title that a post already has (from before the rule existed),
    // which the exercise's test accepts.
    let shouted = events.iter().find_map(|event| match event {
        PostEvent::PostCreated { title, .. } | PostEvent::PostRetitled { title } => {
            shouts(title).then(|| title.clone())
        }
        PostEvent::PostPublished => None,
    });
    match shouted {
        Some(title) => Err(StrictError::Shouting { title }),
        None => Ok(events),
    }
}

/// At least two letters, all of them capitals. Letters with no case (such
/// as Chinese characters) are not capitals, so they never shout.
fn shouts(title: &str) -> bool {
    let mut letters = title.chars().filter(|c| c.is_alphabetic());
    letters.clone().nth(1).is_some() && letters.all(char::is_uppercase)
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
    // One read, one fold, two pieces of state. The rule needs a fact `Post`
    // does not keep, so it folds its own counter from the same events: new
    // rules often need new state, never new storage. A real model would add
    // a `draft_retitles` field to `Post` and count it in `evolve`. Counting
    // every retitle would give the same answers, since a published post is
    // never a draft again; counting only the draft ones says what the rule
    // means.
    let (state, draft_retitles) =
        store
            .read_stream(stream)
            .into_iter()
            .fold((None, 0), |(state, count), recorded| {
                let draft = matches!(
                    &state,
                    Some(Post {
                        published: false,
                        ..
                    })
                );
                let count = match &recorded.event {
                    PostEvent::PostRetitled { .. } if draft => count + 1,
                    _ => count,
                };
                (evolve(state, &recorded.event), count)
            });
    let events = decide(command, &state)?;
    // Only a retitle that records an event counts against the limit, so the
    // check runs on the decided events rather than on the command.
    let draft = matches!(
        &state,
        Some(Post {
            published: false,
            ..
        })
    );
    let retitles = events
        .iter()
        .any(|event| matches!(event, PostEvent::PostRetitled { .. }));
    if draft && retitles && draft_retitles >= limit {
        return Err(RetitleLimitError::TooManyRetitles { limit });
    }
    Ok(store.append(stream, events, recorded_at))
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
    // The state is evolved with every event, refused or not: the events are
    // facts, and later events happened on top of them. An audit reports; it
    // never rewrites history (a correction would be a new event).
    let mut findings = Vec::new();
    let mut state = None;
    for recorded in store.read_stream(stream) {
        // Accepted is not enough: today's rules may accept the command and
        // still record something else (a trimmed title, or nothing for a
        // retitle to the same title), so the recorded event could not be
        // written today either.
        match decide(&command_for(&recorded.event), &state) {
            Err(error) => findings.push((recorded.version, Finding::Refused(error))),
            Ok(events) if events != [recorded.event.clone()] => {
                findings.push((recorded.version, Finding::RecordedDifferently(events)));
            }
            Ok(_) => {}
        }
        state = evolve(state, &recorded.event);
    }
    findings
}

/// The command that produces `event` when it is accepted. This works because
/// each command here has exactly one event; in a richer model one command
/// can record several events, and the mapping would not go backwards so
/// simply. Storing the command id on each event (lesson 12 calls it the
/// causation id) is how production systems keep that link.
fn command_for(event: &PostEvent) -> PostCommand {
    match event {
        PostEvent::PostCreated { author, title } => PostCommand::CreatePost {
            author: author.clone(),
            title: title.clone(),
        },
        PostEvent::PostRetitled { title } => PostCommand::RetitlePost {
            title: title.clone(),
        },
        PostEvent::PostPublished => PostCommand::PublishPost,
    }
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
    // decide + evolve in a loop is all a batch needs: each command sees the
    // state its predecessors would leave, without anything being stored
    // yet. Appending once at the end is what makes the batch all or nothing;
    // appending after each command would leave half a batch behind on a
    // refusal. With lesson 8's expected version, that single append is also
    // the single point where a concurrent writer is detected.
    let mut state = load_post(store, stream);
    let mut recorded = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        let events = decide(command, &state).map_err(|error| BatchError { index, error })?;
        for event in events {
            state = evolve(state, &event);
            recorded.push(event);
        }
    }
    Ok(store.append(stream, recorded, recorded_at))
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
