//! Tests for lesson 1 — the event store, then its exercises.

use pretty_assertions::assert_eq;

use es_workbook::l01_event_store::{
    EventStore, Position, PostEvent, RecordedEvent, StreamId, Timestamp, Version,
};

fn created(title: &str) -> PostEvent {
    PostEvent::PostCreated {
        author: "ada".into(),
        title: title.into(),
    }
}

fn retitled(title: &str) -> PostEvent {
    PostEvent::PostRetitled {
        title: title.into(),
    }
}

fn events_of(recorded: &[&RecordedEvent]) -> Vec<PostEvent> {
    recorded.iter().map(|r| r.event.clone()).collect()
}

/// A store with three posts whose appends interleave, as real traffic does.
fn interleaved_store() -> (EventStore, [StreamId; 3]) {
    let ids = [
        StreamId::new("post-1"),
        StreamId::new("post-2"),
        StreamId::new("post-3"),
    ];
    let mut store = EventStore::new();
    store.append(&ids[0], vec![created("one")], Timestamp(10));
    store.append(&ids[1], vec![created("two")], Timestamp(20));
    store.append(
        &ids[0],
        vec![retitled("One"), PostEvent::PostPublished],
        Timestamp(30),
    );
    store.append(&ids[2], vec![created("three")], Timestamp(40));
    store.append(&ids[1], vec![PostEvent::PostPublished], Timestamp(50));
    (store, ids)
}

// ANCHOR: read_back_test
#[test]
fn a_stream_reads_back_exactly_what_was_appended_in_order() {
    // given
    let mut store = EventStore::new();
    let post = StreamId::new("post-1");
    let appended = vec![created("Helo"), retitled("Hello"), PostEvent::PostPublished];

    // when
    store.append(&post, appended[..1].to_vec(), Timestamp(100));
    store.append(&post, appended[1..].to_vec(), Timestamp(160));

    // then
    let read = store.read_stream(&post);
    assert_eq!(events_of(&read), appended);
    let versions: Vec<u64> = read.iter().map(|r| r.version.0).collect();
    assert_eq!(versions, vec![1, 2, 3]);
}
// ANCHOR_END: read_back_test

#[test]
fn append_returns_the_new_version_of_the_stream() {
    // given
    let mut store = EventStore::new();
    let post = StreamId::new("post-1");

    // when
    let first = store.append(&post, vec![created("a")], Timestamp(1));
    let second = store.append(&post, vec![retitled("b"), retitled("c")], Timestamp(2));

    // then
    assert_eq!((first, second), (Version(1), Version(3)));
    assert_eq!(store.stream_version(&post), Version(3));
}

#[test]
fn global_positions_are_dense_and_increasing_across_interleaved_streams() {
    // given
    let (store, _) = interleaved_store();

    // when
    let positions: Vec<u64> = store
        .read_all(Position(0))
        .iter()
        .map(|r| r.position.0)
        .collect();

    // then
    assert_eq!(positions, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(store.last_position(), Position(6));
}

#[test]
fn streams_are_isolated_from_each_other() {
    // given
    let (store, [one, two, three]) = interleaved_store();

    // when
    let read: Vec<(String, Vec<PostEvent>)> = [&one, &two, &three]
        .into_iter()
        .map(|id| (id.to_string(), events_of(&store.read_stream(id))))
        .collect();

    // then
    assert_eq!(
        read,
        vec![
            (
                "post-1".to_string(),
                vec![created("one"), retitled("One"), PostEvent::PostPublished]
            ),
            (
                "post-2".to_string(),
                vec![created("two"), PostEvent::PostPublished]
            ),
            ("post-3".to_string(), vec![created("three")]),
        ]
    );
    for id in [&one, &two, &three] {
        assert!(store.read_stream(id).iter().all(|r| &r.stream == id));
    }
}

#[test]
fn versions_count_per_stream_while_positions_count_per_store() {
    // given
    let (store, _) = interleaved_store();

    // when
    let metadata: Vec<(u64, &str, u64)> = store
        .read_all(Position(0))
        .iter()
        .map(|r| (r.position.0, r.stream.as_str(), r.version.0))
        .collect();

    // then
    assert_eq!(
        metadata,
        vec![
            (1, "post-1", 1),
            (2, "post-2", 1),
            (3, "post-1", 2),
            (4, "post-1", 3),
            (5, "post-3", 1),
            (6, "post-2", 2),
        ]
    );
}

#[test]
fn each_recorded_event_carries_its_type_and_the_time_the_caller_supplied() {
    // given
    let (store, [one, ..]) = interleaved_store();

    // when
    let read = store.read_stream(&one);

    // then
    let metadata: Vec<(&str, u64)> = read
        .iter()
        .map(|r| (r.event_type, r.recorded_at.0))
        .collect();
    assert_eq!(
        metadata,
        vec![
            ("PostCreated", 10),
            ("PostRetitled", 30),
            ("PostPublished", 30)
        ]
    );
}

#[test]
fn reading_all_after_a_position_returns_exactly_the_later_events() {
    // given
    let (store, _) = interleaved_store();
    let everything = store.read_all(Position(0));

    for after in 0..=8 {
        // when
        let tail = store.read_all(Position(after));

        // then
        let expected: Vec<&RecordedEvent> =
            everything.iter().filter(|r| r.position.0 > after).collect();
        assert_eq!(
            tail.iter().collect::<Vec<_>>(),
            expected,
            "after position {after}"
        );
    }
}

#[test]
fn an_unknown_stream_reads_as_empty_at_version_zero() {
    // given
    let (store, _) = interleaved_store();
    let unknown = StreamId::new("post-404");

    // when
    let read = store.read_stream(&unknown);

    // then
    assert!(read.is_empty());
    assert_eq!(store.stream_version(&unknown), Version(0));
}

#[test]
fn an_empty_store_reads_as_empty_everywhere() {
    // given
    let store = EventStore::new();

    // then
    assert!(store.read_all(Position(0)).is_empty());
    assert!(store.read_all(Position(u64::MAX)).is_empty());
    assert_eq!(store.last_position(), Position(0));
}

#[test]
fn appending_no_events_changes_nothing_and_creates_no_stream() {
    // given
    let (mut store, [one, ..]) = interleaved_store();
    let empty = StreamId::new("post-9");

    // when
    let version_of_existing = store.append(&one, Vec::new(), Timestamp(99));
    let version_of_new = store.append(&empty, Vec::new(), Timestamp(99));

    // then
    assert_eq!(
        (version_of_existing, version_of_new),
        (Version(3), Version(0))
    );
    assert_eq!(store.last_position(), Position(6));
    assert!(store.read_stream(&empty).is_empty());
}

#[test]
fn recorded_times_print_as_utc_dates() {
    // given: instants whose calendar dates are known, including a leap day
    let cases = [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (951_868_799, "2000-02-29T23:59:59Z"),
        (951_868_800, "2000-03-01T00:00:00Z"),
        (1_772_442_000, "2026-03-02T09:00:00Z"),
    ];

    // then
    for (seconds, expected) in cases {
        assert_eq!(Timestamp(seconds).to_string(), expected);
    }
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l01_event_store -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l01_event_store::{
        LogError, check_log, read_category, read_stream_from, streams_changed_after,
    };
    use pretty_assertions::assert_eq;

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 1.1: read a stream from a version"
    )]
    fn exercise_1_1_reading_a_stream_from_a_version_skips_the_earlier_events() {
        // given
        let (store, [one, ..]) = interleaved_store();

        // when
        let from_two = read_stream_from(&store, &one, Version(2));
        let from_zero = read_stream_from(&store, &one, Version(0));
        let past_end = read_stream_from(&store, &one, Version(4));

        // then
        assert_eq!(
            events_of(&from_two),
            vec![retitled("One"), PostEvent::PostPublished]
        );
        assert_eq!(events_of(&from_zero), events_of(&store.read_stream(&one)));
        assert_eq!(
            events_of(&read_stream_from(&store, &one, Version(1))),
            events_of(&store.read_stream(&one))
        );
        assert!(past_end.is_empty());
        assert!(read_stream_from(&store, &StreamId::new("nope"), Version(1)).is_empty());
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 1.2: read a category of streams"
    )]
    fn exercise_1_2_a_category_read_keeps_global_order_and_matches_whole_prefixes() {
        // given
        let mut store = EventStore::new();
        store.append(&StreamId::new("post-1"), vec![created("a")], Timestamp(1));
        store.append(
            &StreamId::new("postcard-1"),
            vec![created("b")],
            Timestamp(2),
        );
        store.append(&StreamId::new("post"), vec![created("c")], Timestamp(3));
        store.append(&StreamId::new("post-2"), vec![created("d")], Timestamp(4));
        store.append(&StreamId::new("post-"), vec![created("f")], Timestamp(5));
        store.append(&StreamId::new("post-1"), vec![retitled("e")], Timestamp(6));

        // when
        let all = read_category(&store, "post", Position(0));
        let after_four = read_category(&store, "post", Position(4));

        // then: "post-" has nothing after its dash, so it is in no category
        let positions: Vec<u64> = all.iter().map(|r| r.position.0).collect();
        assert_eq!(positions, vec![1, 4, 6]);
        let positions: Vec<u64> = after_four.iter().map(|r| r.position.0).collect();
        assert_eq!(positions, vec![6]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 1.3: streams changed since a position"
    )]
    fn exercise_1_3_recently_changed_streams_come_most_recent_first_once_each() {
        // given: #1 post-1, #2 post-2, #3 and #4 post-1, #5 post-3, #6 post-2
        let (store, [one, two, three]) = interleaved_store();

        // when
        let everything = streams_changed_after(&store, Position(0));
        let since_two = streams_changed_after(&store, Position(2));
        let since_four = streams_changed_after(&store, Position(4));
        let nothing = streams_changed_after(&store, store.last_position());

        // then: ordered by each stream's latest change, newest first; post-1
        // changed first of all, but its latest change is the oldest
        assert_eq!(everything, vec![two.clone(), three.clone(), one.clone()]);
        assert_eq!(since_two, vec![two.clone(), three.clone(), one]);
        assert_eq!(since_four, vec![two, three]);
        assert!(nothing.is_empty());
    }

    /// A log as another system might export it: `(stream, version)` per
    /// event, at positions 1, 2, 3, … unless `positions` says otherwise.
    fn exported(events: &[(&str, u64)], positions: &[u64]) -> Vec<RecordedEvent> {
        events
            .iter()
            .zip(positions)
            .map(|(&(stream, version), &position)| RecordedEvent {
                stream: StreamId::new(stream),
                version: Version(version),
                position: Position(position),
                event_type: "PostPublished",
                recorded_at: Timestamp(position),
                event: PostEvent::PostPublished,
            })
            .collect()
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 1.4: check that a log keeps the store's promises"
    )]
    fn exercise_1_4_a_log_check_finds_the_first_broken_position_or_version() {
        // given
        let (store, _) = interleaved_store();
        let interleaved = [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)];
        let dense = [1, 2, 3, 4, 5];
        let position_error = |expected, found| {
            Err(LogError::PositionOutOfOrder {
                expected: Position(expected),
                found: Position(found),
            })
        };
        let version_error = |stream: &str, expected, found| {
            Err(LogError::VersionOutOfOrder {
                stream: StreamId::new(stream),
                expected: Version(expected),
                found: Version(found),
            })
        };

        // when / then: logs that keep every promise
        assert_eq!(check_log(store.read_all(Position(0))), Ok(()));
        assert_eq!(check_log(&exported(&interleaved, &dense)), Ok(()));
        assert_eq!(check_log(&[]), Ok(()));

        // and: positions must start at 1 and have no hole
        assert_eq!(
            check_log(&exported(&interleaved, &[2, 3, 4, 5, 6])),
            position_error(1, 2)
        );
        assert_eq!(
            check_log(&exported(&interleaved, &[1, 2, 4, 5, 6])),
            position_error(3, 4)
        );
        assert_eq!(
            check_log(&exported(&interleaved, &[1, 2, 3, 3, 4])),
            position_error(4, 3)
        );

        // and: versions count per stream, from 1, with no hole or repeat
        let b_starts_at_two = [("a", 1), ("b", 2), ("a", 2)];
        assert_eq!(
            check_log(&exported(&b_starts_at_two, &dense)),
            version_error("b", 1, 2)
        );
        let a_skips = [("a", 1), ("b", 1), ("a", 3), ("b", 3)];
        assert_eq!(
            check_log(&exported(&a_skips, &dense)),
            version_error("a", 2, 3),
            "the first problem in log order"
        );
        let a_repeats = [("a", 1), ("a", 1)];
        assert_eq!(
            check_log(&exported(&a_repeats, &dense)),
            version_error("a", 2, 1)
        );

        // and: an event that breaks both promises is reported by position
        assert_eq!(
            check_log(&exported(&[("a", 1), ("a", 3)], &[1, 3])),
            position_error(2, 3)
        );
    }
}
