//! Lesson 2 — commands, end to end.
//!
//! Run it: `cargo run --example l02_commands`.

use std::error::Error;
use std::io::Write;

use es_workbook::l02_commands::{
    EventStore, Position, PostCommand, StreamId, Timestamp, decide, handle, load_post,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// Sends a series of commands about two posts through the handler, some of
/// which it refuses, then shows what was recorded and the state it folds to.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut store = EventStore::new();
    let welcome = StreamId::new("post-1");
    let roadmap = StreamId::new("post-2");
    // 2026-03-02 09:00:00 UTC; each command below arrives one minute later.
    let nine_am = 1_772_442_000;
    let long_title = ["Everything we plan to build this year"; 3].join(", and ");

    let commands = [
        (&welcome, create("ada", " Helo ")),
        (&welcome, create("grace", "Hello again")),
        (&welcome, retitle("   ")),
        (&welcome, retitle("Hello")),
        (&welcome, retitle("Hello")),
        (&welcome, PostCommand::PublishPost),
        (&welcome, PostCommand::PublishPost),
        (&roadmap, PostCommand::PublishPost),
        (&roadmap, create("grace", &long_title)),
        (&roadmap, create("grace", "Roadmap")),
        (&welcome, retitle("Hello, world")),
    ];

    writeln!(out, "Handling commands (each one minute after the last):")?;
    let (mut accepted, mut rejected) = (0, 0);
    for (minute, (stream, command)) in (0..).zip(&commands) {
        let before = store.stream_version(stream);
        let now = Timestamp(nine_am + 60 * minute);
        let outcome = match handle(&mut store, stream, command, now) {
            Ok(after) if after == before => {
                accepted += 1;
                format!("accepted, nothing recorded, still at {after}")
            }
            Ok(after) => {
                accepted += 1;
                format!("accepted, now at {after}")
            }
            Err(error) => {
                rejected += 1;
                format!("REJECTED: {error}")
            }
        };
        writeln!(out, "  {stream} {:<33} -> {outcome}", describe(command))?;
    }
    writeln!(
        out,
        "{accepted} accepted, {rejected} rejected; the store holds {} events.",
        store.last_position().0
    )?;

    writeln!(out)?;
    writeln!(out, "What was recorded, in global order:")?;
    for recorded in store.read_all(Position(0)) {
        writeln!(
            out,
            "  {} {} {} at {}: {:?}",
            recorded.position,
            recorded.stream,
            recorded.version,
            recorded.recorded_at,
            recorded.event
        )?;
    }

    writeln!(out)?;
    writeln!(out, "The state each stream folds to:")?;
    for stream in [&welcome, &roadmap] {
        writeln!(out, "  {stream}: {:?}", load_post(&store, stream))?;
    }

    // `decide` only answers; it never touches the store.
    let roadmap_state = load_post(&store, &roadmap);
    let answer = decide(&PostCommand::PublishPost, &roadmap_state);
    writeln!(out)?;
    writeln!(
        out,
        "Asking decide (no append) whether {roadmap} may be published:"
    )?;
    writeln!(out, "  {answer:?}")?;
    writeln!(
        out,
        "  {roadmap} is still at {}: nothing was recorded.",
        store.stream_version(&roadmap)
    )?;
    Ok(())
}

fn create(author: &str, title: &str) -> PostCommand {
    PostCommand::CreatePost {
        author: author.into(),
        title: title.into(),
    }
}

fn retitle(title: &str) -> PostCommand {
    PostCommand::RetitlePost {
        title: title.into(),
    }
}

/// A one-line description of a command, with long titles replaced by their
/// length so the output stays readable.
fn describe(command: &PostCommand) -> String {
    let short = |title: &str| match title.chars().count() {
        length if length > 20 => format!("{length}-char title"),
        _ => format!("{title:?}"),
    };
    match command {
        PostCommand::CreatePost { author, title } => {
            format!("CreatePost({author}, {})", short(title))
        }
        PostCommand::RetitlePost { title } => format!("RetitlePost({})", short(title)),
        PostCommand::PublishPost => "PublishPost".to_string(),
    }
}
