//! Lesson 4 — queries and time travel, end to end.
//!
//! Run it: `cargo run --example l04_queries`.

use std::error::Error;
use std::io::Write;

use es_workbook::l04_queries::{
    EventStore, Post, PostEvent, PostsView, StreamId, Timestamp, Version, history, load_post,
    post_as_of_time, post_as_of_version,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// 2026-03-02T09:00:00Z; the blog's activity that morning is counted from it.
const NINE_AM: u64 = 1_772_442_000;

fn at(minutes_after_nine: u64) -> Timestamp {
    Timestamp(NINE_AM + 60 * minutes_after_nine)
}

fn describe(post: Option<&Post>) -> String {
    match post {
        None => "no post".to_string(),
        Some(post) => {
            let status = if post.published { "published" } else { "draft" };
            format!("{:?} by {}, {status}", post.title, post.author)
        }
    }
}

/// Records a morning of blogging, then answers questions about it from the
/// streams, from a projection, and as of earlier versions and times.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut store = EventStore::new();
    let hello = StreamId::new("post-1");
    let roadmap = StreamId::new("post-2");
    let notes = StreamId::new("post-3");
    let created = |author: &str, title: &str| PostEvent::PostCreated {
        author: author.into(),
        title: title.into(),
    };
    let retitled = |title: &str| PostEvent::PostRetitled {
        title: title.into(),
    };

    store.append(&hello, vec![created("ada", "Helo")], at(0))?;
    store.append(&roadmap, vec![created("grace", "Roadmap")], at(1))?;
    store.append(&hello, vec![retitled("Hello")], at(2))?;
    store.append(
        &hello,
        vec![retitled("Hello, world"), PostEvent::PostPublished],
        at(5),
    )?;
    store.append(&roadmap, vec![PostEvent::PostPublished], at(5))?;
    // A post from the old blog, published there on 2019-05-04 at 08:00 UTC
    // and imported into this one at 10:00 today.
    let old_blog_publication = Timestamp(1_556_956_800);
    store.append(
        &notes,
        vec![PostEvent::PostImported {
            author: "ada".into(),
            title: "Notes from 2019".into(),
            originally_published_at: old_blog_publication,
        }],
        at(60),
    )?;

    writeln!(out, "Two ways to answer a question")?;
    writeln!(
        out,
        "  {hello} now, from its stream ({} events read):",
        store.read_stream(&hello).len()
    )?;
    writeln!(out, "    {}", describe(load_post(&store, &hello).as_ref()))?;
    let mut scan = PostsView::new();
    let read = scan.catch_up(&store);
    writeln!(
        out,
        "  ada's published posts, folding the whole log ({read} events read):"
    )?;
    for (stream, post) in scan.published_by("ada") {
        writeln!(out, "    {stream} {:?}", post.title)?;
    }
    // A view that has been kept up to date all along: it caught up earlier.
    let mut view = PostsView::new();
    view.catch_up(&store);
    let read = view.catch_up(&store);
    writeln!(
        out,
        "  ada's published posts, from a view at {} ({read} events read):",
        view.checkpoint()
    )?;
    for (stream, post) in view.published_by("ada") {
        writeln!(out, "    {stream} {:?}", post.title)?;
    }

    store.append(&roadmap, vec![retitled("Roadmap 2026")], at(90))?;
    writeln!(out, "  grace retitles {roadmap} at {}, then:", at(90))?;
    writeln!(
        out,
        "    its stream says     {}",
        describe(load_post(&store, &roadmap).as_ref())
    )?;
    writeln!(
        out,
        "    the view at {} says {}",
        view.checkpoint(),
        describe(view.posts().get(&roadmap))
    )?;
    let read = view.catch_up(&store);
    writeln!(
        out,
        "    the view at {} says {} (caught up by reading {read} event)",
        view.checkpoint(),
        describe(view.posts().get(&roadmap))
    )?;

    writeln!(out)?;
    writeln!(out, "{hello} as of each version")?;
    for version in 0..=store.stream_version(&hello).0 {
        let post = post_as_of_version(&store, &hello, Version(version));
        writeln!(out, "  {} {}", Version(version), describe(post.as_ref()))?;
    }

    writeln!(out)?;
    writeln!(out, "{hello} as of recorded times")?;
    let times = [
        Timestamp(NINE_AM - 1),
        at(0),
        Timestamp(NINE_AM + 299),
        at(5),
    ];
    for time in times {
        let post = post_as_of_time(&store, &hello, time);
        let version = store.stream_version_at(&hello, time);
        writeln!(out, "  {time}  {version} {}", describe(post.as_ref()))?;
    }

    for stream in [&hello, &notes] {
        writeln!(out)?;
        writeln!(out, "History of {stream}")?;
        writeln!(
            out,
            "  {:<4}{:<22}{:<22}change",
            "", "recorded at", "effective at"
        )?;
        for entry in history(&store, stream) {
            writeln!(out, "  {entry}")?;
        }
    }

    writeln!(out)?;
    writeln!(out, "{notes}: recorded time is not business time")?;
    let new_year_2020 = Timestamp(1_577_836_800);
    writeln!(out, "  published on the old blog at {old_blog_publication}")?;
    writeln!(
        out,
        "  as of recorded time {new_year_2020}: {}",
        describe(post_as_of_time(&store, &notes, new_year_2020).as_ref())
    )?;
    writeln!(
        out,
        "  as of recorded time {}: {}",
        at(60),
        describe(post_as_of_time(&store, &notes, at(60)).as_ref())
    )?;

    writeln!(out)?;
    writeln!(out, "Times the store refuses")?;
    // post-2's last event was recorded at 10:30; a clock an hour slow says 09:30.
    let slow = store.append(&roadmap, vec![retitled("Roadmap")], at(30));
    // The right time for noon, but in milliseconds.
    let in_milliseconds = Timestamp(at(180).0 * 1_000);
    let wrong_unit = store.append(&hello, vec![retitled("Hi")], in_milliseconds);
    for attempt in [slow, wrong_unit] {
        match attempt {
            Ok(version) => writeln!(out, "  appended at {version}")?,
            Err(error) => writeln!(out, "  refused: {error}")?,
        }
    }
    let version = store.append(&hello, vec![retitled("Hi")], at(180))?;
    writeln!(
        out,
        "  {hello} retitled at {}, in seconds: appended at {version}",
        at(180)
    )?;
    writeln!(
        out,
        "  the store ends at {}: only the good append was recorded",
        store.last_position()
    )?;
    Ok(())
}
