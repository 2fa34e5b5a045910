//! Tests for lesson 10 — versioning events, then its exercises.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pretty_assertions::assert_eq;

use es_workbook::l10_versioning::{
    AccountEvent, AccountRepository, AccountState, Cents, Currency, DecodeError, EncodeError,
    EventRecord, Excerpt, LoadError, RawEvent, RecordedEvent, SCHEMAS, SNAPSHOT_SCHEMA, Schema,
    Snapshot, SnapshotRejected, SnapshotUse, StreamId, Timestamp, Upcast, Version, decode,
    decode_with, encode, encode_fields, fields, upcast_with,
};

/// SplitMix64: a tiny, seeded, std-only generator, so every generated case
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

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Strings that break naive encodings: separators, escapes, newlines,
/// carriage returns, NUL, non-ASCII, and nothing at all.
const AWKWARD: &[&str] = &[
    "",
    "Ada Lovelace",
    "=",
    "a=b=c",
    "owner=Mallory\n",
    "\n",
    "\n\n",
    "\\",
    "\\n",
    "\\\\n",
    "trailing backslash\\",
    "line one\nline two",
    "\r\n",
    "tab\there",
    "\u{0}",
    "Zoë Ørsted 😀",
    "email=x@y\ncurrency=GBP",
];

/// An awkward string: one of [`AWKWARD`], or random characters that matter
/// to the encoding.
fn awkward(rng: &mut SplitMix64) -> String {
    if rng.below(2) == 0 {
        return rng.pick(AWKWARD).to_string();
    }
    let alphabet = ['a', '=', '\\', '\n', 'n', '\r', ' ', 'é', '😀', '\u{0}'];
    (0..rng.below(12)).map(|_| *rng.pick(&alphabet)).collect()
}

fn record(event_type: &str, schema_version: u32, fields: &[(&'static str, &str)]) -> EventRecord {
    let raw = RawEvent::new(event_type, schema_version, fields);
    raw.to_record().expect("test keys are schema names")
}

fn bytes(event_type: &str, schema_version: u32, payload: &[u8]) -> EventRecord {
    EventRecord {
        event_type: event_type.to_string(),
        schema_version,
        payload: payload.to_vec(),
    }
}

/// One fact in an account's life, independent of any stored format.
#[derive(Debug, Clone)]
enum Fact {
    Opened {
        owner: String,
        email: String,
        first_deposit: u64,
    },
    Deposited(u64),
    Withdrawn(u64),
    Closed,
}

/// A random valid history of one account opened by release 1 (so in euros),
/// and the state it must fold to, computed from the facts alone.
fn random_history(rng: &mut SplitMix64) -> (Vec<Fact>, AccountState) {
    let first_deposit = if rng.below(3) == 0 {
        0
    } else {
        1 + rng.below(100_000)
    };
    let mut facts = vec![Fact::Opened {
        owner: awkward(rng),
        email: awkward(rng),
        first_deposit,
    }];
    let mut balance = first_deposit;
    for _ in 0..rng.below(30) {
        if balance > 0 && rng.below(2) == 0 {
            let amount = 1 + rng.below(balance);
            balance -= amount;
            facts.push(Fact::Withdrawn(amount));
        } else {
            let amount = 1 + rng.below(50_000);
            balance += amount;
            facts.push(Fact::Deposited(amount));
        }
    }
    if rng.below(4) == 0 {
        if balance > 0 {
            facts.push(Fact::Withdrawn(balance));
        }
        facts.push(Fact::Closed);
        return (facts, AccountState::Closed);
    }
    let state = AccountState::Open {
        balance: Cents(balance),
        currency: Currency::Eur,
    };
    (facts, state)
}

/// The record release 1 or 2 wrote for a fact, in the shapes of the schema
/// table, written out by hand here rather than by the code under test.
fn written_by_release(release: u32, fact: &Fact) -> EventRecord {
    match (fact, release) {
        (
            Fact::Opened {
                owner,
                email,
                first_deposit,
            },
            1,
        ) => record(
            "AccountOpened",
            1,
            &[
                ("owner", owner),
                ("email", email),
                ("initial_deposit", &first_deposit.to_string()),
            ],
        ),
        (
            Fact::Opened {
                owner,
                email,
                first_deposit,
            },
            _,
        ) => record(
            "AccountOpened",
            2,
            &[
                ("owner", owner),
                ("email", email),
                ("currency", "EUR"),
                ("initial_deposit", &first_deposit.to_string()),
            ],
        ),
        (Fact::Deposited(cents), 1) => {
            record("MoneyDeposited", 1, &[("cents", &cents.to_string())])
        }
        (Fact::Deposited(cents), _) => {
            record("MoneyDeposited", 2, &[("amount", &cents.to_string())])
        }
        (Fact::Withdrawn(cents), 1) => {
            record("MoneyWithdrawn", 1, &[("cents", &cents.to_string())])
        }
        (Fact::Withdrawn(cents), _) => {
            record("MoneyWithdrawn", 2, &[("amount", &cents.to_string())])
        }
        (Fact::Closed, _) => record("AccountClosed", 1, &[]),
    }
}

/// What release 3 records for a fact.
fn current_events(fact: &Fact) -> Vec<AccountEvent> {
    match fact {
        Fact::Opened {
            owner,
            email,
            first_deposit,
        } => {
            let mut events = vec![AccountEvent::AccountOpened {
                owner: owner.clone(),
                email: email.clone(),
                currency: Currency::Eur,
            }];
            if *first_deposit > 0 {
                events.push(AccountEvent::MoneyDeposited {
                    amount: Cents(*first_deposit),
                });
            }
            events
        }
        Fact::Deposited(cents) => vec![AccountEvent::MoneyDeposited {
            amount: Cents(*cents),
        }],
        Fact::Withdrawn(cents) => vec![AccountEvent::MoneyWithdrawn {
            amount: Cents(*cents),
        }],
        Fact::Closed => vec![AccountEvent::AccountClosed],
    }
}

/// Appends raw records one at a time, as a release of long ago would have.
fn append_records(repo: &mut AccountRepository, stream: &StreamId, records: Vec<EventRecord>) {
    for (second, record) in (1..).zip(records) {
        let at = repo.store.stream_version(stream);
        repo.store
            .append(stream, at, vec![record], Timestamp(second))
            .expect("a single writer never conflicts");
    }
}

fn is_current(record: &EventRecord) -> bool {
    SCHEMAS.iter().any(|schema| {
        schema.event_type == record.event_type
            && schema.version == record.schema_version
            && schema.upcast.is_none()
    })
}

/// One valid record of every schema version in the table, with awkward
/// strings where there are strings.
fn one_record_of_every_schema() -> Vec<EventRecord> {
    let opened = Fact::Opened {
        owner: "Zoë\n\\n=".into(),
        email: "a=b@\\example.com".into(),
        first_deposit: 12_345,
    };
    let mut records = vec![
        written_by_release(1, &opened),
        written_by_release(2, &opened),
        written_by_release(1, &Fact::Deposited(500)),
        written_by_release(2, &Fact::Deposited(18_446_744_073_709_551_615)),
        written_by_release(1, &Fact::Withdrawn(0)),
        written_by_release(2, &Fact::Withdrawn(250)),
    ];
    records.extend(
        [
            AccountEvent::AccountOpened {
                owner: "\r\n😀".into(),
                email: String::new(),
                currency: Currency::Gbp,
            },
            AccountEvent::AccountClosed,
        ]
        .iter()
        .map(encode),
    );
    records
}

const NUMBER: &str = "a whole number without sign or leading zeros, at most 2^64 - 1";

#[test]
fn the_encoder_writes_one_escaped_key_value_line_per_field_in_the_current_schema() {
    // given
    let opened = AccountEvent::AccountOpened {
        owner: "Zoë \"Z\" O'Neil\\".into(),
        email: "a=b\nc".into(),
        currency: Currency::Gbp,
    };

    // when
    let records = [
        encode(&opened),
        encode(&AccountEvent::MoneyWithdrawn { amount: Cents(0) }),
        encode(&AccountEvent::AccountClosed),
    ];

    // then
    assert_eq!(
        records,
        [
            bytes(
                "AccountOpened",
                3,
                "owner=Zoë \"Z\" O'Neil\\\\\nemail=a=b\\nc\ncurrency=GBP\n".as_bytes()
            ),
            bytes("MoneyWithdrawn", 2, b"amount=0\n"),
            bytes("AccountClosed", 1, b""),
        ]
    );
}

#[test]
fn every_event_survives_encode_and_decode_with_awkward_strings() {
    let seed = 0x0010_0001;
    let mut rng = SplitMix64(seed);
    let amounts = [0, 1, 9, 10, 100, u64::MAX - 1, u64::MAX];
    for case in 0..3_000 {
        // given
        let event = match rng.below(4) {
            0 => AccountEvent::AccountOpened {
                owner: awkward(&mut rng),
                email: awkward(&mut rng),
                currency: *rng.pick(&[Currency::Eur, Currency::Gbp, Currency::Usd]),
            },
            1 => AccountEvent::MoneyDeposited {
                amount: Cents(if rng.below(2) == 0 {
                    *rng.pick(&amounts)
                } else {
                    rng.next()
                }),
            },
            2 => AccountEvent::MoneyWithdrawn {
                amount: Cents(*rng.pick(&amounts)),
            },
            _ => AccountEvent::AccountClosed,
        };

        // when
        let record = encode(&event);

        // then
        assert_eq!(
            decode(&record),
            Ok(vec![event.clone()]),
            "seed {seed:#x}, case {case}: {record:?}"
        );
    }
    for text in AWKWARD {
        let event = AccountEvent::AccountOpened {
            owner: text.to_string(),
            email: text.to_string(),
            currency: Currency::Usd,
        };
        assert_eq!(decode(&encode(&event)), Ok(vec![event]), "{text:?}");
    }
}

#[test]
fn each_kind_of_bad_record_gets_a_typed_error_naming_what_is_wrong() {
    // given: (record, the error it must get)
    let bad_value = |field: &str, value: &str, expected: &'static str| DecodeError::BadValue {
        field: field.into(),
        value: Excerpt::of(value),
        expected,
    };
    let cases = [
        (
            bytes("MoneyDeposited", 2, b"amount=5"),
            DecodeError::Unterminated { offset: 0 },
        ),
        (
            bytes("MoneyDeposited", 2, b"amount=\xFF5\n"),
            DecodeError::NotUtf8 { offset: 7 },
        ),
        (
            bytes("MoneyDeposited", 2, b"amount5\n"),
            DecodeError::MissingEquals { offset: 0 },
        ),
        (
            bytes(
                "AccountOpened",
                3,
                b"owner=Ada\\tL\nemail=a@b\ncurrency=EUR\n",
            ),
            DecodeError::BadEscape { offset: 9 },
        ),
        (
            bytes("AccountOpened", 3, b"owner=Ada\\"),
            DecodeError::Unterminated { offset: 0 },
        ),
        (
            bytes(
                "AccountOpened",
                3,
                b"owner=Ada\\\nemail=a@b\ncurrency=EUR\n",
            ),
            DecodeError::BadEscape { offset: 9 },
        ),
        (
            bytes("MoneyDeposited", 2, b"amount=007\n"),
            bad_value("amount", "007", NUMBER),
        ),
        (
            bytes("MoneyDeposited", 2, b"amount=+7\n"),
            bad_value("amount", "+7", NUMBER),
        ),
        (
            bytes("MoneyDeposited", 2, b"amount=\n"),
            bad_value("amount", "", NUMBER),
        ),
        (
            bytes("MoneyWithdrawn", 2, b"amount=18446744073709551616\n"),
            bad_value("amount", "18446744073709551616", NUMBER),
        ),
        (
            bytes("MoneyDeposited", 2, b"cents=5\n"),
            DecodeError::UnexpectedField {
                offset: 0,
                found: Excerpt::of("cents"),
                expected: Some("amount"),
            },
        ),
        (
            bytes("MoneyDeposited", 1, b"cents=5\ncents=5\n"),
            DecodeError::UnexpectedField {
                offset: 8,
                found: Excerpt::of("cents"),
                expected: None,
            },
        ),
        (
            bytes("AccountOpened", 3, b"owner=Ada\nemail=a@b\n"),
            DecodeError::MissingField { field: "currency" },
        ),
        (
            bytes("MoneyDeposited", 2, b"=5\n"),
            DecodeError::EmptyKey { offset: 0 },
        ),
        (
            bytes("AccountClosed", 1, b"\n"),
            DecodeError::MissingEquals { offset: 0 },
        ),
        (
            bytes("AccountFrozen", 1, b""),
            DecodeError::UnknownEventType {
                event_type: Excerpt::of("AccountFrozen"),
            },
        ),
        (
            bytes("MoneyDeposited", 3, b"amount=5\n"),
            DecodeError::UnknownSchemaVersion {
                event_type: "MoneyDeposited".into(),
                schema_version: 3,
            },
        ),
        (
            record(
                "AccountOpened",
                2,
                &[
                    ("owner", "Ada"),
                    ("email", "a@b"),
                    ("currency", "eur"),
                    ("initial_deposit", "5"),
                ],
            ),
            bad_value("currency", "eur", "EUR, GBP or USD"),
        ),
        (
            record(
                "AccountOpened",
                1,
                &[
                    ("owner", "Ada"),
                    ("email", "a@b"),
                    ("initial_deposit", "-1"),
                ],
            ),
            bad_value("initial_deposit", "-1", NUMBER),
        ),
    ];

    for (record, expected) in cases {
        // when
        let decoded = decode(&record);

        // then
        assert_eq!(decoded, Err(expected), "{record:?}");
    }
    assert_eq!(
        DecodeError::BadEscape { offset: 9 }.to_string(),
        "the backslash at byte 9 is not `\\\\` or `\\n`"
    );
}

// ANCHOR: fuzz_test
#[test]
fn thousands_of_truncated_garbled_and_random_payloads_never_panic_and_decode_only_when_canonical() {
    let seed = 0x0010_F022;
    let mut rng = SplitMix64(seed);
    let valid = one_record_of_every_schema();
    let risky = [b'=', b'\\', b'\n', b'n', b'0', b'+', b'-', 0xC3, 0xFF, 0x00];
    let (mut parses, mut accepted, mut refused) = (0, 0, 0);
    for case in 0..20_000 {
        // given: a valid record of some schema version, damaged one way
        let mut record = rng.pick(&valid).clone();
        let payload = &mut record.payload;
        let at = rng.below(payload.len() as u64 + 1) as usize;
        match rng.below(5) {
            0 => payload.truncate(at),
            1 if at < payload.len() => payload[at] ^= 1 << rng.below(8),
            2 => payload.insert(at, *rng.pick(&risky)),
            3 => {
                let len = rng.below(48);
                *payload = (0..len)
                    .map(|_| *rng.pick(&risky) ^ rng.below(2) as u8)
                    .collect();
            }
            _ => record.schema_version = rng.below(5) as u32,
        }

        // when
        let decoded = catch_unwind(AssertUnwindSafe(|| decode(&record)))
            .unwrap_or_else(|_| panic!("seed {seed:#x}, case {case}: panicked on {record:?}"));

        // then: whatever parses, whatever its schema, is exactly what
        // `encode_fields` writes, and whatever decodes in a current version
        // is exactly what `encode` writes
        let parsed: Result<Vec<(&str, String)>, DecodeError> = fields(&record.payload).collect();
        if let Ok(parsed) = parsed {
            parses += 1;
            let pairs: Vec<(&str, &str)> = parsed.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let written = encode_fields(&pairs).expect("parsed keys are valid keys");
            assert_eq!(written, record.payload, "seed {seed:#x}, case {case}");
        }
        let Ok(events) = decoded else {
            refused += 1;
            continue;
        };
        accepted += 1;
        if is_current(&record) {
            let written: Vec<EventRecord> = events.iter().map(encode).collect();
            assert_eq!(written, vec![record], "seed {seed:#x}, case {case}");
        }
    }
    println!("{parses} parse, {accepted} decode, {refused} are refused");
    assert!(accepted > 100 && refused > 10_000, "{accepted} / {refused}");
    assert!(parses > accepted + 1_000, "{parses} / {accepted}");
}
// ANCHOR_END: fuzz_test

#[test]
fn every_proper_prefix_of_every_valid_payload_is_refused() {
    for record in one_record_of_every_schema() {
        // given
        assert!(decode(&record).is_ok(), "{record:?} is valid");
        for cut in 0..record.payload.len() {
            let truncated = EventRecord {
                payload: record.payload[..cut].to_vec(),
                ..record.clone()
            };

            // when
            let decoded = decode(&truncated);

            // then
            assert!(decoded.is_err(), "{truncated:?} decoded as {decoded:?}");
        }
    }
}

#[test]
fn a_release_1_opening_upcasts_through_v2_and_v3_into_an_opening_and_a_deposit() {
    // given
    let fields = [
        ("owner", "Ada Lovelace"),
        ("email", "ada@example.com"),
        ("initial_deposit", "10000"),
    ];
    let v1 = record("AccountOpened", 1, &fields);
    let v1_nothing_paid_in = record(
        "AccountOpened",
        1,
        &[
            ("owner", "Bo"),
            ("email", "bo@example.com"),
            ("initial_deposit", "0"),
        ],
    );
    let v2_in_pounds = record(
        "AccountOpened",
        2,
        &[
            ("owner", "Cy"),
            ("email", "cy@example.com"),
            ("currency", "GBP"),
            ("initial_deposit", "1"),
        ],
    );

    // when
    let fields = &["owner", "email", "initial_deposit"];
    let upcast = upcast_with(SCHEMAS, RawEvent::parse(&v1, fields).expect("v1 parses"));

    // then: the raw events of the current schemas, then the typed events
    assert_eq!(
        upcast,
        Ok(vec![
            RawEvent::new(
                "AccountOpened",
                3,
                &[
                    ("owner", "Ada Lovelace"),
                    ("email", "ada@example.com"),
                    ("currency", "EUR"),
                ]
            ),
            RawEvent::new("MoneyDeposited", 2, &[("amount", "10000")]),
        ])
    );
    let opened = |owner: &str, currency| AccountEvent::AccountOpened {
        owner: owner.into(),
        email: format!("{}@example.com", owner.to_lowercase()),
        currency,
    };
    assert_eq!(
        decode(&v1),
        Ok(vec![
            AccountEvent::AccountOpened {
                owner: "Ada Lovelace".into(),
                email: "ada@example.com".into(),
                currency: Currency::Eur,
            },
            AccountEvent::MoneyDeposited {
                amount: Cents(10_000)
            },
        ])
    );
    assert_eq!(
        decode(&v1_nothing_paid_in),
        Ok(vec![opened("Bo", Currency::Eur)])
    );
    assert_eq!(
        decode(&v2_in_pounds),
        Ok(vec![
            opened("Cy", Currency::Gbp),
            AccountEvent::MoneyDeposited { amount: Cents(1) },
        ])
    );
    assert_eq!(
        decode(&record("MoneyWithdrawn", 1, &[("cents", "250")])),
        Ok(vec![AccountEvent::MoneyWithdrawn { amount: Cents(250) }])
    );
}

#[test]
fn an_upcaster_that_loops_or_writes_the_wrong_fields_gets_an_error_not_a_hang() {
    // given: two broken schema tables
    fn back_to_itself(raw: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
        Ok(vec![raw.clone()])
    }
    fn forgets_the_rename(_: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
        Ok(vec![RawEvent::new("MoneyDeposited", 2, &[("cents", "5")])])
    }
    let row = |version, fields, upcast| Schema {
        event_type: "MoneyDeposited",
        version,
        fields,
        upcast,
    };
    let looping = [row(1, &["cents"], Some(back_to_itself as Upcast))];
    let misshaped = [
        row(1, &["cents"], Some(forgets_the_rename as Upcast)),
        row(2, &["amount"], None),
    ];
    let v1 = record("MoneyDeposited", 1, &[("cents", "5")]);

    // when
    let looped = decode_with(&looping, &v1);
    let misshapen = decode_with(&misshaped, &v1);

    // then
    assert_eq!(
        looped,
        Err(DecodeError::UpcastLoop {
            event_type: "MoneyDeposited".into(),
            schema_version: 1,
        })
    );
    assert_eq!(
        misshapen,
        Err(DecodeError::WrongFields {
            event_type: "MoneyDeposited".into(),
            schema_version: 2,
            expected: &["amount"],
            found: vec!["cents"],
        })
    );
}

// ANCHOR: law_7_test
#[test]
fn law_7_an_old_format_log_replays_to_the_same_state_as_the_same_history_in_the_new_format() {
    for seed in 0..300 {
        // given: one history, stored three ways
        let mut rng = SplitMix64(seed);
        let (facts, expected) = random_history(&mut rng);
        let stream = StreamId::new(format!("account-{seed}"));
        let mut release_1 = AccountRepository::new();
        append_records(
            &mut release_1,
            &stream,
            facts.iter().map(|f| written_by_release(1, f)).collect(),
        );
        // A log that lived through the releases: each fact written by release
        // 1, 2 or 3, never by an older release than the fact before it.
        let mut lived = AccountRepository::new();
        let mut release = 1;
        for (second, fact) in (1..).zip(&facts) {
            release = (release + u32::from(rng.below(4) == 0)).min(3);
            let at = lived.store.stream_version(&stream);
            let outcome = match release {
                3 => lived.append(&stream, at, &current_events(fact), Timestamp(second)),
                old => lived.store.append(
                    &stream,
                    at,
                    vec![written_by_release(old, fact)],
                    Timestamp(second),
                ),
            };
            outcome.expect("a single writer never conflicts");
        }
        let mut release_3 = AccountRepository::new();
        let events: Vec<AccountEvent> = facts.iter().flat_map(current_events).collect();
        release_3
            .append(&stream, Version(0), &events, Timestamp(1))
            .expect("a new stream");

        // when
        let old = release_1.replay(&stream).expect("the v1 log decodes");
        let mixed = lived.replay(&stream).expect("the mixed log decodes");
        let new = release_3.replay(&stream).expect("the v3 log decodes");

        // then: law 7, on the state and on the events themselves
        assert_eq!(old.state, expected, "seed {seed}: v1 log");
        assert_eq!(mixed.state, expected, "seed {seed}: mixed log");
        assert_eq!(new.state, expected, "seed {seed}: v3 log");
        let upcast = release_1.events_after(&stream, Version(0));
        assert_eq!(upcast, Ok(events.clone()), "seed {seed}: v1 events");
        let lived_events = lived.events_after(&stream, Version(0));
        assert_eq!(lived_events, Ok(events.clone()), "seed {seed}: mixed");
        // Versions count stored records: the split makes the new log longer.
        assert_eq!(old.version, Version(facts.len() as u64), "seed {seed}");
        assert_eq!(new.version, Version(events.len() as u64), "seed {seed}");
    }
}
// ANCHOR_END: law_7_test

/// Account `account-1` as releases 1 and 2 left it: opened with 100.00,
/// 30.00 withdrawn, 5.00 deposited. Balance 75.00 at v3.
fn release_1_and_2_log() -> (AccountRepository, StreamId) {
    let mut repo = AccountRepository::new();
    let stream = StreamId::new("account-1");
    let opened = Fact::Opened {
        owner: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        first_deposit: 10_000,
    };
    let records = vec![
        written_by_release(1, &opened),
        written_by_release(1, &Fact::Withdrawn(3_000)),
        written_by_release(2, &Fact::Deposited(500)),
    ];
    append_records(&mut repo, &stream, records);
    (repo, stream)
}

fn eur(cents: u64) -> AccountState {
    AccountState::Open {
        balance: Cents(cents),
        currency: Currency::Eur,
    }
}

#[test]
fn reading_snapshotting_and_appending_never_rewrite_a_stored_byte() {
    // given
    let (mut repo, stream) = release_1_and_2_log();
    let before: Vec<RecordedEvent> = repo
        .store
        .read_stream(&stream)
        .into_iter()
        .cloned()
        .collect();

    // when: read through the upcasters, snapshot, append in the new format
    let loaded = repo.load(&stream).expect("loads");
    repo.snapshot_now(&stream).expect("snapshots");
    let withdrawal = AccountEvent::MoneyWithdrawn {
        amount: Cents(2_500),
    };
    repo.append(&stream, loaded.version, &[withdrawal], Timestamp(9))
        .expect("appends");
    let reloaded = repo.load(&stream).expect("loads again");

    // then: the old records are exactly as they were, in their old schemas
    let after: Vec<RecordedEvent> = repo
        .store
        .read_stream(&stream)
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(after[..before.len()], before[..]);
    let versions: Vec<(String, u32)> = after
        .iter()
        .map(|r| (r.record.event_type.clone(), r.record.schema_version))
        .collect();
    assert_eq!(
        versions,
        vec![
            ("AccountOpened".to_string(), 1),
            ("MoneyWithdrawn".to_string(), 1),
            ("MoneyDeposited".to_string(), 2),
            ("MoneyWithdrawn".to_string(), 2),
        ]
    );
    assert_eq!(
        (loaded.state, reloaded.state, reloaded.version),
        (eur(7_500), eur(5_000), Version(4))
    );
}

#[test]
fn a_schema_1_snapshot_is_upcast_and_one_no_upcaster_reads_is_discarded_and_both_equal_replay() {
    // given: (schema, payload, what the load must do with it)
    let (mut repo, stream) = release_1_and_2_log();
    let at = Version(3);
    let current = Snapshot::of(&eur(7_500), at).payload;
    let discarded = |reason| SnapshotUse::Discarded {
        version: at,
        reason,
    };
    let cases = [
        (
            SNAPSHOT_SCHEMA,
            current,
            SnapshotUse::Used {
                version: at,
                schema: SNAPSHOT_SCHEMA,
            },
        ),
        (
            1,
            b"status=open\nbalance=7500\n".to_vec(),
            SnapshotUse::Used {
                version: at,
                schema: 1,
            },
        ),
        (
            0,
            b"status=open\nbalance=75\n".to_vec(),
            discarded(SnapshotRejected::UnknownSchema { found: 0 }),
        ),
        (
            3,
            b"status=open\nbalance=7500\ncurrency=EUR\n".to_vec(),
            discarded(SnapshotRejected::UnknownSchema { found: 3 }),
        ),
        (
            SNAPSHOT_SCHEMA,
            b"status=open\nbalance=7500\n".to_vec(),
            discarded(SnapshotRejected::Undecodable {
                schema: SNAPSHOT_SCHEMA,
                error: DecodeError::MissingField { field: "currency" },
            }),
        ),
        (
            1,
            b"status=open\nbalance=07500\n".to_vec(),
            discarded(SnapshotRejected::Undecodable {
                schema: 1,
                error: DecodeError::BadValue {
                    field: "balance".into(),
                    value: Excerpt::of("07500"),
                    expected: NUMBER,
                },
            }),
        ),
    ];
    let replayed = repo.replay(&stream).expect("replays");
    let ahead = SnapshotUse::Discarded {
        version: Version(4),
        reason: SnapshotRejected::AheadOfStream { stream_version: at },
    };
    let cases = cases
        .into_iter()
        .map(|(schema, payload, expected)| (at, schema, payload, expected));
    let from_the_future = (
        Version(4),
        SNAPSHOT_SCHEMA,
        Snapshot::of(&eur(1), at).payload,
        ahead,
    );

    for (version, schema, payload, expected) in cases.chain([from_the_future]) {
        let snapshot = Snapshot {
            version,
            schema,
            payload,
        };
        repo.snapshots.insert(stream.clone(), snapshot.clone());

        // when
        let loaded = repo.load(&stream).expect("loads");

        // then
        assert_eq!(loaded.snapshot, expected, "{snapshot:?}");
        assert_eq!(
            (loaded.state, loaded.version),
            (replayed.state, replayed.version)
        );
    }
    for state in [AccountState::NotOpened, AccountState::Closed, eur(0)] {
        assert_eq!(Snapshot::of(&state, at).restore(), Ok(state));
    }
}

#[test]
fn a_record_that_does_not_decode_fails_the_load_naming_its_stream_and_version() {
    // given: a log whose second record was damaged
    let (repo, stream) = release_1_and_2_log();
    let mut damaged = AccountRepository::new();
    let mut records: Vec<EventRecord> = repo
        .store
        .read_stream(&stream)
        .iter()
        .map(|r| r.record.clone())
        .collect();
    records[1].payload = b"cents=3O00\n".to_vec();
    append_records(&mut damaged, &stream, records);

    // when
    let loaded = damaged.load(&stream);

    // then
    assert_eq!(
        loaded,
        Err(LoadError::Undecodable {
            stream: stream.clone(),
            version: Version(2),
            error: DecodeError::BadValue {
                field: "amount".into(),
                value: Excerpt::of("3O00"),
                expected: NUMBER,
            },
        })
    );
    assert_eq!(
        loaded.map_err(|e| e.to_string()),
        Err(
            "record v2 of account-1 does not decode: amount is \"3O00\", expected \
             a whole number without sign or leading zeros, at most 2^64 - 1"
                .to_string()
        )
    );
}

#[test]
fn an_error_about_a_huge_payload_copies_at_most_a_few_dozen_bytes_of_it() {
    // given: ten megabytes of empty lines, of a value and of a key
    let ten_mb = 10_000_000;
    let nines = "9".repeat(ten_mb);
    let keys = "k".repeat(ten_mb);
    let cut = |text: &str| Excerpt {
        start: text[..Excerpt::MAX].to_string(),
        len: ten_mb,
    };
    let cases = [
        (
            "=\n".repeat(ten_mb / 2),
            DecodeError::EmptyKey { offset: 0 },
        ),
        (
            format!("amount={nines}\n"),
            DecodeError::BadValue {
                field: "amount".into(),
                value: cut(&nines),
                expected: NUMBER,
            },
        ),
        (
            format!("{keys}=5\n"),
            DecodeError::UnexpectedField {
                offset: 0,
                found: cut(&keys),
                expected: Some("amount"),
            },
        ),
    ];
    for (payload, expected) in cases {
        let record = bytes("MoneyDeposited", 2, payload.as_bytes());

        // when
        let error = decode(&record).expect_err("not an amount");

        // then
        assert_eq!(error, expected);
        let shown = error.to_string();
        assert!(shown.len() < 200, "{} bytes: {shown}", shown.len());
    }
}

#[test]
fn a_payload_with_extra_fields_is_refused_at_the_first_extra_one() {
    // given: a good deposit, a million extra lines, then a broken one
    let mut payload = b"amount=5\n".to_vec();
    payload.extend("x=\n".repeat(1_000_000).bytes());
    payload.extend(b"y=\\q\n");

    // when
    let error = decode(&bytes("MoneyDeposited", 2, &payload)).expect_err("extra fields");

    // then: the parser stopped at byte 9, long before the broken line
    assert_eq!(
        error.to_string(),
        "the line at byte 9 has the field \"x\", expected no more fields"
    );
}

#[test]
fn a_key_that_would_not_read_back_as_itself_is_refused_by_the_encoder() {
    for key in ["a=b", "a\nb=c", ""] {
        // given: a field whose key would read back as another field
        let fields = [(key, "v")];

        // when
        let encoded = encode_fields(&fields);

        // then
        let refused = EncodeError::BadKey { key: key.into() };
        assert_eq!(encoded, Err(refused), "{key:?}");
    }
    assert_eq!(encode_fields(&[("a", "b=v")]), Ok(b"a=b=v\n".to_vec()));
}

#[test]
fn a_bad_schema_1_snapshot_reports_schema_1_and_the_fields_it_holds() {
    // given
    let (mut repo, stream) = release_1_and_2_log();
    let snapshot = Snapshot {
        version: Version(3),
        schema: 1,
        payload: b"status=open\n".to_vec(),
    };
    repo.snapshots.insert(stream.clone(), snapshot);

    // when
    let loaded = repo.load(&stream).expect("replays instead");

    // then
    assert_eq!(
        loaded.snapshot.to_string(),
        "snapshot at v3 discarded: the schema 1 payload does not decode: the field \"balance\" is missing"
    );
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l10_versioning -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l10_versioning::{
        DepositReport, MigrationError, account_opened_v0_to_v1, decode_i64, deposits_report,
        migrate, schemas_with_import,
    };
    use pretty_assertions::assert_eq;
    use std::collections::BTreeMap;
    use std::error::Error;

    fn is_bad_value(result: &Result<i64, DecodeError>, field: &str, text: &str) -> bool {
        matches!(result, Err(DecodeError::BadValue { field: f, value, .. }) if f == field && *value == Excerpt::of(text))
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 10.1: strict decoding of a signed number"
    )]
    fn exercise_10_1_a_signed_number_decodes_exactly_when_i64_display_wrote_it() {
        // given: what Display writes, and what it never writes
        let written = [0, 1, -1, 42, -42, 10, -10, i64::MAX, i64::MIN];
        let never_written = [
            "",
            "-",
            "+",
            "+1",
            "-0",
            "00",
            "01",
            "-01",
            " 1",
            "1 ",
            "1_000",
            "1.0",
            "١",
            "9223372036854775808",
            "-9223372036854775809",
            "\u{2212}1",
            "0x10",
        ];

        // when / then
        for number in written {
            let text = number.to_string();
            assert_eq!(decode_i64("delta", &text), Ok(number), "{text:?}");
        }
        for text in never_written {
            let decoded = decode_i64("delta", text);
            assert!(
                is_bad_value(&decoded, "delta", text),
                "{text:?}: {decoded:?}"
            );
        }
        let seed = 0x0010_0101;
        let mut rng = SplitMix64(seed);
        let alphabet = ['-', '+', '0', '1', '9', ' '];
        for case in 0..5_000 {
            let text: String = (0..1 + rng.below(6))
                .map(|_| *rng.pick(&alphabet))
                .collect();
            match decode_i64("delta", &text) {
                Ok(number) => assert_eq!(number.to_string(), text, "seed {seed:#x}, case {case}"),
                decoded => assert!(
                    is_bad_value(&decoded, "delta", &text),
                    "seed {seed:#x}, case {case}: {text:?}: {decoded:?}"
                ),
            }
            let number = rng.next() as i64;
            assert_eq!(decode_i64("delta", &number.to_string()), Ok(number));
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 10.2: a read model that skips unknown event types"
    )]
    fn exercise_10_2_the_report_leaves_out_and_lists_unknown_event_types_and_stops_at_anything_else()
     {
        // given: the release 1 and 2 log, then records from a newer release,
        // one of which pays money in under a type this code does not know
        let (mut repo, stream) = release_1_and_2_log();
        append_records(
            &mut repo,
            &stream,
            vec![
                bytes("AccountFrozen", 1, b"reason=audit\n"),
                record("MoneyDeposited", 2, &[("amount", "250")]),
                bytes("OverdraftGranted", 4, b"\xFF"),
                bytes("ChequeDeposited", 1, b"amount=900\n"),
            ],
        );

        // when
        let report = deposits_report(&repo.store, &stream);

        // then: the first deposit of the v1 opening counts too; the cheque
        // is not in the total, and the report says it left it out
        assert_eq!(
            report,
            Ok(DepositReport {
                total: Cents(10_000 + 500 + 250),
                skipped: vec![
                    (Version(4), "AccountFrozen".into()),
                    (Version(6), "OverdraftGranted".into()),
                    (Version(7), "ChequeDeposited".into()),
                ],
            })
        );

        for (bad, error) in [
            (
                bytes("MoneyDeposited", 3, b"amount=1\n"),
                DecodeError::UnknownSchemaVersion {
                    event_type: "MoneyDeposited".into(),
                    schema_version: 3,
                },
            ),
            (
                bytes("MoneyDeposited", 2, b"amount=1"),
                DecodeError::Unterminated { offset: 0 },
            ),
        ] {
            // given: a known type that this code cannot read
            let (mut repo, stream) = release_1_and_2_log();
            append_records(
                &mut repo,
                &stream,
                vec![bytes("AccountFrozen", 1, b""), bad],
            );

            // when
            let report = deposits_report(&repo.store, &stream);

            // then
            assert_eq!(
                report,
                Err(LoadError::Undecodable {
                    stream: stream.clone(),
                    version: Version(5),
                    error,
                })
            );
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 10.3: an upcaster for the imported version 0"
    )]
    fn exercise_10_3_an_imported_v0_opening_is_upcast_one_step_then_along_the_chain() {
        // given
        let imported = |customer: &str, balance: &str| {
            record(
                "AccountOpened",
                0,
                &[
                    ("customer", customer),
                    ("mail", "ed@example.com"),
                    ("opening_balance", balance),
                ],
            )
        };
        let schemas = schemas_with_import();
        let v0_fields = &["customer", "mail", "opening_balance"];
        let raw = RawEvent::parse(&imported("Ed\n= \\", "75"), v0_fields).expect("parses");

        // when
        let step = account_opened_v0_to_v1(&raw);
        let events = decode_with(&schemas, &imported("Ed\n= \\", "75"));

        // then: one step to v1, and the whole chain to today's events
        assert_eq!(
            step,
            Ok(vec![RawEvent::new(
                "AccountOpened",
                1,
                &[
                    ("owner", "Ed\n= \\"),
                    ("email", "ed@example.com"),
                    ("initial_deposit", "7500"),
                ]
            )])
        );
        let opened = AccountEvent::AccountOpened {
            owner: "Ed\n= \\".into(),
            email: "ed@example.com".into(),
            currency: Currency::Eur,
        };
        assert_eq!(
            events,
            Ok(vec![
                opened.clone(),
                AccountEvent::MoneyDeposited {
                    amount: Cents(7_500)
                }
            ])
        );
        assert_eq!(
            decode_with(&schemas, &imported("Ed\n= \\", "0")),
            Ok(vec![opened])
        );
        let largest = (u64::MAX / 100).to_string();
        assert!(decode_with(&schemas, &imported("Ed", &largest)).is_ok());
        let too_large = (u64::MAX / 100 + 1).to_string();
        for bad in ["075", "+75", "-75", "7.5", "", too_large.as_str()] {
            let decoded = decode_with(&schemas, &imported("Ed", bad));
            assert!(
                matches!(&decoded, Err(DecodeError::BadValue { field, value, .. })
                    if field == "opening_balance" && *value == Excerpt::of(bad)),
                "{bad:?}: {decoded:?}"
            );
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 10.4: copy-and-replace migration"
    )]
    fn exercise_10_4_a_migrated_store_holds_the_same_events_in_the_current_schema_and_maps_every_old_version()
     {
        // given: two streams of old records
        let (mut old, one) = release_1_and_2_log();
        let two = StreamId::new("account-2");
        let closing = [
            written_by_release(
                1,
                &Fact::Opened {
                    owner: "Bo".into(),
                    email: "bo@example.com".into(),
                    first_deposit: 0,
                },
            ),
            written_by_release(1, &Fact::Closed),
        ];
        append_records(&mut old, &two, closing.to_vec());
        let before: Vec<RecordedEvent> = old.store.read_stream(&one).into_iter().cloned().collect();

        // when
        let migrated = migrate(&old.store, &[one.clone(), two.clone()]).expect("migrates");

        // then: the same events, every record current, times carried over
        let new = &migrated.store;
        for stream in [&one, &two] {
            let mut expected = Vec::new();
            for recorded in old.store.read_stream(stream) {
                for event in decode(&recorded.record).expect("old records decode") {
                    expected.push((encode(&event), recorded.recorded_at));
                }
            }
            let copied: Vec<(EventRecord, Timestamp)> = new
                .read_stream(stream)
                .into_iter()
                .map(|r| (r.record.clone(), r.recorded_at))
                .collect();
            assert_eq!(copied, expected, "{stream}");
        }
        assert_eq!(new.stream_version(&one), Version(4));
        assert_eq!(new.stream_version(&two), Version(2));
        let after: Vec<RecordedEvent> = old.store.read_stream(&one).into_iter().cloned().collect();
        assert_eq!(after, before);

        // then: each old version maps to the new version with the same
        // state; the split opening of account-1 moves everything after it
        let map = |pairs: &[(u64, u64)]| -> BTreeMap<Version, Version> {
            pairs
                .iter()
                .map(|&(o, n)| (Version(o), Version(n)))
                .collect()
        };
        let versions = BTreeMap::from([
            (one.clone(), map(&[(1, 2), (2, 3), (3, 4)])),
            (two.clone(), map(&[(1, 1), (2, 2)])),
        ]);
        assert_eq!(migrated.versions, versions);

        // when: a stream listed twice (one with records, one missing), or a
        // record that does not decode
        let twice = migrate(&old.store, &[two.clone(), one.clone(), two.clone()]);
        let missing = StreamId::new("account-9");
        let missing_twice = migrate(&old.store, &[missing.clone(), missing.clone()]);
        append_records(
            &mut old,
            &two,
            vec![bytes("MoneyDeposited", 2, b"amount=x\n")],
        );
        let broken = migrate(&old.store, &[one.clone(), two.clone()]);

        // then
        assert_eq!(
            twice.map(|m| m.versions),
            Err(MigrationError::ListedTwice(two.clone()))
        );
        assert_eq!(
            missing_twice.map(|m| m.versions),
            Err(MigrationError::ListedTwice(missing))
        );
        assert_eq!(
            broken.map(|m| m.versions),
            Err(MigrationError::Undecodable(LoadError::Undecodable {
                stream: two,
                version: Version(3),
                error: DecodeError::BadValue {
                    field: "amount".into(),
                    value: Excerpt::of("x"),
                    expected: NUMBER,
                },
            }))
        );
    }

    #[test]
    fn a_migration_error_says_what_went_wrong_and_gives_the_load_error_as_its_source() {
        // given
        let load = LoadError::Undecodable {
            stream: StreamId::new("account-2"),
            version: Version(3),
            error: DecodeError::MissingEquals { offset: 0 },
        };
        let undecodable = MigrationError::Undecodable(load.clone());
        let twice = MigrationError::ListedTwice(StreamId::new("account-9"));

        // when
        let shown = (undecodable.to_string(), twice.to_string());

        // then
        assert_eq!(
            shown,
            (
                "cannot migrate: record v3 of account-2 does not decode: \
                 the line at byte 0 has no `=`"
                    .to_string(),
                "cannot migrate: account-9 is listed twice".to_string()
            )
        );
        let source = undecodable.source().map(|e| e.to_string());
        assert_eq!(source, Some(load.to_string()));
        assert!(twice.source().is_none());
    }
}
