//! Tests for lesson 5 — CQRS, then its exercises.
//!
//! No test here sleeps or depends on how threads happen to be scheduled: a
//! read model is only ever asserted to be behind when the test held its projector
//! back with `pause`, and every other wait is for a position that the test
//! knows will be reached (with a timeout that only a broken read model hits)
//! or that it knows never will be.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use pretty_assertions::assert_eq;

use es_workbook::l05_cqrs::read::{
    Answer, Feed, FeedEntry, InboxEntry, Inboxes, Projection, ReadError, ReadModel,
};
use es_workbook::l05_cqrs::shared::{
    EventLog, MessageEvent, Position, RecordedEvent, StreamId, UserId,
};
use es_workbook::l05_cqrs::write::{MessageCommand, MessageError, WriteSide};

/// Long enough that only a broken read model fails to arrive in time.
const PATIENCE: Duration = Duration::from_secs(10);
/// For waits that the test made sure cannot succeed.
const SHORT: Duration = Duration::from_millis(20);

fn user(name: &str) -> UserId {
    UserId::new(name)
}

fn message(n: usize) -> StreamId {
    StreamId::new(format!("message-{n}"))
}

fn send(from: &str, to: &str, text: &str) -> MessageCommand {
    MessageCommand::SendMessage {
        from: user(from),
        to: user(to),
        text: text.to_string(),
    }
}

fn mark_read(by: &str) -> MessageCommand {
    MessageCommand::MarkRead { by: user(by) }
}

fn delete(by: &str) -> MessageCommand {
    MessageCommand::DeleteMessage { by: user(by) }
}

fn entry(n: usize, from: &str, text: &str, read: bool) -> InboxEntry {
    InboxEntry {
        message: message(n),
        from: user(from),
        text: text.to_string(),
        read,
    }
}

fn start<M: ReadModel>(log: &EventLog) -> Projection<M> {
    Projection::start(log.clone()).expect("the OS starts a projector thread")
}

/// A log with its write side.
fn write_side() -> (EventLog, WriteSide) {
    let log = EventLog::new();
    let write = WriteSide::new(log.clone());
    (log, write)
}

fn handle(write: &WriteSide, n: usize, command: MessageCommand) -> Position {
    write
        .handle(&message(n), command)
        .expect("the command is valid")
}

// ---------------------------------------------------------------------------
// The two sides never meet
// ---------------------------------------------------------------------------

/// The lines of `source` that could reach the module `other`: naming it in a
/// path (`other::`, `::other`), going through `super::` to anything but
/// `shared`, going through `crate::` to anything but the lesson's `shared`,
/// or pulling a file in with `#[path]` or `include!`.
fn reaches(source: &str, other: &str) -> Vec<String> {
    source
        .lines()
        .filter(|line| {
            let names_other = identifiers(line).into_iter().any(|(start, word)| {
                word == other
                    && (line[..start].ends_with("::")
                        || line[start + word.len()..].starts_with("::"))
            });
            let around = |prefix: &str, allowed: &str| {
                line.match_indices(prefix)
                    .any(|(at, _)| !line[at + prefix.len()..].starts_with(allowed))
            };
            names_other
                || around("super::", "shared")
                || around("crate::", "l05_cqrs::shared")
                || line.contains("#[path")
                || line.contains("include!")
        })
        .map(str::to_string)
        .collect()
}

/// The identifiers in `line`, with where each starts.
fn identifiers(line: &str) -> Vec<(usize, &str)> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut start = None;
    for (at, c) in line.char_indices().chain([(line.len(), ' ')]) {
        match (start, is_ident(c)) {
            (None, true) => start = Some(at),
            (Some(from), false) => {
                found.push((from, &line[from..at]));
                start = None;
            }
            _ => {}
        }
    }
    found
}

#[test]
fn the_write_side_and_the_read_side_never_name_each_other() {
    // given
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/l05_cqrs");
    let source = |file: &str| fs::read_to_string(dir.join(file)).expect("the lesson source");
    let (write, read, shared) = (source("write.rs"), source("read.rs"), source("shared.rs"));

    // when
    let write_reaches_read = reaches(&write, "read");
    let read_reaches_write = reaches(&read, "write");
    let shared_reaches_either = [reaches(&shared, "read"), reaches(&shared, "write")].concat();

    // then
    assert_eq!(
        write_reaches_read,
        Vec::<String>::new(),
        "write.rs names the read side"
    );
    assert_eq!(
        read_reaches_write,
        Vec::<String>::new(),
        "read.rs names the write side"
    );
    assert_eq!(
        shared_reaches_either,
        Vec::<String>::new(),
        "shared.rs names a side"
    );
}

#[test]
fn the_isolation_check_catches_every_way_of_reaching_the_other_side() {
    // given: lines that would couple the write side to the read side
    let coupling = [
        "use super::read::Inboxes;",
        "use super::{read, shared};",
        "use super::*;",
        "use crate::l05_cqrs::read::Inboxes;",
        "let view: es_workbook::l05_cqrs::read::Feed;",
        "fn f(x: &read::Inboxes) {}",
        "#[path = \"read.rs\"] mod sneaky;",
    ];
    // and lines that only look similar
    let harmless = [
        "use super::shared::{EventLog, MessageEvent};",
        "use crate::l05_cqrs::shared::Position;",
        "MessageCommand::MarkRead { by } => {}",
        "let read: bool = true;",
        "std::thread::spawn(move || {});",
        "/// Whether the message was read.",
    ];

    // then
    for line in coupling {
        assert_eq!(reaches(line, "read").len(), 1, "not caught: {line}");
    }
    for line in harmless {
        assert_eq!(
            reaches(line, "read"),
            Vec::<String>::new(),
            "false alarm: {line}"
        );
    }
}

// ---------------------------------------------------------------------------
// Eventual consistency and read-your-writes
// ---------------------------------------------------------------------------

#[test]
fn a_query_right_after_a_command_can_be_stale_and_waiting_for_its_position_fixes_that() {
    // given: a running inbox whose projector is held back, as a slow one would be
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);
    inboxes.pause();

    // when
    let written = handle(&write, 1, send("ada", "grace", "Lunch?"));
    let stale = inboxes.query(|model| model.inbox(&user("grace")));
    inboxes.resume();
    let reached = inboxes.wait_for(written, PATIENCE);
    let fresh = inboxes.query(|model| model.inbox(&user("grace")));

    // then
    assert_eq!(written, Position(1));
    assert_eq!(
        stale,
        Ok(Answer {
            as_of: Position(0),
            value: vec![]
        })
    );
    assert_eq!(reached, Ok(Position(1)));
    assert_eq!(
        fresh,
        Ok(Answer {
            as_of: Position(1),
            value: vec![entry(1, "ada", "Lunch?", false)]
        })
    );
}

#[test]
fn every_command_is_visible_once_its_position_is_reached_however_fast_they_come() {
    // given: a projector running freely, racing the commands
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);

    for n in 1..=200 {
        // when
        let written = handle(&write, n, send("ada", "grace", &format!("note {n}")));
        let reached = inboxes
            .wait_for(written, PATIENCE)
            .expect("the projection catches up");
        let inbox = inboxes
            .query(|model| model.inbox(&user("grace")))
            .expect("a healthy read model answers");

        // then: never one message short, whatever the scheduling
        assert!(reached >= written && inbox.as_of >= written);
        assert_eq!(inbox.value.len(), n);
        assert_eq!(inbox.value[n - 1].text, format!("note {n}"));
    }
}

#[test]
fn waiting_for_a_position_that_is_never_written_times_out_with_a_typed_error() {
    // given: a caught-up inbox over a log of two events
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "one"));
    let last = handle(&write, 2, send("grace", "ada", "two"));
    let inboxes = start::<Inboxes>(&log);
    inboxes
        .wait_for(last, PATIENCE)
        .expect("the projection catches up");

    // when
    let result = inboxes.wait_for(Position(3), SHORT);

    // then
    assert_eq!(
        result,
        Err(ReadError::Timeout {
            waited_for: Position(3),
            reached: Position(2)
        })
    );
    assert_eq!(
        result.expect_err("timed out").to_string(),
        "timed out waiting for #3: the read model only reached #2"
    );
}

#[test]
fn a_paused_projection_times_out_and_catches_up_once_resumed() {
    // given: an inbox paused after applying one event, and two more appended
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);
    let first = handle(&write, 1, send("ada", "grace", "one"));
    inboxes
        .wait_for(first, PATIENCE)
        .expect("the projection catches up");
    inboxes.pause();
    handle(&write, 2, send("bob", "grace", "two"));
    let last = handle(&write, 2, mark_read("grace"));

    // when
    let while_paused = inboxes.wait_for(last, SHORT);
    let unread_while_paused = inboxes.query(|model| model.unread(&user("grace")));
    inboxes.resume();
    let after_resume = inboxes.wait_for(last, PATIENCE);

    // then
    assert_eq!(
        while_paused,
        Err(ReadError::Timeout {
            waited_for: Position(3),
            reached: Position(1)
        })
    );
    assert_eq!(
        unread_while_paused,
        Ok(Answer {
            as_of: Position(1),
            value: 1
        })
    );
    assert_eq!(after_resume, Ok(Position(3)));
    assert_eq!(
        inboxes
            .query(|model| model.inbox(&user("grace")))
            .expect("a healthy read model answers")
            .value,
        vec![entry(1, "ada", "one", false), entry(2, "bob", "two", true)]
    );
}

#[test]
fn waiting_for_a_position_already_reached_returns_at_once_even_while_paused() {
    // given
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);
    let written = handle(&write, 1, send("ada", "grace", "one"));
    inboxes
        .wait_for(written, PATIENCE)
        .expect("the projection catches up");
    inboxes.pause();

    // then: a zero timeout is enough, since nothing needs to happen
    assert_eq!(inboxes.wait_for(written, Duration::ZERO), Ok(Position(1)));
    assert_eq!(
        inboxes.wait_for(Position(0), Duration::ZERO),
        Ok(Position(1))
    );
}

// ---------------------------------------------------------------------------
// Pausing, and a read model that fails
// ---------------------------------------------------------------------------

/// Where the pause test meets the projector thread inside `apply`, which
/// sees nothing but the event and so can only reach a test through a static.
static HOLD: Barrier = Barrier::new(2);
/// Where the tests that query, or stop, during a panic meet the projector.
static BEFORE_A_QUERY: Barrier = Barrier::new(2);
static BEFORE_A_STOP: Barrier = Barrier::new(2);

/// A read model that tests steer through each message's text. It records a
/// message in two steps, so a panic between them leaves it half-updated, as
/// a bug in a real read model would.
#[derive(Debug, Default, PartialEq, Eq)]
struct Probe {
    /// Step one: the position of every message seen.
    seen: Vec<Position>,
    /// Step two: how many messages were counted.
    counted: usize,
}

impl ReadModel for Probe {
    fn apply(&mut self, recorded: &RecordedEvent) {
        let MessageEvent::MessageSent { text, .. } = &recorded.event else {
            return;
        };
        if text == "hold" {
            HOLD.wait(); // the test knows the projector is in here
            HOLD.wait(); // the test lets it go on
        }
        self.seen.push(recorded.position); // step one
        let gate = match text.as_str() {
            "boom" => None,
            "boom, then query" => Some(&BEFORE_A_QUERY),
            "boom, then stop" => Some(&BEFORE_A_STOP),
            _ => {
                self.counted += 1; // step two
                return;
            }
        };
        if let Some(gate) = gate {
            gate.wait();
        }
        panic!("cannot count {}", recorded.position);
    }
}

#[test]
fn once_pause_returns_no_query_sees_the_read_model_move_even_with_events_already_read() {
    // given: two events, which the projector copies out of the log together
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "hold"));
    let second = handle(&write, 2, send("ada", "grace", "two"));
    let probe = start::<Probe>(&log);
    HOLD.wait(); // the projector is applying #1, with #2 copied out behind it

    // when
    probe.pause();
    HOLD.wait(); // it may finish #1, but nothing after it
    let held = probe.query(|model| model.seen.clone());
    let while_paused = probe.wait_for(second, SHORT);
    probe.resume();
    let after_resume = probe.wait_for(second, PATIENCE);

    // then
    assert_eq!(
        held,
        Ok(Answer {
            as_of: Position(1),
            value: vec![Position(1)]
        })
    );
    assert_eq!(
        while_paused,
        Err(ReadError::Timeout {
            waited_for: Position(2),
            reached: Position(1)
        })
    );
    assert_eq!(after_resume, Ok(Position(2)));
    assert_eq!(
        probe.stop(),
        Ok(Probe {
            seen: vec![Position(1), Position(2)],
            counted: 2
        })
    );
}

#[test]
fn a_wait_on_a_failed_projector_reports_the_failure_at_once_even_with_an_hour_left() {
    // given: a read model whose apply panics on the second event
    let (log, write) = write_side();
    let probe = start::<Probe>(&log);
    handle(&write, 1, send("ada", "grace", "fine"));
    let fatal = handle(&write, 2, send("ada", "grace", "boom"));

    // when: only the failure can end this wait early; had the projector been
    // merely slow, it would last an hour
    let waited = probe.wait_for(fatal, Duration::from_secs(3600));
    let reached_before = probe.wait_for(Position(1), Duration::ZERO);

    // then: a failure, not a timeout, saying how far the read model got
    let failed = ReadError::ProjectorFailed {
        reached: Position(1),
        panic: "cannot count #2".to_string(),
    };
    assert_eq!(waited, Err(failed.clone()));
    assert_eq!(reached_before, Err(failed.clone()));
    assert_eq!(
        failed.to_string(),
        "the projector failed after #1: cannot count #2"
    );
}

#[test]
fn a_query_that_panics_reaches_its_caller_and_later_waits_still_get_their_whole_timeout() {
    // given: a caller's query panics (it indexes an empty inbox)
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);
    let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
        inboxes.query(|model| model.inbox(&user("grace"))[0].clone())
    }));
    let target = Position(20);

    // when: a wait for #20 starts, and the events arrive one at a time, each
    // applied before the next is sent
    let waited = thread::scope(|scope| {
        let waiter = scope.spawn(|| inboxes.wait_for(target, Duration::from_secs(3600)));
        for n in 1..=20 {
            let sent = handle(&write, n, send("ada", "grace", "hi"));
            while inboxes.position() < sent {
                thread::yield_now();
            }
        }
        waiter.join().expect("the waiter does not panic")
    });

    // then: the caller saw its own panic; the wait ended when #20 was
    // applied, not at the first event with an hour still to go
    assert!(panicked.is_err(), "the query's panic reaches its caller");
    assert_eq!(waited, Ok(target));
    assert_eq!(
        inboxes.query(|model| model.unread(&user("grace"))),
        Ok(Answer {
            as_of: target,
            value: 20
        })
    );
}

#[test]
fn no_query_sees_an_event_that_apply_left_half_done() {
    // given: a read model that will panic halfway through #2
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "fine"));
    handle(&write, 2, send("ada", "grace", "boom, then query"));
    let probe = start::<Probe>(&log);

    // when: queries arrive once #2 is half applied
    BEFORE_A_QUERY.wait();
    let during = probe.query(|model| (model.seen.clone(), model.counted));
    let after = probe.query(|model| model.counted);

    // then: the read model answers nothing rather than something half done
    let failed = ReadError::ProjectorFailed {
        reached: Position(1),
        panic: "cannot count #2".to_string(),
    };
    assert_eq!(during, Err(failed.clone()));
    assert_eq!(after, Err(failed));
}

#[test]
fn stopping_a_failed_projection_reports_the_panic_and_the_others_carry_on() {
    // given: a read model that panics on the first event, and a healthy one
    let (log, write) = write_side();
    let (probe, inboxes) = (start::<Probe>(&log), start::<Inboxes>(&log));
    handle(&write, 1, send("ada", "grace", "boom, then stop"));

    // when: stopped once the projector is about to panic
    BEFORE_A_STOP.wait();
    let stopped = probe.stop();
    let later = handle(&write, 2, send("grace", "ada", "still here"));

    // then: the panic, not a half-updated read model
    assert_eq!(
        stopped,
        Err(ReadError::ProjectorFailed {
            reached: Position(0),
            panic: "cannot count #1".to_string()
        })
    );
    assert_eq!(inboxes.wait_for(later, PATIENCE), Ok(Position(2)));
}

// ---------------------------------------------------------------------------
// The write side decides from its own history
// ---------------------------------------------------------------------------

#[test]
fn the_write_side_decides_from_the_message_history_even_while_every_read_model_lags() {
    // given: an inbox that has not seen message-1 and never will while paused
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);
    inboxes.pause();
    handle(&write, 1, send("ada", "grace", "Lunch?"));

    // when: a command that only makes sense if message-1 exists
    let marked = write.handle(&message(1), mark_read("grace"));
    let rejected = write.handle(&message(1), mark_read("ada"));

    // then: the write side knew, the read model did not
    assert_eq!(marked, Ok(Position(2)));
    assert_eq!(
        rejected,
        Err(MessageError::NotRecipient { user: user("ada") })
    );
    assert_eq!(
        inboxes
            .query(|model| model.inbox(&user("grace")))
            .expect("a healthy read model answers")
            .value,
        vec![]
    );
}

#[test]
fn sending_needs_a_fresh_id_and_some_text() {
    // given
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "first"));

    // when
    let results = [
        write.handle(&message(1), send("bob", "ada", "again")),
        write.handle(&message(2), send("ada", "bob", " \n\t ")),
        write.handle(&message(3), send("ada", "bob", "  padded  ")),
    ];

    // then: the text is trimmed before it is checked and recorded
    assert_eq!(
        results,
        [
            Err(MessageError::AlreadySent),
            Err(MessageError::EmptyText),
            Ok(Position(2)),
        ]
    );
    let recorded = log.read_after(Position(1), 10);
    assert_eq!(
        recorded.iter().map(|r| &r.event).collect::<Vec<_>>(),
        vec![&MessageEvent::MessageSent {
            from: user("ada"),
            to: user("bob"),
            text: "padded".to_string()
        }]
    );
}

#[test]
fn only_the_recipient_marks_a_message_read_and_marking_it_twice_records_nothing() {
    // given
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "hi"));
    handle(&write, 2, send("bob", "ada", "unrelated"));

    // when
    let by_sender = write.handle(&message(1), mark_read("ada"));
    let first = write.handle(&message(1), mark_read("grace"));
    let again = write.handle(&message(1), mark_read("grace"));
    let unknown = write.handle(&message(9), mark_read("grace"));

    // then: the repeat returns the position of the read it repeats
    assert_eq!(
        by_sender,
        Err(MessageError::NotRecipient { user: user("ada") })
    );
    assert_eq!((first, again), (Ok(Position(3)), Ok(Position(3))));
    assert_eq!(unknown, Err(MessageError::NotFound));
    assert_eq!(log.last_position(), Position(3));
}

#[test]
fn only_the_sender_or_the_recipient_deletes_and_then_nothing_more_can_happen() {
    // given
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "oops"));
    handle(&write, 2, send("ada", "grace", "keep"));

    // when
    let by_stranger = write.handle(&message(1), delete("bob"));
    let by_sender = write.handle(&message(1), delete("ada"));
    let by_recipient = write.handle(&message(2), delete("grace"));
    let afterwards = [
        write.handle(&message(1), delete("grace")),
        write.handle(&message(1), mark_read("grace")),
        write.handle(&message(1), send("ada", "grace", "reuse")),
    ];

    // then: a deleted id is not free for a new message
    assert_eq!(
        by_stranger,
        Err(MessageError::NotParticipant { user: user("bob") })
    );
    assert_eq!(
        (by_sender, by_recipient),
        (Ok(Position(3)), Ok(Position(4)))
    );
    assert_eq!(
        afterwards,
        [
            Err(MessageError::Deleted),
            Err(MessageError::Deleted),
            Err(MessageError::AlreadySent)
        ]
    );
    assert_eq!(log.last_position(), Position(4));
}

// ---------------------------------------------------------------------------
// Several read models from one log
// ---------------------------------------------------------------------------

#[test]
fn read_models_fold_the_log_by_hand_without_any_thread() {
    // given
    let (log, write) = write_side();
    handle(&write, 1, send("ada", "grace", "one"));
    handle(&write, 2, send("bob", "grace", "two"));
    handle(&write, 3, send("grace", "ada", "three"));
    handle(&write, 2, mark_read("grace"));
    handle(&write, 1, delete("ada"));

    // when
    let (mut inboxes, mut feed) = (Inboxes::default(), Feed::default());
    for recorded in log.read_after(Position(0), usize::MAX) {
        inboxes.apply(&recorded);
        feed.apply(&recorded);
    }

    // then
    assert_eq!(
        inboxes.inbox(&user("grace")),
        vec![entry(2, "bob", "two", true)]
    );
    assert_eq!(
        inboxes.inbox(&user("ada")),
        vec![entry(3, "grace", "three", false)]
    );
    assert_eq!(
        (inboxes.unread(&user("grace")), inboxes.unread(&user("ada"))),
        (0, 1)
    );
    let latest: Vec<(Position, String)> = feed
        .latest(10)
        .into_iter()
        .map(|e| (e.sent_at, e.text))
        .collect();
    assert_eq!(
        latest,
        vec![
            (Position(3), "three".to_string()),
            (Position(2), "two".to_string())
        ]
    );
    assert_eq!(feed.latest(1).len(), 1);
}

#[test]
fn a_deleted_message_leaves_every_read_model() {
    // given: both read models have shown the message
    let (log, write) = write_side();
    let (inboxes, feed) = (start::<Inboxes>(&log), start::<Feed>(&log));
    let sent = handle(&write, 1, send("ada", "grace", "regrettable"));
    inboxes
        .wait_for(sent, PATIENCE)
        .expect("the inbox catches up");
    feed.wait_for(sent, PATIENCE).expect("the feed catches up");
    assert_eq!(
        inboxes
            .query(|v| v.unread(&user("grace")))
            .expect("a healthy read model answers")
            .value,
        1
    );

    // when
    let deleted = handle(&write, 1, delete("ada"));
    inboxes
        .wait_for(deleted, PATIENCE)
        .expect("the inbox catches up");
    feed.wait_for(deleted, PATIENCE)
        .expect("the feed catches up");

    // then
    assert_eq!(
        inboxes
            .query(|v| v.inbox(&user("grace")))
            .expect("a healthy read model answers")
            .value,
        vec![]
    );
    assert_eq!(
        inboxes
            .query(|v| v.unread(&user("grace")))
            .expect("a healthy read model answers")
            .value,
        0
    );
    assert_eq!(
        feed.query(|v| v.latest(10))
            .expect("a healthy read model answers")
            .value,
        vec![]
    );
}

#[test]
fn commands_from_many_threads_all_reach_the_read_model_at_dense_positions() {
    // given
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);

    // when: four senders, 25 messages each, all at once
    let positions: Vec<Position> = thread::scope(|scope| {
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let write = write.clone();
                scope.spawn(move || {
                    (0..25)
                        .map(|k| {
                            let command = send(&format!("user-{sender}"), "grace", "hi");
                            handle(&write, sender * 100 + k, command)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|s| s.join().expect("a sender thread finishes"))
            .collect()
    });
    let last = positions.iter().max().copied().expect("positions");
    inboxes
        .wait_for(last, PATIENCE)
        .expect("the projection catches up");

    // then
    let mut sorted: Vec<u64> = positions.iter().map(|p| p.0).collect();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=100).collect::<Vec<u64>>());
    assert_eq!(
        inboxes
            .query(|v| v.unread(&user("grace")))
            .expect("a healthy read model answers")
            .value,
        100
    );
}

#[test]
fn stopping_a_projection_joins_its_thread_even_while_paused_and_returns_its_read_model() {
    // given
    let (log, write) = write_side();
    let inboxes = start::<Inboxes>(&log);
    let sent = handle(&write, 1, send("ada", "grace", "one"));
    inboxes
        .wait_for(sent, PATIENCE)
        .expect("the projection catches up");
    inboxes.pause();
    handle(&write, 2, send("ada", "grace", "two"));

    // when: stop returns only after the projector thread has ended
    let model = inboxes.stop().expect("a healthy projector stops cleanly");

    // then: the read model as the paused projector left it
    assert_eq!(
        model.inbox(&user("grace")),
        vec![entry(1, "ada", "one", false)]
    );
}

/// SplitMix64: a small, seedable PRNG, so a failing run can be replayed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A message as the test itself tracks it, from the commands it saw accepted.
struct Tracked {
    from: UserId,
    to: UserId,
    text: String,
    read: bool,
    sent_at: Position,
}

#[test]
fn replicas_started_at_different_times_converge_to_what_the_accepted_commands_imply() {
    let users = ["ada", "grace", "bob"];
    for seed in 0..16 {
        // given: one replica from the start, one paused part of the way, one
        // started at the end
        let mut rng = SplitMix64(seed);
        let (log, write) = write_side();
        let early = start::<Inboxes>(&log);
        let paused = start::<Inboxes>(&log);
        let feed = start::<Feed>(&log);
        let mut live: BTreeMap<usize, Tracked> = BTreeMap::new();
        let mut ever_sent = std::collections::BTreeSet::new();

        // when: random commands, valid and invalid, go to the write side
        for step in 0..120 {
            if step == 40 {
                paused.pause();
            }
            let n = rng.below(10);
            let who = users[rng.below(3)];
            let other = users[rng.below(3)];
            let (command, expected_ok) = match rng.below(3) {
                0 => {
                    let text = if rng.below(5) == 0 {
                        "  ".to_string()
                    } else {
                        format!("m{step}")
                    };
                    let ok = !ever_sent.contains(&n) && !text.trim().is_empty();
                    (send(who, other, &text), ok)
                }
                1 => (
                    mark_read(who),
                    live.get(&n).is_some_and(|m| m.to == user(who)),
                ),
                _ => {
                    let ok = live
                        .get(&n)
                        .is_some_and(|m| m.from == user(who) || m.to == user(who));
                    (delete(who), ok)
                }
            };
            let result = write.handle(&message(n), command.clone());
            assert_eq!(
                result.is_ok(),
                expected_ok,
                "seed {seed}, step {step}: {command:?} gave {result:?}"
            );
            if let Ok(position) = result {
                match command {
                    MessageCommand::SendMessage { from, to, text } => {
                        ever_sent.insert(n);
                        live.insert(
                            n,
                            Tracked {
                                from,
                                to,
                                text,
                                read: false,
                                sent_at: position,
                            },
                        );
                    }
                    MessageCommand::MarkRead { .. } => {
                        live.get_mut(&n).expect("live").read = true;
                    }
                    MessageCommand::DeleteMessage { .. } => {
                        live.remove(&n);
                    }
                }
            }
        }
        paused.resume();
        let late = start::<Inboxes>(&log);
        let head = log.last_position();
        for model in [&early, &paused, &late] {
            model
                .wait_for(head, PATIENCE)
                .expect("every replica catches up");
        }
        feed.wait_for(head, PATIENCE).expect("the feed catches up");

        // then: the replicas agree with each other and with the test's own count
        let (early, paused, late) = (
            early.stop().expect("a healthy projector stops cleanly"),
            paused.stop().expect("a healthy projector stops cleanly"),
            late.stop().expect("a healthy projector stops cleanly"),
        );
        assert!(
            early == paused && paused == late,
            "seed {seed}: replicas differ"
        );
        let mut by_send: Vec<(usize, &Tracked)> = live.iter().map(|(&n, m)| (n, m)).collect();
        by_send.sort_by_key(|(_, m)| m.sent_at);
        for name in users {
            let expected: Vec<InboxEntry> = by_send
                .iter()
                .filter(|(_, m)| m.to == user(name))
                .map(|&(n, m)| InboxEntry {
                    message: message(n),
                    from: m.from.clone(),
                    text: m.text.clone(),
                    read: m.read,
                })
                .collect();
            assert_eq!(
                late.inbox(&user(name)),
                expected,
                "seed {seed}, inbox of {name}"
            );
        }
        let expected_feed: Vec<FeedEntry> = by_send
            .iter()
            .rev()
            .map(|&(n, m)| FeedEntry {
                sent_at: m.sent_at,
                message: message(n),
                from: m.from.clone(),
                to: m.to.clone(),
                text: m.text.clone(),
            })
            .collect();
        assert_eq!(
            feed.stop()
                .expect("a healthy projector stops cleanly")
                .latest(usize::MAX),
            expected_feed,
            "seed {seed}, feed"
        );
    }
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l05_cqrs -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l05_cqrs::{
        CommandQueryError, SentEntry, SentFolders, handle_then_query, query_freshest, rebuild,
    };
    use pretty_assertions::assert_eq;

    /// A log of more than two projector batches: 150 messages, every third
    /// one read and every fifth one deleted.
    fn busy_log() -> EventLog {
        let (log, write) = write_side();
        let users = ["ada", "grace", "bob"];
        for n in 0..150 {
            let (from, to) = (users[n % 3], users[(n + 1) % 3]);
            handle(&write, n, send(from, to, &format!("m{n}")));
            if n % 3 == 0 {
                handle(&write, n, mark_read(to));
            }
            if n % 5 == 0 {
                handle(&write, n, delete(from));
            }
        }
        log
    }

    /// A read model that notes which threads applied its events.
    #[derive(Debug, Default)]
    struct Witness {
        threads: Vec<thread::ThreadId>,
    }

    impl ReadModel for Witness {
        fn apply(&mut self, _: &RecordedEvent) {
            let current = thread::current().id();
            if !self.threads.contains(&current) {
                self.threads.push(current);
            }
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 5.1: rebuild a read model on this thread"
    )]
    fn exercise_5_1_a_rebuild_reads_in_batches_on_this_thread_and_equals_the_projection() {
        // given: more than two batches of 64
        let log = busy_log();
        let head = log.last_position();
        assert_eq!(head, Position(230), "the log the test expects");

        // when
        let mut progress = Vec::new();
        let rebuilt = rebuild::<Inboxes>(&log, 64, |at| progress.push(at));
        let witnessed = rebuild::<Witness>(&log, 64, |_| {});
        let mut untouched = Vec::new();
        let empty = rebuild::<Feed>(&EventLog::new(), 64, |at| untouched.push(at));

        // then: one call of `progress` per batch, at the position it reached
        assert_eq!(
            progress,
            [64, 128, 192, 230].map(Position).to_vec(),
            "one batch of at most 64 events at a time"
        );
        assert_eq!(rebuilt.as_of, head);
        let followed = start::<Inboxes>(&log);
        followed
            .wait_for(head, PATIENCE)
            .expect("the projection catches up");
        assert_eq!(
            rebuilt.value,
            followed.stop().expect("a healthy projector stops cleanly")
        );
        assert_eq!(
            witnessed.value.threads,
            vec![thread::current().id()],
            "applied on the calling thread"
        );
        assert_eq!(
            (empty, untouched),
            (
                Answer {
                    as_of: Position(0),
                    value: Feed::default()
                },
                vec![]
            )
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 5.2: a sent folder per user"
    )]
    fn exercise_5_2_a_sent_folder_shows_live_sent_messages_oldest_first_and_whether_read() {
        // given: message ids out of send order, one deleted by its recipient
        // and one by its sender
        let (log, write) = write_side();
        handle(&write, 2, send("ada", "grace", "one"));
        handle(&write, 5, send("ada", "bob", "two"));
        handle(&write, 10, send("ada", "grace", "three"));
        handle(&write, 4, send("grace", "ada", "four"));
        handle(&write, 7, send("ada", "bob", "five"));
        handle(&write, 2, mark_read("grace"));
        handle(&write, 5, delete("bob"));
        handle(&write, 7, delete("ada"));

        // when: folded by hand, and followed by a projector thread
        let mut by_hand = SentFolders::default();
        for recorded in log.read_after(Position(0), usize::MAX) {
            by_hand.apply(&recorded);
        }
        let followed = start::<SentFolders>(&log);
        followed
            .wait_for(log.last_position(), PATIENCE)
            .expect("the projection catches up");

        // then
        let sent = |n: usize, to: &str, text: &str, read: bool| SentEntry {
            message: message(n),
            to: user(to),
            text: text.to_string(),
            read,
        };
        assert_eq!(
            by_hand.sent_by(&user("ada")),
            vec![
                sent(2, "grace", "one", true),
                sent(10, "grace", "three", false)
            ]
        );
        assert_eq!(
            by_hand.sent_by(&user("grace")),
            vec![sent(4, "ada", "four", false)]
        );
        assert_eq!(by_hand.sent_by(&user("bob")), vec![]);
        assert_eq!(
            followed.stop().expect("a healthy projector stops cleanly"),
            by_hand
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 5.3: handle a command, then query"
    )]
    fn exercise_5_3_handle_then_query_reads_the_write_or_says_why_not() {
        // given
        let (log, write) = write_side();
        let inboxes = start::<Inboxes>(&log);
        let grace = user("grace");

        // when
        let shown = handle_then_query(
            &write,
            &inboxes,
            &message(1),
            send("ada", "grace", "hi"),
            PATIENCE,
            |model| model.inbox(&grace),
        );
        let rejected = handle_then_query(
            &write,
            &inboxes,
            &message(1),
            send("ada", "grace", "hi again"),
            PATIENCE,
            |model| model.inbox(&grace),
        );
        inboxes.pause();
        let invisible = handle_then_query(
            &write,
            &inboxes,
            &message(1),
            mark_read("grace"),
            SHORT,
            |model| model.inbox(&grace),
        );
        let probe = start::<Probe>(&log);
        let failed = handle_then_query(
            &write,
            &probe,
            &message(2),
            send("ada", "grace", "boom"),
            PATIENCE,
            |model| model.counted,
        );

        // then
        assert_eq!(
            shown,
            Ok(Answer {
                as_of: Position(1),
                value: vec![entry(1, "ada", "hi", false)]
            })
        );
        assert_eq!(
            rejected,
            Err(CommandQueryError::Rejected(MessageError::AlreadySent))
        );
        let timeout = ReadError::Timeout {
            waited_for: Position(2),
            reached: Position(1),
        };
        assert_eq!(invisible, Err(CommandQueryError::NotYetVisible(timeout)));
        let error = invisible.expect_err("not visible");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(
            source,
            Some("timed out waiting for #2: the read model only reached #1".into())
        );
        let projector_failed = ReadError::ProjectorFailed {
            reached: Position(2),
            panic: "cannot count #3".to_string(),
        };
        assert_eq!(
            failed,
            Err(CommandQueryError::NotYetVisible(projector_failed))
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 5.4: route a query to a fresh enough replica"
    )]
    fn exercise_5_4_the_first_fresh_replica_answers_or_the_furthest_is_waited_on() {
        // given: replica one held at #1, replica two held at #2, the log at #3
        let (log, write) = write_side();
        let (one, two) = (start::<Inboxes>(&log), start::<Inboxes>(&log));
        let first = handle(&write, 1, send("ada", "grace", "one"));
        one.wait_for(first, PATIENCE)
            .expect("replica one catches up");
        one.pause();
        let second = handle(&write, 2, send("bob", "grace", "two"));
        two.wait_for(second, PATIENCE)
            .expect("replica two catches up");
        two.pause();
        let third = handle(&write, 3, send("ada", "grace", "three"));
        let count = |model: &Inboxes| model.inbox(&user("grace")).len();

        // when
        let first_fresh = query_freshest(&[&one, &two], first, SHORT, count);
        let only_two = query_freshest(&[&one, &two], second, SHORT, count);
        let too_old = query_freshest(&[&one, &two], third, SHORT, count);
        let nobody = query_freshest::<Inboxes, usize>(&[], first, SHORT, count);
        two.resume();
        let after_resume = query_freshest(&[&one, &two], third, PATIENCE, count);

        // then
        let answer = |as_of: u64, value: usize| {
            Ok(Answer {
                as_of: Position(as_of),
                value,
            })
        };
        let timeout = |waited_for: Position, reached: u64| {
            Err(ReadError::Timeout {
                waited_for,
                reached: Position(reached),
            })
        };
        assert_eq!(
            first_fresh,
            answer(1, 1),
            "the first fresh enough, not the freshest"
        );
        assert_eq!(only_two, answer(2, 2));
        assert_eq!(too_old, timeout(third, 2), "waited on the furthest along");
        assert_eq!(nobody, timeout(first, 0));
        assert_eq!(after_resume, answer(3, 3));
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 5.4: route a query to a fresh enough replica"
    )]
    fn exercise_5_4_on_a_tie_the_first_of_the_furthest_replicas_is_waited_on() {
        // given: two replicas both at #1 and the log at #2; `failed` stopped
        // there because its read model panicked on #2, `paused` was held
        let (log, write) = write_side();
        let (failed, paused) = (start::<Probe>(&log), start::<Probe>(&log));
        let first = handle(&write, 1, send("ada", "grace", "one"));
        for replica in [&failed, &paused] {
            replica
                .wait_for(first, PATIENCE)
                .expect("each replica catches up");
        }
        paused.pause();
        let second = handle(&write, 2, send("ada", "grace", "boom"));
        let failure = failed
            .wait_for(second, PATIENCE)
            .expect_err("its read model panics on #2");
        let counted = |model: &Probe| model.counted;

        // when
        let failed_first = query_freshest(&[&failed, &paused], second, SHORT, counted);
        let paused_first = query_freshest(&[&paused, &failed], second, SHORT, counted);

        // then
        assert_eq!(failed_first, Err(failure));
        assert_eq!(
            paused_first,
            Err(ReadError::Timeout {
                waited_for: second,
                reached: first
            })
        );
    }
}
