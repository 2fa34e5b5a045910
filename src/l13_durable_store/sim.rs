//! A simulated disk for failure drills: a [`Storage`] that keeps what was
//! written apart from what was synced, fails the operation you choose, and
//! can lose power, keeping only a random prefix of what was never synced.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::storage::Storage;

// ANCHOR: sim
/// A disk in memory, shared by every [`SimStorage`] made from it, so that a
/// test can keep it after the store that used it is gone.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<Disk>>,
}

#[derive(Debug, Default)]
struct Disk {
    /// File contents by inode, as the running system sees them, and as the
    /// last sync left them on the platter, with the operations since.
    inodes: Vec<Inode>,
    /// The directory as the running system sees it, and as last synced.
    names: BTreeMap<String, usize>,
    durable_names: BTreeMap<String, usize>,
    locked: bool,
    ops: u64,
    fault: Option<Fault>,
    /// A second fault beside the first, so that a drill can combine a
    /// write-back error with a later kill or a later failed `set_len`.
    also: Option<Fault>,
    /// A sync that is to make its writes durable and then report an error
    /// anyway: set by [`SimDisk::fail_sync_after_writing`].
    late: Option<Fault>,
    /// The error that sync reports, once its work is done.
    late_error: Option<io::ErrorKind>,
    trace: Vec<String>,
}

#[derive(Debug, Default, Clone)]
struct Inode {
    current: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Unsynced>,
}

#[derive(Debug, Clone)]
enum Unsynced {
    Write { offset: usize, bytes: Vec<u8> },
    SetLen(usize),
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    at: u64,
    kind: io::ErrorKind,
    persistent: bool,
}
// ANCHOR_END: sim

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// A storage on this disk, for one store.
    pub fn storage(&self) -> SimStorage {
        SimStorage {
            disk: self.clone(),
            holds_lock: false,
        }
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        // A test that panicked while holding the lock poisons it; the state
        // is still what it was, and the drills want to look at it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the operation `n` operations from now fail with `kind` (0: the
    /// next one). A write that fails once writes the first half of its bytes
    /// first, as a full disk does.
    ///
    /// Once (`persistent` false), the failure is an error the process sees
    /// and lives through, and a failed sync is a write-back error: the
    /// writes it was asked to make durable are lost to the disk for good,
    /// though the running system still shows them until a power loss.
    ///
    /// If `persistent`, that operation and every later one fail, as when
    /// the process is killed there: a killed process writes nothing more, a
    /// sync it never finished loses nothing, and what it left unsynced
    /// reaches the disk or not as a power loss decides.
    pub fn fail_op(&self, n: u64, kind: io::ErrorKind, persistent: bool) {
        let mut disk = self.disk();
        let at = disk.ops + n;
        disk.fault = Some(Fault {
            at,
            kind,
            persistent,
        });
    }

    /// A second fault, `n` operations from now, beside the one
    /// [`SimDisk::fail_op`] set: a write-back error followed by a kill, or
    /// by a failed `set_len`.
    pub fn also_fail_op(&self, n: u64, kind: io::ErrorKind, persistent: bool) {
        let mut disk = self.disk();
        let at = disk.ops + n;
        disk.also = Some(Fault {
            at,
            kind,
            persistent,
        });
    }

    /// Makes the operation `n` operations from now, if it is a sync, make
    /// everything it was asked to durable and then report an error anyway,
    /// as when the error comes from another write-back than its own. Any
    /// other operation there does not fail.
    pub fn fail_sync_after_writing(&self, n: u64, kind: io::ErrorKind) {
        let mut disk = self.disk();
        let at = disk.ops + n;
        disk.late = Some(Fault {
            at,
            kind,
            persistent: false,
        });
    }

    /// Removes any fault still to come.
    pub fn clear_fault(&self) {
        let mut disk = self.disk();
        disk.fault = None;
        disk.also = None;
        disk.late = None;
    }

    /// Removes `name` for good, as an operator's `rm` followed by a sync of
    /// the directory would.
    pub fn remove_file(&self, name: &str) {
        let mut disk = self.disk();
        disk.names.remove(name);
        disk.durable_names.remove(name);
    }

    /// How many storage operations have been made on this disk.
    pub fn ops(&self) -> u64 {
        self.disk().ops
    }

    /// Every operation so far, as `operation name` lines, such as
    /// `sync events.log`.
    pub fn trace(&self) -> Vec<String> {
        self.disk().trace.clone()
    }

    /// The content of `name` as the running system sees it.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        let disk = self.disk();
        disk.names
            .get(name)
            .map(|&inode| disk.inodes[inode].current.clone())
    }

    /// Puts `bytes` on the disk as `name`, synced: a file as found after a
    /// reboot, for drills that damage a log by hand.
    pub fn put_file(&self, name: &str, bytes: &[u8]) {
        let mut disk = self.disk();
        let inode = disk.inodes.len();
        disk.inodes.push(Inode {
            current: bytes.to_vec(),
            durable: bytes.to_vec(),
            unsynced: Vec::new(),
        });
        disk.names.insert(name.to_string(), inode);
        disk.durable_names.insert(name.to_string(), inode);
    }

    // ANCHOR: crash
    /// The disk as it is after power returns: each file holds what its last
    /// sync made durable plus a random prefix of what was written since,
    /// the last write of that prefix perhaps torn part way, and the
    /// directory is as its last sync left it. `seed` picks the prefixes.
    pub fn power_loss(&self, seed: u64) -> SimDisk {
        let mut random = SplitMix64(seed);
        let disk = self.disk();
        let mut after = Disk::default();
        for (name, &inode) in &disk.durable_names {
            let old = &disk.inodes[inode];
            let mut content = old.durable.clone();
            let kept = random.below(old.unsynced.len() as u64 + 1) as usize;
            for (i, op) in old.unsynced.iter().enumerate().take(kept + 1) {
                match op {
                    Unsynced::Write { offset, bytes } => {
                        // The op after the kept prefix is torn: some of it.
                        let len = if i == kept {
                            random.below(bytes.len() as u64 + 1) as usize
                        } else {
                            bytes.len()
                        };
                        write_into(&mut content, *offset, &bytes[..len]);
                    }
                    Unsynced::SetLen(len) if i < kept => content.resize(*len, 0),
                    Unsynced::SetLen(_) => {}
                }
            }
            after.names.insert(name.clone(), after.inodes.len());
            after.durable_names.insert(name.clone(), after.inodes.len());
            after.inodes.push(Inode {
                current: content.clone(),
                durable: content,
                unsynced: Vec::new(),
            });
        }
        SimDisk {
            state: Arc::new(Mutex::new(after)),
        }
    }
    // ANCHOR_END: crash
}

fn write_into(content: &mut Vec<u8>, offset: usize, bytes: &[u8]) {
    if content.len() < offset + bytes.len() {
        content.resize(offset + bytes.len(), 0);
    }
    content[offset..offset + bytes.len()].copy_from_slice(bytes);
}

/// A [`Storage`] on a [`SimDisk`]. Dropping it releases the disk's lock.
#[derive(Debug)]
pub struct SimStorage {
    disk: SimDisk,
    holds_lock: bool,
}

impl Drop for SimStorage {
    fn drop(&mut self) {
        if self.holds_lock {
            self.disk.disk().locked = false;
        }
    }
}

impl Disk {
    /// Counts an operation and says whether it must fail.
    fn begin(&mut self, operation: &str, name: &str) -> Result<(), io::ErrorKind> {
        let n = self.ops;
        self.ops += 1;
        self.trace.push(format!("{operation} {name}"));
        self.late_error = self
            .late
            .filter(|late| late.at == n && operation == "sync")
            .map(|late| late.kind);
        for fault in [self.fault, self.also].into_iter().flatten() {
            if n == fault.at || (fault.persistent && n > fault.at) {
                return Err(fault.kind);
            }
        }
        Ok(())
    }

    /// Whether the process was killed at or before the next operation.
    fn killed(&self) -> bool {
        [self.fault, self.also]
            .into_iter()
            .flatten()
            .any(|fault| fault.persistent && self.ops >= fault.at)
    }

    fn inode(&mut self, name: &str) -> usize {
        if let Some(&inode) = self.names.get(name) {
            return inode;
        }
        self.inodes.push(Inode::default());
        self.names.insert(name.to_string(), self.inodes.len() - 1);
        self.inodes.len() - 1
    }
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl Storage for SimStorage {
    fn lock(&mut self) -> io::Result<()> {
        let mut disk = self.disk.disk();
        disk.begin("lock", ".")?;
        if disk.locked {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        disk.locked = true;
        self.holds_lock = true;
        Ok(())
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        let mut disk = self.disk.disk();
        disk.begin("list", ".")?;
        Ok(disk.names.keys().cloned().collect())
    }

    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let mut disk = self.disk.disk();
        disk.begin("read", name)?;
        Ok(disk
            .names
            .get(name)
            .map(|&i| disk.inodes[i].current.clone()))
    }

    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut disk = self.disk.disk();
        let killed = disk.killed();
        let result = disk.begin("write", name);
        let written = match result {
            Ok(()) => bytes,
            Err(_) => &bytes[..bytes.len() / 2],
        };
        if killed {
            return Ok(result?);
        }
        let inode = disk.inode(name);
        let offset = offset as usize;
        let file = &mut disk.inodes[inode];
        write_into(&mut file.current, offset, written);
        file.unsynced.push(Unsynced::Write {
            offset,
            bytes: written.to_vec(),
        });
        Ok(result?)
    }

    fn set_len(&mut self, name: &str, len: u64) -> io::Result<()> {
        let mut disk = self.disk.disk();
        disk.begin("set_len", name)?;
        let inode = disk.inode(name);
        let file = &mut disk.inodes[inode];
        file.current.resize(len as usize, 0);
        file.unsynced.push(Unsynced::SetLen(len as usize));
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        let mut disk = self.disk.disk();
        let killed = disk.killed();
        let result = disk.begin("sync", name);
        let inode = *disk.names.get(name).ok_or_else(|| not_found(name))?;
        let file = &mut disk.inodes[inode];
        match result {
            Ok(()) => {
                // Only what is still waiting becomes durable: writes lost
                // by an earlier failed sync stay lost.
                for op in file.unsynced.drain(..) {
                    match op {
                        Unsynced::Write { offset, bytes } => {
                            write_into(&mut file.durable, offset, &bytes);
                        }
                        Unsynced::SetLen(len) => file.durable.resize(len, 0),
                    }
                }
                match disk.late_error.take() {
                    Some(kind) => Err(kind.into()),
                    None => Ok(()),
                }
            }
            Err(kind) => {
                if !killed {
                    // A write-back error: the kernel marks the pages clean
                    // without having written them.
                    file.unsynced.clear();
                }
                Err(kind.into())
            }
        }
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let mut disk = self.disk.disk();
        disk.begin("rename", from)?;
        let inode = disk.names.remove(from).ok_or_else(|| not_found(from))?;
        disk.names.insert(to.to_string(), inode);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        let mut disk = self.disk.disk();
        disk.begin("remove", name)?;
        disk.names.remove(name).ok_or_else(|| not_found(name))?;
        Ok(())
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        let mut disk = self.disk.disk();
        disk.begin("sync_dir", ".")?;
        disk.durable_names = disk.names.clone();
        Ok(())
    }
}

/// SplitMix64, a tiny seeded generator: the same seed, the same crash.
struct SplitMix64(u64);

impl SplitMix64 {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}
