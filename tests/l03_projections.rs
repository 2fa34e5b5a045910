//! Tests for lesson 3 — projections, then its exercises.
//!
//! The law tests generate random blog histories with a seeded SplitMix64
//! generator. The generator writes down what the posts table must contain as
//! it invents each event, so the expected values never come from the code
//! under test. A failure names its seed; replay it by running only that seed.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;

use es_workbook::l03_projections::{
    AuthorStats, CatchUpError, Consumer, Delivery, EventStore, Notifier, Position, PostEvent,
    PostRow, PostStatus, PostsPerAuthor, PostsTable, Projection, ReadModel, RecordedEvent,
    StreamId, Timestamp,
};

const SEEDS: u64 = 200;

fn created(author: &str, title: &str) -> PostEvent {
    PostEvent::PostCreated {
        author: author.into(),
        title: title.into(),
    }
}

fn retitled(title: &str) -> PostEvent {
    PostEvent::PostRetitled {
        title: title.into(),
    }
}

fn post(n: u64) -> StreamId {
    StreamId::new(format!("post-{n}"))
}

/// Two posts by two authors, one retitled and published:
/// #1 post-1 created, #2 post-2 created, #3 post-1 retitled, #4 post-1 published.
fn small_blog() -> EventStore {
    let mut store = EventStore::new();
    store.append(&post(1), vec![created("ada", "Helo")], Timestamp(100));
    store.append(&post(2), vec![created("grace", "Roadmap")], Timestamp(200));
    store.append(
        &post(1),
        vec![retitled("Hello"), PostEvent::PostPublished],
        Timestamp(300),
    );
    store
}

/// A small, fast, seedable generator (SplitMix64), so that a failing history
/// can be replayed from its seed alone.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One append of a generated history.
struct Append {
    stream: StreamId,
    events: Vec<PostEvent>,
    at: Timestamp,
}

/// A generated history and what it must project to.
struct History {
    appends: Vec<Append>,
    expected_rows: BTreeMap<StreamId, PostRow>,
    /// `(post, title when published)`, in publication order.
    expected_announcements: Vec<(StreamId, String)>,
}

/// Invents a valid history of `steps` appends: posts are created, retitled
/// (published or not) and published once, by three authors, sometimes
/// several events in one append. The expected rows are written down here,
/// from the generator's own intent, not by folding the events.
fn random_history(rng: &mut SplitMix64, steps: usize) -> History {
    const AUTHORS: [&str; 3] = ["ada", "grace", "linus"];
    const WORDS: [&str; 6] = ["Hello", "Rust", "Events", "Notes", "Roadmap", "Draft"];
    let title = |rng: &mut SplitMix64| {
        let first = WORDS[rng.below(6) as usize];
        format!("{first} {}", rng.below(100))
    };
    let mut history = History {
        appends: Vec::new(),
        expected_rows: BTreeMap::new(),
        expected_announcements: Vec::new(),
    };
    let mut now = 1_772_442_000;
    for _ in 0..steps {
        now += rng.below(120); // several appends may share a second
        let at = Timestamp(now);
        let rows = &mut history.expected_rows;
        let choice = rng.below(10);
        if rows.is_empty() || choice < 3 {
            let stream = post(rows.len() as u64 + 1);
            let author = AUTHORS[rng.below(3) as usize].to_string();
            let first_title = title(rng);
            let mut events = vec![created(&author, &first_title)];
            let publish_now = rng.below(4) == 0;
            if publish_now {
                events.push(PostEvent::PostPublished);
                history
                    .expected_announcements
                    .push((stream.clone(), first_title.clone()));
            }
            let row = PostRow {
                author,
                title: first_title,
                status: if publish_now {
                    PostStatus::Published
                } else {
                    PostStatus::Draft
                },
                created_at: at,
                updated_at: at,
                published_at: publish_now.then_some(at),
            };
            rows.insert(stream.clone(), row);
            history.appends.push(Append { stream, events, at });
            continue;
        }
        let stream = post(rng.below(rows.len() as u64) + 1);
        let row = rows.get_mut(&stream).expect("the post was created");
        let event = if choice < 7 || row.status == PostStatus::Published {
            row.title = title(rng);
            retitled(&row.title)
        } else {
            row.status = PostStatus::Published;
            row.published_at = Some(at);
            history
                .expected_announcements
                .push((stream.clone(), row.title.clone()));
            PostEvent::PostPublished
        };
        row.updated_at = at;
        history.appends.push(Append {
            stream,
            events: vec![event],
            at,
        });
    }
    history
}

/// Posts per author, counted from the expected rows: a different route to
/// the same numbers than folding events.
fn expected_stats(rows: &BTreeMap<StreamId, PostRow>) -> BTreeMap<String, AuthorStats> {
    let mut stats: BTreeMap<String, AuthorStats> = BTreeMap::new();
    for row in rows.values() {
        let entry = stats.entry(row.author.clone()).or_default();
        entry.posts += 1;
        entry.published += u64::from(row.status == PostStatus::Published);
    }
    stats
}

/// Delivers the log the way a flaky at-least-once subscription does, until
/// the consumer has caught up: windows of 1 to 5 events that start at the
/// consumer's checkpoint or up to 3 events before it (redelivery after a lost
/// acknowledgement), and now and then one event too late (a lost message).
fn deliver_flakily(consumer: &mut impl Consumer, store: &EventStore, rng: &mut SplitMix64) {
    for _ in 0..100_000 {
        let checkpoint = consumer.checkpoint().0;
        if checkpoint == store.last_position().0 {
            return;
        }
        let start = match rng.below(8) {
            0 => checkpoint + 1,
            _ => checkpoint.saturating_sub(rng.below(4)),
        };
        let window = 1 + rng.below(5) as usize;
        for recorded in store.read_all(Position(start)).iter().take(window) {
            consumer.deliver(recorded);
        }
    }
    panic!("the consumer never caught up");
}

/// Every event of the log handed to `consumer` twice in a row.
fn deliver_each_twice(consumer: &mut impl Consumer, events: &[RecordedEvent]) {
    for recorded in events {
        consumer.deliver(recorded);
        consumer.deliver(recorded);
    }
}

// ANCHOR: law_3_test
#[test]
fn law_3_rebuilding_from_zero_equals_incremental_delivery() {
    for seed in 0..SEEDS {
        // given: a history appended in steps, delivered flakily as it grows
        let mut rng = SplitMix64(seed);
        let history = random_history(&mut rng, 40);
        let mut store = EventStore::new();
        let mut posts = Projection::<PostsTable>::new();
        let mut authors = Projection::<PostsPerAuthor>::new();
        for append in &history.appends {
            store.append(&append.stream, append.events.clone(), append.at);
            if rng.below(3) == 0 {
                deliver_flakily(&mut posts, &store, &mut rng);
                deliver_flakily(&mut authors, &store, &mut rng);
            }
        }
        deliver_flakily(&mut posts, &store, &mut rng);
        deliver_flakily(&mut authors, &store, &mut rng);

        // when
        let mut rebuilt_posts = Projection::<PostsTable>::new();
        rebuilt_posts
            .catch_up(&store)
            .expect("the log is not behind");
        let mut rebuilt_authors = Projection::<PostsPerAuthor>::new();
        rebuilt_authors
            .catch_up(&store)
            .expect("the log is not behind");

        // then: both routes agree, and agree with the generator's table
        assert_eq!(posts, rebuilt_posts, "seed {seed}");
        assert_eq!(authors, rebuilt_authors, "seed {seed}");
        assert_eq!(posts.model().rows(), &history.expected_rows, "seed {seed}");
        assert_eq!(
            authors.model().stats(),
            &expected_stats(&history.expected_rows),
            "seed {seed}"
        );
        assert_eq!(posts.checkpoint(), store.last_position(), "seed {seed}");
    }
}
// ANCHOR_END: law_3_test

#[test]
fn law_4_delivering_every_event_twice_equals_delivering_it_once() {
    for seed in 0..SEEDS {
        // given
        let mut rng = SplitMix64(seed);
        let history = random_history(&mut rng, 30);
        let mut store = EventStore::new();
        for append in &history.appends {
            store.append(&append.stream, append.events.clone(), append.at);
        }
        let log = store.read_all(Position(0));

        // when
        let mut once = Projection::<PostsPerAuthor>::new();
        once.catch_up(&store).expect("the log is not behind");
        let mut twice = Projection::<PostsPerAuthor>::new();
        deliver_each_twice(&mut twice, log);
        twice.catch_up(&store).expect("the log is not behind");
        deliver_each_twice(&mut twice, log);
        let mut twice_posts = Projection::<PostsTable>::new();
        deliver_each_twice(&mut twice_posts, log);

        // then
        assert_eq!(twice, once, "seed {seed}");
        assert_eq!(
            twice.model().stats(),
            &expected_stats(&history.expected_rows),
            "seed {seed}"
        );
        assert_eq!(
            twice_posts.model().rows(),
            &history.expected_rows,
            "seed {seed}"
        );
    }
}

#[test]
fn the_notifier_announces_each_publication_once_under_flaky_delivery() {
    for seed in 0..SEEDS {
        // given
        let mut rng = SplitMix64(seed);
        let history = random_history(&mut rng, 40);
        let mut store = EventStore::new();
        let mut notifier = Notifier::new();

        // when
        for append in &history.appends {
            store.append(&append.stream, append.events.clone(), append.at);
            deliver_flakily(&mut notifier, &store, &mut rng);
        }

        // then
        let announced: Vec<(StreamId, String)> = notifier
            .outbox()
            .iter()
            .map(|n| (n.post.clone(), n.title.clone()))
            .collect();
        assert_eq!(announced, history.expected_announcements, "seed {seed}");
    }
}

#[test]
fn catching_up_builds_the_posts_table_from_the_log() {
    // given
    let store = small_blog();
    let mut posts = Projection::<PostsTable>::new();

    // when
    let applied = posts.catch_up(&store).expect("the log is not behind");

    // then
    let expected = BTreeMap::from([
        (
            post(1),
            PostRow {
                author: "ada".into(),
                title: "Hello".into(),
                status: PostStatus::Published,
                created_at: Timestamp(100),
                updated_at: Timestamp(300),
                published_at: Some(Timestamp(300)),
            },
        ),
        (
            post(2),
            PostRow {
                author: "grace".into(),
                title: "Roadmap".into(),
                status: PostStatus::Draft,
                created_at: Timestamp(200),
                updated_at: Timestamp(200),
                published_at: None,
            },
        ),
    ]);
    assert_eq!(posts.model().rows(), &expected);
    assert_eq!((applied, posts.checkpoint()), (4, Position(4)));
}

#[test]
fn catching_up_again_applies_only_the_events_after_the_checkpoint() {
    // given
    let mut store = small_blog();
    let mut posts = Projection::<PostsTable>::new();
    posts.catch_up(&store).expect("the log is not behind");
    store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(400));
    store.append(&post(3), vec![created("ada", "Third")], Timestamp(500));

    // when
    let applied = posts.catch_up(&store).expect("the log is not behind");
    let applied_when_current = posts.catch_up(&store).expect("the log is not behind");

    // then
    assert_eq!((applied, applied_when_current), (2, 0));
    assert_eq!(posts.checkpoint(), Position(6));
    let statuses: Vec<(&str, PostStatus)> = posts
        .model()
        .rows()
        .iter()
        .map(|(id, row)| (id.as_str(), row.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("post-1", PostStatus::Published),
            ("post-2", PostStatus::Published),
            ("post-3", PostStatus::Draft),
        ]
    );
}

#[test]
fn an_event_at_or_below_the_checkpoint_is_a_duplicate_and_changes_nothing() {
    // given
    let store = small_blog();
    let mut authors = Projection::<PostsPerAuthor>::new();
    authors.catch_up(&store).expect("the log is not behind");
    let before = authors.clone();

    // when
    let answers: Vec<Delivery> = store
        .read_all(Position(0))
        .iter()
        .map(|recorded| authors.deliver(recorded))
        .collect();

    // then
    assert_eq!(answers, vec![Delivery::Duplicate; 4]);
    assert_eq!(authors, before);
}

#[test]
fn without_its_checkpoint_a_table_takes_back_an_older_title_when_a_retitle_is_redelivered() {
    // given: the model alone, with no projection and so no checkpoint, after
    // post-1 was retitled a second time
    let mut store = small_blog();
    store.append(&post(1), vec![retitled("Hello, again")], Timestamp(400));
    let mut unguarded = PostsTable::default();
    for recorded in store.read_all(Position(0)) {
        unguarded.apply(recorded);
    }

    // when: the first retitle (#3) arrives again
    let third = store.read_all(Position(2))[0].clone();
    unguarded.apply(&third);

    // then: the table shows the older title again, and an older update time
    let row = unguarded.get(&post(1)).expect("post-1 has a row");
    assert_eq!(
        (row.title.as_str(), row.updated_at),
        ("Hello", Timestamp(300))
    );
}

#[test]
fn an_event_past_the_next_position_is_refused_and_catching_up_fills_the_gap() {
    // given
    let store = small_blog();
    let log = store.read_all(Position(0));
    let mut posts = Projection::<PostsTable>::new();
    posts.deliver(&log[0]);

    // when: #3 arrives but #2 was lost
    let answer = posts.deliver(&log[2]);

    // then
    assert_eq!(
        answer,
        Delivery::Gap {
            expected: Position(2)
        }
    );
    assert_eq!(posts.checkpoint(), Position(1));
    assert_eq!(
        posts.model().get(&post(1)).map(|r| r.title.as_str()),
        Some("Helo")
    );

    // when: the consumer catches up from its checkpoint
    posts.catch_up(&store).expect("the log is not behind");

    // then
    let mut reference = Projection::<PostsTable>::new();
    reference.catch_up(&store).expect("the log is not behind");
    assert_eq!(posts, reference);
}

#[test]
fn posts_per_author_counts_each_authors_posts_and_publications() {
    // given
    let mut store = small_blog();
    store.append(&post(3), vec![created("ada", "Third")], Timestamp(400));
    store.append(&post(3), vec![retitled("3rd")], Timestamp(500));

    // when
    let mut authors = Projection::<PostsPerAuthor>::new();
    authors.catch_up(&store).expect("the log is not behind");

    // then
    let expected = BTreeMap::from([
        (
            "ada".to_string(),
            AuthorStats {
                posts: 2,
                published: 1,
            },
        ),
        (
            "grace".to_string(),
            AuthorStats {
                posts: 1,
                published: 0,
            },
        ),
    ]);
    assert_eq!(authors.model().stats(), &expected);
}

#[test]
fn events_a_model_ignores_or_cannot_place_still_move_its_checkpoint() {
    // given: a retitle (ignored by posts per author) and events for a post
    // that was never created (which the write side would have refused)
    let mut store = EventStore::new();
    store.append(&post(1), vec![created("ada", "One")], Timestamp(1));
    store.append(&post(1), vec![retitled("Uno")], Timestamp(2));
    store.append(
        &post(9),
        vec![retitled("Ghost"), PostEvent::PostPublished],
        Timestamp(3),
    );

    // when
    let mut posts = Projection::<PostsTable>::new();
    let mut authors = Projection::<PostsPerAuthor>::new();
    let mut notifier = Notifier::new();
    let applied = [
        posts.catch_up(&store).expect("the log is not behind"),
        authors.catch_up(&store).expect("the log is not behind"),
        notifier.catch_up(&store).expect("the log is not behind"),
    ];

    // then
    assert_eq!(applied, [4, 4, 4]);
    assert_eq!(posts.checkpoint(), Position(4));
    assert_eq!(authors.checkpoint(), Position(4));
    assert_eq!(notifier.checkpoint(), Position(4));
    assert_eq!(posts.model().rows().len(), 1);
    assert!(notifier.outbox().is_empty());
}

#[test]
fn a_repeated_publication_is_counted_and_announced_once() {
    // given: a log written by older code, in which post-1 was published twice
    let mut store = EventStore::new();
    store.append(
        &post(1),
        vec![created("ada", "One"), PostEvent::PostPublished],
        Timestamp(1),
    );
    store.append(&post(1), vec![PostEvent::PostPublished], Timestamp(2));

    // when
    let mut posts = Projection::<PostsTable>::new();
    let mut authors = Projection::<PostsPerAuthor>::new();
    let mut notifier = Notifier::new();
    posts.catch_up(&store).expect("the log is not behind");
    authors.catch_up(&store).expect("the log is not behind");
    notifier.catch_up(&store).expect("the log is not behind");

    // then: the first publication stands; the second changes nothing
    let row = posts.model().get(&post(1)).expect("post-1 has a row");
    assert_eq!(
        (row.published_at, row.updated_at),
        (Some(Timestamp(1)), Timestamp(1))
    );
    let ada = authors.model().stats().get("ada").copied();
    assert_eq!(
        ada,
        Some(AuthorStats {
            posts: 1,
            published: 1
        })
    );
    let causes: Vec<Position> = notifier.outbox().iter().map(|n| n.caused_by).collect();
    assert_eq!(causes, vec![Position(2)]);
}

#[test]
fn a_second_creation_of_a_post_is_ignored_like_lesson_2_ignores_it() {
    // given: post-1 created by ada and published, then "created" again by grace
    let mut store = EventStore::new();
    store.append(
        &post(1),
        vec![created("ada", "One"), PostEvent::PostPublished],
        Timestamp(1),
    );
    store.append(&post(1), vec![created("grace", "Other")], Timestamp(2));
    store.append(&post(2), vec![created("grace", "Two")], Timestamp(3));
    store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(4));

    // when
    let mut posts = Projection::<PostsTable>::new();
    let mut authors = Projection::<PostsPerAuthor>::new();
    let mut notifier = Notifier::new();
    posts.catch_up(&store).expect("the log is not behind");
    authors.catch_up(&store).expect("the log is not behind");
    notifier.catch_up(&store).expect("the log is not behind");

    // then: post-1 is still ada's, published, with its first title
    let row = posts.model().get(&post(1)).expect("post-1 has a row");
    assert_eq!(
        (row.author.as_str(), row.title.as_str(), row.status),
        ("ada", "One", PostStatus::Published)
    );
    let expected = BTreeMap::from([
        (
            "ada".to_string(),
            AuthorStats {
                posts: 1,
                published: 1,
            },
        ),
        (
            "grace".to_string(),
            AuthorStats {
                posts: 1,
                published: 1,
            },
        ),
    ]);
    assert_eq!(authors.model().stats(), &expected);
    let announced: Vec<String> = notifier.outbox().iter().map(|n| n.to_string()).collect();
    assert_eq!(
        announced,
        vec![
            r#"post-1 "One" by ada (caused by #2)"#.to_string(),
            r#"post-2 "Two" by grace (caused by #5)"#.to_string(),
        ]
    );
}

#[test]
fn catching_up_on_a_log_that_ends_before_the_checkpoint_is_refused() {
    // given: a projection saved at #3, resumed against a log that holds only
    // #1 (a restored backup, a store that lost its unsynced tail)
    let mut full = EventStore::new();
    for n in 1..=3 {
        full.append(&post(n), vec![created("ada", "T")], Timestamp(1));
    }
    let mut posts = Projection::<PostsTable>::new();
    posts.catch_up(&full).expect("the log is not behind");
    let mut restored = EventStore::new();
    restored.append(&post(1), vec![created("ada", "T")], Timestamp(1));
    let mut notifier = Notifier::new();
    notifier.catch_up(&full).expect("the log is not behind");

    // when
    let refused = posts.catch_up(&restored);
    let refused_notifier = notifier.catch_up(&restored);

    // then: refused, by both kinds of consumer, and nothing changed
    let behind = CatchUpError::LogBehindCheckpoint {
        checkpoint: Position(3),
        last_position: Position(1),
    };
    assert_eq!(refused, Err(behind));
    assert_eq!(refused_notifier, Err(behind));
    assert_eq!(posts.checkpoint(), Position(3));
    assert_eq!(
        behind.to_string(),
        "the log ends at #1, before the checkpoint #3: it lost events this consumer applied"
    );
}

#[test]
fn rebuild_swaps_in_a_fresh_table_and_hands_back_the_old_one() {
    // given: a projection that stopped halfway, as an old version might have
    let store = small_blog();
    let mut posts = Projection::<PostsTable>::new();
    for recorded in &store.read_all(Position(0))[..2] {
        posts.deliver(recorded);
    }

    // when
    let old = posts.rebuild(&store);

    // then
    assert_eq!(old.checkpoint(), Position(2));
    assert_eq!(
        old.model().get(&post(1)).map(|r| r.title.as_str()),
        Some("Helo")
    );
    assert_eq!(posts.checkpoint(), Position(4));
    assert_eq!(
        posts.model().get(&post(1)).map(|r| r.title.as_str()),
        Some("Hello")
    );
}

#[test]
fn a_saved_projection_resumes_after_a_crash_without_losing_or_repeating_events() {
    // given: the projection is saved (cloned) with its checkpoint, then the
    // process applies more events and dies before saving again
    let mut store = small_blog();
    let mut authors = Projection::<PostsPerAuthor>::new();
    for recorded in &store.read_all(Position(0))[..3] {
        authors.deliver(recorded);
    }
    let saved = authors.clone();
    authors.catch_up(&store).expect("the log is not behind");
    drop(authors);
    store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(400));

    // when: the restarted process loads the save and catches up
    let mut restarted = saved;
    restarted.catch_up(&store).expect("the log is not behind");

    // then
    let mut reference = Projection::<PostsPerAuthor>::new();
    reference.catch_up(&store).expect("the log is not behind");
    assert_eq!(restarted, reference);
}

#[test]
fn the_notifier_announces_a_post_with_the_title_it_had_when_published() {
    // given
    let mut store = small_blog();
    store.append(&post(1), vec![retitled("Hello, again")], Timestamp(400));

    // when
    let mut notifier = Notifier::new();
    notifier.catch_up(&store).expect("the log is not behind");

    // then
    let outbox: Vec<String> = notifier.outbox().iter().map(|n| n.to_string()).collect();
    assert_eq!(outbox, vec![r#"post-1 "Hello" by ada (caused by #4)"#]);
}

#[test]
fn rebuilding_the_read_models_does_not_make_the_notifier_announce_again() {
    // given
    let mut store = small_blog();
    let mut posts = Projection::<PostsTable>::new();
    let mut notifier = Notifier::new();
    posts.catch_up(&store).expect("the log is not behind");
    notifier.catch_up(&store).expect("the log is not behind");
    store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(400));

    // when
    posts.rebuild(&store);
    let applied = notifier.catch_up(&store).expect("the log is not behind");

    // then: only the new publication is announced
    assert_eq!(applied, 1);
    let causes: Vec<Position> = notifier.outbox().iter().map(|n| n.caused_by).collect();
    assert_eq!(causes, vec![Position(4), Position(5)]);
}

#[test]
fn a_notifier_reset_to_zero_would_announce_every_publication_again() {
    // given: a notifier that has announced everything
    let store = small_blog();
    let mut notifier = Notifier::new();
    notifier.catch_up(&store).expect("the log is not behind");

    // when: someone "rebuilds" it like a projection
    let mut reset = Notifier::new();
    reset.catch_up(&store).expect("the log is not behind");

    // then: the same announcement is queued a second time
    assert_eq!(reset.outbox(), notifier.outbox());
    assert_eq!(reset.outbox().len(), 1);
}

#[test]
fn a_notifier_started_at_the_end_of_the_log_announces_nothing_from_the_past() {
    // given: a log in which post-1 was published before the notifier existed
    let store = small_blog();

    // when: the notifier is deployed today, at the end of the log
    let mut notifier = Notifier::starting_at_end(&store);
    let applied = notifier.catch_up(&store).expect("the log is not behind");

    // then
    assert_eq!((notifier.checkpoint(), applied), (Position(4), 0));
    assert_eq!(notifier.outbox(), &[]);
}

#[test]
fn a_notifier_started_at_the_end_announces_a_later_publication_of_an_older_post() {
    // given: post-2 was created and retitled before the notifier existed
    let mut store = small_blog();
    store.append(&post(2), vec![retitled("Roadmap 2026")], Timestamp(400));
    let mut notifier = Notifier::starting_at_end(&store);

    // when: post-2 is published afterwards
    store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(500));
    notifier.catch_up(&store).expect("the log is not behind");

    // then: it is announced with the author and title it had before the start
    let outbox: Vec<String> = notifier.outbox().iter().map(|n| n.to_string()).collect();
    assert_eq!(
        outbox,
        vec![r#"post-2 "Roadmap 2026" by grace (caused by #6)"#]
    );
}

#[test]
fn acknowledging_removes_only_the_notifications_sent_up_to_that_position() {
    // given: two publications queued, at #4 and #5
    let mut store = small_blog();
    store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(400));
    let mut notifier = Notifier::new();
    notifier.catch_up(&store).expect("the log is not behind");

    // when: the sender acknowledges an empty batch, then a batch holding #4,
    // then the same batch again
    let nothing = notifier.batch(0);
    let first = notifier.batch(1);
    let removed = [
        notifier.acknowledge(&nothing),
        notifier.acknowledge(&first),
        notifier.acknowledge(&first),
    ];

    // then: the unsent notification is still queued, to be sent again
    assert_eq!(removed, [0, 1, 0]);
    let left: Vec<Position> = notifier.outbox().iter().map(|n| n.caused_by).collect();
    assert_eq!(left, vec![Position(5)]);
}

#[test]
fn acknowledging_a_batch_keeps_what_was_queued_after_the_sender_took_it() {
    // given: the sender takes the batch holding #2
    let mut store = EventStore::new();
    store.append(
        &post(1),
        vec![created("ada", "One"), PostEvent::PostPublished],
        Timestamp(1),
    );
    let mut notifier = Notifier::new();
    notifier.catch_up(&store).expect("the log is not behind");
    let batch = notifier.batch(10);

    // when: #4 is queued while the sender is busy, then the sender acknowledges
    store.append(
        &post(2),
        vec![created("bob", "Two"), PostEvent::PostPublished],
        Timestamp(2),
    );
    notifier.catch_up(&store).expect("the log is not behind");
    let removed = notifier.acknowledge(&batch);

    // then: only what the batch held is gone; #4 waits for the next batch
    let sent: Vec<Position> = batch.notifications().iter().map(|n| n.caused_by).collect();
    let left: Vec<Position> = notifier.outbox().iter().map(|n| n.caused_by).collect();
    assert_eq!(
        (sent, removed, left),
        (vec![Position(2)], 1, vec![Position(4)])
    );
}

#[test]
fn an_outbox_drained_after_every_send_holds_only_what_is_not_yet_sent() {
    for seed in 0..SEEDS {
        // given
        let mut rng = SplitMix64(seed);
        let history = random_history(&mut rng, 40);
        let mut store = EventStore::new();
        let mut notifier = Notifier::new();
        let mut sent: Vec<(StreamId, String)> = Vec::new();
        let mut largest_outbox = 0;

        // when: after each append the notifier catches up, and the sender
        // sends what is queued and acknowledges it
        for append in &history.appends {
            store.append(&append.stream, append.events.clone(), append.at);
            deliver_flakily(&mut notifier, &store, &mut rng);
            largest_outbox = largest_outbox.max(notifier.outbox().len());
            let batch = notifier.batch(usize::MAX);
            notifier.acknowledge(&batch);
            sent.extend(
                batch
                    .notifications()
                    .iter()
                    .map(|n| (n.post.clone(), n.title.clone())),
            );
        }

        // then: each publication was sent once, and the outbox never grew
        // beyond the one publication an append can hold
        assert_eq!(sent, history.expected_announcements, "seed {seed}");
        assert_eq!(notifier.outbox(), &[], "seed {seed}");
        assert!(largest_outbox <= 1, "seed {seed}: {largest_outbox} queued");
    }
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l03_projections -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l03_projections::{
        FrontPage, Headline, Mailer, RowDifference, SearchIndex, shadow_rebuild,
    };
    use pretty_assertions::assert_eq;

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 3.1: a front page read model"
    )]
    fn exercise_3_1_the_front_page_lists_published_posts_newest_first_with_current_titles() {
        // given: post-3 is published first, at 25; post-1 and then post-2
        // are published in the same second, 40; post-1 is retitled after
        // publication; post-4 stays a draft
        let mut store = EventStore::new();
        store.append(&post(1), vec![created("ada", "First")], Timestamp(10));
        store.append(&post(2), vec![created("grace", "Second")], Timestamp(20));
        store.append(
            &post(3),
            vec![created("linus", "Early"), PostEvent::PostPublished],
            Timestamp(25),
        );
        store.append(&post(4), vec![created("ada", "Draft")], Timestamp(30));
        store.append(&post(1), vec![PostEvent::PostPublished], Timestamp(40));
        store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(40));
        store.append(&post(1), vec![retitled("First!")], Timestamp(50));

        // when
        let mut page = Projection::<FrontPage>::new();
        deliver_each_twice(&mut page, store.read_all(Position(0)));

        // then
        let headline = |n, title: &str, at| Headline {
            post: post(n),
            title: title.into(),
            published_at: Timestamp(at),
        };
        assert_eq!(
            page.model().headlines(),
            vec![
                headline(2, "Second", 40),
                headline(1, "First!", 40),
                headline(3, "Early", 25),
            ]
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 3.2: a search index read model"
    )]
    fn exercise_3_2_search_finds_published_posts_by_the_words_of_their_current_title() {
        // given
        let mut store = EventStore::new();
        store.append(
            &post(1),
            vec![created("ada", "Hello, World"), PostEvent::PostPublished],
            Timestamp(1),
        );
        store.append(&post(2), vec![created("ada", "hello rust")], Timestamp(2));
        store.append(&post(3), vec![created("grace", "Notes")], Timestamp(2));
        store.append(&post(3), vec![retitled("Hello notes")], Timestamp(2));
        let mut index = Projection::<SearchIndex>::new();
        index.catch_up(&store).expect("the log is not behind");
        let drafts_hidden = index.model().search("hello");

        // when
        store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(3));
        store.append(&post(1), vec![retitled("Goodbye world")], Timestamp(4));
        index.catch_up(&store).expect("the log is not behind");

        // then
        assert_eq!(drafts_hidden, vec![post(1)]);
        assert_eq!(index.model().search("HELLO"), vec![post(2)]);
        assert_eq!(index.model().search("world"), vec![post(1)]);
        assert_eq!(index.model().search("goodbye"), vec![post(1)]);
        assert_eq!(index.model().search("nothing"), Vec::<StreamId>::new());
        assert_eq!(index.model().search("notes"), Vec::<StreamId>::new());

        // and: results come in id order, not in the order posts were indexed
        let post_0 = StreamId::new("post-0");
        store.append(
            &post_0,
            vec![created("linus", "Rust at last"), PostEvent::PostPublished],
            Timestamp(5),
        );
        index.catch_up(&store).expect("the log is not behind");
        assert_eq!(index.model().search("rust"), vec![post_0, post(2)]);
        let mut rebuilt = Projection::<SearchIndex>::new();
        rebuilt.catch_up(&store).expect("the log is not behind");
        assert_eq!(index, rebuilt, "law 3 holds for the index too");
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 3.3: a mailer that dedupes"
    )]
    fn exercise_3_3_the_mailer_sends_each_notification_once_whatever_it_receives() {
        // given: a notifier, and a second one wrongly reset to zero
        let mut store = small_blog();
        store.append(&post(2), vec![PostEvent::PostPublished], Timestamp(400));
        let mut notifier = Notifier::new();
        notifier.catch_up(&store).expect("the log is not behind");
        let mut reset = Notifier::new();
        reset.catch_up(&store).expect("the log is not behind");

        // when: the outbox is delivered twice, then the reset one's as well
        let mut mailer = Mailer::default();
        let first: Vec<bool> = notifier
            .outbox()
            .iter()
            .map(|n| mailer.receive(n))
            .collect();
        let retried: Vec<bool> = notifier
            .outbox()
            .iter()
            .chain(reset.outbox())
            .map(|n| mailer.receive(n))
            .collect();

        // and: the same cause again, with its text changed since
        let mut reworded = notifier.outbox()[0].clone();
        reworded.title = "Hello (updated)".into();
        let reworded_sent = mailer.receive(&reworded);

        // then
        assert_eq!(first, vec![true, true]);
        assert_eq!(retried, vec![false; 4]);
        assert!(
            !reworded_sent,
            "the cause, not the text, names a notification"
        );
        assert_eq!(mailer.sent(), notifier.outbox());
    }

    #[test]
    #[cfg_attr(not(feature = "solutions"), ignore = "exercise 3.4: a shadow rebuild")]
    fn exercise_3_4_a_shadow_rebuild_reports_the_first_row_that_differs_then_swaps() {
        // given: a live table built from an older log, whose post-2 and
        // post-3 differ from today's log, and today's log has grown since
        let mut old_log = EventStore::new();
        old_log.append(&post(1), vec![created("ada", "One")], Timestamp(1));
        old_log.append(&post(3), vec![created("linus", "Three")], Timestamp(2));
        old_log.append(&post(3), vec![PostEvent::PostPublished], Timestamp(3));
        let mut live = Projection::<PostsTable>::new();
        live.catch_up(&old_log).expect("the log is not behind");
        let mut store = EventStore::new();
        store.append(&post(1), vec![created("ada", "One")], Timestamp(1));
        store.append(&post(2), vec![created("grace", "Two")], Timestamp(2));
        store.append(&post(3), vec![created("linus", "Three")], Timestamp(3));
        store.append(&post(1), vec![retitled("One, later")], Timestamp(4));

        // when
        let found = shadow_rebuild(&mut live, &store).expect("the log is not behind");

        // then: post-2 is the first difference in id order, with both sides
        let row = |author: &str, title: &str, at| PostRow {
            author: author.into(),
            title: title.into(),
            status: PostStatus::Draft,
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
            published_at: None,
        };
        let expected = RowDifference {
            post: post(2),
            live: None,
            rebuilt: Some(row("grace", "Two", 2)),
        };
        assert_eq!(found, Some(expected));
        // and: the rebuilt table, caught up to the end, is now the live one
        let mut reference = Projection::<PostsTable>::new();
        reference.catch_up(&store).expect("the log is not behind");
        assert_eq!(live, reference);

        // and: the first difference can be a row the rebuild does not have
        let mut other = EventStore::new();
        other.append(&post(1), vec![created("ada", "One")], Timestamp(1));
        other.append(
            &post(4),
            vec![created("grace", "Four"), PostEvent::PostPublished],
            Timestamp(2),
        );
        let mut stale = Projection::<PostsTable>::new();
        stale.catch_up(&old_log).expect("the log is not behind");
        let found = shadow_rebuild(&mut stale, &other).expect("the log is not behind");
        assert_eq!(
            found.map(|d| (d.post, d.live.map(|r| r.title), d.rebuilt)),
            Some((post(3), Some("Three".to_string()), None))
        );

        // and: a table that agrees with the log up to its checkpoint is
        // reported equal, even though the log has grown since
        for seed in 0..50 {
            let mut rng = SplitMix64(seed);
            let history = random_history(&mut rng, 30);
            let (first_half, second_half) = history.appends.split_at(15);
            let mut store = EventStore::new();
            for append in first_half {
                store.append(&append.stream, append.events.clone(), append.at);
            }
            let mut live = Projection::<PostsTable>::new();
            live.catch_up(&store).expect("the log is not behind");
            for append in second_half {
                store.append(&append.stream, append.events.clone(), append.at);
            }
            let found = shadow_rebuild(&mut live, &store).expect("the log is not behind");
            assert_eq!(found, None, "seed {seed}");
            assert_eq!(live.checkpoint(), store.last_position(), "seed {seed}");
            assert_eq!(live.model().rows(), &history.expected_rows, "seed {seed}");
        }

        // and: a live table ahead of the log is refused and left as it was
        let mut ahead = Projection::<PostsTable>::new();
        ahead.catch_up(&old_log).expect("the log is not behind");
        let before = ahead.clone();
        let mut one = EventStore::new();
        one.append(&post(1), vec![created("ada", "One")], Timestamp(1));
        let refused = shadow_rebuild(&mut ahead, &one);
        assert_eq!(
            refused,
            Err(CatchUpError::LogBehindCheckpoint {
                checkpoint: Position(3),
                last_position: Position(1),
            })
        );
        assert_eq!(ahead, before);
    }
}
