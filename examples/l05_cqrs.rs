//! Lesson 5 — CQRS, end to end.
//!
//! Run it: `cargo run --example l05_cqrs`.

use std::error::Error;
use std::io::Write;
use std::time::Duration;

use es_workbook::l05_cqrs::read::{Feed, Inboxes, Projection};
use es_workbook::l05_cqrs::shared::{EventLog, StreamId, UserId};
use es_workbook::l05_cqrs::write::{MessageCommand, WriteSide};

/// Long enough that only a broken read model ever reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

fn send(from: &UserId, to: &UserId, text: &str) -> MessageCommand {
    MessageCommand::SendMessage {
        from: from.clone(),
        to: to.clone(),
        text: text.to_string(),
    }
}

/// Prints `user`'s inbox as `projection` has it now, with how fresh that is.
fn show_inbox(
    out: &mut impl Write,
    projection: &Projection<Inboxes>,
    user: &UserId,
) -> Result<(), Box<dyn Error>> {
    let answer = projection.query(|model| model.inbox(user))?;
    writeln!(
        out,
        "  {user}'s inbox, as of {}: {} message(s)",
        answer.as_of,
        answer.value.len()
    )?;
    for entry in answer.value {
        let status = if entry.read { "read" } else { "unread" };
        writeln!(
            out,
            "    {} from {} ({status}): {}",
            entry.message, entry.from, entry.text
        )?;
    }
    Ok(())
}

/// Wires one log to a write side and to read models on their own threads,
/// then shows the lag between them, how to wait it out, and replicas that
/// agree.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let (ada, grace, bob) = (UserId::new("ada"), UserId::new("grace"), UserId::new("bob"));
    let [m1, m2, m3, m4] = [1, 2, 3, 4].map(|n| StreamId::new(format!("message-{n}")));

    let log = EventLog::new();
    let write = WriteSide::new(log.clone());
    let inboxes = Projection::<Inboxes>::start(log.clone())?;
    let feed = Projection::<Feed>::start(log.clone())?;
    writeln!(
        out,
        "One log; a write side; two read models on their own threads."
    )?;

    writeln!(out)?;
    writeln!(out, "1. A query right after a command may not see it")?;
    inboxes.pause();
    writeln!(
        out,
        "  (the inbox projector is paused, standing in for a slow one)"
    )?;
    let at = write.handle(&m1, send(&ada, &grace, "Lunch at noon?"))?;
    writeln!(out, "  ada sends {m1} to grace: accepted at {at}")?;
    show_inbox(out, &inboxes, &grace)?;
    inboxes.resume();
    writeln!(
        out,
        "  the projector resumes; wait_for({at}) reached {}",
        inboxes.wait_for(at, PATIENCE)?
    )?;
    show_inbox(out, &inboxes, &grace)?;

    writeln!(out)?;
    writeln!(
        out,
        "2. Read your writes: wait for the position the command returned"
    )?;
    let at = write.handle(&m2, send(&grace, &ada, "Yes! 12:15 at the usual place"))?;
    writeln!(out, "  grace replies with {m2}: accepted at {at}")?;
    writeln!(
        out,
        "  wait_for({at}) reached {}",
        inboxes.wait_for(at, PATIENCE)?
    )?;
    show_inbox(out, &inboxes, &ada)?;

    writeln!(out)?;
    writeln!(
        out,
        "3. The write side decides from its own history, never from a read model"
    )?;
    inboxes.pause();
    writeln!(
        out,
        "  (the inbox projector is paused at {})",
        inboxes.position()
    )?;
    let at = write.handle(&m3, send(&bob, &grace, "Can I join?"))?;
    writeln!(out, "  bob sends {m3} to grace: accepted at {at}")?;
    let read = MessageCommand::MarkRead { by: grace.clone() };
    let at = write.handle(&m3, read)?;
    writeln!(out, "  grace marks {m3} read: accepted at {at}")?;
    writeln!(
        out,
        "  meanwhile the paused read model has never heard of {m3}:"
    )?;
    show_inbox(out, &inboxes, &grace)?;
    let attempts = [
        (
            "ada marks message-1 read",
            &m1,
            MessageCommand::MarkRead { by: ada.clone() },
        ),
        (
            "bob deletes message-2",
            &m2,
            MessageCommand::DeleteMessage { by: bob.clone() },
        ),
        ("bob sends message-1 again", &m1, send(&bob, &ada, "Hi")),
        (
            "ada sends message-4 with no text",
            &m4,
            send(&ada, &bob, "   "),
        ),
        (
            "ada deletes message-4",
            &m4,
            MessageCommand::DeleteMessage { by: ada.clone() },
        ),
    ];
    for (what, message, command) in attempts {
        match write.handle(message, command) {
            Ok(at) => writeln!(out, "  {what}: accepted at {at}")?,
            Err(error) => writeln!(out, "  {what}: rejected: {error}")?,
        }
    }

    writeln!(out)?;
    writeln!(
        out,
        "4. Waiting has a limit, and running out of time is a typed error"
    )?;
    let short = Duration::from_millis(20);
    match inboxes.wait_for(at, short) {
        Ok(reached) => writeln!(out, "  wait_for({at}) reached {reached}")?,
        Err(error) => {
            writeln!(out, "  wait_for({at}) on the paused inbox, for {short:?}:")?;
            writeln!(out, "    Err({error:?})")?;
            writeln!(out, "    which reads: {error}")?;
        }
    }
    inboxes.resume();
    writeln!(
        out,
        "  the projector resumes; wait_for({at}) reached {}",
        inboxes.wait_for(at, PATIENCE)?
    )?;
    show_inbox(out, &inboxes, &grace)?;

    writeln!(out)?;
    writeln!(
        out,
        "5. Several read models from one log, and a replica that converges"
    )?;
    let delete = MessageCommand::DeleteMessage { by: ada.clone() };
    let at = write.handle(&m1, delete)?;
    writeln!(out, "  ada deletes {m1}: accepted at {at}")?;
    feed.wait_for(at, PATIENCE)?;
    let latest = feed.query(|model| model.latest(10))?;
    writeln!(out, "  the feed, as of {}, newest first:", latest.as_of)?;
    for entry in latest.value {
        writeln!(
            out,
            "    {} {} {} -> {}: {}",
            entry.sent_at, entry.message, entry.from, entry.to, entry.text
        )?;
    }
    let replica = Projection::<Inboxes>::start(log.clone())?;
    writeln!(
        out,
        "  a second inbox replica starts from #0 and reaches {}",
        replica.wait_for(at, PATIENCE)?
    )?;
    inboxes.wait_for(at, PATIENCE)?;
    let first = inboxes.stop()?;
    let second = replica.stop()?;
    writeln!(
        out,
        "  both replicas stopped; the same inboxes: {}",
        first == second
    )?;
    for user in [&ada, &grace, &bob] {
        writeln!(
            out,
            "    {user}: {} message(s), {} unread",
            second.inbox(user).len(),
            second.unread(user)
        )?;
    }
    drop(feed);
    writeln!(out, "  every projector thread has been joined")?;
    Ok(())
}
