//! The workbook's own consistency checks: the book, the examples and the
//! lessons must agree with each other. These run under plain `cargo test`.
//!
//! To accept a deliberate change in an example's output, run
//! `UPDATE_GOLDEN=1 cargo test --test book` and review the diff of
//! `examples/*.stdout` before committing it.

use std::collections::BTreeSet;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

type Run = fn(&mut Vec<u8>) -> Result<(), Box<dyn Error>>;

/// Compiles each example into this test as a module, so its `run` function
/// can write into a buffer (its `main` is unused here), and lists them all in
/// `EXAMPLES`. `every_lesson_has_a_golden_test` keeps the list in step with
/// the lessons in `src/`.
macro_rules! examples {
    ($($stem:ident => $path:literal,)*) => {
        $(
            #[allow(dead_code)]
            #[path = $path]
            mod $stem;
        )*
        const EXAMPLES: &[(&str, Run)] = &[$((stringify!($stem), |out| $stem::run(out)),)*];
    };
}

examples! {
    l01_event_store => "../examples/l01_event_store.rs",
    l02_commands => "../examples/l02_commands.rs",
    l03_projections => "../examples/l03_projections.rs",
    l04_queries => "../examples/l04_queries.rs",
    l05_cqrs => "../examples/l05_cqrs.rs",
    l06_aggregates => "../examples/l06_aggregates.rs",
    l07_testing => "../examples/l07_testing.rs",
    l08_concurrency => "../examples/l08_concurrency.rs",
    l09_snapshots => "../examples/l09_snapshots.rs",
    l10_versioning => "../examples/l10_versioning.rs",
    l11_subscriptions => "../examples/l11_subscriptions.rs",
    l12_workflows => "../examples/l12_workflows.rs",
    l13_durable_store => "../examples/l13_durable_store.rs",
}

/// The progress view, `cargo run --example exercises`, is the one example
/// that is not a lesson's: it reports on the learner's own code, so it has no
/// golden file. Compiled here, its unit tests run under plain `cargo test`.
#[allow(dead_code)]
#[path = "../examples/exercises.rs"]
mod progress_view;

/// The stem of the one example that belongs to no lesson.
const PROGRESS_VIEW: &str = "exercises";

/// The languages a fence in the book may declare.
const FENCE_LANGUAGES: &[&str] = &["rust", "rust,ignore", "text", "console", "toml"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The lesson stems, such as `l01_event_store`, found in `src/` (a lesson is
/// a file `src/lNN_topic.rs` or a folder `src/lNN_topic/`), in lesson order.
fn lessons() -> Vec<String> {
    let mut stems: Vec<String> = fs::read_dir(root().join("src"))
        .expect("src/ is readable")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .map(|name| name.trim_end_matches(".rs").to_string())
        .filter(|stem| is_lesson_stem(stem))
        .collect();
    stems.sort();
    stems
}

fn is_lesson_stem(stem: &str) -> bool {
    let bytes = stem.as_bytes();
    bytes.len() > 4
        && bytes[0] == b'l'
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_digit()
        && bytes[3] == b'_'
}

/// Every markdown file of the book except `SUMMARY.md`, by file name.
fn chapters() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("book/src"))
        .expect("book/src/ is readable")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".md") && name != "SUMMARY.md")
        .collect();
    names.sort();
    names
}

#[test]
fn every_lesson_has_its_files_and_is_wired_into_the_crate() {
    let lib = read(&root().join("src/lib.rs"));
    let exercises = read(&root().join("src/exercises/mod.rs"));
    let mut missing = Vec::new();
    for stem in lessons() {
        for file in [
            format!("examples/{stem}.rs"),
            format!("examples/{stem}.stdout"),
            format!("tests/{stem}.rs"),
            format!("book/src/{stem}.md"),
            format!("src/exercises/{stem}.rs"),
            format!("src/solutions/{stem}.rs"),
        ] {
            if !root().join(&file).is_file() {
                missing.push(file);
            }
        }
        if !lib.contains(&format!("pub mod {stem};")) {
            missing.push(format!("`pub mod {stem};` in src/lib.rs"));
        }
        let swap = format!("path = \"../solutions/{stem}.rs\")]\npub mod {stem};");
        if !exercises.contains(&swap) {
            missing.push(format!(
                "the solutions swap for {stem} in src/exercises/mod.rs"
            ));
        }
    }
    assert!(!lessons().is_empty(), "no lessons found in src/");
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "missing lesson files or wiring"
    );
}

/// The Rust source files of one lesson module: its file, or every `.rs` file
/// in its folder.
fn lesson_sources(stem: &str) -> Vec<PathBuf> {
    let file = root().join(format!("src/{stem}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let mut files: Vec<PathBuf> = fs::read_dir(root().join(format!("src/{stem}")))
        .expect("a lesson folder is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    files
}

/// A lesson module can be copied into a fresh crate only if it names nothing
/// outside itself: no `crate::` path (it would point at the new crate's root),
/// no other lesson, and no `super::` that climbs out of a folder module.
#[test]
fn every_lesson_module_names_nothing_outside_itself() {
    let mut found = Vec::new();
    for stem in lessons() {
        let is_folder = root().join(format!("src/{stem}")).is_dir();
        for path in lesson_sources(&stem) {
            let in_mod_rs = path.file_name().is_some_and(|name| name == "mod.rs");
            for (number, line) in read(&path).lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                let other_lesson = lessons()
                    .into_iter()
                    .any(|other| other != stem && code.contains(&other));
                // In a folder, `super::` from a submodule reaches the lesson's
                // own `mod.rs`; `super::super::` (or `super::` in the `mod.rs`
                // itself, or in a single-file lesson) leaves the lesson.
                let climbs_out = code.contains("super::super::")
                    || (code.contains("super::")
                        && (!is_folder || in_mod_rs)
                        && !code.contains("use super::*"));
                if code.contains("crate::") || other_lesson || climbs_out {
                    found.push(format!(
                        "{}:{}: {}",
                        path.strip_prefix(root()).unwrap_or(&path).display(),
                        number + 1,
                        code
                    ));
                }
            }
        }
    }
    assert_eq!(
        found,
        Vec::<String>::new(),
        "lesson code that reaches outside its module"
    );
}

#[test]
fn every_chapter_is_compiled_as_a_doctest() {
    let lib = read(&root().join("src/lib.rs"));
    let not_included: Vec<String> = chapters()
        .into_iter()
        .filter(|name| !lib.contains(&format!("include_str!(\"../book/src/{name}\")")))
        .collect();
    assert_eq!(
        not_included,
        Vec::<String>::new(),
        "chapters missing from `mod book` in src/lib.rs"
    );
}

#[test]
fn every_lesson_has_a_golden_test() {
    let listed: Vec<&str> = EXAMPLES.iter().map(|(stem, _)| *stem).collect();
    assert_eq!(
        listed,
        lessons(),
        "EXAMPLES in tests/book.rs must list every lesson, in order"
    );
}

/// Every example is a lesson's, with its golden file, except the progress
/// view, which has none.
#[test]
fn every_example_belongs_to_a_lesson_except_the_progress_view() {
    let stems = |extension: &str| -> Vec<String> {
        let mut found: Vec<String> = fs::read_dir(root().join("examples"))
            .expect("examples/ is readable")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == extension))
            .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
            .collect();
        found.sort();
        found
    };
    let mut expected_programs = lessons();
    expected_programs.push(PROGRESS_VIEW.to_string());
    expected_programs.sort();
    assert_eq!(stems("rs"), expected_programs, "examples/*.rs");
    assert_eq!(stems("stdout"), lessons(), "examples/*.stdout");
}

#[test]
fn every_example_prints_exactly_its_golden_output() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (stem, run) in EXAMPLES {
        let mut out = Vec::new();
        if let Err(error) = run(&mut out) {
            panic!("example {stem} failed: {error}");
        }
        let actual = String::from_utf8(out).expect("example output is UTF-8");
        let path = root().join(format!("examples/{stem}.stdout"));
        if update {
            fs::write(&path, &actual).expect("golden file is writable");
        } else {
            let expected = read(&path);
            assert_eq!(
                expected, actual,
                "examples/{stem}.stdout (left) differs from the run (right)"
            );
        }
    }
}

/// One line of `SUMMARY.md` that mdBook reads as part of the table of contents.
#[derive(Debug)]
enum SummaryLine {
    /// `# Title`: a part title above the numbered chapters that follow.
    Part,
    /// `---`: a separator.
    Separator,
    /// `- [Title](file.md)` at the left margin: a chapter mdBook numbers.
    Numbered { title: String, target: String },
    /// `[Title](file.md)` without a bullet: a prefix or suffix chapter, unnumbered.
    Unnumbered { title: String, target: String },
}

/// Reads `SUMMARY.md` the way mdBook does, as far as these checks need: the
/// first heading is the book's title, not a part; an empty target is a draft.
fn summary_lines() -> Vec<SummaryLine> {
    let summary = read(&root().join("book/src/SUMMARY.md"));
    let link = |text: &str| {
        let text = text.strip_prefix('[')?;
        let (title, rest) = text.split_once("](")?;
        let target = rest.strip_suffix(')')?;
        Some((title.to_string(), target.to_string()))
    };
    let mut lines = Vec::new();
    let mut seen_title = false;
    for line in summary.lines() {
        if let Some(rest) = line.strip_prefix("- ") {
            let (title, target) = link(rest.trim()).unwrap_or_default();
            lines.push(SummaryLine::Numbered { title, target });
        } else if line.starts_with('[') {
            let (title, target) = link(line.trim()).unwrap_or_default();
            lines.push(SummaryLine::Unnumbered { title, target });
        } else if line.starts_with("# ") {
            if seen_title {
                lines.push(SummaryLine::Part);
            }
            seen_title = true;
        } else if line.trim() == "---" {
            lines.push(SummaryLine::Separator);
        }
    }
    lines
}

/// mdBook numbers the chapters of `SUMMARY.md` itself, so the n-th numbered
/// chapter is lesson n and its title carries no number of its own (or the
/// sidebar would read "1. 1. The event store"). The appendices are unnumbered
/// chapters after the lessons, lettered A, B, C… as their pages are headed.
#[test]
fn the_summary_lists_the_introduction_then_the_lessons_in_order() {
    let lines = summary_lines();
    let mut problems = Vec::new();

    match lines.first() {
        Some(SummaryLine::Unnumbered { target, .. }) if target == "introduction.md" => {}
        other => problems.push(format!(
            "the first entry must be the unnumbered [Introduction](introduction.md), not {other:?}"
        )),
    }

    let numbered: Vec<(&String, &String)> = lines
        .iter()
        .filter_map(|line| match line {
            SummaryLine::Numbered { title, target } => Some((title, target)),
            _ => None,
        })
        .collect();
    for (index, (title, target)) in numbered.iter().enumerate() {
        let number = index + 1;
        if title.starts_with(|c: char| c.is_ascii_digit()) {
            problems.push(format!(
                "chapter {number} `{title}`: mdBook numbers chapters itself, drop the number from the title"
            ));
        }
        let stem = target.trim_end_matches(".md");
        if !target.is_empty() && !is_lesson_stem(stem) {
            problems.push(format!(
                "{target} is numbered chapter {number}, but only lessons are numbered"
            ));
        }
        if is_lesson_stem(stem) && stem[1..3].parse::<usize>().ok() != Some(number) {
            problems.push(format!(
                "{target} is numbered chapter {number}, so the sidebar gives it the wrong lesson number"
            ));
        }
    }
    let lessons_linked: Vec<String> = numbered
        .iter()
        .map(|(_, target)| target.to_string())
        .filter(|target| is_lesson_stem(target.trim_end_matches(".md")))
        .collect();
    let expected: Vec<String> = lessons().iter().map(|stem| format!("{stem}.md")).collect();
    assert_eq!(
        lessons_linked, expected,
        "SUMMARY.md must link every lesson, in order"
    );

    let last_numbered = lines
        .iter()
        .rposition(|line| matches!(line, SummaryLine::Numbered { .. }))
        .unwrap_or_default();
    let after_lessons = &lines[last_numbered + 1..];
    if matches!(after_lessons.first(), Some(SummaryLine::Part)) {
        // mdBook 0.5.4 silently drops the first unnumbered chapter after a
        // part title; a separator keeps every appendix in the sidebar.
        problems.push("put `---`, not a part title, between the lessons and the appendices".into());
    }
    let appendices = after_lessons.iter().filter_map(|line| match line {
        SummaryLine::Unnumbered { title, target } => Some((title, target)),
        _ => None,
    });
    for ((title, target), letter) in appendices.zip('A'..='Z') {
        if !title.starts_with(&format!("{letter}. ")) {
            problems.push(format!("appendix `{title}` must be titled `{letter}. …`"));
        }
        if !target.is_empty() {
            let heading = format!("# Appendix {letter} — ");
            let text = fs::read_to_string(root().join("book/src").join(target)).unwrap_or_default();
            if !text.starts_with(&heading) {
                problems.push(format!("{target} must start with `{heading}…`"));
            }
        }
    }

    let linked: BTreeSet<&String> = lines
        .iter()
        .filter_map(|line| match line {
            SummaryLine::Numbered { target, .. } | SummaryLine::Unnumbered { target, .. } => {
                Some(target)
            }
            _ => None,
        })
        .filter(|target| !target.is_empty())
        .collect();
    for target in &linked {
        if !root().join("book/src").join(target).is_file() {
            problems.push(format!("SUMMARY.md links missing {target}"));
        }
    }
    for chapter in chapters() {
        if !linked.contains(&chapter) {
            problems.push(format!(
                "{chapter} is not in SUMMARY.md, so mdBook never renders it"
            ));
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

/// One fenced code block of a chapter.
struct Fence {
    chapter: String,
    /// 1-based line number of the opening fence.
    line: usize,
    language: String,
    body: Vec<String>,
}

/// Splits a chapter into its fences, and reports lines outside fences that
/// markdown would take for an indented code block: an indented line right
/// after a blank line (rustdoc would compile such a block as Rust).
fn parse_chapter(name: &str, text: &str) -> (Vec<Fence>, Vec<String>) {
    let mut fences = Vec::new();
    let mut problems = Vec::new();
    let mut open: Option<Fence> = None;
    let mut after_blank = true;
    for (index, line) in text.lines().enumerate() {
        let follows_blank = std::mem::replace(&mut after_blank, line.trim().is_empty());
        let trimmed = line.trim_start();
        match open.take() {
            Some(fence) if trimmed == "```" => fences.push(fence),
            Some(mut fence) => {
                fence.body.push(line.to_string());
                open = Some(fence);
            }
            None if trimmed.starts_with("```") => {
                open = Some(Fence {
                    chapter: name.to_string(),
                    line: index + 1,
                    language: trimmed.trim_start_matches('`').trim().to_string(),
                    body: Vec::new(),
                });
            }
            None if follows_blank && (line.starts_with("    ") || line.starts_with('\t')) => {
                problems.push(format!(
                    "{name}:{}: indented line outside a fence (an indented code block)",
                    index + 1
                ))
            }
            None => {}
        }
    }
    if let Some(fence) = open {
        problems.push(format!("{name}:{}: fence is never closed", fence.line));
    }
    (fences, problems)
}

fn all_fences() -> (Vec<Fence>, Vec<String>) {
    let mut fences = Vec::new();
    let mut problems = Vec::new();
    for name in chapters() {
        let (mut found, mut wrong) =
            parse_chapter(&name, &read(&root().join("book/src").join(&name)));
        fences.append(&mut found);
        problems.append(&mut wrong);
    }
    (fences, problems)
}

#[test]
fn every_fence_declares_a_known_language_and_nothing_is_indented_code() {
    let (fences, mut problems) = all_fences();
    for fence in &fences {
        if !FENCE_LANGUAGES.contains(&fence.language.as_str()) {
            problems.push(format!(
                "{}:{}: fence language {:?} is not one of {FENCE_LANGUAGES:?}",
                fence.chapter, fence.line, fence.language
            ));
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

/// An `{{#include path}}` or `{{#include path:anchor}}` directive.
struct Include {
    path: String,
    anchor: Option<String>,
}

fn includes_in(line: &str) -> Vec<Include> {
    line.match_indices("{{#include ")
        .filter_map(|(start, directive)| {
            let rest = &line[start + directive.len()..];
            let inner = rest[..rest.find("}}")?].trim();
            let (path, anchor) = match inner.split_once(':') {
                Some((path, anchor)) => (path, Some(anchor.to_string())),
                None => (inner, None),
            };
            Some(Include {
                path: path.to_string(),
                anchor,
            })
        })
        .collect()
}

/// Checks that `anchor` is marked in `source` by whole name and encloses at
/// least one line of real content.
fn anchor_problem(source: &str, anchor: &str) -> Option<String> {
    let marks = |marker: &str| {
        source
            .lines()
            .enumerate()
            .filter(|(_, line)| {
                line.split_once(marker)
                    .is_some_and(|(_, name)| name.trim() == anchor)
            })
            .map(|(index, _)| index)
            .collect::<Vec<_>>()
    };
    let (starts, ends) = (marks("ANCHOR: "), marks("ANCHOR_END: "));
    match (starts.as_slice(), ends.as_slice()) {
        ([], _) => Some(format!("anchor `{anchor}` does not exist")),
        ([_, _, ..], _) => Some(format!("anchor `{anchor}` is marked more than once")),
        ([_], []) => Some(format!("anchor `{anchor}` has no ANCHOR_END")),
        ([start], [end, ..]) if end <= start => {
            Some(format!("anchor `{anchor}` ends before it starts"))
        }
        ([start], [end, ..]) => {
            let has_content = source
                .lines()
                .skip(start + 1)
                .take(end - start - 1)
                .any(|line| !line.trim().is_empty() && !line.contains("ANCHOR"));
            (!has_content).then(|| format!("anchor `{anchor}` is empty"))
        }
    }
}

#[test]
fn every_include_resolves_to_an_existing_file_and_a_non_empty_anchor() {
    let (fences, _) = all_fences();
    let mut problems = Vec::new();
    for name in chapters() {
        let text = read(&root().join("book/src").join(&name));
        for (index, line) in text.lines().enumerate() {
            let at = format!("{name}:{}", index + 1);
            if line.contains("{{#") && !line.contains("{{#include ") {
                problems.push(format!("{at}: only {{{{#include}}}} is used in this book"));
            }
            for include in includes_in(line) {
                let path = root().join("book/src").join(&include.path);
                let Ok(source) = fs::read_to_string(&path) else {
                    problems.push(format!("{at}: {} does not exist", include.path));
                    continue;
                };
                match &include.anchor {
                    Some(anchor) if anchor.chars().all(|c| c.is_ascii_digit() || c == ':') => {
                        problems.push(format!("{at}: include by anchor, not by line numbers"));
                    }
                    Some(anchor) => {
                        if let Some(problem) = anchor_problem(&source, anchor) {
                            problems.push(format!("{at}: {}: {problem}", include.path));
                        }
                    }
                    None if include.path.ends_with(".rs") => {
                        problems.push(format!("{at}: include a region of a .rs file by anchor"));
                    }
                    None => {}
                }
            }
        }
    }
    for fence in &fences {
        for include in fence.body.iter().flat_map(|line| includes_in(line)) {
            let expected = if include.path.ends_with(".rs") {
                "rust,ignore"
            } else {
                "text"
            };
            if fence.language != expected {
                problems.push(format!(
                    "{}:{}: an include of {} belongs in a `{expected}` fence",
                    fence.chapter, fence.line, include.path
                ));
            }
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn every_listing_has_a_caption_naming_its_file_in_order() {
    let mut problems = Vec::new();
    for stem in lessons() {
        let name = format!("{stem}.md");
        let text = read(&root().join("book/src").join(&name));
        let lines: Vec<&str> = text.lines().collect();
        let lesson: u32 = stem[1..3].parse().expect("two digits");
        let mut next = 1;
        for (index, line) in lines.iter().enumerate() {
            if line.trim() != "```rust,ignore" {
                continue;
            }
            let Some(include) = lines
                .get(index + 1)
                .and_then(|l| includes_in(l).into_iter().next())
            else {
                continue;
            };
            let caption = lines[..index]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .copied();
            let file = include.path.trim_start_matches("../../");
            let expected = format!("Listing {lesson}.{next} — {file}");
            if !caption.is_some_and(|c| c.contains(&expected)) {
                problems.push(format!(
                    "{name}:{}: the listing needs a caption line containing `{expected}`",
                    index + 1
                ));
            }
            next += 1;
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn every_chapter_shows_its_golden_output_and_has_the_standard_sections() {
    let mut problems = Vec::new();
    for stem in lessons() {
        let text = read(&root().join(format!("book/src/{stem}.md")));
        let golden = format!("{{{{#include ../../examples/{stem}.stdout}}}}");
        if !text.contains(&golden) {
            problems.push(format!("{stem}.md does not include its golden output"));
        }
        let headings: BTreeSet<String> = text
            .lines()
            .filter(|line| line.starts_with("## "))
            .map(|line| line.trim_start_matches("## ").to_lowercase())
            .collect();
        for section in [
            "run it",
            "test it",
            "exercises",
            "design note",
            "pitfalls",
            "in production",
            "summary",
        ] {
            if !headings.iter().any(|heading| heading.starts_with(section)) {
                problems.push(format!("{stem}.md has no `## {section}…` section"));
            }
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn every_link_to_a_chapter_names_an_existing_file() {
    let mut problems = Vec::new();
    for name in chapters() {
        let text = read(&root().join("book/src").join(&name));
        for (start, _) in text.match_indices("](") {
            let rest = &text[start + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or_default();
            let is_local = !target.contains("://") && target.ends_with(".md");
            if is_local && !root().join("book/src").join(target).is_file() {
                problems.push(format!("{name}: link to missing chapter {target}"));
            }
        }
    }
    assert_eq!(
        problems,
        Vec::<String>::new(),
        "link to a lesson not yet written as plain text"
    );
}

#[test]
fn every_test_the_laws_appendix_names_exists() {
    let appendix = read(&root().join("book/src/appendix_laws.md"));
    let mut named = 0;
    let mut problems = Vec::new();
    for line in appendix.lines() {
        // Lines of the form: - Lesson N: `fn name` in `tests/file.rs`
        let Some((test, file)) = line.split_once("` in `") else {
            continue;
        };
        let Some(test) = test.rsplit_once("`fn ").map(|(_, name)| name) else {
            continue;
        };
        let file = file.trim_end_matches('`');
        named += 1;
        let source = fs::read_to_string(root().join(file)).unwrap_or_default();
        if !source.contains(&format!("fn {test}()")) {
            problems.push(format!("{file} has no test `{test}`"));
        }
    }
    assert!(named >= 8, "the laws appendix names only {named} tests");
    assert_eq!(problems, Vec::<String>::new());
}
