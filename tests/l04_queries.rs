//! Tests for lesson 4 — queries and time travel, then its exercises.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;

use es_workbook::l04_queries::{
    AppendError, Delivery, EventStore, HistoryEntry, Position, Post, PostEvent, PostsView,
    StreamId, Timestamp, Version, evolve, history, load_post, post_as_of_time, post_as_of_version,
};

fn created(author: &str, title: &str) -> PostEvent {
    PostEvent::PostCreated {
        author: author.into(),
        title: title.into(),
    }
}

fn imported(author: &str, title: &str, originally_published_at: u64) -> PostEvent {
    PostEvent::PostImported {
        author: author.into(),
        title: title.into(),
        originally_published_at: Timestamp(originally_published_at),
    }
}

fn retitled(title: &str) -> PostEvent {
    PostEvent::PostRetitled {
        title: title.into(),
    }
}

fn post(author: &str, title: &str, published: bool) -> Option<Post> {
    Some(Post {
        author: author.into(),
        title: title.into(),
        published,
    })
}

fn append(store: &mut EventStore, stream: &StreamId, events: Vec<PostEvent>, at: u64) {
    store
        .append(stream, events, Timestamp(at))
        .expect("the test appends in time order");
}

/// A small blog:
///
/// ```text
/// t=100 post-1 v1 created "Helo" by ada
/// t=150 post-2 v1 created "Roadmap" by grace
/// t=200 post-1 v2 retitled "Hello"
/// t=300 post-1 v3 retitled "Hello, world"   (one append,
/// t=300 post-1 v4 published                  one time)
/// t=300 post-2 v2 published                 (another append, same time)
/// t=400 post-3 v1 imported "Old notes" by ada, published on the old blog at t=10
/// t=450 post-4 v1 created "Draft" by grace
/// t=500 post-3 v2 retitled "Old notes, revised"
/// ```
fn blog() -> (EventStore, [StreamId; 4]) {
    let ids = ["post-1", "post-2", "post-3", "post-4"].map(StreamId::new);
    let mut store = EventStore::new();
    append(&mut store, &ids[0], vec![created("ada", "Helo")], 100);
    append(&mut store, &ids[1], vec![created("grace", "Roadmap")], 150);
    append(&mut store, &ids[0], vec![retitled("Hello")], 200);
    append(
        &mut store,
        &ids[0],
        vec![retitled("Hello, world"), PostEvent::PostPublished],
        300,
    );
    append(&mut store, &ids[1], vec![PostEvent::PostPublished], 300);
    append(
        &mut store,
        &ids[2],
        vec![imported("ada", "Old notes", 10)],
        400,
    );
    append(&mut store, &ids[3], vec![created("grace", "Draft")], 450);
    append(
        &mut store,
        &ids[2],
        vec![retitled("Old notes, revised")],
        500,
    );
    (store, ids)
}

// ---------------------------------------------------------------------------
// A second, independent model of a post, and random histories for the laws.
// ---------------------------------------------------------------------------

/// The post after `events`, worked out without `evolve`: a post is what its
/// creation says, with the last retitle after it, published if it was
/// imported or published since. Only valid histories are generated, so this
/// model need not say what happens to a retitle of a post that does not exist
/// or to a second creation.
fn expected_post(events: &[PostEvent]) -> Option<Post> {
    let start = events.iter().position(|event| {
        matches!(
            event,
            PostEvent::PostCreated { .. } | PostEvent::PostImported { .. }
        )
    })?;
    let since = &events[start..];
    let (author, first_title, imported) = match &since[0] {
        PostEvent::PostCreated { author, title } => (author, title, false),
        PostEvent::PostImported { author, title, .. } => (author, title, true),
        other => panic!("not a creation: {other:?}"),
    };
    let title = since
        .iter()
        .rev()
        .find_map(|event| match event {
            PostEvent::PostRetitled { title } => Some(title),
            _ => None,
        })
        .unwrap_or(first_title);
    Some(Post {
        author: author.clone(),
        title: title.clone(),
        published: imported || since.contains(&PostEvent::PostPublished),
    })
}

/// SplitMix64: a tiny, well-known PRNG, so a failing seed can be replayed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a generated history appended, kept by the test itself: per stream,
/// each event with the time it was appended at.
type Appended = BTreeMap<StreamId, Vec<(PostEvent, u64)>>;

/// Appends a random but valid history (one a command handler would accept)
/// to a fresh store: up to four posts, appends of one to three events, and
/// times that often repeat. Each post keeps its own clock, so recorded times
/// never go backwards within a post but often do from one post to the next.
fn random_blog(seed: u64) -> (EventStore, Appended) {
    let mut rng = SplitMix64(seed);
    let mut store = EventStore::new();
    let mut appended = Appended::new();
    let posts = 1 + rng.below(4);
    for _ in 0..1 + rng.below(30) {
        let stream = StreamId::new(format!("post-{}", 1 + rng.below(posts)));
        let history = appended.entry(stream.clone()).or_default();
        let last = history.last().map_or(1_000 + rng.below(20), |(_, at)| *at);
        let now = last + rng.below(3);
        let mut batch = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let so_far: Vec<PostEvent> = history
                .iter()
                .map(|(event, _)| event.clone())
                .chain(batch.iter().cloned())
                .collect();
            let event = match expected_post(&so_far) {
                None if rng.below(2) == 0 => created("ada", "draft"),
                None => imported("grace", "old", rng.below(now)),
                Some(post) if !post.published && rng.below(3) == 0 => PostEvent::PostPublished,
                Some(_) => retitled(&format!("title {}", rng.below(5))),
            };
            batch.push(event);
        }
        history.extend(batch.iter().map(|event| (event.clone(), now)));
        append(&mut store, &stream, batch, now);
    }
    (store, appended)
}

const SEEDS: std::ops::Range<u64> = 0x5EED..0x5EED + 200;

// ANCHOR: law5_test
#[test]
fn state_as_of_every_version_equals_folding_the_first_v_events() {
    for seed in SEEDS {
        // given
        let (store, appended) = random_blog(seed);

        for (stream, events) in &appended {
            for v in 0..=events.len() as u64 + 1 {
                // when
                let actual = post_as_of_version(&store, stream, Version(v));

                // then
                let first_v: Vec<PostEvent> = events
                    .iter()
                    .take(v as usize)
                    .map(|(event, _)| event.clone())
                    .collect();
                assert_eq!(
                    actual,
                    expected_post(&first_v),
                    "seed {seed:#x}, {stream} as of v{v}"
                );
            }
        }
    }
}
// ANCHOR_END: law5_test

#[test]
fn an_as_of_time_query_at_each_recorded_time_agrees_with_the_as_of_version_query() {
    for seed in SEEDS {
        // given
        let (store, appended) = random_blog(seed);
        let mut times: Vec<u64> = store
            .read_all(Position(0))
            .iter()
            .flat_map(|recorded| [recorded.recorded_at.0 - 1, recorded.recorded_at.0])
            .collect();
        times.sort_unstable();
        times.dedup();

        for (stream, events) in &appended {
            for &t in &times {
                // when
                let actual = post_as_of_time(&store, stream, Timestamp(t));

                // then: the version at t counts the events appended by t
                let recorded_by = events.iter().filter(|(_, at)| *at <= t).count() as u64;
                let at = format!("seed {seed:#x}, {stream} at t={t}");
                assert_eq!(
                    store.stream_version_at(stream, Timestamp(t)),
                    Version(recorded_by),
                    "{at}"
                );
                assert_eq!(
                    actual,
                    post_as_of_version(&store, stream, Version(recorded_by)),
                    "{at}"
                );
                let first: Vec<PostEvent> = events
                    .iter()
                    .take(recorded_by as usize)
                    .map(|(event, _)| event.clone())
                    .collect();
                assert_eq!(actual, expected_post(&first), "{at}");
            }
        }
    }
}

#[test]
fn the_current_post_is_the_fold_of_its_whole_stream() {
    // given
    let (store, [hello, roadmap, notes, draft]) = blog();

    // when
    let current: Vec<Option<Post>> = [&hello, &roadmap, &notes, &draft]
        .into_iter()
        .map(|id| load_post(&store, id))
        .collect();

    // then
    assert_eq!(
        current,
        vec![
            post("ada", "Hello, world", true),
            post("grace", "Roadmap", true),
            post("ada", "Old notes, revised", true),
            post("grace", "Draft", false),
        ]
    );
    assert_eq!(load_post(&store, &StreamId::new("post-404")), None);
}

#[test]
fn version_zero_gives_no_post_and_a_version_past_the_end_gives_the_current_post() {
    // given
    let (store, [hello, ..]) = blog();

    // when
    let at_zero = post_as_of_version(&store, &hello, Version(0));
    let at_two = post_as_of_version(&store, &hello, Version(2));
    let past_end = post_as_of_version(&store, &hello, Version(99));
    let far_past_end = post_as_of_version(&store, &hello, Version(u64::MAX));

    // then
    assert_eq!(at_zero, None);
    assert_eq!(at_two, post("ada", "Hello", false));
    assert_eq!(past_end, load_post(&store, &hello));
    assert_eq!(far_past_end, load_post(&store, &hello));
}

#[test]
fn events_recorded_exactly_at_the_as_of_time_are_included() {
    // given
    let (store, [hello, ..]) = blog();

    // when
    let just_before = post_as_of_time(&store, &hello, Timestamp(199));
    let exactly_at = post_as_of_time(&store, &hello, Timestamp(200));

    // then
    assert_eq!(just_before, post("ada", "Helo", false));
    assert_eq!(exactly_at, post("ada", "Hello", false));
}

#[test]
fn events_sharing_one_recorded_time_are_all_included_or_all_excluded() {
    // given: post-1 v3 and v4 were recorded together at t=300
    let (store, [hello, ..]) = blog();

    // when
    let versions: Vec<Version> = [299, 300, 301]
        .map(|t| store.stream_version_at(&hello, Timestamp(t)))
        .to_vec();

    // then: no time shows v3, the half-finished state between them
    assert_eq!(versions, vec![Version(2), Version(4), Version(4)]);
    assert_eq!(
        post_as_of_time(&store, &hello, Timestamp(300)),
        post("ada", "Hello, world", true)
    );
}

#[test]
fn a_time_before_the_first_event_gives_no_post() {
    // given
    let (store, [hello, ..]) = blog();

    // when
    let before = post_as_of_time(&store, &hello, Timestamp(99));
    let at_zero = post_as_of_time(&store, &hello, Timestamp(0));
    let unknown = post_as_of_time(&store, &StreamId::new("post-404"), Timestamp(1_000));

    // then
    assert_eq!((before, at_zero, unknown), (None, None, None));
    assert_eq!(store.stream_version_at(&hello, Timestamp(99)), Version(0));
}

#[test]
fn an_imported_post_is_unknown_as_of_a_recorded_time_before_its_import() {
    // given: post-3 was published on the old blog at t=10, imported at t=400
    let (store, [_, _, notes, _]) = blog();

    // when
    let at_its_business_time = post_as_of_time(&store, &notes, Timestamp(10));
    let just_before_import = post_as_of_time(&store, &notes, Timestamp(399));
    let at_import = post_as_of_time(&store, &notes, Timestamp(400));

    // then
    assert_eq!(at_its_business_time, None);
    assert_eq!(just_before_import, None);
    assert_eq!(at_import, post("ada", "Old notes", true));
}

#[test]
fn the_history_lists_every_change_with_its_recorded_and_effective_times() {
    // given
    let (store, [hello, _, notes, _]) = blog();

    // when
    let trail: Vec<(u64, u64, u64, String)> = [&hello, &notes]
        .into_iter()
        .flat_map(|id| history(&store, id))
        .map(|entry| {
            (
                entry.version.0,
                entry.recorded_at.0,
                entry.effective_at.0,
                entry.change,
            )
        })
        .collect();

    // then
    let expected = [
        (1, 100, 100, r#"ada created "Helo""#),
        (2, 200, 200, r#"retitled "Helo" to "Hello""#),
        (3, 300, 300, r#"retitled "Hello" to "Hello, world""#),
        (4, 300, 300, "published"),
        (
            1,
            400,
            10,
            r#"imported "Old notes" by ada, published on the old blog"#,
        ),
        (
            2,
            500,
            500,
            r#"retitled "Old notes" to "Old notes, revised""#,
        ),
    ]
    .map(|(v, recorded, effective, change)| (v, recorded, effective, change.to_string()));
    assert_eq!(trail, expected.to_vec());
    assert!(history(&store, &StreamId::new("post-404")).is_empty());
}

#[test]
fn the_history_says_ignored_for_an_event_that_changed_nothing() {
    // given: a second creation, a retitle and a publication before any
    // creation, none of which evolve applies
    let mut store = EventStore::new();
    let (early, hello) = (StreamId::new("post-early"), StreamId::new("post-1"));
    append(&mut store, &early, vec![retitled("Too soon")], 10);
    append(&mut store, &early, vec![PostEvent::PostPublished], 20);
    append(&mut store, &hello, vec![created("ada", "Hello")], 100);
    append(&mut store, &hello, vec![created("grace", "Mine now")], 200);

    // when
    let changes = |id: &StreamId| -> Vec<String> {
        history(&store, id)
            .into_iter()
            .map(|entry| entry.change)
            .collect()
    };

    // then: the history says what the post's state says
    assert_eq!(
        changes(&early),
        vec![
            r#"ignored: retitled to "Too soon""#.to_string(),
            "ignored: published".to_string(),
        ]
    );
    assert_eq!(
        changes(&hello),
        vec![
            r#"ada created "Hello""#.to_string(),
            r#"ignored: grace created "Mine now""#.to_string(),
        ]
    );
    assert_eq!(load_post(&store, &hello), post("ada", "Hello", false));
}

#[test]
fn a_history_entry_prints_as_one_line_with_both_times() {
    // given
    let entry = HistoryEntry {
        version: Version(1),
        recorded_at: Timestamp(1_772_445_600),
        effective_at: Timestamp(1_556_956_800),
        change: "published".into(),
    };

    // then
    assert_eq!(
        entry.to_string(),
        "v1  2026-03-02T10:00:00Z  2019-05-04T08:00:00Z  published"
    );
}

#[test]
fn a_projection_answers_across_streams_but_lags_until_it_catches_up() {
    // given
    let (mut store, [hello, roadmap, notes, _]) = blog();
    let mut view = PostsView::new();
    let first_read = view.catch_up(&store);

    // when
    append(&mut store, &roadmap, vec![retitled("Roadmap 2026")], 600);

    // then: the stream knows at once; the view only after catching up
    let ada: Vec<&StreamId> = view
        .published_by("ada")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!((first_read, ada), (9, vec![&hello, &notes]));
    assert_eq!(
        load_post(&store, &roadmap),
        post("grace", "Roadmap 2026", true)
    );
    assert_eq!(
        view.posts().get(&roadmap).cloned(),
        post("grace", "Roadmap", true)
    );
    assert_eq!(view.catch_up(&store), 1);
    assert_eq!(view.checkpoint(), Position(10));
    assert_eq!(
        view.posts().get(&roadmap).cloned(),
        post("grace", "Roadmap 2026", true)
    );
}

#[test]
fn a_view_fed_event_by_event_and_twice_over_equals_one_built_from_the_whole_log() {
    // given
    let (store, [hello, roadmap, notes, draft]) = blog();
    let mut rebuilt = PostsView::new();
    rebuilt.catch_up(&store);

    // when
    let mut incremental = PostsView::new();
    for recorded in store.read_all(Position(0)) {
        assert_eq!(incremental.apply(recorded), Delivery::Applied);
        assert_eq!(
            incremental.apply(recorded),
            Delivery::Duplicate,
            "a repeat is skipped"
        );
    }

    // then
    assert_eq!(incremental, rebuilt);
    let expected: BTreeMap<StreamId, Post> = [&hello, &roadmap, &notes, &draft]
        .into_iter()
        .map(|id| {
            (
                id.clone(),
                load_post(&store, id).expect("every post exists"),
            )
        })
        .collect();
    assert_eq!(rebuilt.posts(), &expected);
}

#[test]
fn an_event_after_a_gap_is_refused_and_the_checkpoint_stays_put() {
    // given: a view that has applied #1 and #2
    let (store, [hello, ..]) = blog();
    let log = store.read_all(Position(0));
    let mut view = PostsView::new();
    view.apply(&log[0]);
    view.apply(&log[1]);
    let before = view.clone();

    // when: #4 arrives before #3
    let delivery = view.apply(&log[3]);

    // then: nothing changed, and catching up fills the gap
    assert_eq!(
        delivery,
        Delivery::Gap {
            expected: Position(3)
        }
    );
    assert_eq!(view, before);
    assert_eq!(view.checkpoint(), Position(2));
    assert_eq!(view.catch_up(&store), 7);
    assert_eq!(view.posts().get(&hello).cloned(), load_post(&store, &hello));
}

/// 2026-03-02T09:00:00Z, and the same instant mistakenly given in milliseconds.
const MORNING: u64 = 1_772_442_000;
const MORNING_IN_MILLISECONDS: u64 = MORNING * 1_000;

#[test]
fn a_time_given_in_milliseconds_is_refused_and_the_next_good_append_succeeds() {
    // given
    let (mut store, [hello, roadmap, ..]) = blog();

    // when
    let refused = store.append(
        &hello,
        vec![retitled("Hello from the future")],
        Timestamp(MORNING_IN_MILLISECONDS),
    );
    let same_post = store.append(&hello, vec![retitled("Hello again")], Timestamp(MORNING));
    let other_post = store.append(&roadmap, vec![retitled("Roadmap 2026")], Timestamp(MORNING));

    // then
    let expected = AppendError::TimeOutOfRange {
        given: Timestamp(MORNING_IN_MILLISECONDS),
    };
    assert_eq!(refused, Err(expected.clone()));
    assert_eq!(
        expected.to_string(),
        "recorded time 1772442000000 is after 9999-12-31T23:59:59Z, so it is not in seconds"
    );
    assert_eq!((same_post, other_post), (Ok(Version(5)), Ok(Version(3))));
    assert_eq!(store.last_position(), Position(11));
}

#[test]
fn the_last_second_of_year_9999_is_accepted_and_the_next_is_refused() {
    // given
    let (mut store, [_, roadmap, _, draft]) = blog();
    let after = Timestamp(Timestamp::LATEST.0 + 1);

    // when
    let latest = store.append(&draft, vec![PostEvent::PostPublished], Timestamp::LATEST);
    let later = store.append(&roadmap, vec![retitled("Too late")], after);

    // then
    assert_eq!(latest, Ok(Version(2)));
    assert_eq!(later, Err(AppendError::TimeOutOfRange { given: after }));
    assert_eq!(Timestamp::LATEST.to_string(), "9999-12-31T23:59:59Z");
}

#[test]
fn a_time_far_ahead_on_one_post_does_not_stop_appends_to_other_posts() {
    // given: one post recorded a year ahead, by a clock set wrong
    let (mut store, [hello, roadmap, notes, draft]) = blog();
    let a_year_ahead = MORNING + 365 * 86_400;
    append(
        &mut store,
        &hello,
        vec![retitled("From the future")],
        a_year_ahead,
    );

    // when: the other posts go on at the right time
    let roadmap_retitled =
        store.append(&roadmap, vec![retitled("Roadmap 2026")], Timestamp(MORNING));
    let draft_published = store.append(
        &draft,
        vec![PostEvent::PostPublished],
        Timestamp(MORNING + 60),
    );

    // then
    assert_eq!(
        (roadmap_retitled, draft_published),
        (Ok(Version(3)), Ok(Version(2)))
    );
    // and every stream still answers as-of-time queries by its own times
    assert_eq!(
        post_as_of_time(&store, &roadmap, Timestamp(MORNING - 1)),
        post("grace", "Roadmap", true)
    );
    assert_eq!(
        post_as_of_time(&store, &roadmap, Timestamp(MORNING)),
        post("grace", "Roadmap 2026", true)
    );
    assert_eq!(
        post_as_of_time(&store, &draft, Timestamp(MORNING)),
        post("grace", "Draft", false)
    );
    assert_eq!(
        post_as_of_time(&store, &draft, Timestamp(MORNING + 60)),
        post("grace", "Draft", true)
    );
    assert_eq!(
        post_as_of_time(&store, &hello, Timestamp(MORNING + 60)),
        post("ada", "Hello, world", true)
    );
    assert_eq!(
        post_as_of_time(&store, &hello, Timestamp(a_year_ahead)),
        post("ada", "From the future", true)
    );
    assert_eq!(
        post_as_of_time(&store, &notes, Timestamp(MORNING)),
        load_post(&store, &notes)
    );
}

#[test]
fn an_append_dated_before_the_streams_last_event_is_refused_and_records_nothing() {
    // given: post-1's last event was recorded at t=300
    let (mut store, [hello, ..]) = blog();

    // when
    let refused = store.append(&hello, vec![retitled("Hi")], Timestamp(299));
    let refused_empty = store.append(&hello, Vec::new(), Timestamp(1));

    // then
    let expected = AppendError::ClockWentBackwards {
        last: Timestamp(300),
        given: Timestamp(299),
    };
    assert_eq!(refused, Err(expected.clone()));
    assert!(refused_empty.is_err());
    assert_eq!(
        expected.to_string(),
        "recorded time 1970-01-01T00:04:59Z is earlier than the stream's last recorded time 1970-01-01T00:05:00Z"
    );
    assert_eq!(store.last_position(), Position(9));
    assert_eq!(store.stream_version(&hello), Version(4));
}

#[test]
fn an_append_at_the_same_time_as_the_last_event_is_accepted() {
    // given
    let (mut store, [_, _, _, draft]) = blog();

    // when
    let version = store.append(&draft, vec![PostEvent::PostPublished], Timestamp(500));

    // then
    assert_eq!(version, Ok(Version(2)));
    assert_eq!(
        post_as_of_time(&store, &draft, Timestamp(500)),
        post("grace", "Draft", true)
    );
}

#[test]
fn evolve_ignores_an_event_that_cannot_apply_and_a_second_creation() {
    // given
    let existing = post("ada", "Hello", true);

    // then: lesson 2's rules, plus the import, which creates like a creation
    assert_eq!(evolve(None, &retitled("x")), None);
    assert_eq!(evolve(None, &PostEvent::PostPublished), None);
    assert_eq!(
        evolve(None, &imported("grace", "Old", 1)),
        post("grace", "Old", true)
    );
    assert_eq!(evolve(existing.clone(), &created("grace", "New")), existing);
    assert_eq!(
        evolve(existing.clone(), &imported("grace", "Old", 1)),
        existing
    );
}

#[test]
fn published_by_agrees_with_a_scan_of_every_post_after_every_event() {
    for seed in SEEDS {
        // given
        let (store, _) = random_blog(seed);
        let mut view = PostsView::new();

        for recorded in store.read_all(Position(0)) {
            // when
            view.apply(recorded);

            // then
            for author in ["ada", "grace", "nobody"] {
                let scanned: Vec<(&StreamId, &Post)> = view
                    .posts()
                    .iter()
                    .filter(|(_, post)| post.published && post.author == author)
                    .collect();
                assert_eq!(
                    view.published_by(author),
                    scanned,
                    "seed {seed:#x}, {author} after {}",
                    recorded.position
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l04_queries -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l04_queries::{
        archive_as_of, front_page_as_of, history_between, published_on,
    };
    use pretty_assertions::assert_eq;

    fn titles(pairs: &[(&str, &str)]) -> BTreeMap<StreamId, String> {
        pairs
            .iter()
            .map(|(id, title)| (StreamId::new(*id), title.to_string()))
            .collect()
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 4.1: the publication date readers see"
    )]
    fn exercise_4_1_the_publication_date_is_business_time() {
        // given
        let (mut store, [hello, roadmap, notes, draft]) = blog();
        append(&mut store, &hello, vec![retitled("Hello again")], 700);

        // when
        let dates: Vec<Option<Timestamp>> = [&hello, &roadmap, &notes, &draft]
            .into_iter()
            .map(|id| published_on(&store, id))
            .collect();

        // then: the import is dated by the old blog, not by the import
        let expected = [Some(300), Some(300), Some(10), None].map(|t| t.map(Timestamp));
        assert_eq!(dates, expected.to_vec());
        assert_eq!(published_on(&store, &StreamId::new("post-404")), None);
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 4.2: the audit trail of one period"
    )]
    fn exercise_4_2_the_audit_trail_of_a_period_keeps_the_context_before_it() {
        // given
        let (store, [hello, _, notes, _]) = blog();

        // when
        let middle = history_between(&store, &hello, Timestamp(100), Timestamp(300));
        let later = history_between(&store, &notes, Timestamp(450), Timestamp(1_000));

        // then
        let versions: Vec<u64> = middle.iter().map(|entry| entry.version.0).collect();
        assert_eq!(versions, vec![2, 3, 4]);
        let changes: Vec<&str> = later.iter().map(|entry| entry.change.as_str()).collect();
        assert_eq!(
            changes,
            vec![r#"retitled "Old notes" to "Old notes, revised""#]
        );
        // consecutive periods list every change exactly once
        let bounds = [0, 150, 200, 299, 300, 1_000];
        let pieces: Vec<HistoryEntry> = bounds
            .windows(2)
            .flat_map(|w| history_between(&store, &hello, Timestamp(w[0]), Timestamp(w[1])))
            .collect();
        assert_eq!(pieces, history(&store, &hello));
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 4.3: the front page as of a recorded time"
    )]
    fn exercise_4_3_the_front_page_shows_what_was_published_at_a_recorded_time() {
        // given: after the blog, post-2 is retitled at t=1000, then post-4 is
        // published at t=600 (its own last event was at t=450), so recorded
        // times go backwards along the log from #10 to #11
        let (mut store, [_, roadmap, _, draft]) = blog();
        append(&mut store, &roadmap, vec![retitled("Roadmap 2026")], 1_000);
        append(&mut store, &draft, vec![PostEvent::PostPublished], 600);

        // when
        let pages: Vec<BTreeMap<StreamId, String>> = [299, 300, 400, 499, 500, 600, 1_000]
            .map(|t| front_page_as_of(&store, Timestamp(t)))
            .to_vec();

        // then: the import (business time t=10) appears only once recorded
        let published_at_300 = [("post-1", "Hello, world"), ("post-2", "Roadmap")];
        let with_import = [
            ("post-1", "Hello, world"),
            ("post-2", "Roadmap"),
            ("post-3", "Old notes"),
        ];
        let revised = [
            ("post-1", "Hello, world"),
            ("post-2", "Roadmap"),
            ("post-3", "Old notes, revised"),
        ];
        let with_draft = [
            ("post-1", "Hello, world"),
            ("post-2", "Roadmap"),
            ("post-3", "Old notes, revised"),
            ("post-4", "Draft"),
        ];
        let latest = [
            ("post-1", "Hello, world"),
            ("post-2", "Roadmap 2026"),
            ("post-3", "Old notes, revised"),
            ("post-4", "Draft"),
        ];
        assert_eq!(
            pages,
            vec![
                titles(&[]),
                titles(&published_at_300),
                titles(&with_import),
                titles(&with_import),
                titles(&revised),
                titles(&with_draft),
                titles(&latest),
            ]
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 4.4: the archive as of a business date"
    )]
    fn exercise_4_4_the_archive_dates_an_imported_post_by_the_old_blog() {
        // given
        let (store, _) = blog();

        // when
        let archives: Vec<BTreeMap<StreamId, String>> = [9, 10, 299, 300, 500]
            .map(|t| archive_as_of(&store, Timestamp(t)))
            .to_vec();

        // then
        assert_eq!(
            archives,
            vec![
                titles(&[]),
                titles(&[("post-3", "Old notes")]),
                titles(&[("post-3", "Old notes")]),
                titles(&[
                    ("post-1", "Hello, world"),
                    ("post-2", "Roadmap"),
                    ("post-3", "Old notes"),
                ]),
                titles(&[
                    ("post-1", "Hello, world"),
                    ("post-2", "Roadmap"),
                    ("post-3", "Old notes, revised"),
                ]),
            ]
        );
    }
}
