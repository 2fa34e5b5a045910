//! Where the bytes go: a small trait over the handful of file operations the
//! store needs, and its implementation on a real directory. Tests put a
//! simulated disk behind the same trait (`sim.rs`) to inject faults.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

// ANCHOR: storage
/// The file operations of one directory, by file name. Every method can
/// fail, and the store treats every failure as something it must report.
pub trait Storage {
    /// Takes the single-writer lock on the directory for as long as this
    /// storage lives. An error of kind [`io::ErrorKind::WouldBlock`] means
    /// another handle holds it.
    fn lock(&mut self) -> io::Result<()>;
    /// The names of the files in the directory.
    fn list(&mut self) -> io::Result<Vec<String>>;
    /// The whole content of `name`, or `None` if there is no such file.
    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Writes `bytes` into `name` at `offset`, creating the file if needed.
    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Cuts `name` (or extends it with zeros) to `len` bytes.
    fn set_len(&mut self, name: &str, len: u64) -> io::Result<()>;
    /// Makes what was written to `name` durable: its bytes and its length.
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
    /// Removes `name`.
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Makes the directory's entries durable: created, renamed and removed
    /// names.
    fn sync_dir(&mut self) -> io::Result<()>;
}
// ANCHOR_END: storage

/// The name of the lock file in a store's directory. It holds no data.
pub const LOCK_FILE: &str = "LOCK";

/// A [`Storage`] on a real directory. It keeps each file it writes open for
/// its whole life: an error that the kernel reports once, on the next
/// `fsync` of a handle, must reach the store, and a handle opened later
/// might never see it.
#[derive(Debug)]
pub struct FsStorage {
    dir: PathBuf,
    files: HashMap<String, File>,
    lock: Option<File>,
}

impl FsStorage {
    /// Storage in `dir`, which is created if it does not exist yet, with
    /// any missing parents; the parent of each directory created is synced,
    /// so that none of the new names can be lost.
    ///
    /// # Errors
    ///
    /// Any error creating the directories or syncing their parents.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<FsStorage> {
        let dir = dir.into();
        if !dir.is_dir() {
            let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
            fs::create_dir_all(&dir)?;
            // Outermost first: a name is durable once its parent's is.
            for created in missing.iter().rev() {
                if let Some(parent) = created.parent() {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    sync_directory(parent)?;
                }
            }
        }
        Ok(FsStorage {
            dir,
            files: HashMap::new(),
            lock: None,
        })
    }

    fn file(&mut self, name: &str) -> io::Result<&mut File> {
        if !self.files.contains_key(name) {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(self.dir.join(name))?;
            self.files.insert(name.to_string(), file);
        }
        self.files
            .get_mut(name)
            .ok_or_else(|| io::Error::other("a file handle that was just opened is missing"))
    }
}

impl Storage for FsStorage {
    fn lock(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(file);
                Ok(())
            }
            Err(fs::TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(fs::TryLockError::Error(error)) => Err(error),
        }
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let file = self.file(name)?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(bytes)
    }

    fn set_len(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.file(name)?.set_len(len)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        // `sync_data` (fdatasync) flushes the bytes and the metadata needed
        // to read them back, the file's length included; it skips only
        // timestamps, which the store never reads.
        self.file(name)?.sync_data()
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.files.remove(from);
        self.files.remove(to);
        fs::rename(self.dir.join(from), self.dir.join(to))
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.files.remove(name);
        fs::remove_file(self.dir.join(name))
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        sync_directory(&self.dir)
    }
}

/// Syncs a directory's entries: on Unix a directory is opened like a file
/// and `fsync`ed. `File::open` cannot open a directory on Windows, so there
/// this does nothing, and a new or renamed file's name is only as durable
/// as the file system makes it on its own.
fn sync_directory(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}
