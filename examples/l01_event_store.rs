//! Lesson 1 — the event store, end to end.
//!
//! Run it: `cargo run --example l01_event_store`.

use std::error::Error;
use std::io::Write;

use es_workbook::l01_event_store::{EventStore, Position, PostEvent, StreamId, Timestamp};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// Appends a few facts about two blog posts, then reads them back by stream
/// and in global order.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut store = EventStore::new();
    let welcome = StreamId::new("post-1");
    let roadmap = StreamId::new("post-2");
    // 2026-03-02 09:00:00 UTC; each append below is one minute later.
    let nine_am = 1_772_442_000;

    writeln!(out, "Appending facts about two posts:")?;
    let appends = [
        (
            &welcome,
            PostEvent::PostCreated {
                author: "ada".into(),
                title: "Helo".into(),
            },
        ),
        (
            &roadmap,
            PostEvent::PostCreated {
                author: "grace".into(),
                title: "Roadmap".into(),
            },
        ),
        (
            &welcome,
            PostEvent::PostRetitled {
                title: "Hello".into(),
            },
        ),
        (&welcome, PostEvent::PostPublished),
    ];
    for (minute, (stream, event)) in (0..).zip(appends) {
        let version = store.append(stream, vec![event], Timestamp(nine_am + 60 * minute));
        writeln!(out, "  appended to {stream}, which is now at {version}")?;
    }

    writeln!(out)?;
    writeln!(out, "Reading stream {welcome} (one post's history):")?;
    for recorded in store.read_stream(&welcome) {
        writeln!(
            out,
            "  {} {:<13} at {}: {:?}",
            recorded.version, recorded.event_type, recorded.recorded_at, recorded.event
        )?;
    }

    writeln!(out)?;
    writeln!(out, "Reading all events in global order:")?;
    for recorded in store.read_all(Position(0)) {
        writeln!(
            out,
            "  {} {} {} {}",
            recorded.position, recorded.stream, recorded.version, recorded.event_type
        )?;
    }

    let checkpoint = Position(2);
    writeln!(out)?;
    writeln!(
        out,
        "Reading all after {checkpoint} (what a reader that stopped there missed):"
    )?;
    for recorded in store.read_all(checkpoint) {
        writeln!(
            out,
            "  {} {} {}",
            recorded.position, recorded.stream, recorded.event_type
        )?;
    }

    let unknown = StreamId::new("post-404");
    writeln!(out)?;
    writeln!(
        out,
        "Stream {unknown} has {} events and is at {}.",
        store.read_stream(&unknown).len(),
        store.stream_version(&unknown)
    )?;
    Ok(())
}
