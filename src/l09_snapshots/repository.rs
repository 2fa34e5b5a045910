//! The repository: loads an account from its newest usable snapshot plus the
//! tail of its stream, and takes snapshots after appends by policy.

use std::fmt;

use super::account::{
    AccountCommand, AccountError, AccountEvent, AccountState, decide, evolve, initial_state,
};
use super::snapshot::{Snapshot, SnapshotPolicy, SnapshotRejected, SnapshotStore};
use super::store::{
    AppendError, Appended, CommandId, EventStore, Fingerprint, StreamId, Timestamp, Version,
};

/// What a load did with the snapshots it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotUse {
    /// There was no snapshot at or below the version asked for.
    NoSnapshot,
    /// The load started from the snapshot at this version.
    Used(Version),
    /// The snapshot at `version` could not be trusted, so the load replayed
    /// the stream from its first event.
    Discarded {
        /// The version of the snapshot thrown away.
        version: Version,
        /// Why.
        reason: SnapshotRejected,
    },
}

/// An account as loaded, and how it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The state at `version`.
    pub state: AccountState,
    /// The stream version the state is the fold of.
    pub version: Version,
    /// Whether a snapshot was used, and which.
    pub snapshot: SnapshotUse,
    /// How many events were folded on top of the starting point.
    pub events_replayed: u64,
}

/// Why a command was not carried out: the account refused it, or the store
/// did. The two are kept apart because the caller reacts differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The account's rules refused the command.
    Rejected(AccountError),
    /// The store refused the append: someone else wrote first, the clock
    /// went backwards, or the command id was used for another command.
    Append(AppendError),
}

/// Accounts with their events, their snapshots, and when to take one.
#[derive(Debug)]
pub struct AccountRepository {
    /// The events: the only source of truth.
    pub store: EventStore<AccountEvent>,
    /// The cache of states.
    pub snapshots: SnapshotStore,
    /// When `execute` takes a snapshot.
    pub policy: SnapshotPolicy,
}

impl AccountRepository {
    /// An empty repository with the given snapshot policy.
    pub fn new(policy: SnapshotPolicy) -> Self {
        AccountRepository {
            store: EventStore::new(),
            snapshots: SnapshotStore::new(),
            policy,
        }
    }

    /// The current state of `stream`, folded from every event, ignoring the
    /// snapshots: the reference every snapshot load must agree with.
    pub fn replay(&self, stream: &StreamId) -> Loaded {
        let at = self.store.stream_version(stream);
        self.fold_tail(
            stream,
            initial_state(),
            Version(0),
            at,
            SnapshotUse::NoSnapshot,
        )
    }

    /// The current state of `stream`: the newest usable snapshot plus the
    /// events after it.
    pub fn load(&self, stream: &StreamId) -> Loaded {
        self.load_as_of(stream, self.store.stream_version(stream))
    }

    // ANCHOR: load
    /// The state of `stream` as of version `at` (or its current state, if `at`
    /// is past its end). Starts from the newest snapshot at or below `at`,
    /// never a newer one, and replays the stream from the start when that
    /// snapshot cannot be trusted.
    pub fn load_as_of(&self, stream: &StreamId, at: Version) -> Loaded {
        let at = at.min(self.store.stream_version(stream));
        let from_scratch = (initial_state(), Version(0));
        let ((state, from), snapshot) = match self.snapshots.latest_at_or_below(stream, at) {
            None => (from_scratch, SnapshotUse::NoSnapshot),
            Some(snapshot) => match snapshot.restore() {
                Ok(state) => (
                    (state, snapshot.version),
                    SnapshotUse::Used(snapshot.version),
                ),
                Err(reason) => {
                    let version = snapshot.version;
                    (from_scratch, SnapshotUse::Discarded { version, reason })
                }
            },
        };
        self.fold_tail(stream, state, from, at, snapshot)
    }

    /// Folds the events after `from` up to `at` onto `state`.
    fn fold_tail(
        &self,
        stream: &StreamId,
        state: AccountState,
        from: Version,
        at: Version,
        snapshot: SnapshotUse,
    ) -> Loaded {
        let tail = self.store.read_stream_range(stream, from, at);
        Loaded {
            events_replayed: tail.len() as u64,
            state: tail
                .iter()
                .fold(state, |state, recorded| evolve(state, &recorded.event)),
            version: at,
            snapshot,
        }
    }
    // ANCHOR_END: load

    // ANCHOR: execute
    /// Loads the account, decides, appends with the loaded version as the
    /// expected one, and takes a snapshot if the policy says the append made
    /// one due. Returns the stream's new version.
    ///
    /// The snapshot is the loaded state plus exactly the events just appended,
    /// labelled with the version the append returned, so it can never be a
    /// stale state under a newer version number.
    ///
    /// # Errors
    ///
    /// [`CommandError::Rejected`] when the account refuses the command (nothing
    /// is appended), and [`CommandError::Append`] when the store refuses the
    /// append.
    pub fn execute(
        &mut self,
        stream: &StreamId,
        command: &AccountCommand,
        recorded_at: Timestamp,
    ) -> Result<Version, CommandError> {
        match self.run(stream, command, recorded_at, None)? {
            Appended::Now(version) | Appended::AlreadyApplied(version) => Ok(version),
        }
    }

    /// Like [`AccountRepository::execute`], for a command a client sent with
    /// `command_id`: lesson 8's idempotency, kept across snapshots. The
    /// store looks the id up in its index, not in the events a load reads,
    /// so a repeat is recognised even when the load started from a snapshot
    /// taken after the command's event.
    ///
    /// # Errors
    ///
    /// [`CommandError::Append`] with [`AppendError::CommandIdReused`] when
    /// the id was used for a different command or on another stream;
    /// otherwise as [`AccountRepository::execute`].
    pub fn execute_once(
        &mut self,
        stream: &StreamId,
        command_id: &CommandId,
        command: &AccountCommand,
        recorded_at: Timestamp,
    ) -> Result<Appended, CommandError> {
        let fingerprint = Fingerprint::of(command);
        // A repeat answers before `decide`: a withdrawal that emptied the
        // account is "already applied", not "insufficient funds".
        if let Some(version) = self
            .store
            .applied(stream, command_id, &fingerprint)
            .map_err(CommandError::Append)?
        {
            return Ok(Appended::AlreadyApplied(version));
        }
        let command_id = Some((command_id.clone(), fingerprint));
        self.run(stream, command, recorded_at, command_id)
    }

    fn run(
        &mut self,
        stream: &StreamId,
        command: &AccountCommand,
        recorded_at: Timestamp,
        command_id: Option<(CommandId, Fingerprint)>,
    ) -> Result<Appended, CommandError> {
        let loaded = self.load(stream);
        let events = decide(command, &loaded.state).map_err(CommandError::Rejected)?;
        let state = events.iter().fold(loaded.state, evolve);
        let appended = self
            .store
            .append(stream, loaded.version, events, recorded_at, command_id)
            .map_err(CommandError::Append)?;
        if let Appended::Now(version) = appended
            && self.policy.due(loaded.version, version)
        {
            self.snapshots.save(stream, Snapshot::of(&state, version));
        }
        Ok(appended)
    }
    // ANCHOR_END: execute

    /// Takes a snapshot of `stream` at its current version, whatever the
    /// policy says, and returns that version. An empty stream gets none.
    pub fn snapshot_now(&mut self, stream: &StreamId) -> Version {
        let loaded = self.load(stream);
        if loaded.version > Version(0) {
            self.snapshots
                .save(stream, Snapshot::of(&loaded.state, loaded.version));
        }
        loaded.version
    }
}

impl fmt::Display for SnapshotUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotUse::NoSnapshot => f.write_str("no snapshot"),
            SnapshotUse::Used(version) => write!(f, "from the snapshot at {version}"),
            SnapshotUse::Discarded { version, reason } => {
                write!(f, "snapshot at {version} discarded: {reason}")
            }
        }
    }
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.events_replayed == 1 { "" } else { "s" };
        write!(
            f,
            "{} at {} ({} event{plural} replayed, {})",
            self.state, self.version, self.events_replayed, self.snapshot
        )
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Rejected(error) => write!(f, "rejected: {error}"),
            CommandError::Append(error) => write!(f, "not appended: {error}"),
        }
    }
}

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandError::Rejected(error) => Some(error),
            CommandError::Append(error) => Some(error),
        }
    }
}
