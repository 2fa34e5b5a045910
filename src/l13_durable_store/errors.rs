//! What can go wrong: a storage operation that failed, and the typed errors
//! of appending, opening and side files.

use std::fmt;
use std::io;

use super::format::{Damage, HeaderProblem, LOG_FILE, MAX_PAYLOAD};
use super::ids::{CommandId, ExpectedVersion, Version};

/// A storage operation that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoFailure {
    /// What the store was doing: `write`, `sync`, `set_len`, `read`, ….
    pub operation: &'static str,
    /// The file (or `.` for the directory).
    pub file: String,
    /// The kind of the error.
    pub kind: io::ErrorKind,
    /// The error's text.
    pub message: String,
}

impl IoFailure {
    pub(super) fn new(operation: &'static str, file: &str, error: &io::Error) -> Self {
        IoFailure {
            operation,
            file: file.to_string(),
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

// ANCHOR: errors
/// Why an append did not take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream was not where the caller expected. Nothing was written.
    VersionConflict {
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version.
        actual: Version,
    },
    /// The command id was already used for a different command (another
    /// fingerprint, or another stream). Nothing was written.
    CommandIdReused {
        /// The id.
        id: CommandId,
    },
    /// The append would need a frame larger than the format allows. Nothing
    /// was written.
    TooLarge {
        /// The payload's size in bytes.
        bytes: usize,
    },
    /// Writing or syncing failed (a full disk, an I/O error). The store is
    /// now poisoned, and has tried to cut the log back to the end of what
    /// it acknowledged, and to sync the cut. If it did (`cut_back`), the
    /// append is not in the log: reopen and retry under the same command id.
    /// If it did not, the file may still hold the frame, in pages a failed
    /// sync marked clean without writing them, and only a reboot settles
    /// what the disk holds: the store leaves a [`REBOOT_MARKER`] file (if
    /// the disk lets it) and will not open until an operator removes it
    /// after a reboot.
    ///
    /// [`REBOOT_MARKER`]: super::REBOOT_MARKER
    Io {
        /// The operation that failed.
        failure: IoFailure,
        /// Whether the log was cut back, and the cut synced.
        cut_back: bool,
    },
    /// An earlier write or sync failed, so this store accepts no more
    /// appends; reads are still served. Reopen it to recover.
    Poisoned(IoFailure),
}

/// Why a store could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Another handle, in this process or another, holds the directory's
    /// lock.
    InUse,
    /// A storage operation failed; nothing was changed that a second open
    /// cannot redo, with one exception. If the failure is the sync of the
    /// log, the pages it was asked to write may have been marked clean
    /// without reaching the disk, and a second open on the same running
    /// system would read them and trust them. So after a failed sync at
    /// open, the machine must reboot (or its page cache be dropped) before
    /// the store is opened again; the store leaves a [`REBOOT_MARKER`] file
    /// to say so, and refuses to open while it is there.
    ///
    /// [`REBOOT_MARKER`]: super::REBOOT_MARKER
    Io(IoFailure),
    /// A sync of the log failed earlier, and the directory holds the
    /// [`REBOOT_MARKER`] file: what the running system shows of the log may
    /// not be on the disk. Reboot (or drop the page cache), then remove the
    /// file and open again.
    ///
    /// [`REBOOT_MARKER`]: super::REBOOT_MARKER
    RebootRequired,
    /// The log file's header is wrong: not a log, damaged, or a format
    /// version this code does not read.
    Header(HeaderProblem),
    /// A frame is damaged and has data after it: not a torn write, so it is
    /// refused rather than cut off.
    Corrupt {
        /// Where the frame starts, in bytes from the start of the file.
        offset: u64,
        /// What is wrong with it.
        damage: Damage,
    },
}
// ANCHOR_END: errors

/// What a side-file operation refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideFileError {
    /// The name is empty, has a path separator, ends in `.tmp`, or is the
    /// log's or the lock's.
    BadName(String),
    /// The storage failed; any earlier content of the file is intact.
    Io(IoFailure),
}

/// Turns an `io::Error` of `operation` on `file` into an [`IoFailure`].
pub(super) fn failed<'f>(
    operation: &'static str,
    file: &'f str,
) -> impl FnOnce(io::Error) -> IoFailure + 'f {
    move |error| IoFailure::new(operation, file, &error)
}

/// Turns an `io::Error` of `operation` on `file` into an [`OpenError`].
pub(super) fn io<'f>(
    operation: &'static str,
    file: &'f str,
) -> impl FnOnce(io::Error) -> OpenError + 'f {
    move |error| OpenError::Io(IoFailure::new(operation, file, &error))
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} failed: {}",
            self.operation, self.file, self.message
        )
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => write!(
                f,
                "version conflict: expected {expected}, stream is at {actual}"
            ),
            AppendError::CommandIdReused { id } => {
                write!(
                    f,
                    "the command id {id} was already used for another command"
                )
            }
            AppendError::TooLarge { bytes } => write!(
                f,
                "the append needs {bytes} bytes, more than the {MAX_PAYLOAD} a frame holds"
            ),
            AppendError::Io {
                failure,
                cut_back: true,
            } => write!(
                f,
                "{failure}; the log was cut back to the last acknowledged append, \
                 and the store is now poisoned"
            ),
            AppendError::Io {
                failure,
                cut_back: false,
            } => write!(
                f,
                "{failure}; the log could not be cut back, so reboot the machine \
                 before reopening; the store is now poisoned"
            ),
            AppendError::Poisoned(failure) => write!(
                f,
                "the store is poisoned by an earlier failure ({failure}); reopen it"
            ),
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InUse => f.write_str("the store is in use by another writer"),
            OpenError::Io(failure) if failure.operation == "sync" && failure.file == LOG_FILE => {
                write!(
                    f,
                    "{failure}; reboot the machine (or drop the page cache) before opening again"
                )
            }
            OpenError::Io(failure) => write!(f, "{failure}"),
            OpenError::RebootRequired => write!(
                f,
                "a sync of the log failed earlier, so what this machine shows of it may not \
                 be on the disk: reboot (or drop the page cache), then remove {} and open again",
                super::REBOOT_MARKER
            ),
            OpenError::Header(problem) => write!(f, "bad log header: {problem}"),
            OpenError::Corrupt { offset, damage } => {
                write!(f, "the log is corrupt at byte {offset}: {damage}")
            }
        }
    }
}

impl fmt::Display for SideFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SideFileError::BadName(name) => write!(f, "{name:?} cannot be a side file's name"),
            SideFileError::Io(failure) => write!(f, "{failure}"),
        }
    }
}

impl std::error::Error for IoFailure {}

impl std::error::Error for AppendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppendError::Io { failure, .. } | AppendError::Poisoned(failure) => Some(failure),
            _ => None,
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io(failure) => Some(failure),
            OpenError::Header(problem) => Some(problem),
            OpenError::Corrupt { damage, .. } => Some(damage),
            OpenError::InUse | OpenError::RebootRequired => None,
        }
    }
}

impl std::error::Error for SideFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SideFileError::Io(failure) => Some(failure),
            SideFileError::BadName(_) => None,
        }
    }
}
