//! A store that numbers events when they are inserted but shows them when
//! they are committed, as a database table with a sequence does, and the
//! two ways to read it: past the checkpoint (wrong), and up to the
//! high-water mark (right).

use std::collections::BTreeMap;

use super::log::{AccountEvent, Page, Position, RecordedEvent, StreamId, Timestamp, Version};

// ANCHOR: gap_log
/// An event log with several writers in flight at once. [`GapLog::begin`]
/// takes the next position at once (like `nextval` on a sequence, at
/// insert); the event becomes visible only at [`GapLog::commit`], and
/// [`GapLog::abort`] leaves its position unused for good. So commits can
/// show `#7` before `#6`, and the log has gaps.
#[derive(Debug, Default)]
pub struct GapLog {
    /// The last position handed out.
    last_taken: Position,
    in_flight: BTreeMap<Position, RecordedEvent>,
    committed: BTreeMap<Position, RecordedEvent>,
}

/// An insert in flight: its position is taken, its event not yet visible.
/// Not `Clone`: it is committed or aborted once, on the log that issued it
/// (the log does not check: on another log it would finish whatever insert
/// that log has at the same position). A ticket dropped without either is
/// a transaction left open for good: the mark stays below it forever. A
/// database rolls back the transaction of a client whose connection is
/// gone, but not that of a client still connected that never finishes.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an insert left in flight holds the high-water mark back forever"]
pub struct Ticket(Position);
// ANCHOR_END: gap_log

impl Ticket {
    /// The position the insert took.
    pub fn position(&self) -> Position {
        self.0
    }
}

impl GapLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts an event in a transaction that is not yet committed, and
    /// returns its ticket. The position is taken now. The caller gives the
    /// stream's version (lesson 8's expected-version check is left out).
    pub fn begin(
        &mut self,
        stream: &StreamId,
        version: Version,
        event: AccountEvent,
        recorded_at: Timestamp,
    ) -> Ticket {
        let position = Position(self.last_taken.0 + 1);
        self.last_taken = position;
        let recorded = RecordedEvent {
            stream: stream.clone(),
            version,
            position,
            recorded_at,
            event,
        };
        self.in_flight.insert(position, recorded);
        Ticket(position)
    }

    /// Commits an insert: its event becomes visible, at the position it
    /// took when it began, whatever has been committed since.
    pub fn commit(&mut self, ticket: Ticket) -> Position {
        if let Some(recorded) = self.in_flight.remove(&ticket.0) {
            self.committed.insert(ticket.0, recorded);
        }
        ticket.0
    }

    /// Rolls an insert back: its position is never used, a gap for good.
    pub fn abort(&mut self, ticket: Ticket) -> Position {
        self.in_flight.remove(&ticket.0);
        ticket.0
    }

    // ANCHOR: naive_read
    /// Every committed event after `after`, in position order: what
    /// `SELECT … WHERE position > $1 ORDER BY position` returns now.
    pub fn read_after(&self, after: Position) -> Vec<RecordedEvent> {
        self.committed
            .range(Position(after.0.saturating_add(1))..)
            .map(|(_, recorded)| recorded.clone())
            .collect()
    }
    // ANCHOR_END: naive_read

    // ANCHOR: high_water_mark
    /// The high-water mark: the highest position at or below which no insert
    /// is still in flight. Every position up to it is either committed, and
    /// visible, or aborted, and never will be. Above it, a position not yet
    /// visible may still appear.
    pub fn high_water_mark(&self) -> Position {
        match self.in_flight.keys().next() {
            Some(oldest) => Position(oldest.0 - 1),
            None => self.last_taken,
        }
    }

    /// Up to `max` committed events after `after` and at or below the
    /// high-water mark. When the page holds everything up to the mark, its
    /// `next` is the mark itself, so a reader steps over aborted positions
    /// and never waits for them. When events below the mark are left over
    /// (`max` was reached, or is 0), `next` is the page's last event, or
    /// `after` if it has none: a page never steps over an event it did not
    /// return.
    pub fn read_page(&self, after: Position, max: usize) -> Page {
        let mark = self.high_water_mark();
        if after >= mark {
            return Page {
                after,
                events: Vec::new(),
                next: after,
            };
        }
        let mut below_mark = self.committed.range(Position(after.0 + 1)..=mark);
        let events: Vec<RecordedEvent> = below_mark
            .by_ref()
            .take(max)
            .map(|(_, recorded)| recorded.clone())
            .collect();
        let next = match below_mark.next() {
            Some(_) => events.last().map_or(after, |last| last.position),
            None => mark,
        };
        Page {
            after,
            events,
            next,
        }
    }
    // ANCHOR_END: high_water_mark
}

// ANCHOR: readers
/// Reads past its checkpoint and moves the checkpoint to the last event it
/// saw. Wrong on purpose: an event committed later at a lower position is
/// below the checkpoint by then, and it never reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NaiveReader {
    checkpoint: Position,
}

impl NaiveReader {
    /// A reader at `Position(0)`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Its checkpoint.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// Everything visible after the checkpoint; moves the checkpoint past it.
    pub fn poll(&mut self, log: &GapLog) -> Vec<RecordedEvent> {
        let events = log.read_after(self.checkpoint);
        if let Some(last) = events.last() {
            self.checkpoint = last.position;
        }
        events
    }
}

/// Reads only up to the high-water mark, so nothing can appear behind its
/// checkpoint later: it misses nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct HighWaterReader {
    checkpoint: Position,
}

impl HighWaterReader {
    /// A reader at `Position(0)`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Its checkpoint: never above the high-water mark.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// Up to `max` events after the checkpoint and up to the mark.
    pub fn poll(&mut self, log: &GapLog, max: usize) -> Vec<RecordedEvent> {
        let page = log.read_page(self.checkpoint, max);
        self.checkpoint = page.next;
        page.events
    }
}
// ANCHOR_END: readers
