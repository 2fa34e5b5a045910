//! Tests for lesson 9 — snapshots, then its exercises.

use pretty_assertions::assert_eq;

use es_workbook::l09_snapshots::{
    AccountCommand, AccountError, AccountEvent, AccountRepository, AccountState, AppendError,
    Cents, CommandError, DecodeError, SNAPSHOT_SCHEMA, Snapshot, SnapshotPolicy, SnapshotRejected,
    SnapshotStore, SnapshotUse, StreamId, Timestamp, Version, decide, decode_state, encode_state,
    evolve, initial_state,
};

/// SplitMix64: a tiny, seeded, std-only generator, so every generated history
/// can be replayed from the seed printed when a test fails.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SEEDS: u64 = 40;

fn open() -> AccountCommand {
    AccountCommand::OpenAccount {
        owner: "Ada".into(),
        email: "ada@example.com".into(),
    }
}

fn deposit(cents: u64) -> AccountCommand {
    AccountCommand::DepositMoney {
        amount: Cents(cents),
    }
}

fn withdraw(cents: u64) -> AccountCommand {
    AccountCommand::WithdrawMoney {
        amount: Cents(cents),
    }
}

fn open_with(balance: u64) -> AccountState {
    AccountState::Open {
        balance: Cents(balance),
    }
}

/// Runs `commands` through a repository and expects each to be accepted.
fn account_with(
    policy: SnapshotPolicy,
    commands: &[AccountCommand],
) -> (AccountRepository, StreamId) {
    let mut repo = AccountRepository::new(policy);
    let stream = StreamId::new("account-1");
    for (second, command) in (0..).zip(commands) {
        repo.execute(&stream, command, Timestamp(100 * (second + 1)))
            .expect("every command of the fixture is accepted");
    }
    (repo, stream)
}

/// Open, then nine deposits of 1.00, 2.00, ... 9.00: ten events, and the
/// balance at version v (v >= 1) is 100 * (1 + 2 + ... + (v - 1)) cents.
fn ten_event_account(policy: SnapshotPolicy) -> (AccountRepository, StreamId) {
    let mut commands = vec![open()];
    commands.extend((1..=9).map(|n| deposit(100 * n)));
    account_with(policy, &commands)
}

fn balance_at(version: u64) -> u64 {
    (1..version).map(|n| 100 * n).sum()
}

/// A random history of commands for one account, with an independent model of
/// what the account should accept and what its state should end as. Returns
/// the repository, the stream, and the state the model expects.
fn generated_account(
    seed: u64,
    commands: usize,
    policy: SnapshotPolicy,
) -> (AccountRepository, StreamId, AccountState) {
    let mut rng = SplitMix64(seed);
    let mut repo = AccountRepository::new(policy);
    let stream = StreamId::new(format!("account-{seed}"));
    repo.execute(&stream, &open(), Timestamp(0))
        .expect("a new account opens");
    let mut model = open_with(0);
    for step in 1..=commands as u64 {
        let balance = match model {
            AccountState::Open { balance } => balance.0,
            _ => 0,
        };
        let (command, next) = match rng.below(100) {
            0..=49 => {
                let amount = 1 + rng.below(10_000);
                (deposit(amount), open_with(balance + amount))
            }
            50..=84 => {
                let amount = rng.below(balance + 2_000);
                let ok = amount > 0 && amount <= balance;
                let next = if ok {
                    open_with(balance - amount)
                } else {
                    model
                };
                (withdraw(amount), next)
            }
            85..=94 => (
                withdraw(balance),
                if balance > 0 { open_with(0) } else { model },
            ),
            _ => {
                let next = if balance == 0 {
                    AccountState::Closed
                } else {
                    model
                };
                (AccountCommand::CloseAccount, next)
            }
        };
        let next = if model == AccountState::Closed {
            model
        } else {
            next
        };
        let accepted = repo.execute(&stream, &command, Timestamp(step)).is_ok();
        assert_eq!(
            accepted,
            next != model,
            "seed {seed}, step {step}: {command:?} on {model:?}"
        );
        model = next;
    }
    (repo, stream, model)
}

fn events_of(repo: &AccountRepository, stream: &StreamId) -> Vec<AccountEvent> {
    repo.store
        .read_stream(stream)
        .iter()
        .map(|recorded| recorded.event.clone())
        .collect()
}

fn fold(events: &[AccountEvent]) -> AccountState {
    events.iter().fold(initial_state(), evolve)
}

// ANCHOR: law_6_test
#[test]
fn snapshot_plus_tail_equals_full_replay_at_every_snapshot_point() {
    for seed in 0..SEEDS {
        // given: a random history, checked against an independent model
        let (mut repo, stream, expected) = generated_account(seed, 60, SnapshotPolicy::Never);
        let full = repo.replay(&stream);
        assert_eq!(full.state, expected, "seed {seed}: full replay");
        let events = events_of(&repo, &stream);

        for v in 0..=events.len() {
            // given: the only snapshot is the fold of the first v events
            repo.snapshots = SnapshotStore::new();
            let at = Version(v as u64);
            repo.snapshots
                .save(&stream, Snapshot::of(&fold(&events[..v]), at));

            // when
            let loaded = repo.load(&stream);

            // then: law 6, and only the tail was replayed
            assert_eq!(
                (loaded.state, loaded.version),
                (full.state, full.version),
                "seed {seed}, snapshot at {at}"
            );
            assert_eq!(loaded.snapshot, SnapshotUse::Used(at), "seed {seed}");
            assert_eq!(
                loaded.events_replayed,
                (events.len() - v) as u64,
                "seed {seed}"
            );
        }
    }
}
// ANCHOR_END: law_6_test

#[test]
fn as_of_any_version_equals_folding_the_first_v_events_whatever_the_snapshots() {
    for seed in 0..SEEDS {
        // given: snapshots taken by the policy every 4 events
        let (repo, stream, _) = generated_account(seed, 40, SnapshotPolicy::Every(4));
        let events = events_of(&repo, &stream);
        let n = events.len() as u64;

        for v in 0..=n + 2 {
            // when
            let loaded = repo.load_as_of(&stream, Version(v));

            // then: law 5, from a snapshot at or below v
            let upto = v.min(n);
            assert_eq!(
                (loaded.state, loaded.version),
                (fold(&events[..upto as usize]), Version(upto)),
                "seed {seed}, as of v{v}"
            );
            let start = upto / 4 * 4;
            let expected_use = if start == 0 {
                SnapshotUse::NoSnapshot
            } else {
                SnapshotUse::Used(Version(start))
            };
            assert_eq!(loaded.snapshot, expected_use, "seed {seed}, as of v{v}");
            assert_eq!(loaded.events_replayed, upto - start, "seed {seed}");
        }
    }
}

#[test]
fn an_as_of_query_never_uses_a_snapshot_newer_than_its_version() {
    // given: snapshots at v3 and v6; the one at v6 is wrong on purpose, so
    // using it for an earlier version would show in the balance
    let (mut repo, stream) = ten_event_account(SnapshotPolicy::Never);
    repo.snapshots
        .save(&stream, Snapshot::of(&open_with(balance_at(3)), Version(3)));
    repo.snapshots
        .save(&stream, Snapshot::of(&open_with(999_999), Version(6)));

    // when
    let at_two = repo.load_as_of(&stream, Version(2));
    let at_five = repo.load_as_of(&stream, Version(5));

    // then
    assert_eq!(
        (at_two.state, at_two.snapshot, at_two.events_replayed),
        (open_with(balance_at(2)), SnapshotUse::NoSnapshot, 2)
    );
    assert_eq!(
        (at_five.state, at_five.snapshot, at_five.events_replayed),
        (open_with(balance_at(5)), SnapshotUse::Used(Version(3)), 2)
    );
}

#[test]
fn a_snapshot_with_another_schema_version_is_discarded_and_the_state_rebuilt_from_events() {
    for found in [0, SNAPSHOT_SCHEMA + 1] {
        // given: a payload that decodes fine but was written by other code
        let (mut repo, stream) = ten_event_account(SnapshotPolicy::Every(5));
        repo.snapshots.save(
            &stream,
            Snapshot {
                version: Version(10),
                schema: found,
                payload: "open:42".into(),
            },
        );

        // when
        let loaded = repo.load(&stream);

        // then
        assert_eq!(
            loaded.snapshot,
            SnapshotUse::Discarded {
                version: Version(10),
                reason: SnapshotRejected::SchemaMismatch {
                    found,
                    expected: SNAPSHOT_SCHEMA
                },
            }
        );
        assert_eq!(
            (loaded.state, loaded.version, loaded.events_replayed),
            (open_with(balance_at(10)), Version(10), 10)
        );
    }
}

#[test]
fn an_undecodable_snapshot_is_discarded_and_the_state_rebuilt_from_events() {
    // given: payloads with the right schema that do not decode
    let (mut repo, stream) = ten_event_account(SnapshotPolicy::Never);
    let full = repo.replay(&stream);
    let cases = [
        ("", DecodeError::Empty),
        ("open:007", DecodeError::LeadingZero),
        ("open:5 ", DecodeError::NotADigit { offset: 6 }),
        ("open:18446744073709551616", DecodeError::Overflow),
    ];

    for (payload, error) in cases {
        repo.snapshots.save(
            &stream,
            Snapshot {
                version: Version(10),
                schema: SNAPSHOT_SCHEMA,
                payload: payload.into(),
            },
        );

        // when
        let loaded = repo.load(&stream);

        // then
        assert_eq!(
            loaded.snapshot,
            SnapshotUse::Discarded {
                version: Version(10),
                reason: SnapshotRejected::Undecodable {
                    payload: payload.into(),
                    error,
                },
            },
            "payload {payload:?}"
        );
        assert_eq!(
            (loaded.state, loaded.version, loaded.events_replayed),
            (full.state, full.version, 10)
        );
    }
}

#[test]
fn a_wrong_snapshot_that_decodes_lets_decide_record_a_withdrawal_the_events_never_covered() {
    // given: 10.00 in the account, and a snapshot at the same version that
    // has the right schema and a canonical payload but says 1,000.00
    let (mut repo, stream) = account_with(SnapshotPolicy::Never, &[open(), deposit(1_000)]);
    repo.snapshots
        .save(&stream, Snapshot::of(&open_with(100_000), Version(2)));

    // when
    let withdrawal = repo.execute(&stream, &withdraw(50_000), Timestamp(1_000));

    // then: the overdraft is now a recorded fact, and only a comparison with
    // the events shows that anything is wrong
    assert_eq!(withdrawal, Ok(Version(3)));
    assert_eq!(
        events_of(&repo, &stream).last(),
        Some(&AccountEvent::MoneyWithdrawn {
            amount: Cents(50_000)
        })
    );
    assert_eq!(repo.load(&stream).state, open_with(50_000));
    assert_eq!(repo.replay(&stream).state, open_with(0));
}

#[test]
fn decoding_refuses_every_payload_that_encoding_would_not_write_and_names_what_is_wrong() {
    // given: (payload, what is wrong with it)
    let cases = [
        ("", DecodeError::Empty),
        ("open:007", DecodeError::LeadingZero),
        ("open:00", DecodeError::LeadingZero),
        ("open:01", DecodeError::LeadingZero),
        ("open:+7", DecodeError::NotADigit { offset: 5 }),
        ("open:-7", DecodeError::NotADigit { offset: 5 }),
        ("open: 7", DecodeError::NotADigit { offset: 5 }),
        ("open:7 ", DecodeError::NotADigit { offset: 6 }),
        ("open:7\n", DecodeError::NotADigit { offset: 6 }),
        ("open:1.50", DecodeError::NotADigit { offset: 6 }),
        ("open:12x", DecodeError::NotADigit { offset: 7 }),
        ("open:7:8", DecodeError::NotADigit { offset: 6 }),
        ("open:\u{663}", DecodeError::NotADigit { offset: 5 }), // an Arabic-Indic 3
        ("open:", DecodeError::MissingBalance),
        ("open:18446744073709551616", DecodeError::Overflow),
        ("open:99999999999999999999999", DecodeError::Overflow),
        ("open", DecodeError::UnknownState),
        ("OPEN:5", DecodeError::UnknownState),
        (" open:5", DecodeError::UnknownState),
        ("closed:1", DecodeError::UnknownState),
        ("closed ", DecodeError::UnknownState),
        ("not opened", DecodeError::UnknownState),
        ("not-opened\n", DecodeError::UnknownState),
        ("öpen:5", DecodeError::UnknownState),
    ];

    for (payload, error) in cases {
        // when
        let decoded = decode_state(payload);

        // then
        assert_eq!(decoded, Err(error), "payload {payload:?}");
    }
}

#[test]
fn every_state_survives_an_encode_and_decode_round_trip() {
    // given: each state, the balances at the edges of every decimal length,
    // and random balances of every size
    let mut states = vec![AccountState::NotOpened, AccountState::Closed];
    let mut power = 1u64;
    while let Some(next) = power.checked_mul(10) {
        states.extend([open_with(power - 1), open_with(power), open_with(power + 1)]);
        power = next;
    }
    states.extend([open_with(u64::MAX - 1), open_with(u64::MAX)]);
    let mut rng = SplitMix64(FUZZ_SEED);
    states.extend((0..2_000).map(|_| {
        let shift = rng.below(64);
        open_with(rng.next() >> shift)
    }));

    for state in states {
        // when
        let encoded = encode_state(&state);

        // then
        assert_eq!(
            decode_state(&encoded),
            Ok(state),
            "seed {FUZZ_SEED:#x}: {encoded:?}"
        );
        assert_eq!(Snapshot::of(&state, Version(7)).restore(), Ok(state));
    }
    assert_eq!(encode_state(&open_with(0)), "open:0");
    assert_eq!(
        encode_state(&open_with(u64::MAX)),
        "open:18446744073709551615"
    );
}

/// The seed of the random payloads; every failure message prints it.
const FUZZ_SEED: u64 = 0x0009_5EED;

/// A random payload: raw bytes, `open:` and a run of digits, or a valid
/// payload with one byte changed, inserted or removed.
fn random_payload(rng: &mut SplitMix64) -> String {
    const VALID: [&str; 5] = [
        "not-opened",
        "closed",
        "open:0",
        "open:11250",
        "open:18446744073709551615",
    ];
    // Bytes that make near misses: digits, signs, spaces, the separator, and
    // the first byte of a two-byte UTF-8 character.
    const NEAR: &[u8] = b"0123456789+- \t\n:.xe\xC3";
    let bytes: Vec<u8> = match rng.below(4) {
        0 => (0..rng.below(24)).map(|_| rng.next() as u8).collect(),
        1 => {
            let digits = (0..rng.below(26)).map(|_| b'0' + rng.below(10) as u8);
            b"open:".iter().copied().chain(digits).collect()
        }
        _ => {
            let mut bytes = VALID[rng.below(VALID.len() as u64) as usize]
                .as_bytes()
                .to_vec();
            let at = rng.below(bytes.len() as u64) as usize;
            let byte = NEAR[rng.below(NEAR.len() as u64) as usize];
            match rng.below(3) {
                0 => bytes.insert(at, byte),
                1 => bytes[at] = byte,
                _ => {
                    bytes.remove(at);
                }
            }
            bytes
        }
    };
    // A payload is a `String`, so bytes that are not UTF-8 never reach the
    // decoder; the lossy conversion keeps the rest of them.
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn no_random_payload_makes_decoding_panic_or_accept_a_form_encoding_would_not_write() {
    // given
    let mut rng = SplitMix64(FUZZ_SEED);
    let mut accepted = 0;

    for case in 0..20_000 {
        let payload = random_payload(&mut rng);

        // when
        let decoded = std::panic::catch_unwind(|| decode_state(&payload));

        // then: no panic, and whatever decodes is exactly what encode writes
        let decoded = decoded.unwrap_or_else(|_| {
            panic!("seed {FUZZ_SEED:#x}, case {case}: decoding {payload:?} panicked")
        });
        if let Ok(state) = decoded {
            accepted += 1;
            assert_eq!(
                encode_state(&state),
                payload,
                "seed {FUZZ_SEED:#x}, case {case}: a payload encode would not write decoded"
            );
        }
    }
    assert!(accepted > 0, "seed {FUZZ_SEED:#x}: no payload ever decoded");
}

#[test]
fn the_policy_is_due_when_an_append_reaches_or_crosses_a_multiple_of_n() {
    // given: (policy, before, after, due?)
    let cases = [
        (SnapshotPolicy::Every(3), 0, 1, false),
        (SnapshotPolicy::Every(3), 2, 3, true),
        (SnapshotPolicy::Every(3), 3, 4, false),
        (SnapshotPolicy::Every(3), 2, 4, true), // a batch that jumps over 3
        (SnapshotPolicy::Every(3), 4, 5, false),
        (SnapshotPolicy::Every(3), 1, 8, true), // crosses 3 and 6: one snapshot
        (SnapshotPolicy::Every(1), 4, 5, true),
        (SnapshotPolicy::Every(3), 5, 5, false), // nothing appended
        (SnapshotPolicy::Every(0), 0, 100, false),
        (SnapshotPolicy::Never, 0, 100, false),
    ];

    for (policy, before, after, expected) in cases {
        // when
        let due = policy.due(Version(before), Version(after));

        // then
        assert_eq!(due, expected, "{policy:?} from v{before} to v{after}");
    }
}

#[test]
fn execute_snapshots_by_policy_and_a_rejected_command_appends_and_snapshots_nothing() {
    // given
    let mut repo = AccountRepository::new(SnapshotPolicy::Every(2));
    let stream = StreamId::new("account-7");

    // when
    let results: Vec<Result<Version, CommandError>> = [
        open(),
        deposit(500),
        withdraw(900),
        deposit(250),
        withdraw(100),
    ]
    .iter()
    .map(|command| repo.execute(&stream, command, Timestamp(1)))
    .collect();

    // then
    assert_eq!(
        results,
        vec![
            Ok(Version(1)),
            Ok(Version(2)),
            Err(CommandError::Rejected(AccountError::InsufficientFunds {
                balance: Cents(500),
                requested: Cents(900)
            })),
            Ok(Version(3)),
            Ok(Version(4)),
        ]
    );
    let snapshots: Vec<(Version, Result<AccountState, SnapshotRejected>)> = repo
        .snapshots
        .snapshots_of(&stream)
        .into_iter()
        .map(|snapshot| (snapshot.version, snapshot.restore()))
        .collect();
    assert_eq!(
        snapshots,
        vec![
            (Version(2), Ok(open_with(500))),
            (Version(4), Ok(open_with(650)))
        ]
    );
    let loaded = repo.load(&stream);
    assert_eq!(
        (loaded.snapshot, loaded.events_replayed),
        (SnapshotUse::Used(Version(4)), 0)
    );
}

#[test]
fn a_repeated_command_is_recognised_after_a_snapshot() {
    use es_workbook::l09_snapshots::{Appended, CommandId};

    // given: req-2 deposited 5.00, then a snapshot was taken above it
    let mut repo = AccountRepository::new(SnapshotPolicy::Every(2));
    let stream = StreamId::new("account-1");
    let (open_id, req) = (CommandId::new("req-1"), CommandId::new("req-2"));
    repo.execute_once(&stream, &open_id, &open(), Timestamp(1))
        .expect("a new account opens");
    let first = repo.execute_once(&stream, &req, &deposit(500), Timestamp(2));
    assert_eq!(repo.load(&stream).snapshot, SnapshotUse::Used(Version(2)));

    // when: the client, which lost the reply, sends req-2 again, and then
    // reuses it for another command
    let again = repo.execute_once(&stream, &req, &deposit(500), Timestamp(3));
    let reused = repo.execute_once(&stream, &req, &withdraw(100), Timestamp(4));

    // then: the repeat is recognised although the load read no event, and
    // the reuse is refused
    assert_eq!(first, Ok(Appended::Now(Version(2))));
    assert_eq!(again, Ok(Appended::AlreadyApplied(Version(2))));
    let reused_id = AppendError::CommandIdReused { id: req };
    assert_eq!(reused, Err(CommandError::Append(reused_id)));
    assert_eq!(repo.replay(&stream).state, open_with(500));
}

#[test]
fn a_repeated_withdrawal_that_emptied_the_account_is_already_applied_not_refused() {
    use es_workbook::l09_snapshots::{Appended, CommandId};

    // given: req-w withdrew all 5.00
    let (mut repo, stream) = account_with(SnapshotPolicy::Every(1), &[open(), deposit(500)]);
    let req = CommandId::new("req-w");
    let first = repo.execute_once(&stream, &req, &withdraw(500), Timestamp(300));

    // when: it is sent again, to an account that now holds nothing
    let again = repo.execute_once(&stream, &req, &withdraw(500), Timestamp(400));

    // then: the answer is the first one's, not "insufficient funds"
    assert_eq!(first, Ok(Appended::Now(Version(3))));
    assert_eq!(again, Ok(Appended::AlreadyApplied(Version(3))));
    assert_eq!(repo.store.stream_version(&stream), Version(3));
}

#[test]
fn a_different_command_under_a_used_id_is_refused_by_append_with_nothing_appended() {
    use es_workbook::l09_snapshots::{Appended, CommandId, Fingerprint};

    // given: req-2 deposited 5.00 on account-1 through the store's append
    let (mut repo, one) = account_with(SnapshotPolicy::Never, &[open()]);
    let two = StreamId::new("account-2");
    let req = CommandId::new("req-2");
    let deposit_event = || vec![AccountEvent::MoneyDeposited { amount: Cents(500) }];
    let as_deposit = || Some((req.clone(), Fingerprint::of(&deposit(500))));
    let first = repo.store.append(
        &one,
        Version(1),
        deposit_event(),
        Timestamp(200),
        as_deposit(),
    );
    assert_eq!(first, Ok(Appended::Now(Version(2))));

    // when: the id comes back with a withdrawal, with the same deposit on
    // another stream, and with the same deposit on its own stream
    let withdrawal = repo.store.append(
        &one,
        Version(2),
        vec![AccountEvent::MoneyWithdrawn { amount: Cents(100) }],
        Timestamp(300),
        Some((req.clone(), Fingerprint::of(&withdraw(100)))),
    );
    let elsewhere = repo.store.append(
        &two,
        Version(0),
        deposit_event(),
        Timestamp(300),
        as_deposit(),
    );
    let repeat = repo.store.append(
        &one,
        Version(2),
        deposit_event(),
        Timestamp(300),
        as_deposit(),
    );

    // then: both reuses are refused and append nothing; the repeat appends
    // nothing either
    let refused = Err(AppendError::CommandIdReused { id: req.clone() });
    assert_eq!(withdrawal, refused);
    assert_eq!(elsewhere, refused);
    assert_eq!(repeat, Ok(Appended::AlreadyApplied(Version(2))));
    assert_eq!(repo.store.stream_version(&one), Version(2));
    assert_eq!(repo.store.stream_version(&two), Version(0));
    assert_eq!(repo.replay(&one).state, open_with(500));
}

#[test]
fn reading_after_a_version_returns_exactly_the_later_events_of_that_stream_only() {
    // given: two streams whose appends interleave
    let (mut repo, one) = ten_event_account(SnapshotPolicy::Never);
    let two = StreamId::new("account-2");
    repo.execute(&two, &open(), Timestamp(5)).expect("opens");
    repo.execute(&two, &deposit(7), Timestamp(6))
        .expect("deposits");

    for after in 0..=12 {
        // when
        let tail = repo.store.read_stream_after(&one, Version(after));

        // then
        let versions: Vec<u64> = tail.iter().map(|r| r.version.0).collect();
        assert_eq!(
            versions,
            (after + 1..=10).collect::<Vec<_>>(),
            "after v{after}"
        );
        assert!(tail.iter().all(|r| r.stream == one));
    }
    let range: Vec<u64> = repo
        .store
        .read_stream_range(&one, Version(2), Version(4))
        .iter()
        .map(|r| r.version.0)
        .collect();
    assert_eq!(range, vec![3, 4]);
    assert!(
        repo.store
            .read_stream_range(&one, Version(4), Version(2))
            .is_empty()
    );
    assert!(
        repo.store
            .read_stream_after(&StreamId::new("nope"), Version(0))
            .is_empty()
    );
}

#[test]
fn an_append_with_a_stale_expected_version_is_refused_and_changes_nothing() {
    // given
    let (mut repo, stream) = ten_event_account(SnapshotPolicy::Never);

    // when
    let result = repo.store.append(
        &stream,
        Version(9),
        vec![AccountEvent::MoneyDeposited { amount: Cents(1) }],
        Timestamp(1),
        None,
    );

    // then
    assert_eq!(
        result,
        Err(AppendError::VersionConflict {
            expected: Version(9),
            actual: Version(10)
        })
    );
    assert_eq!(repo.store.stream_version(&stream), Version(10));
}

#[test]
fn a_recorded_time_earlier_than_the_streams_last_is_refused_and_other_streams_still_append() {
    // given: account-1's last event was recorded at time 1000
    let (mut repo, one) = ten_event_account(SnapshotPolicy::Every(1));
    let two = StreamId::new("account-2");

    // when
    let backwards = repo.execute(&one, &deposit(1), Timestamp(999));

    // then: refused, nothing appended, no snapshot taken
    assert_eq!(
        backwards,
        Err(CommandError::Append(AppendError::ClockWentBackwards {
            last: Timestamp(1_000),
            given: Timestamp(999),
        }))
    );
    assert_eq!(repo.store.stream_version(&one), Version(10));
    assert_eq!(
        repo.snapshots.latest(&one).map(|s| s.version),
        Some(Version(10))
    );

    // when: another stream at an earlier time, and the same stream at the same time
    let other = repo.execute(&two, &open(), Timestamp(5));
    let same_time = repo.execute(&one, &deposit(1), Timestamp(1_000));

    // then: both succeed
    assert_eq!((other, same_time), (Ok(Version(1)), Ok(Version(11))));
}

#[test]
fn a_time_in_milliseconds_is_refused_and_does_not_lock_the_account() {
    // given: account-1's last event was recorded at time 1000
    let (mut repo, one) = ten_event_account(SnapshotPolicy::Never);
    let milliseconds = Timestamp(1_700_000_000_000);

    // when: a caller passes milliseconds where seconds belong
    let too_late = repo.execute(&one, &deposit(1), milliseconds);

    // then: refused, nothing appended
    assert_eq!(
        too_late,
        Err(CommandError::Append(AppendError::TimeOutOfRange {
            given: milliseconds
        }))
    );
    assert!(Timestamp::LATEST < milliseconds);
    assert_eq!(repo.store.stream_version(&one), Version(10));

    // when: the next append carries a time in seconds, and one the last
    // second the store accepts
    let in_seconds = repo.execute(&one, &deposit(1), Timestamp(1_700_000_000));
    let latest = repo.execute(&one, &deposit(1), Timestamp::LATEST);

    // then: both go through
    assert_eq!((in_seconds, latest), (Ok(Version(11)), Ok(Version(12))));
}

#[test]
fn an_unknown_stream_loads_as_not_opened_and_gets_no_snapshot() {
    // given
    let mut repo = AccountRepository::new(SnapshotPolicy::Every(1));
    let nobody = StreamId::new("account-404");

    // when
    let snapshot_version = repo.snapshot_now(&nobody);
    let loaded = repo.load(&nobody);

    // then
    assert_eq!(snapshot_version, Version(0));
    assert!(repo.snapshots.latest(&nobody).is_none());
    assert_eq!(
        (
            loaded.state,
            loaded.version,
            loaded.snapshot,
            loaded.events_replayed
        ),
        (
            AccountState::NotOpened,
            Version(0),
            SnapshotUse::NoSnapshot,
            0
        )
    );
}

#[test]
fn the_carried_decider_keeps_the_lesson_6_rules_and_their_order() {
    // given: (state, command, expected)
    let closed = AccountState::Closed;
    let not_opened = AccountState::NotOpened;
    let cases: Vec<(
        AccountState,
        AccountCommand,
        Result<Vec<AccountEvent>, AccountError>,
    )> = vec![
        (
            not_opened,
            AccountCommand::OpenAccount {
                owner: "  Ada ".into(),
                email: "ada@example.com".into(),
            },
            Ok(vec![AccountEvent::AccountOpened {
                owner: "Ada".into(),
                email: "ada@example.com".into(),
            }]),
        ),
        (closed, open(), Err(AccountError::AlreadyOpened)),
        (open_with(0), open(), Err(AccountError::AlreadyOpened)),
        (
            not_opened,
            AccountCommand::OpenAccount {
                owner: " ".into(),
                email: "x".into(),
            },
            Err(AccountError::MissingOwner),
        ),
        (
            not_opened,
            AccountCommand::OpenAccount {
                owner: "Ada".into(),
                email: "ada@".into(),
            },
            Err(AccountError::InvalidEmail {
                email: "ada@".into(),
            }),
        ),
        (not_opened, deposit(0), Err(AccountError::NotOpened)),
        (closed, withdraw(0), Err(AccountError::Closed)),
        (open_with(5), deposit(0), Err(AccountError::ZeroAmount)),
        (
            open_with(u64::MAX),
            deposit(1),
            Err(AccountError::BalanceOverflow),
        ),
        (
            open_with(5),
            withdraw(6),
            Err(AccountError::InsufficientFunds {
                balance: Cents(5),
                requested: Cents(6),
            }),
        ),
        (
            open_with(5),
            withdraw(5),
            Ok(vec![AccountEvent::MoneyWithdrawn { amount: Cents(5) }]),
        ),
        (
            open_with(5),
            AccountCommand::CloseAccount,
            Err(AccountError::BalanceNotZero { balance: Cents(5) }),
        ),
        (
            open_with(0),
            AccountCommand::CloseAccount,
            Ok(vec![AccountEvent::AccountClosed]),
        ),
    ];

    for (state, command, expected) in cases {
        // when
        let decided = decide(&command, &state);

        // then
        assert_eq!(decided, expected, "{command:?} on {state:?}");
    }
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l09_snapshots -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l09_snapshots::{
        SnapshotCheck, audit_snapshots, load_and_snapshot_long_tails, load_as_of_time,
        load_with_fallback,
    };
    use pretty_assertions::assert_eq;
    use std::collections::BTreeMap;

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 9.1: snapshot on load when the tail is long"
    )]
    fn exercise_9_1_a_load_that_replays_a_long_tail_leaves_a_snapshot_behind() {
        // given: ten events and no snapshot
        let (mut repo, stream) = ten_event_account(SnapshotPolicy::Never);

        // when
        let first = load_and_snapshot_long_tails(&mut repo, &stream, 4);
        let second = repo.load(&stream);

        // then
        assert_eq!(
            (first.events_replayed, first.snapshot),
            (10, SnapshotUse::NoSnapshot)
        );
        assert_eq!(
            (second.state, second.events_replayed, second.snapshot),
            (open_with(balance_at(10)), 0, SnapshotUse::Used(Version(10)))
        );

        // when: three more events, within the allowed tail
        for cents in [1, 2, 3] {
            repo.execute(&stream, &deposit(cents), Timestamp(1_100))
                .expect("deposits");
        }
        let short = load_and_snapshot_long_tails(&mut repo, &stream, 4);

        // then: no new snapshot
        assert_eq!(short.events_replayed, 3);
        assert_eq!(
            repo.snapshots.latest(&stream).map(|s| s.version),
            Some(Version(10))
        );

        // when: a tail exactly as long as allowed
        load_and_snapshot_long_tails(&mut repo, &stream, 3);

        // then: still no new snapshot, since the tail was not longer
        assert_eq!(
            repo.snapshots.latest(&stream).map(|s| s.version),
            Some(Version(10))
        );

        // when: a stricter limit
        load_and_snapshot_long_tails(&mut repo, &stream, 2);

        // then
        assert_eq!(
            repo.snapshots.latest(&stream).map(|s| s.version),
            Some(Version(13))
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 9.2: an as-of query by recorded time"
    )]
    fn exercise_9_2_as_of_a_time_folds_the_events_recorded_by_then_from_a_snapshot() {
        // given: event v is recorded at time 100 * v; snapshots every 2 events
        let (repo, stream) = ten_event_account(SnapshotPolicy::Every(2));

        // when
        let cases: Vec<(u64, Version, AccountState, SnapshotUse)> = [50, 250, 300, 10_000]
            .into_iter()
            .map(|at| {
                let loaded = load_as_of_time(&repo, &stream, Timestamp(at));
                (at, loaded.version, loaded.state, loaded.snapshot)
            })
            .collect();

        // then
        assert_eq!(
            cases,
            vec![
                (
                    50,
                    Version(0),
                    AccountState::NotOpened,
                    SnapshotUse::NoSnapshot
                ),
                (
                    250,
                    Version(2),
                    open_with(balance_at(2)),
                    SnapshotUse::Used(Version(2))
                ),
                (
                    300,
                    Version(3),
                    open_with(balance_at(3)),
                    SnapshotUse::Used(Version(2))
                ),
                (
                    10_000,
                    Version(10),
                    open_with(balance_at(10)),
                    SnapshotUse::Used(Version(10))
                ),
            ]
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 9.2: an as-of query by recorded time"
    )]
    fn exercise_9_2_every_event_recorded_at_the_time_asked_for_counts() {
        for shared in 1..=8 {
            // given: after the opening at 100, `shared` deposits of 1.00 all
            // recorded at 200, then one more at 300
            let mut repo = AccountRepository::new(SnapshotPolicy::Never);
            let stream = StreamId::new("account-1");
            let mut history = vec![(open(), 100)];
            history.extend((0..shared).map(|_| (deposit(100), 200)));
            history.push((deposit(5_000), 300));
            for (command, at) in &history {
                repo.execute(&stream, command, Timestamp(*at))
                    .expect("every command of the history is accepted");
            }

            // when
            let loaded = load_as_of_time(&repo, &stream, Timestamp(200));

            // then: every one of them counts, wherever a search lands first
            assert_eq!(
                (loaded.version, loaded.state),
                (Version(1 + shared), open_with(100 * shared)),
                "{shared} events recorded at 200"
            );
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 9.3: fall back to an older usable snapshot"
    )]
    fn exercise_9_3_a_damaged_newest_snapshot_falls_back_to_an_older_good_one() {
        // given: good snapshots at v2 and v4, a damaged one at v8, and one
        // ahead of the stream
        let (mut repo, stream) = ten_event_account(SnapshotPolicy::Never);
        for version in [2, 4] {
            let good = Snapshot::of(&open_with(balance_at(version)), Version(version));
            repo.snapshots.save(&stream, good);
        }
        let damaged = Snapshot {
            version: Version(8),
            schema: SNAPSHOT_SCHEMA,
            payload: "open:2x".into(),
        };
        repo.snapshots.save(&stream, damaged);
        repo.snapshots
            .save(&stream, Snapshot::of(&open_with(1), Version(20)));

        // when
        let loaded = load_with_fallback(&repo, &stream);

        // then: the newest usable one, v4, not the older v2
        assert_eq!(
            (
                loaded.state,
                loaded.version,
                loaded.snapshot,
                loaded.events_replayed
            ),
            (
                open_with(balance_at(10)),
                Version(10),
                SnapshotUse::Used(Version(4)),
                6
            )
        );

        // when: the good ones go too
        for version in [2, 4] {
            let old_schema = Snapshot {
                version: Version(version),
                schema: 0,
                payload: "open:6".into(),
            };
            repo.snapshots.save(&stream, old_schema);
        }
        let replayed = load_with_fallback(&repo, &stream);

        // then: a full replay, reporting the newest rejection
        assert_eq!(
            (replayed.state, replayed.events_replayed, replayed.snapshot),
            (
                open_with(balance_at(10)),
                10,
                SnapshotUse::Discarded {
                    version: Version(8),
                    reason: SnapshotRejected::Undecodable {
                        payload: "open:2x".into(),
                        error: DecodeError::NotADigit { offset: 6 },
                    },
                }
            )
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 9.4: audit every snapshot against the events"
    )]
    fn exercise_9_4_the_audit_names_every_snapshot_that_disagrees_with_the_events() {
        // given: a correct snapshot, a stale one, an old-schema one, one from the future
        let (mut repo, stream) = ten_event_account(SnapshotPolicy::Never);
        repo.snapshots
            .save(&stream, Snapshot::of(&open_with(balance_at(4)), Version(4)));
        repo.snapshots
            .save(&stream, Snapshot::of(&open_with(balance_at(7)), Version(8)));
        repo.snapshots.save(
            &stream,
            Snapshot {
                version: Version(9),
                schema: 0,
                payload: "open:360".into(),
            },
        );
        repo.snapshots
            .save(&stream, Snapshot::of(&open_with(0), Version(30)));

        // when
        let report = audit_snapshots(&repo, &stream);

        // then
        let expected = BTreeMap::from([
            (Version(4), SnapshotCheck::Matches),
            (
                Version(8),
                SnapshotCheck::Differs {
                    snapshot: open_with(balance_at(7)),
                    replayed: open_with(balance_at(8)),
                },
            ),
            (
                Version(9),
                SnapshotCheck::Unusable(SnapshotRejected::SchemaMismatch {
                    found: 0,
                    expected: SNAPSHOT_SCHEMA,
                }),
            ),
            (Version(30), SnapshotCheck::AheadOfStream),
        ]);
        assert_eq!(report, expected);
    }
}
