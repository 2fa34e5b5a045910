//! The durable store: the API of lesson 8's store (append with an expected
//! version and an optional command id, read a stream, read all from a
//! position) over a log file that is synced before anything is
//! acknowledged, recovered on open, and locked against a second writer.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::codec::EventRecord;
use super::errors::{AppendError, IoFailure, OpenError, SideFileError, failed, io};
use super::format::{
    Batch, Damage, HEADER_LEN, KIND_APPEND, LOG_FILE, MAX_PAYLOAD, Scanned, check_header,
    decode_batch, encode_batch, file_header, frame, next_frame,
};
use super::ids::{
    Appended, CommandId, ExpectedVersion, Fingerprint, Position, RecordedEvent, StreamId,
    Timestamp, Version,
};
use super::storage::{FsStorage, LOCK_FILE, Storage};

/// The file a store leaves in its directory when a sync of the log failed
/// and the log could not be made to agree with the disk: until the machine
/// reboots, the running system may show bytes of the log that are not on
/// the disk. [`DurableStore::open`] refuses to open while it exists; an
/// operator removes it after a reboot.
pub const REBOOT_MARKER: &str = "REBOOT_REQUIRED";

/// What the marker file says, for the person who finds it.
fn reboot_note(failure: &IoFailure) -> String {
    format!(
        "{failure}\nReboot the machine (or drop the page cache), then remove this file \
         and open the store again.\n"
    )
}

// ANCHOR: recovery
/// What opening the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The log did not exist and was created.
    pub created: bool,
    /// Leftover `*.tmp` files from an interrupted replace, removed.
    pub removed_temp_files: Vec<String>,
    /// Whole frames read.
    pub frames: u64,
    /// Events read.
    pub events: u64,
    /// Where a torn tail started, and how many bytes were cut off there.
    pub torn_tail: Option<TornTail>,
}

/// The remains of an append that never finished, cut off at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// The offset the file was cut back to: the end of the last good frame.
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped: u64,
}
// ANCHOR_END: recovery

/// What [`DurableStore::verify`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Frames checked.
    pub frames: u64,
    /// Events checked.
    pub events: u64,
    /// The file's length.
    pub bytes: u64,
}

/// A command that took effect: where, what it asked for, and the version
/// its append reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    stream: StreamId,
    fingerprint: Fingerprint,
    version: Version,
}

// ANCHOR: store
/// A file-backed, append-only event store with one writer.
///
/// The file is the truth; the fields besides `storage` are indexes built
/// from it on open, and they only ever hold what is synced: `log` holds
/// every event in position order, `streams` each stream's indexes into it,
/// `commands` each command id that took effect. `end` is where the last
/// synced frame ends, and where the next one goes.
#[derive(Debug)]
pub struct DurableStore<S: Storage> {
    storage: S,
    log: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
    commands: HashMap<CommandId, Applied>,
    end: u64,
    frames: u64,
    poisoned: Option<IoFailure>,
    recovery: Recovery,
}
// ANCHOR_END: store

impl DurableStore<FsStorage> {
    /// Opens (or creates) the store in directory `dir`.
    ///
    /// # Errors
    ///
    /// As [`DurableStore::open`], and [`OpenError::Io`] when the directory
    /// cannot be created.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        let storage = FsStorage::new(dir.as_ref()).map_err(io("create_dir", "."))?;
        DurableStore::open(storage)
    }
}

impl<S: Storage> DurableStore<S> {
    // ANCHOR: open
    /// Opens the store on `storage`: takes the lock, removes leftover
    /// temporary files, creates the log if there is none (or syncs the
    /// directory that holds it), then reads every frame, cuts off a torn
    /// tail, rebuilds the indexes, and syncs the log before serving any of
    /// it.
    ///
    /// # Errors
    ///
    /// [`OpenError::InUse`] when another handle holds the lock,
    /// [`OpenError::RebootRequired`] while the [`REBOOT_MARKER`] file is in
    /// the directory, [`OpenError::Header`] or [`OpenError::Corrupt`] for a
    /// damaged log, and [`OpenError::Io`] when storage fails. Opening again
    /// after an error is safe, except after a failed sync of the log: then
    /// the machine must reboot first, and the marker this open leaves (if
    /// the disk lets it) makes every open refuse until then.
    pub fn open(mut storage: S) -> Result<Self, OpenError> {
        storage.lock().map_err(|error| match error.kind() {
            io::ErrorKind::WouldBlock => OpenError::InUse,
            _ => OpenError::Io(IoFailure::new("lock", LOCK_FILE, &error)),
        })?;
        let mut recovery = Recovery::default();
        let names = storage.list().map_err(io("list", "."))?;
        if names.iter().any(|name| name == REBOOT_MARKER) {
            return Err(OpenError::RebootRequired);
        }
        for name in names {
            if name.ends_with(".tmp") {
                storage.remove(&name).map_err(io("remove", &name))?;
                recovery.removed_temp_files.push(name);
            }
        }
        let file = match storage.read(LOG_FILE).map_err(io("read", LOG_FILE))? {
            Some(file) => {
                // The name may come from a creation that died before its
                // directory sync: make it, and any removal above, durable
                // before anything is appended to the file behind it.
                storage.sync_dir().map_err(io("sync_dir", "."))?;
                file
            }
            None => {
                replace_file(&mut storage, LOG_FILE, &file_header()).map_err(OpenError::Io)?;
                recovery.created = true;
                file_header().to_vec()
            }
        };
        check_header(&file).map_err(OpenError::Header)?;
        let mut store = DurableStore {
            storage,
            log: Vec::new(),
            streams: HashMap::new(),
            commands: HashMap::new(),
            end: HEADER_LEN as u64,
            frames: 0,
            poisoned: None,
            recovery: Recovery::default(),
        };
        let mut offset = HEADER_LEN;
        loop {
            let corrupt = |damage| OpenError::Corrupt {
                offset: offset as u64,
                damage,
            };
            match next_frame(&file, offset) {
                Scanned::Frame { payload, end } => {
                    let batch = decode_batch(payload).map_err(|e| corrupt(Damage::Payload(e)))?;
                    if batch.records.is_empty() && batch.command.is_none() {
                        return Err(corrupt(Damage::EmptyFrame));
                    }
                    if !store.admit(batch) {
                        return Err(corrupt(Damage::OutOfSequence));
                    }
                    offset = end;
                    store.end = end as u64;
                }
                Scanned::End => break,
                Scanned::TornTail => {
                    // Cut it off before anything is appended: a new frame
                    // written over part of the debris would leave the rest
                    // of it behind the new frame, where it reads as
                    // corruption on the next open.
                    store
                        .storage
                        .set_len(LOG_FILE, offset as u64)
                        .map_err(io("set_len", LOG_FILE))?;
                    recovery.torn_tail = Some(TornTail {
                        offset: offset as u64,
                        dropped: (file.len() - offset) as u64,
                    });
                    break;
                }
                Scanned::Corrupt(damage) => return Err(corrupt(damage)),
            }
        }
        if !recovery.created {
            // What was read may never have been synced: the frame of an
            // append whose writer was killed before its sync is in the
            // file, and its retry is about to be told "already applied".
            // Sync it (and the cut of a torn tail) before any of it is
            // served. (A frame whose sync failed was cut off by the writer
            // that saw the failure; see `poison`.) If this sync fails, the
            // pages it was to write may now be clean and unwritten, and a
            // second open would trust them: only a reboot settles it.
            if let Err(error) = store.storage.sync(LOG_FILE) {
                let failure = IoFailure::new("sync", LOG_FILE, &error);
                let note = reboot_note(&failure);
                let _ = replace_file(&mut store.storage, REBOOT_MARKER, note.as_bytes());
                return Err(OpenError::Io(failure));
            }
        }
        recovery.frames = store.frames;
        recovery.events = store.log.len() as u64;
        store.recovery = recovery;
        Ok(store)
    }
    // ANCHOR_END: open

    /// Takes one synced batch into the indexes, if it follows the batches
    /// before it: the stream's version and the log's position must add up,
    /// and a command id is never used twice.
    fn admit(&mut self, batch: Batch) -> bool {
        let count = batch.records.len() as u64;
        let follows = self.stream_version(&batch.stream).0 + count == batch.version.0
            && self.last_position().0 + count == batch.position.0
            && batch
                .command
                .as_ref()
                .is_none_or(|(id, _)| !self.commands.contains_key(id));
        if !follows {
            return false;
        }
        let indexes = self.streams.entry(batch.stream.clone()).or_default();
        let command = batch.command.as_ref().map(|(id, _)| id.clone());
        for record in batch.records {
            indexes.push(self.log.len());
            self.log.push(RecordedEvent {
                stream: batch.stream.clone(),
                version: Version(indexes.len() as u64),
                position: Position(self.log.len() as u64 + 1),
                recorded_at: batch.recorded_at,
                command: command.clone(),
                record,
            });
        }
        if let Some((id, fingerprint)) = batch.command {
            let applied = Applied {
                stream: batch.stream,
                fingerprint,
                version: batch.version,
            };
            self.commands.insert(id, applied);
        }
        self.frames += 1;
        true
    }

    // ANCHOR: append
    /// Appends `records` to `stream` as one frame, if the stream is where
    /// `expected` says, syncs the file, and only then returns the stream's
    /// new version. All the records of one call are one frame, so they
    /// survive a crash together or not at all, and they cost one sync
    /// however many there are. `command`, if given, is the id and
    /// fingerprint of the command that decided them: a command that already
    /// took effect under that id, before or after a restart, is not
    /// appended again.
    ///
    /// # Errors
    ///
    /// [`AppendError::CommandIdReused`], [`AppendError::VersionConflict`]
    /// and [`AppendError::TooLarge`] write nothing. [`AppendError::Io`]
    /// means the write or the sync failed; the store is then poisoned and
    /// every later append fails with [`AppendError::Poisoned`].
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        records: Vec<EventRecord>,
        recorded_at: Timestamp,
        command: Option<(CommandId, Fingerprint)>,
    ) -> Result<Appended, AppendError> {
        if let Some(failure) = &self.poisoned {
            return Err(AppendError::Poisoned(failure.clone()));
        }
        if let Some((id, fingerprint)) = &command
            && let Some(version) = self.applied(stream, id, fingerprint)?
        {
            return Ok(Appended::AlreadyApplied(version));
        }
        let actual = self.stream_version(stream);
        let holds = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == Version(0),
            ExpectedVersion::Exact(version) => actual == version,
        };
        if !holds {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        if records.is_empty() && command.is_none() {
            return Ok(Appended::Now(actual));
        }
        let count = records.len() as u64;
        let batch = Batch {
            stream: stream.clone(),
            version: Version(actual.0 + count),
            position: Position(self.last_position().0 + count),
            recorded_at,
            command,
            records,
        };
        let payload = encode_batch(&batch);
        if payload.len() > MAX_PAYLOAD {
            return Err(AppendError::TooLarge {
                bytes: payload.len(),
            });
        }
        let frame = frame(KIND_APPEND, &payload);
        if let Err(error) = self.storage.write_at(LOG_FILE, self.end, &frame) {
            return Err(self.poison(IoFailure::new("write", LOG_FILE, &error)));
        }
        if let Err(error) = self.storage.sync(LOG_FILE) {
            return Err(self.poison(IoFailure::new("sync", LOG_FILE, &error)));
        }
        // Synced: only now do the indexes, and so every reader, see it.
        self.end += frame.len() as u64;
        let version = batch.version;
        self.admit(batch);
        Ok(Appended::Now(version))
    }

    /// Marks the store as failed, and cuts the log back to the end of the
    /// last acknowledged frame. A failed `fsync` may have dropped the pages
    /// it was asked to write while leaving them readable until a reboot,
    /// and a second `fsync` succeeds without writing them: a later open
    /// would find the frame, sync nothing, and answer its retry "already
    /// applied" for an append the next power cut loses. Only this handle
    /// knows where the acknowledged log ends, so it cuts and syncs before
    /// it answers; the frame then never reappears, and a retry after a
    /// reopen writes it again. If the cut or its sync fails too, the disk
    /// is failing, and nothing this process can do tells a later open where
    /// the acknowledged log ends but a marker: it leaves [`REBOOT_MARKER`],
    /// if the disk lets it, and no open proceeds until an operator removes
    /// it after a reboot.
    fn poison(&mut self, failure: IoFailure) -> AppendError {
        self.poisoned = Some(failure.clone());
        let cut_back =
            self.storage.set_len(LOG_FILE, self.end).is_ok() && self.storage.sync(LOG_FILE).is_ok();
        if !cut_back {
            let note = reboot_note(&failure);
            let _ = replace_file(&mut self.storage, REBOOT_MARKER, note.as_bytes());
        }
        AppendError::Io { failure, cut_back }
    }
    // ANCHOR_END: append

    /// Whether the command `id` already took effect: `Some(version its
    /// append reached)` if it did, on `stream`, with this `fingerprint`;
    /// `None` if the id is unused.
    ///
    /// # Errors
    ///
    /// [`AppendError::CommandIdReused`] when the id was used for a different
    /// command or on another stream.
    pub fn applied(
        &self,
        stream: &StreamId,
        id: &CommandId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Version>, AppendError> {
        match self.commands.get(id) {
            None => Ok(None),
            Some(applied) if &applied.stream == stream && &applied.fingerprint == fingerprint => {
                Ok(Some(applied.version))
            }
            Some(_) => Err(AppendError::CommandIdReused { id: id.clone() }),
        }
    }

    /// The events of one stream, oldest first; an unknown stream reads as
    /// empty.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent> {
        self.streams.get(stream).map_or_else(Vec::new, |indexes| {
            indexes.iter().map(|&index| &self.log[index]).collect()
        })
    }

    /// Every event after position `after`, across all streams, in position
    /// order.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(
            self.streams
                .get(stream)
                .map_or(0, |indexes| indexes.len() as u64),
        )
    }

    /// The position of the last event, or `Position(0)`.
    pub fn last_position(&self) -> Position {
        Position(self.log.len() as u64)
    }

    /// What opening the store found and did.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The failure that poisoned the store, if one did.
    pub fn poisoned(&self) -> Option<&IoFailure> {
        self.poisoned.as_ref()
    }

    // ANCHOR: verify
    /// Reads the whole log back from storage and checks it: the header,
    /// every frame's checksums, and that the frames hold exactly the events
    /// this store holds, up to the end of the file. Opening already did
    /// this once; `verify` finds damage that happened since, at rest. A
    /// poisoned store checks only up to the end of what it acknowledged:
    /// the frame of the append that failed may still be behind it, if
    /// cutting it off failed too, and is not damage.
    ///
    /// # Errors
    ///
    /// [`OpenError::Corrupt`] naming the offset of the first frame that is
    /// damaged, cut short, or not what the store holds; [`OpenError::Header`]
    /// and [`OpenError::Io`] as for opening.
    pub fn verify(&mut self) -> Result<Verified, OpenError> {
        let file = self
            .storage
            .read(LOG_FILE)
            .map_err(io("read", LOG_FILE))?
            .unwrap_or_default();
        check_header(&file).map_err(OpenError::Header)?;
        let file = match self.poisoned {
            Some(_) => file.get(..self.end as usize).unwrap_or(&file),
            None => &file,
        };
        let (mut offset, mut frames, mut events) = (HEADER_LEN, 0, 0);
        loop {
            let corrupt = |damage| OpenError::Corrupt {
                offset: offset as u64,
                damage,
            };
            let (payload, end) = match next_frame(file, offset) {
                Scanned::End => break,
                Scanned::TornTail => return Err(corrupt(Damage::Truncated)),
                Scanned::Corrupt(damage) => return Err(corrupt(damage)),
                Scanned::Frame { payload, end } => (payload, end),
            };
            let batch = decode_batch(payload).map_err(|e| corrupt(Damage::Payload(e)))?;
            if batch.records.is_empty() && batch.command.is_none() {
                return Err(corrupt(Damage::EmptyFrame));
            }
            for record in &batch.records {
                let same = self.log.get(events).is_some_and(|held| {
                    held.stream == batch.stream
                        && held.recorded_at == batch.recorded_at
                        && &held.record == record
                });
                if !same {
                    return Err(corrupt(Damage::NotInMemory));
                }
                events += 1;
            }
            frames += 1;
            offset = end;
        }
        if events != self.log.len() {
            return Err(OpenError::Corrupt {
                offset: offset as u64,
                damage: Damage::Truncated,
            });
        }
        Ok(Verified {
            frames,
            events: events as u64,
            bytes: file.len() as u64,
        })
    }
    // ANCHOR_END: verify

    /// Writes a side file (a snapshot, a checkpoint) next to the log, by
    /// atomic replace: after a crash, `name` holds either its old content
    /// or all of `bytes`, never a mix and never nothing.
    ///
    /// # Errors
    ///
    /// [`SideFileError::BadName`] for the log's or lock's name, a name with
    /// a path separator or ending in `.tmp`; [`SideFileError::Io`] when
    /// storage fails, leaving the old content in place.
    pub fn write_side_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), SideFileError> {
        check_side_name(name)?;
        replace_file(&mut self.storage, name, bytes).map_err(SideFileError::Io)
    }

    /// The content of a side file, or `None` if it does not exist.
    ///
    /// # Errors
    ///
    /// As [`DurableStore::write_side_file`].
    pub fn read_side_file(&mut self, name: &str) -> Result<Option<Vec<u8>>, SideFileError> {
        check_side_name(name)?;
        self.storage
            .read(name)
            .map_err(|e| SideFileError::Io(failed("read", name)(e)))
    }
}

fn check_side_name(name: &str) -> Result<(), SideFileError> {
    let bad = name.is_empty()
        || name.contains(['/', '\\'])
        || name.ends_with(".tmp")
        || name == LOG_FILE
        || name == LOCK_FILE
        || name == REBOOT_MARKER
        || name == "."
        || name == "..";
    if bad {
        return Err(SideFileError::BadName(name.to_string()));
    }
    Ok(())
}

// ANCHOR: replace
/// Replaces `name` with `bytes` so that a crash leaves either the old file
/// or the new one: write a temporary file, sync it, rename it over `name`,
/// sync the directory. Without the first sync the rename can reach the disk
/// before the bytes, and a crash leaves `name` empty or half written;
/// without the second the rename itself can be lost.
fn replace_file<S: Storage>(storage: &mut S, name: &str, bytes: &[u8]) -> Result<(), IoFailure> {
    let temp = format!("{name}.tmp");
    storage
        .set_len(&temp, 0)
        .map_err(failed("set_len", &temp))?;
    storage
        .write_at(&temp, 0, bytes)
        .map_err(failed("write", &temp))?;
    storage.sync(&temp).map_err(failed("sync", &temp))?;
    storage
        .rename(&temp, name)
        .map_err(failed("rename", &temp))?;
    storage.sync_dir().map_err(failed("sync_dir", "."))
}
// ANCHOR_END: replace
