//! Reference solutions for the lesson 3 exercises.

use std::collections::{BTreeMap, BTreeSet};

use crate::l03_projections::{
    CatchUpError, Consumer, EventStore, Notification, Position, PostEvent, PostRow, PostsTable,
    Projection, ReadModel, RecordedEvent, StreamId, Timestamp,
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

/// Exercise 3.1: the published posts, newest publication first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontPage {
    titles: BTreeMap<StreamId, String>,
    published: BTreeMap<Position, (StreamId, Timestamp)>,
}

impl FrontPage {
    /// The published posts, most recently published first.
    pub fn headlines(&self) -> Vec<Headline> {
        // Keying publications by position rather than by time gives a total
        // order even when two posts go live in the same second. A front page
        // showing only the newest 10 would keep just those here and read the
        // rest from the posts table on demand.
        self.published
            .values()
            .rev()
            .filter_map(|(post, published_at)| {
                Some(Headline {
                    post: post.clone(),
                    title: self.titles.get(post)?.clone(),
                    published_at: *published_at,
                })
            })
            .collect()
    }
}

impl ReadModel for FrontPage {
    fn apply(&mut self, recorded: &RecordedEvent) {
        // Titles of drafts are kept too: a draft that is published later
        // needs its title, and `PostPublished` does not carry it. The
        // alternative is to read the title from the posts table, which ties
        // this model's correctness to the order in which two models catch up.
        match &recorded.event {
            PostEvent::PostCreated { title, .. } | PostEvent::PostRetitled { title } => {
                self.titles.insert(recorded.stream.clone(), title.clone());
            }
            PostEvent::PostPublished => {
                self.published.insert(
                    recorded.position,
                    (recorded.stream.clone(), recorded.recorded_at),
                );
            }
        }
    }
}

/// Exercise 3.2: a search index over the titles of published posts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchIndex {
    titles: BTreeMap<StreamId, String>,
    published: BTreeSet<StreamId>,
    posts_by_word: BTreeMap<String, BTreeSet<StreamId>>,
}

/// The distinct lowercase words of a title.
fn words(title: &str) -> BTreeSet<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl SearchIndex {
    /// The published posts whose current title contains `word`, in id order.
    pub fn search(&self, word: &str) -> Vec<StreamId> {
        self.posts_by_word
            .get(&word.to_lowercase())
            .map(|posts| posts.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn index(&mut self, post: &StreamId) {
        if let Some(title) = self.titles.get(post) {
            for word in words(title) {
                self.posts_by_word
                    .entry(word)
                    .or_default()
                    .insert(post.clone());
            }
        }
    }

    fn unindex(&mut self, post: &StreamId) {
        if let Some(title) = self.titles.get(post) {
            for word in words(title) {
                if let Some(posts) = self.posts_by_word.get_mut(&word) {
                    posts.remove(post);
                    // An empty entry would be harmless to `search`, and to
                    // law 3 as well (a rebuild replays the same removals),
                    // but it would never go away: words no title uses any
                    // more would pile up for good.
                    if posts.is_empty() {
                        self.posts_by_word.remove(&word);
                    }
                }
            }
        }
    }
}

impl ReadModel for SearchIndex {
    fn apply(&mut self, recorded: &RecordedEvent) {
        let post = &recorded.stream;
        // Unindexing with the old title before storing the new one is what
        // makes retitling correct. Re-deriving the words from the stored
        // title, instead of keeping a word list per post, costs a little CPU
        // and saves memory; a real search engine (tantivy, PostgreSQL's
        // tsvector) does this bookkeeping for you.
        match &recorded.event {
            PostEvent::PostCreated { title, .. } => {
                self.titles.insert(post.clone(), title.clone());
            }
            PostEvent::PostRetitled { title } => {
                let live = self.published.contains(post);
                if live {
                    self.unindex(post);
                }
                self.titles.insert(post.clone(), title.clone());
                if live {
                    self.index(post);
                }
            }
            PostEvent::PostPublished => {
                if self.published.insert(post.clone()) {
                    self.index(post);
                }
            }
        }
    }
}

/// Exercise 3.3: sends each notification once, deduplicating by `caused_by`.
///
/// Recording the key and "sending" are one step in memory here, which is
/// what makes the effect happen exactly once. A real mailer needs the same
/// atomicity from outside: a mail API that accepts the key as an idempotency
/// key, or a sent table with a unique key written in the same transaction as
/// its checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailer {
    seen: BTreeSet<Position>,
    sent: Vec<Notification>,
}

impl Mailer {
    /// Sends `notification` unless it was sent before; returns whether it sent.
    pub fn receive(&mut self, notification: &Notification) -> bool {
        // The key works because it is derived from the log (the position of
        // the cause), so a replayed notifier produces the same key again. A
        // random id minted at send time would make every replay look new.
        //
        // This set grows forever. If notifications always arrive in position
        // order, the highest key sent is enough (a checkpoint again). A real
        // sender keeps keys in a table with a unique constraint, or passes
        // the key to a mail API that accepts idempotency keys, and forgets
        // keys older than its longest retry window.
        if !self.seen.insert(notification.caused_by) {
            return false;
        }
        self.sent.push(notification.clone());
        true
    }

    /// Every notification sent, in the order it was sent.
    pub fn sent(&self) -> &[Notification] {
        &self.sent
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

/// Exercise 3.4: rebuild next to the live table, compare at the live
/// checkpoint, report the first difference, then catch up and swap.
pub fn shadow_rebuild(
    live: &mut Projection<PostsTable>,
    store: &EventStore,
) -> Result<Option<RowDifference>, CatchUpError> {
    let checkpoint = live.checkpoint();
    if checkpoint > store.last_position() {
        return Err(CatchUpError::LogBehindCheckpoint {
            checkpoint,
            last_position: store.last_position(),
        });
    }
    // Stop the fresh copy where the live one stands: compared at the end of
    // a log that has grown since, every new event would look like a bug.
    let mut fresh = Projection::<PostsTable>::new();
    let up_to = usize::try_from(checkpoint.0).unwrap_or(usize::MAX);
    for recorded in store.read_all(Position(0)).iter().take(up_to) {
        fresh.deliver(recorded);
    }
    let difference = first_difference(live.model(), fresh.model());
    // Swapping even when they differ is a choice: the rebuild is what the
    // code says the table should be. A cautious operator might refuse to
    // swap and page someone instead; a generic version would compare any
    // `ReadModel: PartialEq` and report only "differs".
    fresh.catch_up(store)?;
    *live = fresh;
    Ok(difference)
}

/// Walks both tables in id order, like a merge, and stops at the first post
/// whose rows are not equal (including a row that only one side has).
fn first_difference(live: &PostsTable, rebuilt: &PostsTable) -> Option<RowDifference> {
    let posts: BTreeSet<&StreamId> = live.rows().keys().chain(rebuilt.rows().keys()).collect();
    posts.into_iter().find_map(|post| {
        let (a, b) = (live.get(post), rebuilt.get(post));
        (a != b).then(|| RowDifference {
            post: post.clone(),
            live: a.cloned(),
            rebuilt: b.cloned(),
        })
    })
}
