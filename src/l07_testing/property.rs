//! Property tests with std only: a seeded generator, a runner that tries many
//! random inputs, and a shrinker that cuts a failing input down to the
//! commands that matter.

use std::fmt;

// ANCHOR: splitmix
/// SplitMix64 (Steele, Lea and Flood, 2014; constants as in Vigna's
/// reference `splitmix64.c`): a tiny, fast generator whose whole state is one
/// `u64`, so a seed is all it takes to replay a sequence exactly.
///
/// Good enough for generating test inputs; not for keys or anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator that starts from `seed`. The same seed always gives the
    /// same sequence, on every machine.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`, or 0 when `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        // Multiply and keep the high half (Lemire): no division, and a bias of
        // at most bound / 2^64, far too small to matter for test inputs.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}
// ANCHOR_END: splitmix

// ANCHOR: violation
/// A law that an input broke, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The law's name, such as `"balance is never negative"`.
    pub law: &'static str,
    /// What went wrong, for a person to read.
    pub detail: String,
}

impl Violation {
    /// A violation of `law`.
    pub fn new(law: &'static str, detail: impl Into<String>) -> Self {
        Violation {
            law,
            detail: detail.into(),
        }
    }
}
// ANCHOR_END: violation

/// A property that failed, with what it takes to replay the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyFailure<T> {
    /// The seed the run started from: the same seed finds the same failure.
    pub seed: u64,
    /// Which case failed, counting from 1.
    pub case: u32,
    /// How many cases the run would have tried.
    pub cases: u32,
    /// The seed of the failing case alone: `SplitMix64::new(case_seed)`
    /// regenerates its input.
    pub case_seed: u64,
    /// The input as generated.
    pub original: Vec<T>,
    /// The smallest part of it found that still breaks the same law.
    pub shrunk: Vec<T>,
    /// How `shrunk` breaks the law.
    pub violation: Violation,
}

// ANCHOR: check
/// Runs `property` on `cases` inputs made by `generate`, and returns the
/// first failure, shrunk.
///
/// Each case gets its own seed, drawn from a generator seeded with `seed`,
/// so a failure names both the run's seed and the case's.
///
/// # Errors
///
/// A [`PropertyFailure`] for the first input that breaks the property
/// (boxed, to keep the `Ok` path small).
pub fn check<T: Clone>(
    seed: u64,
    cases: u32,
    mut generate: impl FnMut(&mut SplitMix64) -> Vec<T>,
    property: impl Fn(&[T]) -> Result<(), Violation>,
) -> Result<(), Box<PropertyFailure<T>>> {
    let mut seeds = SplitMix64::new(seed);
    for case in 1..=cases {
        let case_seed = seeds.next_u64();
        let input = generate(&mut SplitMix64::new(case_seed));
        if let Err(violation) = property(&input) {
            let (shrunk, violation) = shrink(input.clone(), violation, &property);
            return Err(Box::new(PropertyFailure {
                seed,
                case,
                cases,
                case_seed,
                original: input,
                shrunk,
                violation,
            }));
        }
    }
    Ok(())
}

/// Cuts a failing `input` down: removes runs of items, from half the input
/// long down to single items, keeping every removal after which the same
/// law still breaks, and repeats until no single item can go.
///
/// The result is not always the smallest failing input, but no item in it
/// can be dropped alone. Values inside items are never made smaller.
pub fn shrink<T: Clone>(
    mut input: Vec<T>,
    mut violation: Violation,
    property: impl Fn(&[T]) -> Result<(), Violation>,
) -> (Vec<T>, Violation) {
    let mut changed = true;
    while changed {
        changed = false;
        let mut run = (input.len() / 2).max(1);
        loop {
            let mut start = 0;
            while start + run <= input.len() {
                let candidate: Vec<T> = input[..start]
                    .iter()
                    .chain(&input[start + run..])
                    .cloned()
                    .collect();
                match property(&candidate) {
                    // A different law broke: that is another bug, so keep this one.
                    Err(found) if found.law == violation.law => {
                        input = candidate;
                        violation = found;
                        changed = true;
                    }
                    _ => start += 1,
                }
            }
            if run == 1 {
                break;
            }
            run /= 2;
        }
    }
    (input, violation)
}
// ANCHOR_END: check

/// Panics with the failure's report if `result` is an error, so a test
/// prints a scenario's or a property's failure in full.
///
/// # Panics
///
/// When `result` is an error: that is its purpose.
#[track_caller]
pub fn assert_passes<F: fmt::Display>(result: Result<(), F>) {
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.law, self.detail)
    }
}

impl std::error::Error for Violation {}

impl<T: fmt::Debug> fmt::Display for PropertyFailure<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "property failed on case {} of {} (seed {}, case seed {:#018x})",
            self.case, self.cases, self.seed, self.case_seed
        )?;
        write!(f, "\n  broke: {}", self.violation)?;
        write!(
            f,
            "\n  shrunk from {} items to {}:",
            self.original.len(),
            self.shrunk.len()
        )?;
        for (number, item) in (1..).zip(&self.shrunk) {
            write!(f, "\n    {number}. {item:?}")?;
        }
        write!(
            f,
            "\n  replay: seed {} finds it again; SplitMix64::new({:#018x}) regenerates case {} alone",
            self.seed, self.case_seed, self.case
        )
    }
}

impl<T: fmt::Debug> std::error::Error for PropertyFailure<T> {}
