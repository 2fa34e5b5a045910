//! Your progress through the exercises: runs every exercise test with cargo's
//! own test runner and prints each exercise as solved or not yet, per lesson
//! and in total, then the command that checks the first one not yet solved.
//!
//! Run it: `cargo run --example exercises`. With `--features solutions` it
//! checks the reference solutions instead of your code.
//!
//! It is not a lesson: what it prints depends on your code, so it has no
//! golden file. Its unit tests, at the end, run under `cargo test` because
//! `tests/book.rs` compiles this file as a module.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// Runs the exercise tests and prints the report; a crate that does not
/// compile, or a cargo that cannot be started, is reported and exits non-zero.
fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let solutions = cfg!(feature = "solutions");
    let mut out = io::stdout().lock();
    let report = check(root, solutions).and_then(|progress| {
        render(&progress, &stems(root), solutions, &mut out).map_err(|e| e.to_string())
    });
    match report {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = writeln!(io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}

/// The cargo that runs this program (cargo sets `CARGO` for `cargo run`), or
/// the one on the path.
fn cargo(root: &Path, solutions: bool) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or(OsString::from("cargo")));
    command
        .current_dir(root)
        .args(["test", "--offline", "--tests", "--no-fail-fast"])
        .env("RUST_BACKTRACE", "0");
    if solutions {
        command.args(["--features", "solutions"]);
    }
    // Exercise tests are ignored without the solutions and plain tests with
    // them; `--include-ignored` with a name filter runs exactly them either way.
    command.args(["--", "--include-ignored", "exercise_"]);
    command
}

/// Lists the exercise tests, runs them, and groups the results by exercise.
fn check(root: &Path, solutions: bool) -> Result<Vec<Exercise>, String> {
    let listing = cargo(root, solutions)
        .arg("--list")
        .output()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !listing.status.success() {
        return Err(compile_failure(&String::from_utf8_lossy(&listing.stderr)));
    }
    let listed = parse_list(&String::from_utf8_lossy(&listing.stdout));

    let mut child = cargo(root, solutions)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    // Cargo's own messages are not needed, but must be drained so it never
    // blocks on a full pipe.
    let drain = child
        .stderr
        .take()
        .map(|mut stderr| std::thread::spawn(move || io::copy(&mut stderr, &mut io::sink())));
    let mut results = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("could not read cargo's output: {e}"))?;
            if line.ends_with("has been running for over 60 seconds") {
                let _ = writeln!(
                    io::stderr(),
                    "still waiting: {line} (an endless loop or a deadlock?)"
                );
            }
            results.push_str(&line);
            results.push('\n');
        }
    }
    if let Some(drain) = drain {
        let _ = drain.join();
    }
    // Failing exercise tests make cargo exit non-zero; that is the expected
    // state of a learner's crate, not an error of this program.
    let _ = child.wait();
    Ok(group(&listed, &parse_results(&results), &titles(root)))
}

/// What to print when the test targets do not build: the compiler's error
/// lines and where each points to, then what to do.
fn compile_failure(stderr: &str) -> String {
    let mut message = String::from(
        "The tests do not compile against the crate, so no exercise can be checked yet:\n",
    );
    let mut shown = 0;
    let mut previous_was_error = false;
    for line in stderr.lines() {
        let is_error = line.starts_with("error");
        if (is_error || (previous_was_error && line.trim_start().starts_with("-->"))) && shown < 20
        {
            message.push_str("  ");
            message.push_str(line);
            message.push('\n');
            shown += 1;
        }
        previous_was_error = is_error;
    }
    if shown == 0 {
        message.push_str(stderr);
    }
    message.push_str(
        "Run `cargo build --tests` to see the errors in full, fix the first one, and try again.",
    );
    message
}

/// The exercises' titles, from the `ignore = "exercise N.M: title"`
/// attributes of the lesson test files.
fn titles(root: &Path) -> BTreeMap<(u32, u32), String> {
    stems(root)
        .values()
        .filter_map(|stem| std::fs::read_to_string(root.join(format!("tests/{stem}.rs"))).ok())
        .flat_map(|source| parse_titles(&source))
        .collect()
}

/// The lesson stems by lesson number, from the test files in `tests/`.
fn stems(root: &Path) -> BTreeMap<u32, String> {
    let Ok(entries) = std::fs::read_dir(root.join("tests")) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".rs")?.to_string();
            let number = stem.strip_prefix('l')?.get(..2)?.parse().ok()?;
            stem.get(3..4).filter(|sep| *sep == "_")?;
            Some((number, stem))
        })
        .collect()
}

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
}

/// One exercise, with how many of its tests exist, ran and passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    pub lesson: u32,
    pub number: u32,
    /// Its title, or the name of its first test as a sentence.
    pub title: String,
    pub tests: usize,
    pub ran: usize,
    pub passed: usize,
}

impl Exercise {
    /// Solved means every one of its tests ran and passed.
    pub fn is_solved(&self) -> bool {
        self.tests > 0 && self.passed == self.tests
    }
}

/// The lesson, exercise number and sentence of an exercise test named
/// `…::exercise_N_M_sentence`; `None` for any other test.
pub fn exercise_of(test: &str) -> Option<(u32, u32, String)> {
    let name = test.rsplit("::").next()?;
    let mut parts = name.strip_prefix("exercise_")?.splitn(3, '_');
    let lesson = parts.next()?.parse().ok()?;
    let number = parts.next()?.parse().ok()?;
    let sentence = parts.next().unwrap_or_default().replace('_', " ");
    Some((lesson, number, sentence))
}

/// The titles in `"exercise N.M: title"` strings of a test file.
pub fn parse_titles(source: &str) -> BTreeMap<(u32, u32), String> {
    source
        .split("\"exercise ")
        .skip(1)
        .filter_map(|rest| {
            let (label, _) = rest.split_once('"')?;
            let (number, title) = label.split_once(": ")?;
            let (lesson, number) = number.split_once('.')?;
            Some((
                (lesson.parse().ok()?, number.parse().ok()?),
                title.to_string(),
            ))
        })
        .collect()
}

/// The test names in the output of `cargo test -- --list` (`name: test`).
pub fn parse_list(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// The results in the output of `cargo test` (`test name ... ok|FAILED`).
pub fn parse_results(output: &str) -> Vec<(String, Outcome)> {
    output
        .lines()
        .filter_map(|line| {
            let (name, result) = line.strip_prefix("test ")?.rsplit_once(" ... ")?;
            let outcome = match result {
                "ok" => Outcome::Passed,
                "FAILED" => Outcome::Failed,
                _ => return None,
            };
            Some((name.to_string(), outcome))
        })
        .collect()
}

/// Groups the listed exercise tests by exercise, in lesson order, counting
/// which of them ran and passed. A listed test without a result (its test
/// program stopped early) counts as not passed. An exercise without a title
/// in `titles` is named by its first test.
pub fn group(
    listed: &[String],
    results: &[(String, Outcome)],
    titles: &BTreeMap<(u32, u32), String>,
) -> Vec<Exercise> {
    let outcomes: BTreeMap<&str, Outcome> = results
        .iter()
        .map(|(name, outcome)| (name.as_str(), *outcome))
        .collect();
    let mut exercises: BTreeMap<(u32, u32), Exercise> = BTreeMap::new();
    for test in listed {
        let Some((lesson, number, sentence)) = exercise_of(test) else {
            continue;
        };
        let exercise = exercises
            .entry((lesson, number))
            .or_insert_with(|| Exercise {
                lesson,
                number,
                title: titles.get(&(lesson, number)).cloned().unwrap_or(sentence),
                tests: 0,
                ran: 0,
                passed: 0,
            });
        exercise.tests += 1;
        match outcomes.get(test.as_str()) {
            Some(Outcome::Passed) => {
                exercise.ran += 1;
                exercise.passed += 1;
            }
            Some(Outcome::Failed) => exercise.ran += 1,
            None => {}
        }
    }
    exercises.into_values().collect()
}

/// Prints every exercise by lesson, the totals, and what to run next.
pub fn render(
    exercises: &[Exercise],
    stems: &BTreeMap<u32, String>,
    solutions: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let whose = if solutions {
        "the reference solutions in src/solutions/"
    } else {
        "your code in src/exercises/"
    };
    writeln!(out, "Exercises, checked against {whose}:")?;
    let mut lessons: BTreeMap<u32, Vec<&Exercise>> = BTreeMap::new();
    for exercise in exercises {
        lessons.entry(exercise.lesson).or_default().push(exercise);
    }
    for (lesson, list) in &lessons {
        let solved = list.iter().filter(|e| e.is_solved()).count();
        let name = stems.get(lesson).map(String::as_str).unwrap_or("?");
        writeln!(out)?;
        writeln!(
            out,
            "Lesson {lesson} ({name}): {solved} of {} solved",
            list.len()
        )?;
        for exercise in list {
            let status = if exercise.is_solved() {
                "solved "
            } else {
                "not yet"
            };
            let mut note = String::new();
            if exercise.ran < exercise.tests {
                note = format!(
                    " ({} of its tests gave no result: their test program stopped early)",
                    exercise.tests - exercise.ran
                );
            } else if exercise.tests > 1 && !exercise.is_solved() {
                note = format!(" ({} of {} tests pass)", exercise.passed, exercise.tests);
            }
            writeln!(
                out,
                "  {status}  {}.{}  {}{note}",
                exercise.lesson, exercise.number, exercise.title
            )?;
        }
    }
    let solved = exercises.iter().filter(|e| e.is_solved()).count();
    writeln!(out)?;
    writeln!(
        out,
        "Total: {solved} of {} exercises solved",
        exercises.len()
    )?;
    let Some(next) = exercises.iter().find(|e| !e.is_solved()) else {
        if !exercises.is_empty() {
            writeln!(out, "Every exercise is solved.")?;
        }
        return Ok(());
    };
    let filter = format!("exercise_{}_{}", next.lesson, next.number);
    let target = match stems.get(&next.lesson) {
        Some(stem) => format!("--test {stem}"),
        None => "--tests".to_string(),
    };
    let command = if solutions {
        format!("cargo test --features solutions {target} {filter}")
    } else {
        format!("cargo test {target} {filter} -- --ignored")
    };
    writeln!(out)?;
    match stems.get(&next.lesson) {
        Some(stem) if !solutions => writeln!(
            out,
            "Next: exercise {}.{} (book/src/{stem}.md; your code goes in src/exercises/{stem}.rs). Check it with:",
            next.lesson, next.number
        )?,
        _ => writeln!(
            out,
            "Next: exercise {}.{}. Check it with:",
            next.lesson, next.number
        )?,
    }
    writeln!(out, "  {command}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn only_tests_named_exercise_n_m_are_exercises() {
        // given / when / then
        assert_eq!(
            exercise_of("exercises::exercise_3_2_search_finds_posts"),
            Some((3, 2, "search finds posts".to_string()))
        );
        assert_eq!(exercise_of("exercise_10_4"), Some((10, 4, String::new())));
        assert_eq!(
            exercise_of("a_rebuild_equals_the_incremental_read_model"),
            None
        );
        assert_eq!(exercise_of("exercises::the_exercise_helper_works"), None);
        assert_eq!(exercise_of("exercises::exercise_x_1_nonsense"), None);
    }

    #[test]
    fn titles_come_from_the_ignore_attributes_and_otherwise_from_the_test_name() {
        // given
        let source = r#"
            #[cfg_attr(not(feature = "solutions"), ignore = "exercise 1.2: read a category")]
            fn exercise_1_2_a_category_read_keeps_global_order() {}
            #[cfg_attr(not(feature = "solutions"), ignore = "exercise 10.1: an upcaster")]
            fn exercise_10_1_old_events_read_as_new() {}
        "#;
        let listed = names(&[
            "x::exercise_1_2_a_category_read",
            "x::exercise_1_3_streams_changed",
        ]);

        // when
        let titles = parse_titles(source);
        let exercises = group(&listed, &[], &titles);

        // then
        assert_eq!(
            titles,
            BTreeMap::from([
                ((1, 2), "read a category".to_string()),
                ((10, 1), "an upcaster".to_string()),
            ])
        );
        let shown: Vec<&str> = exercises.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(shown, vec!["read a category", "streams changed"]);
    }

    #[test]
    fn the_listing_and_the_results_are_read_from_cargos_output() {
        // given
        let listing = "exercises::exercise_1_1_a: test\n\n1 tests, 0 benchmarks\n";
        let run = "running 2 tests\n\
                   test exercises::exercise_1_1_a ... ok\n\
                   test exercises::exercise_1_2_b ... FAILED\n\
                   test other ... ignored, not an exercise\n\
                   test result: FAILED. 1 passed; 1 failed; 0 ignored\n";

        // when
        let listed = parse_list(listing);
        let results = parse_results(run);

        // then
        assert_eq!(listed, names(&["exercises::exercise_1_1_a"]));
        assert_eq!(
            results,
            vec![
                ("exercises::exercise_1_1_a".to_string(), Outcome::Passed),
                ("exercises::exercise_1_2_b".to_string(), Outcome::Failed),
            ]
        );
    }

    #[test]
    fn an_exercise_is_solved_only_when_all_its_tests_pass() {
        // given: exercise 2.1 has two tests, one failing; 1.1 has one, passing
        let listed = names(&[
            "exercises::exercise_2_1_first",
            "exercises::exercise_2_1_second",
            "exercises::exercise_1_1_only",
            "exercises::not_an_exercise",
        ]);
        let results = vec![
            ("exercises::exercise_2_1_first".to_string(), Outcome::Passed),
            (
                "exercises::exercise_2_1_second".to_string(),
                Outcome::Failed,
            ),
            ("exercises::exercise_1_1_only".to_string(), Outcome::Passed),
        ];

        // when
        let exercises = group(&listed, &results, &BTreeMap::new());

        // then: in lesson order, 1.1 solved, 2.1 not yet
        let summary: Vec<(u32, u32, usize, usize, bool)> = exercises
            .iter()
            .map(|e| (e.lesson, e.number, e.tests, e.passed, e.is_solved()))
            .collect();
        assert_eq!(summary, vec![(1, 1, 1, 1, true), (2, 1, 2, 1, false)]);
    }

    #[test]
    fn a_listed_test_without_a_result_leaves_its_exercise_not_yet_solved() {
        // given: the test program stopped before the test reported
        let listed = names(&["exercises::exercise_8_1_race"]);

        // when
        let exercises = group(&listed, &[], &BTreeMap::new());

        // then
        assert_eq!(exercises.len(), 1);
        assert_eq!((exercises[0].ran, exercises[0].is_solved()), (0, false));
    }

    #[test]
    fn the_report_names_every_exercise_the_totals_and_the_next_command() {
        // given
        let listed = names(&[
            "x::exercise_1_1_reads_back",
            "x::exercise_1_2_reads_a_category",
        ]);
        let results = vec![
            ("x::exercise_1_1_reads_back".to_string(), Outcome::Passed),
            (
                "x::exercise_1_2_reads_a_category".to_string(),
                Outcome::Failed,
            ),
        ];
        let stems = BTreeMap::from([(1, "l01_event_store".to_string())]);

        // when
        let mut out = Vec::new();
        render(
            &group(&listed, &results, &BTreeMap::new()),
            &stems,
            false,
            &mut out,
        )
        .expect("writes to a Vec");

        // then
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "Exercises, checked against your code in src/exercises/:\n\
             \n\
             Lesson 1 (l01_event_store): 1 of 2 solved\n\
             \x20 solved   1.1  reads back\n\
             \x20 not yet  1.2  reads a category\n\
             \n\
             Total: 1 of 2 exercises solved\n\
             \n\
             Next: exercise 1.2 (book/src/l01_event_store.md; your code goes in src/exercises/l01_event_store.rs). Check it with:\n\
             \x20 cargo test --test l01_event_store exercise_1_2 -- --ignored\n"
        );
    }

    #[test]
    fn a_crate_that_does_not_compile_is_reported_with_the_compilers_errors() {
        // given
        let stderr = "   Compiling es-workbook v0.1.0\n\
                      error[E0308]: mismatched types\n\
                      \x20 --> src/exercises/l01_event_store.rs:12:5\n\
                      \x20  |\n\
                      error: could not compile `es-workbook` (lib) due to 1 previous error\n";

        // when
        let message = compile_failure(stderr);

        // then
        assert_eq!(
            message,
            "The tests do not compile against the crate, so no exercise can be checked yet:\n\
             \x20 error[E0308]: mismatched types\n\
             \x20   --> src/exercises/l01_event_store.rs:12:5\n\
             \x20 error: could not compile `es-workbook` (lib) due to 1 previous error\n\
             Run `cargo build --tests` to see the errors in full, fix the first one, and try again."
        );
    }
}
