//! Tests for lesson 6 — aggregates, then its exercises.

#![allow(
    clippy::inconsistent_digit_grouping,
    reason = "amounts in cents are written as units_cents: 100_00 is 100.00"
)]

use pretty_assertions::assert_eq;

use es_workbook::l06_aggregates::{
    Account, AccountCommand, AccountError, AccountEvent, AccountState, AppendError, Cents, Claimed,
    CommandError, Decider, EmailCommand, EmailError, EmailEvent, EmailReservation, EmailState,
    Position, Registration, RegistrationError, Repository, StreamId, Timestamp, Version, decide,
    email_stream, evolve, initial_state, register,
};

fn opened() -> AccountEvent {
    AccountEvent::AccountOpened {
        owner: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
    }
}

fn deposited(cents: u64) -> AccountEvent {
    AccountEvent::MoneyDeposited {
        amount: Cents(cents),
    }
}

fn withdrawn(cents: u64) -> AccountEvent {
    AccountEvent::MoneyWithdrawn {
        amount: Cents(cents),
    }
}

fn open(owner: &str, email: &str) -> AccountCommand {
    AccountCommand::OpenAccount {
        owner: owner.into(),
        email: email.into(),
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

/// The state after `events`, folded from the start.
fn given(events: &[AccountEvent]) -> AccountState {
    events.iter().fold(initial_state(), evolve)
}

fn id(name: &str) -> StreamId {
    StreamId::new(name)
}

#[test]
fn opening_records_the_owner_and_email_trimmed() {
    // given
    let state = given(&[]);

    // when
    let decided = decide(&open("  Ada Lovelace ", " Ada@Example.com\n"), &state);

    // then
    assert_eq!(
        decided,
        Ok(vec![AccountEvent::AccountOpened {
            owner: "Ada Lovelace".into(),
            email: "Ada@Example.com".into(),
        }])
    );
}

type Decided = Result<Vec<AccountEvent>, AccountError>;

#[test]
fn every_rule_accepts_and_rejects_as_stated() {
    use AccountCommand::CloseAccount;
    use AccountError::*;
    use AccountEvent::AccountClosed;

    let not_opened: Vec<AccountEvent> = vec![];
    let empty = vec![opened()];
    let with_70 = vec![opened(), deposited(100_00), withdrawn(30_00)];
    let closed = vec![opened(), AccountClosed];
    let near_max = vec![opened(), deposited(u64::MAX - 1)];
    #[rustfmt::skip]
    let cases: Vec<(&str, &[AccountEvent], AccountCommand, Decided)> = vec![
        ("open a new account", &not_opened, open("Ada Lovelace", "ada@example.com"), Ok(vec![opened()])),
        ("open with a blank owner", &not_opened, open(" \t", "ada@example.com"), Err(MissingOwner)),
        ("open with no @", &not_opened, open("Ada", "ada.example.com"), Err(InvalidEmail { email: "ada.example.com".into() })),
        ("open with nothing before @", &not_opened, open("Ada", " @example.com"), Err(InvalidEmail { email: "@example.com".into() })),
        ("open with nothing after @", &not_opened, open("Ada", "ada@"), Err(InvalidEmail { email: "ada@".into() })),
        ("open twice", &empty, open("Ada", "ada@example.com"), Err(AlreadyOpened)),
        ("open a closed account", &closed, open("Ada", "ada@example.com"), Err(AlreadyOpened)),
        ("deposit", &with_70, deposit(5), Ok(vec![deposited(5)])),
        ("deposit before opening", &not_opened, deposit(5), Err(NotOpened)),
        ("deposit into a closed account", &closed, deposit(5), Err(Closed)),
        ("deposit nothing", &with_70, deposit(0), Err(ZeroAmount)),
        ("deposit up to the largest balance", &near_max, deposit(1), Ok(vec![deposited(1)])),
        ("deposit past the largest balance", &near_max, deposit(2), Err(BalanceOverflow)),
        ("withdraw", &with_70, withdraw(10_00), Ok(vec![withdrawn(10_00)])),
        ("withdraw the whole balance", &with_70, withdraw(70_00), Ok(vec![withdrawn(70_00)])),
        ("withdraw one cent too many", &with_70, withdraw(70_01), Err(InsufficientFunds { balance: Cents(70_00), requested: Cents(70_01) })),
        ("withdraw from an empty account", &empty, withdraw(1), Err(InsufficientFunds { balance: Cents(0), requested: Cents(1) })),
        ("withdraw nothing", &with_70, withdraw(0), Err(ZeroAmount)),
        ("withdraw before opening", &not_opened, withdraw(1), Err(NotOpened)),
        ("withdraw from a closed account", &closed, withdraw(1), Err(Closed)),
        ("close at zero", &empty, CloseAccount, Ok(vec![AccountClosed])),
        ("close with money left", &with_70, CloseAccount, Err(BalanceNotZero { balance: Cents(70_00) })),
        ("close before opening", &not_opened, CloseAccount, Err(NotOpened)),
        ("close twice", &closed, CloseAccount, Err(Closed)),
    ];

    for (case, history, command, expected) in cases {
        // given
        let state = given(history);

        // when
        let decided = decide(&command, &state);

        // then
        assert_eq!(decided, expected, "case: {case}");
    }
}

#[test]
fn state_rules_come_before_argument_rules_and_argument_rules_before_balance_rules() {
    use AccountError::*;

    let cases = [
        // a closed account refuses even a command with bad arguments
        (
            vec![opened(), AccountEvent::AccountClosed],
            deposit(0),
            Closed,
        ),
        (
            vec![opened(), AccountEvent::AccountClosed],
            open(" ", "nope"),
            AlreadyOpened,
        ),
        // an opened account refuses a second open before looking at it
        (vec![opened()], open(" ", "nope"), AlreadyOpened),
        // an account that does not exist refuses before the amount is checked
        (vec![], withdraw(0), NotOpened),
        // a blank owner is reported before a bad email
        (vec![], open("", "nope"), MissingOwner),
        // a zero withdrawal from an empty account is a zero amount, not a lack of funds
        (vec![opened()], withdraw(0), ZeroAmount),
    ];

    for (history, command, expected) in cases {
        // given
        let state = given(&history);

        // when
        let decided = decide(&command, &state);

        // then
        assert_eq!(decided, Err(expected), "{command:?} after {history:?}");
    }
}

#[test]
fn evolve_is_total_and_leaves_the_state_alone_for_events_that_cannot_follow_it() {
    // given: every state and every event, including pairs decide never produces
    let states = [
        AccountState::NotOpened,
        AccountState::Open { balance: Cents(5) },
        AccountState::Open {
            balance: Cents(u64::MAX),
        },
        AccountState::Closed,
    ];
    let events = [
        opened(),
        deposited(1),
        withdrawn(10),
        AccountEvent::AccountClosed,
    ];

    // when
    let table: Vec<Vec<AccountState>> = states
        .iter()
        .map(|state| events.iter().map(|event| evolve(*state, event)).collect())
        .collect();

    // then
    use AccountState::*;
    let open = |cents| Open {
        balance: Cents(cents),
    };
    assert_eq!(
        table,
        vec![
            vec![open(0), NotOpened, NotOpened, NotOpened],
            vec![open(5), open(6), open(0), Closed],
            vec![open(u64::MAX), open(u64::MAX), open(u64::MAX - 10), Closed],
            vec![Closed, Closed, Closed, Closed],
        ]
    );
}

/// SplitMix64: a tiny, seedable PRNG, good enough to generate test inputs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn amount(&mut self) -> Cents {
        match self.below(8) {
            0 => Cents(0),
            1 => Cents(u64::MAX - self.below(3)),
            _ => Cents(1 + self.below(20_000)),
        }
    }
}

/// A random command; `balance` lets it sometimes withdraw everything, so
/// that closing the account is reached too.
fn random_command(rng: &mut SplitMix64, balance: i128) -> AccountCommand {
    match rng.below(12) {
        0 => open("Ada", "ada@example.com"),
        1 => open(["", " ", "Ada"][rng.below(3) as usize], "not-an-email"),
        2..=5 => AccountCommand::DepositMoney {
            amount: rng.amount(),
        },
        6..=8 => AccountCommand::WithdrawMoney {
            amount: rng.amount(),
        },
        9 => withdraw(u64::try_from(balance).unwrap_or(0)),
        _ => AccountCommand::CloseAccount,
    }
}

/// The balance worked out from the events alone, in a wider integer, with
/// no reference to `evolve`: deposits minus withdrawals. Returns the lowest
/// running balance too, which must never go below zero.
fn independent_balance(events: &[AccountEvent]) -> (i128, i128) {
    let mut balance: i128 = 0;
    let mut lowest: i128 = 0;
    for event in events {
        match event {
            AccountEvent::MoneyDeposited { amount } => balance += i128::from(amount.0),
            AccountEvent::MoneyWithdrawn { amount } => balance -= i128::from(amount.0),
            _ => {}
        }
        lowest = lowest.min(balance);
    }
    (balance, lowest)
}

#[test]
fn law_1_replaying_random_histories_is_deterministic_and_agrees_with_the_balance() {
    let mut reached = std::collections::BTreeSet::new();
    for seed in 0..300 {
        // given: a random sequence of commands, decided one after another
        let mut rng = SplitMix64(seed);
        let mut state = initial_state();
        let mut history = Vec::new();
        let mut repository = Repository::<Account>::new();
        let stream = id("account-1");
        for step in 0..1 + rng.below(60) {
            let command = random_command(&mut rng, independent_balance(&history).0);
            let decided = decide(&command, &state);
            let executed = repository.execute(&stream, &command, Timestamp(step));
            assert_eq!(
                executed.is_ok(),
                decided.is_ok(),
                "seed {seed}: the repository and decide disagree on {command:?}"
            );
            if let Ok(events) = decided {
                state = events.iter().fold(state, evolve);
                history.extend(events);
            }
        }

        // when
        let first = given(&history);
        let second = given(&history);
        let loaded = repository.load(&stream);

        // then
        assert_eq!(first, second, "seed {seed}: replay is not deterministic");
        assert_eq!(
            first, state,
            "seed {seed}: replay differs from the live state"
        );
        assert_eq!(
            loaded.state, state,
            "seed {seed}: the repository loads another state"
        );
        assert_eq!(loaded.version, Version(history.len() as u64), "seed {seed}");
        let (balance, lowest) = independent_balance(&history);
        assert!(lowest >= 0, "seed {seed}: the balance went below zero");
        let expected = match (history.first(), history.last()) {
            (None, _) => AccountState::NotOpened,
            (_, Some(AccountEvent::AccountClosed)) => {
                assert_eq!(balance, 0, "seed {seed}: closed with money left");
                AccountState::Closed
            }
            _ => AccountState::Open {
                balance: Cents(u64::try_from(balance).expect("a balance fits in u64")),
            },
        };
        assert_eq!(state, expected, "seed {seed}: history {history:?}");
        reached.insert(match state {
            AccountState::NotOpened => "not opened",
            AccountState::Open { .. } => "open",
            AccountState::Closed => "closed",
        });
    }
    // the generator must reach every state, or the law is tested on too little
    assert_eq!(reached.len(), 3, "states reached: {reached:?}");
}

#[test]
fn the_repository_loads_the_folded_state_and_the_version_it_read() {
    // given
    let mut accounts = Repository::<Account>::new();
    let (one, two) = (id("account-1"), id("account-2"));
    accounts
        .save(
            &one,
            Version(0),
            vec![opened(), deposited(10_00)],
            Timestamp(1),
        )
        .expect("a new stream is at v0");
    accounts
        .save(&two, Version(0), vec![opened()], Timestamp(2))
        .expect("a new stream is at v0");
    accounts
        .save(&one, Version(2), vec![withdrawn(4_00)], Timestamp(3))
        .expect("account-1 is at v2");

    // when
    let loaded = [&one, &two, &id("account-3")].map(|stream| accounts.load(stream));

    // then
    let summary: Vec<(AccountState, Version)> = loaded
        .into_iter()
        .map(|loaded| (loaded.state, loaded.version))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                AccountState::Open {
                    balance: Cents(6_00)
                },
                Version(3)
            ),
            (AccountState::Open { balance: Cents(0) }, Version(1)),
            (AccountState::NotOpened, Version(0)),
        ]
    );
}

#[test]
fn saving_on_a_stale_load_is_refused_and_appends_nothing() {
    // given: two callers load the same account at v2
    let mut accounts = Repository::<Account>::new();
    let stream = id("account-1");
    accounts
        .save(
            &stream,
            Version(0),
            vec![opened(), deposited(100)],
            Timestamp(1),
        )
        .expect("a new stream is at v0");
    let first = accounts.load(&stream);
    let second = accounts.load(&stream);
    let first_events = decide(&withdraw(80), &first.state).expect("100 covers 80");
    let second_events = decide(&withdraw(70), &second.state).expect("100 covers 70");

    // when
    let first_saved = accounts.save(&stream, first.version, first_events, Timestamp(2));
    let second_saved = accounts.save(&stream, second.version, second_events, Timestamp(3));

    // then: the second would have overdrawn the account, and is refused
    assert_eq!(first_saved, Ok(Version(3)));
    assert_eq!(
        second_saved,
        Err(AppendError::VersionConflict {
            expected: Version(2),
            actual: Version(3)
        })
    );
    let after = accounts.load(&stream);
    assert_eq!(
        (after.state, after.version),
        (AccountState::Open { balance: Cents(20) }, Version(3))
    );
}

#[test]
fn a_refused_command_appends_nothing() {
    // given
    let mut accounts = Repository::<Account>::new();
    let stream = id("account-1");
    accounts
        .execute(&stream, &open("Ada", "ada@example.com"), Timestamp(1))
        .expect("a new account opens");

    // when
    let refused = accounts.execute(&stream, &withdraw(1), Timestamp(2));

    // then
    assert_eq!(
        refused,
        Err(CommandError::Rejected(AccountError::InsufficientFunds {
            balance: Cents(0),
            requested: Cents(1)
        }))
    );
    assert_eq!(accounts.store().read_stream(&stream).len(), 1);
}

#[test]
fn money_prints_as_units_and_hundredths() {
    // given
    let cases = [
        (0, "0.00"),
        (5, "0.05"),
        (1234, "12.34"),
        (100_00, "100.00"),
        (u64::MAX, "184467440737095516.15"),
    ];

    // then
    for (cents, expected) in cases {
        assert_eq!(Cents(cents).to_string(), expected);
    }
}

#[test]
fn emails_that_differ_only_in_case_and_spaces_share_one_reservation_stream() {
    // given
    let spellings = ["ada@example.com", "Ada@Example.COM", "  ada@example.com\n"];

    // when
    let streams: Vec<StreamId> = spellings.iter().map(|email| email_stream(email)).collect();

    // then
    assert!(
        streams
            .iter()
            .all(|stream| stream.to_string() == "email-ada@example.com")
    );
    assert_ne!(email_stream("bob@example.com"), streams[0]);
}

#[test]
fn a_second_registration_with_a_taken_email_is_refused_and_opens_nothing() {
    // given
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    register(
        &mut accounts,
        &mut emails,
        &id("account-1"),
        "Ada Lovelace",
        "ada@example.com",
        Timestamp(1),
    )
    .expect("the first registration opens");

    // when
    let second = register(
        &mut accounts,
        &mut emails,
        &id("account-2"),
        "Ada Byron",
        " ADA@example.com",
        Timestamp(2),
    );

    // then
    assert_eq!(
        second,
        Err(RegistrationError::EmailTaken {
            email: "ada@example.com".into()
        })
    );
    assert_eq!(
        accounts.load(&id("account-2")).state,
        AccountState::NotOpened
    );
    assert_eq!(
        emails.load(&email_stream("ada@example.com")).state,
        EmailState::Claimed {
            account: id("account-1")
        }
    );
}

#[test]
fn of_two_competing_registrations_for_one_email_exactly_one_wins() {
    for first_to_commit in [0, 1] {
        // given: both registrations load and decide before either saves
        let mut accounts = Repository::<Account>::new();
        let mut emails = Repository::<EmailReservation>::new();
        let contenders = [id("account-5"), id("account-6")];
        let mut prepared: Vec<Option<Registration>> = contenders
            .iter()
            .map(|account| {
                Registration::prepare(&accounts, &emails, account, "Alan", "alan@example.com")
                    .map(Some)
                    .expect("the email is free when both look")
            })
            .collect();

        // when: they commit, in one order or the other
        let order = [first_to_commit, 1 - first_to_commit];
        let outcomes: Vec<Result<Version, RegistrationError>> = order
            .iter()
            .map(|&i| {
                let registration = prepared[i].take().expect("each registration commits once");
                commit(registration, &mut accounts, &mut emails, Timestamp(10))
            })
            .collect();

        // then: the first to commit wins, the other is told the email is taken
        let taken = RegistrationError::EmailTaken {
            email: "alan@example.com".into(),
        };
        assert_eq!(outcomes, vec![Ok(Version(1)), Err(taken)]);
        let (winner, loser) = (&contenders[order[0]], &contenders[order[1]]);
        let reservation = emails
            .store()
            .read_stream(&email_stream("alan@example.com"));
        let claims: Vec<&EmailEvent> = reservation.iter().map(|r| &r.event).collect();
        assert_eq!(
            claims,
            vec![&EmailEvent::EmailClaimed {
                account: winner.clone()
            }]
        );
        assert_eq!(
            accounts.load(winner).state,
            AccountState::Open { balance: Cents(0) }
        );
        assert_eq!(accounts.load(loser).version, Version(0));
    }
}

#[test]
fn the_second_of_two_claims_decided_on_the_same_version_gets_a_version_conflict() {
    // given: two claims, both decided on the email's reservation at v0
    let mut emails = Repository::<EmailReservation>::new();
    let stream = email_stream("alan@example.com");
    let claim = |account: &str| EmailCommand::ClaimEmail {
        account: id(account),
    };
    let first = emails.load(&stream);
    let second = emails.load(&stream);
    let first_events =
        EmailReservation::decide(&claim("account-5"), &first.state).expect("the email is free");
    let second_events =
        EmailReservation::decide(&claim("account-6"), &second.state).expect("the email is free");

    // when
    let first_saved = emails.save(&stream, first.version, first_events, Timestamp(1));
    let second_saved = emails.save(&stream, second.version, second_events, Timestamp(2));

    // then
    assert_eq!(first_saved, Ok(Version(1)));
    assert_eq!(
        second_saved,
        Err(AppendError::VersionConflict {
            expected: Version(0),
            actual: Version(1)
        })
    );
    // and a claim decided after the first save is refused by the rule itself
    assert_eq!(
        emails.execute(&stream, &claim("account-6"), Timestamp(3)),
        Err(CommandError::Rejected(EmailError::ClaimedByAnother {
            account: id("account-5")
        }))
    );
}

#[test]
fn a_registration_the_account_refuses_claims_no_email() {
    // given
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();

    // when
    let refused = register(
        &mut accounts,
        &mut emails,
        &id("account-1"),
        "   ",
        "ada@example.com",
        Timestamp(1),
    );

    // then
    assert_eq!(
        refused,
        Err(RegistrationError::Rejected(AccountError::MissingOwner))
    );
    assert!(emails.store().read_all(Position(0)).is_empty());
}

#[test]
fn an_open_that_cannot_be_saved_releases_its_claim() {
    // given: a registration is prepared, then its account is opened by
    // another request before it commits
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    let account = id("account-7");
    let pending = Registration::prepare(&accounts, &emails, &account, "Edsger", "ewd@example.com")
        .expect("both streams are empty");
    accounts
        .execute(
            &account,
            &open("Edsger", "edsger@example.com"),
            Timestamp(1),
        )
        .expect("the account opens");

    // when
    let committed = commit(pending, &mut accounts, &mut emails, Timestamp(2));

    // then
    assert_eq!(
        committed,
        Err(RegistrationError::Store(AppendError::VersionConflict {
            expected: Version(0),
            actual: Version(1)
        }))
    );
    let reservation: Vec<EmailEvent> = emails
        .store()
        .read_stream(&email_stream("ewd@example.com"))
        .into_iter()
        .map(|r| r.event.clone())
        .collect();
    assert_eq!(
        reservation,
        vec![
            EmailEvent::EmailClaimed {
                account: account.clone()
            },
            EmailEvent::EmailReleased { account }
        ]
    );
    register(
        &mut accounts,
        &mut emails,
        &id("account-8"),
        "Someone",
        "ewd@example.com",
        Timestamp(3),
    )
    .expect("the released email can be claimed again");
}

#[test]
fn retrying_a_registration_after_a_crash_reuses_its_own_orphan_claim() {
    // given: a claim was saved, then the process died before the open
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    let account = id("account-9");
    let claim = EmailCommand::ClaimEmail {
        account: account.clone(),
    };
    emails
        .execute(&email_stream("grace@example.com"), &claim, Timestamp(1))
        .expect("the email is free");

    // when: the same registration is tried again
    let retried = register(
        &mut accounts,
        &mut emails,
        &account,
        "Grace Hopper",
        "grace@example.com",
        Timestamp(2),
    );

    // then: the claim is already ours, so nothing is claimed twice
    assert_eq!(retried, Ok(Version(1)));
    assert_eq!(
        emails
            .store()
            .read_stream(&email_stream("grace@example.com"))
            .len(),
        1
    );
}

/// Saves a prepared registration: its claim, then its open.
fn commit(
    registration: Registration,
    accounts: &mut Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    recorded_at: Timestamp,
) -> Result<Version, RegistrationError> {
    registration
        .claim(emails, recorded_at)?
        .open(accounts, emails, recorded_at)
}

/// The events of an email's reservation stream, oldest first.
fn reservation_of(emails: &Repository<EmailReservation>, email: &str) -> Vec<EmailEvent> {
    emails
        .store()
        .read_stream(&email_stream(email))
        .into_iter()
        .map(|recorded| recorded.event.clone())
        .collect()
}

#[test]
fn a_retry_whose_claim_changed_nothing_never_frees_the_email_of_the_account_it_failed_to_open() {
    // given: a slow first attempt to register account-1 saves its claim
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    let one = id("account-1");
    let first = Registration::prepare(&accounts, &emails, &one, "Ada", "ada@example.com")
        .expect("both streams are empty")
        .claim(&mut emails, Timestamp(1))
        .expect("the email is free");
    // a retry finds the claim already account-1's, so its claim changes nothing
    let retry = Registration::prepare(&accounts, &emails, &one, "Ada", "ada@example.com")
        .expect("the claim is account-1's")
        .claim(&mut emails, Timestamp(2))
        .expect("claiming again is a no-op");
    // the first attempt opens the account
    let opened = first.open(&mut accounts, &mut emails, Timestamp(3));

    // when: the retry's open fails, and another customer registers the email
    let retried = retry.open(&mut accounts, &mut emails, Timestamp(4));
    let second = register(
        &mut accounts,
        &mut emails,
        &id("account-2"),
        "Ada Byron",
        "ada@example.com",
        Timestamp(5),
    );

    // then: the email stays with account-1
    assert_eq!(opened, Ok(Version(1)));
    assert_eq!(
        retried,
        Err(RegistrationError::Store(AppendError::VersionConflict {
            expected: Version(0),
            actual: Version(1)
        }))
    );
    assert_eq!(
        second,
        Err(RegistrationError::EmailTaken {
            email: "ada@example.com".into()
        })
    );
    assert_eq!(
        reservation_of(&emails, "ada@example.com"),
        vec![EmailEvent::EmailClaimed { account: one }]
    );
}

#[test]
fn a_registration_never_releases_a_claim_another_attempt_made() {
    // given: a first attempt claimed the email for account-1; a retry finds
    // the claim its own; then account-1 is opened with another email
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    let one = id("account-1");
    emails
        .execute(
            &email_stream("ada@example.com"),
            &EmailCommand::ClaimEmail {
                account: one.clone(),
            },
            Timestamp(1),
        )
        .expect("the first attempt's claim");
    let retry = Registration::prepare(&accounts, &emails, &one, "Ada", "ada@example.com")
        .expect("the claim is already account-1's");
    accounts
        .execute(&one, &open("Ada", "ada@elsewhere.org"), Timestamp(2))
        .expect("another request opens account-1");

    // when
    let retried = commit(retry, &mut accounts, &mut emails, Timestamp(3));

    // then: the claim is the first attempt's to release, not the retry's
    assert_eq!(
        retried,
        Err(RegistrationError::Store(AppendError::VersionConflict {
            expected: Version(0),
            actual: Version(1)
        }))
    );
    assert_eq!(
        reservation_of(&emails, "ada@example.com"),
        vec![EmailEvent::EmailClaimed { account: one }]
    );
}

#[test]
fn a_registration_never_releases_its_claim_while_its_account_is_open_with_that_email() {
    // given: a registration is prepared; before it commits, account-1 is
    // opened with the same email by another attempt
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    let one = id("account-1");
    let first = Registration::prepare(&accounts, &emails, &one, "Ada", "ada@example.com")
        .expect("both streams are empty");
    accounts
        .execute(&one, &open("Ada", " ADA@example.com"), Timestamp(1))
        .expect("another attempt opens account-1");

    // when: the registration claims, fails to open, and another customer
    // registers the same email
    let committed = commit(first, &mut accounts, &mut emails, Timestamp(2));
    let second = register(
        &mut accounts,
        &mut emails,
        &id("account-2"),
        "Ada Byron",
        "ada@example.com",
        Timestamp(3),
    );

    // then: account-1 holds the email, so its claim stays
    assert_eq!(
        committed,
        Err(RegistrationError::Store(AppendError::VersionConflict {
            expected: Version(0),
            actual: Version(1)
        }))
    );
    assert_eq!(
        second,
        Err(RegistrationError::EmailTaken {
            email: "ada@example.com".into()
        })
    );
    assert_eq!(
        reservation_of(&emails, "ada@example.com"),
        vec![EmailEvent::EmailClaimed { account: one }]
    );
}

/// One actor of an interleaving: a registration run step by step, or a
/// plain open that bypasses registration.
enum Actor {
    Registering(&'static str),
    Prepared(Registration),
    Claimed(Claimed),
    Done,
    PlainOpen(&'static str, &'static str),
}

/// Runs the next step of `actor`. A step that fails ends the actor.
fn step(
    actor: Actor,
    accounts: &mut Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    at: Timestamp,
) -> Actor {
    match actor {
        Actor::Registering(account) => {
            Registration::prepare(accounts, emails, &id(account), "Ada", "ada@example.com")
                .map_or(Actor::Done, Actor::Prepared)
        }
        Actor::Prepared(registration) => registration
            .claim(emails, at)
            .map_or(Actor::Done, Actor::Claimed),
        Actor::Claimed(claimed) => {
            let _ = claimed.open(accounts, emails, at);
            Actor::Done
        }
        Actor::PlainOpen(account, email) => {
            let _ = accounts.execute(&id(account), &open("Ada", email), at);
            Actor::Done
        }
        Actor::Done => Actor::Done,
    }
}

/// Every order of `counts[i]` steps of actor `i`, each actor's steps in turn.
fn interleavings(counts: &mut Vec<usize>, order: &mut Vec<usize>, all: &mut Vec<Vec<usize>>) {
    if counts.iter().all(|&left| left == 0) {
        all.push(order.clone());
        return;
    }
    for actor in 0..counts.len() {
        if counts[actor] > 0 {
            counts[actor] -= 1;
            order.push(actor);
            interleavings(counts, order, all);
            order.pop();
            counts[actor] += 1;
        }
    }
}

#[test]
fn in_every_interleaving_of_retries_and_rivals_no_email_is_held_by_two_open_accounts() {
    // given: two attempts to register account-1, one to register account-2,
    // all with the same email, and a plain open of account-1 with another
    // email; every order of their steps
    let mut all = Vec::new();
    interleavings(&mut vec![3, 3, 3, 1], &mut Vec::new(), &mut all);
    assert_eq!(all.len(), 16_800);
    let accounts_ids = [id("account-1"), id("account-2")];
    for order in all {
        let mut accounts = Repository::<Account>::new();
        let mut emails = Repository::<EmailReservation>::new();
        let mut actors = [
            Actor::Registering("account-1"),
            Actor::Registering("account-1"),
            Actor::Registering("account-2"),
            Actor::PlainOpen("account-1", "ada@elsewhere.org"),
        ];
        for (at, &next) in (0..).zip(&order) {
            // when: the next step runs
            let actor = std::mem::replace(&mut actors[next], Actor::Done);
            actors[next] = step(actor, &mut accounts, &mut emails, Timestamp(at));

            // then: an account open with the email holds its claim, so at
            // most one does
            let holders: Vec<&StreamId> = accounts_ids
                .iter()
                .filter(|account| {
                    accounts
                        .store()
                        .read_stream(account)
                        .first()
                        .is_some_and(|first| {
                            first.event
                                == AccountEvent::AccountOpened {
                                    owner: "Ada".into(),
                                    email: "ada@example.com".into(),
                                }
                        })
                })
                .collect();
            let reservation = emails.load(&email_stream("ada@example.com")).state;
            for holder in &holders {
                assert_eq!(
                    reservation,
                    EmailState::Claimed {
                        account: (*holder).clone()
                    },
                    "order {order:?}"
                );
            }
        }
    }
}

#[test]
fn only_the_holder_can_release_an_email() {
    // given
    let claimed = EmailState::Claimed {
        account: id("account-1"),
    };
    let release = |account: &str| EmailCommand::ReleaseEmail {
        account: id(account),
    };

    // when
    let by_holder = EmailReservation::decide(&release("account-1"), &claimed);
    let by_other = EmailReservation::decide(&release("account-2"), &claimed);
    let when_free = EmailReservation::decide(&release("account-2"), &EmailState::Free);

    // then
    assert_eq!(
        by_holder,
        Ok(vec![EmailEvent::EmailReleased {
            account: id("account-1")
        }])
    );
    assert_eq!(
        by_other,
        Err(EmailError::ClaimedByAnother {
            account: id("account-1")
        })
    );
    assert_eq!(when_free, Ok(vec![]));
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l06_aggregates -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l06_aggregates::{
        close_and_release_email, decide_pay_out_and_close, hashed_email_stream, sweep_orphan_claims,
    };
    use pretty_assertions::assert_eq;
    use std::collections::BTreeSet;

    /// Given: `account-1` registered by Ada with `ada@example.com` at
    /// second 1, through the lesson's `register`.
    fn ada_registered_as_account_1() -> (Repository<Account>, Repository<EmailReservation>) {
        let mut accounts = Repository::<Account>::new();
        let mut emails = Repository::<EmailReservation>::new();
        register(
            &mut accounts,
            &mut emails,
            &id("account-1"),
            "Ada",
            "ada@example.com",
            Timestamp(1),
        )
        .expect("a fresh email");
        (accounts, emails)
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 6.1: pay out the balance and close"
    )]
    fn exercise_6_1_paying_out_and_closing_empties_the_account_in_one_decision() {
        // given
        let with_70 = given(&[opened(), deposited(100_00), withdrawn(30_00)]);
        let empty = given(&[opened()]);
        let closed = given(&[opened(), AccountEvent::AccountClosed]);

        // when
        let paid_out = decide_pay_out_and_close(&with_70);
        let at_zero = decide_pay_out_and_close(&empty);

        // then
        assert_eq!(
            paid_out,
            Ok(vec![withdrawn(70_00), AccountEvent::AccountClosed])
        );
        assert_eq!(at_zero, Ok(vec![AccountEvent::AccountClosed]));
        let after: AccountState = paid_out
            .expect("an open account pays out")
            .iter()
            .fold(with_70, evolve);
        assert_eq!(after, AccountState::Closed);
        assert_eq!(
            decide_pay_out_and_close(&AccountState::NotOpened),
            Err(AccountError::NotOpened)
        );
        assert_eq!(decide_pay_out_and_close(&closed), Err(AccountError::Closed));
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 6.2: a hashed reservation key"
    )]
    fn exercise_6_2_a_hashed_reservation_key_hides_the_email_but_still_collides_on_spelling() {
        // given: FNV-1a 64 values computed outside this crate
        let known = [
            ("ada@example.com", "email-266811ad9b55c572"),
            ("bob@example.com", "email-61c042a8ff8b4299"),
            ("a", "email-af63dc4c8601ec8c"),
            ("user2@example.com", "email-04cf9ea9c85596ed"),
        ];

        // when
        let keys: Vec<String> = known
            .iter()
            .map(|(email, _)| hashed_email_stream(email).to_string())
            .collect();

        // then
        let expected: Vec<String> = known.iter().map(|(_, key)| key.to_string()).collect();
        assert_eq!(keys, expected);
        assert_eq!(
            hashed_email_stream(" ADA@example.COM "),
            hashed_email_stream("ada@example.com")
        );
        assert!(
            !hashed_email_stream("ada@example.com")
                .to_string()
                .contains("ada")
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 6.3: close an account and release its email"
    )]
    fn exercise_6_3_closing_an_account_frees_its_email_for_a_new_customer() {
        // given: account-1 holds ada@example.com and 10.00
        let (mut accounts, mut emails) = ada_registered_as_account_1();
        let one = id("account-1");
        accounts
            .execute(&one, &deposit(10_00), Timestamp(2))
            .expect("an open account takes deposits");

        // when: closing with money left is refused, then allowed at zero
        let refused = close_and_release_email(&mut accounts, &mut emails, &one, Timestamp(3));
        let still_taken = register(
            &mut accounts,
            &mut emails,
            &id("account-2"),
            "Ada",
            "ada@example.com",
            Timestamp(4),
        );
        accounts
            .execute(&one, &withdraw(10_00), Timestamp(5))
            .expect("the balance covers it");
        let closed = close_and_release_email(&mut accounts, &mut emails, &one, Timestamp(6));

        // then
        assert_eq!(
            refused,
            Err(CommandError::Rejected(AccountError::BalanceNotZero {
                balance: Cents(10_00)
            }))
        );
        assert_eq!(
            still_taken,
            Err(RegistrationError::EmailTaken {
                email: "ada@example.com".into()
            })
        );
        assert_eq!(closed, Ok(Version(4)));
        assert_eq!(
            register(
                &mut accounts,
                &mut emails,
                &id("account-3"),
                "Ada Byron",
                "Ada@Example.com",
                Timestamp(7),
            ),
            Ok(Version(1))
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 6.3: close an account and release its email"
    )]
    fn exercise_6_3_a_retry_after_dying_between_the_close_and_the_release_frees_the_email() {
        // given: account-1 holds ada@example.com; the process closed it and
        // died before releasing the email
        let (mut accounts, mut emails) = ada_registered_as_account_1();
        let one = id("account-1");
        accounts
            .execute(&one, &AccountCommand::CloseAccount, Timestamp(2))
            .expect("an empty open account closes");

        // when: the whole step is retried
        let retried = close_and_release_email(&mut accounts, &mut emails, &one, Timestamp(3));
        let again = close_and_release_email(&mut accounts, &mut emails, &one, Timestamp(4));

        // then: the retry finishes the job, and a second one changes nothing
        assert_eq!(retried, Ok(Version(2)));
        assert_eq!(again, Ok(Version(2)));
        assert_eq!(
            emails.load(&email_stream("ada@example.com")).state,
            EmailState::Free
        );
        assert_eq!(
            register(
                &mut accounts,
                &mut emails,
                &id("account-2"),
                "Ada",
                "ada@example.com",
                Timestamp(5),
            ),
            Ok(Version(1))
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 6.3: close an account and release its email"
    )]
    fn exercise_6_3_closing_an_account_leaves_another_accounts_claim_alone() {
        // given: account-1 holds the email; account-2 was opened with the
        // same email without registering
        let (mut accounts, mut emails) = ada_registered_as_account_1();
        let two = id("account-2");
        accounts
            .execute(&two, &open("Ada", "ada@example.com"), Timestamp(2))
            .expect("a plain open");

        // when
        let closed = close_and_release_email(&mut accounts, &mut emails, &two, Timestamp(3));

        // then
        assert_eq!(closed, Ok(Version(2)));
        assert_eq!(
            emails.load(&email_stream("ada@example.com")).state,
            EmailState::Claimed {
                account: id("account-1")
            }
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 6.4: sweep orphan claims"
    )]
    fn exercise_6_4_the_sweep_releases_old_orphan_claims_and_nothing_else() {
        // given
        // a healthy registration
        let (mut accounts, mut emails) = ada_registered_as_account_1();
        let claim = |account: &str| EmailCommand::ClaimEmail {
            account: id(account),
        };
        // an old claim whose registration died before the open
        emails
            .execute(
                &email_stream("bob@example.com"),
                &claim("account-2"),
                Timestamp(5),
            )
            .expect("a fresh email");
        // an old claim whose account was opened with another email
        emails
            .execute(
                &email_stream("carol@example.com"),
                &claim("account-3"),
                Timestamp(6),
            )
            .expect("a fresh email");
        accounts
            .execute(
                &id("account-3"),
                &open("Carol", "c@example.com"),
                Timestamp(6),
            )
            .expect("a plain open");
        // a recent claim whose registration may still be saving its open
        emails
            .execute(
                &email_stream("dan@example.com"),
                &claim("account-4"),
                Timestamp(50),
            )
            .expect("a fresh email");
        // a healthy registration typed with capitals and spaces, whose
        // account has moved on since it opened
        let five = id("account-5");
        register(
            &mut accounts,
            &mut emails,
            &five,
            "Eve",
            " Eve@Example.com ",
            Timestamp(2),
        )
        .expect("a fresh email");
        accounts
            .execute(&five, &deposit(1_00), Timestamp(3))
            .expect("an open account takes deposits");
        // a claim made exactly at the cut-off
        emails
            .execute(
                &email_stream("fay@example.com"),
                &claim("account-6"),
                Timestamp(30),
            )
            .expect("a fresh email");
        // an email claimed long ago, released, and claimed again recently
        let gus = email_stream("gus@example.com");
        emails
            .execute(&gus, &claim("account-7"), Timestamp(4))
            .expect("a fresh email");
        emails
            .execute(
                &gus,
                &EmailCommand::ReleaseEmail {
                    account: id("account-7"),
                },
                Timestamp(5),
            )
            .expect("the holder releases");
        emails
            .execute(&gus, &claim("account-8"), Timestamp(40))
            .expect("a free email");

        // when
        let released = sweep_orphan_claims(&accounts, &mut emails, Timestamp(30), Timestamp(60))
            .expect("single-threaded: no conflicts");
        let again = sweep_orphan_claims(&accounts, &mut emails, Timestamp(30), Timestamp(61))
            .expect("single-threaded: no conflicts");

        // then
        let expected: BTreeSet<StreamId> = [
            email_stream("bob@example.com"),
            email_stream("carol@example.com"),
        ]
        .into_iter()
        .collect();
        assert_eq!(released, expected);
        assert!(again.is_empty());
        let release_times: Vec<Timestamp> = expected
            .iter()
            .map(|stream| {
                emails
                    .store()
                    .read_stream(stream)
                    .last()
                    .expect("a released stream has events")
                    .recorded_at
            })
            .collect();
        assert_eq!(release_times, vec![Timestamp(60), Timestamp(60)]);
        let states: Vec<EmailState> = ["ada", "bob", "carol", "dan", "eve", "fay", "gus"]
            .iter()
            .map(|name| {
                emails
                    .load(&email_stream(&format!("{name}@example.com")))
                    .state
            })
            .collect();
        assert_eq!(
            states,
            vec![
                EmailState::Claimed {
                    account: id("account-1")
                },
                EmailState::Free,
                EmailState::Free,
                EmailState::Claimed {
                    account: id("account-4")
                },
                EmailState::Claimed {
                    account: id("account-5")
                },
                EmailState::Claimed {
                    account: id("account-6")
                },
                EmailState::Claimed {
                    account: id("account-8")
                },
            ]
        );
    }
}
