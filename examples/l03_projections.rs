//! Lesson 3 — projections, end to end.
//!
//! Run it: `cargo run --example l03_projections`.

use std::error::Error;
use std::io::Write;

use es_workbook::l03_projections::{
    Consumer, Delivery, EventStore, Notification, Notifier, Position, PostEvent, PostsPerAuthor,
    PostsTable, Projection, ReadModel, StreamId, Timestamp,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// Builds two read models and a notifier from a blog's log, sends and
/// acknowledges the notifier's outbox, redelivers events, rebuilds the read
/// models, shows why the notifier is never rebuilt, and starts a new notifier
/// at the end of the log.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut store = EventStore::new();
    let (welcome, roadmap, drafts) = (
        StreamId::new("post-1"),
        StreamId::new("post-2"),
        StreamId::new("post-3"),
    );
    // 2026-03-02 09:00:00 UTC; each append is one minute after the last.
    let mut now = Timestamp(1_772_442_000);
    let mut append = |store: &mut EventStore, stream: &StreamId, event: PostEvent| {
        store.append(stream, vec![event], now);
        now.0 += 60;
    };

    append(&mut store, &welcome, created("ada", "Helo"));
    append(&mut store, &roadmap, created("grace", "Roadmap"));
    append(&mut store, &welcome, retitled("Hello"));
    append(&mut store, &welcome, PostEvent::PostPublished);
    writeln!(out, "The log so far:")?;
    print_log(out, &store, Position(0))?;

    let mut posts = Projection::<PostsTable>::new();
    let mut notifier = Notifier::new();
    writeln!(out)?;
    writeln!(out, "Each consumer catches up from its own checkpoint:")?;
    catch_up(out, "posts", &mut posts, &store)?;
    print_posts(out, posts.model())?;
    catch_up(out, "notifier", &mut notifier, &store)?;
    print_outbox(out, notifier.outbox())?;
    // Everything the mail sender has sent, as a subscriber would see it.
    let mut sent: Vec<Notification> = Vec::new();
    send_and_acknowledge(out, &mut notifier, &mut sent)?;

    append(&mut store, &roadmap, retitled("Roadmap 2026"));
    append(&mut store, &roadmap, PostEvent::PostPublished);
    append(&mut store, &drafts, created("ada", "Drafts"));
    writeln!(out)?;
    writeln!(out, "Three more events:")?;
    print_log(out, &store, Position(4))?;
    writeln!(out)?;
    writeln!(out, "Catching up again applies only those three:")?;
    catch_up(out, "posts", &mut posts, &store)?;
    print_posts(out, posts.model())?;
    catch_up(out, "notifier", &mut notifier, &store)?;
    print_outbox(out, notifier.outbox())?;
    send_and_acknowledge(out, &mut notifier, &mut sent)?;

    writeln!(out)?;
    writeln!(out, "A read model added after the fact starts at #0:")?;
    let mut authors = Projection::<PostsPerAuthor>::new();
    catch_up(out, "posts per author", &mut authors, &store)?;
    print_authors(out, authors.model())?;

    writeln!(out)?;
    writeln!(out, "At-least-once delivery hands over #5 to #7 again:")?;
    let again = store.read_all(Position(4));
    let (posts_before, authors_before) = (posts.clone(), authors.clone());
    let outcomes: Vec<Delivery> = again.iter().map(|r| authors.deliver(r)).collect();
    for recorded in again {
        posts.deliver(recorded);
    }
    writeln!(out, "  posts per author answers {outcomes:?}")?;
    writeln!(
        out,
        "  both read models unchanged: {}",
        posts == posts_before && authors == authors_before
    )?;
    let mut unguarded = posts.model().clone();
    for recorded in again {
        unguarded.apply(recorded);
    }
    if let (Some(now), Some(rewound)) = (posts.model().get(&roadmap), unguarded.get(&roadmap)) {
        writeln!(
            out,
            "  the posts table fed them without its checkpoint moves post-2's last update back:"
        )?;
        writeln!(out, "    {} -> {}", now.updated_at, rewound.updated_at)?;
    }
    if let Some(seventh) = store.read_all(Position(6)).first() {
        let answer = Projection::<PostsPerAuthor>::new().deliver(seventh);
        writeln!(out, "  a new model handed #7 first answers {answer:?}")?;
    }

    writeln!(out)?;
    writeln!(
        out,
        "Rebuilding the read models (fresh from #0, then swap):"
    )?;
    let old_posts = posts.rebuild(&store);
    let old_authors = authors.rebuild(&store);
    writeln!(
        out,
        "  posts now at {}, equal to the incremental one: {}",
        posts.checkpoint(),
        posts == old_posts
    )?;
    writeln!(
        out,
        "  posts per author now at {}, equal to the incremental one: {}",
        authors.checkpoint(),
        authors == old_authors
    )?;
    writeln!(
        out,
        "  the notifier keeps its checkpoint and finds nothing new:"
    )?;
    catch_up(out, "notifier", &mut notifier, &store)?;

    writeln!(out)?;
    writeln!(out, "If the notifier were rebuilt like a projection:")?;
    let mut reset = Notifier::new();
    catch_up(out, "notifier", &mut reset, &store)?;
    print_outbox(out, reset.outbox())?;
    let repeats = reset
        .outbox()
        .iter()
        .filter(|again| sent.contains(again))
        .count();
    writeln!(
        out,
        "  {repeats} of these {} were already sent: subscribers would hear of each post twice",
        reset.outbox().len()
    )?;

    writeln!(out)?;
    writeln!(out, "A notifier added today starts at the end of the log:")?;
    let mut added_today = Notifier::starting_at_end(&store);
    catch_up(out, "new notifier", &mut added_today, &store)?;
    append(&mut store, &drafts, PostEvent::PostPublished);
    print_log(out, &store, Position(7))?;
    catch_up(out, "new notifier", &mut added_today, &store)?;
    print_outbox(out, added_today.outbox())?;
    Ok(())
}

/// Takes every queued notification as a batch, sends it (here: records it
/// as sent), then acknowledges the batch, which drains the outbox.
fn send_and_acknowledge(
    out: &mut impl Write,
    notifier: &mut Notifier,
    sent: &mut Vec<Notification>,
) -> std::io::Result<()> {
    let batch = notifier.batch(usize::MAX);
    let Some(last) = batch.notifications().last().map(|n| n.caused_by) else {
        return Ok(());
    };
    sent.extend_from_slice(batch.notifications());
    let removed = notifier.acknowledge(&batch);
    writeln!(
        out,
        "    sender: sent {removed}, acknowledged up to {last}, {} left in the outbox",
        notifier.outbox().len()
    )
}

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

fn catch_up(
    out: &mut impl Write,
    name: &str,
    consumer: &mut impl Consumer,
    store: &EventStore,
) -> Result<(), Box<dyn Error>> {
    let from = consumer.checkpoint();
    let applied = consumer.catch_up(store)?;
    let to = consumer.checkpoint();
    writeln!(out, "  {name}: {from} -> {to}, applied {applied} events")?;
    Ok(())
}

fn print_log(out: &mut impl Write, store: &EventStore, after: Position) -> std::io::Result<()> {
    for recorded in store.read_all(after) {
        writeln!(
            out,
            "  {} {} {:?}",
            recorded.position, recorded.stream, recorded.event
        )?;
    }
    Ok(())
}

fn print_posts(out: &mut impl Write, posts: &PostsTable) -> std::io::Result<()> {
    writeln!(
        out,
        "    {:<6} {:<9} {:<14} {:<6} {:<20} published",
        "id", "status", "title", "author", "created"
    )?;
    for (id, row) in posts.rows() {
        let published = row
            .published_at
            .map_or("-".to_string(), |at| at.to_string());
        let title = format!("{:?}", row.title);
        writeln!(
            out,
            "    {id:<6} {:<9} {title:<14} {:<6} {} {published}",
            row.status.to_string(),
            row.author,
            row.created_at,
        )?;
    }
    Ok(())
}

fn print_outbox(out: &mut impl Write, queued: &[Notification]) -> std::io::Result<()> {
    for notification in queued {
        writeln!(out, "    outbox: {notification}")?;
    }
    Ok(())
}

fn print_authors(out: &mut impl Write, model: &PostsPerAuthor) -> std::io::Result<()> {
    for (author, stats) in model.stats() {
        writeln!(
            out,
            "    {author:<6} posts: {}, published: {}",
            stats.posts, stats.published
        )?;
    }
    Ok(())
}
