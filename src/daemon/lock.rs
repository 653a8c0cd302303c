//! One writer per data directory: the lock file `DIR/fundwatch.lock`.
//!
//! The daemon holds an exclusive advisory lock (`flock(2)` through std's
//! `File::try_lock`, stable since Rust 1.89, the same call `fs4` wraps) on
//! this file for its whole life, and writes who it is into it (pid, start
//! time, command) as one JSON line. One-shot writers (`fundwatch crawl`,
//! `fundwatch reindex`) take the same lock for their duration, so a daemon
//! never starts under a running crawl and a crawl never runs under the daemon.
//!
//! Why a kernel lock and not a pid file: the kernel releases the lock when
//! the process dies, even on `kill -9`, so a crash never leaves a stale lock
//! behind (the file stays, with the dead holder's identity, and is simply
//! locked again by the next daemon). The file is never deleted: deleting a
//! lock file races with a process that has just opened it.
//!
//! Readers (`fundwatch status`, `search`) only *probe* the lock with a shared
//! try-lock released at once; they never block a writer for more than that
//! instant, and [`DirLock::acquire`] retries for [`ACQUIRE_PATIENCE`] so a
//! probe cannot make a starting daemon fail.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "fundwatch.lock";

/// How long [`DirLock::acquire`] keeps trying before it reports the lock held.
pub const ACQUIRE_PATIENCE: Duration = Duration::from_millis(1000);

/// Who holds (or last held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Process id of the holder.
    pub pid: u32,
    /// When it took the lock.
    pub started_at: DateTime<Utc>,
    /// What it runs: `daemon`, `crawl` or `reindex`.
    pub command: String,
}

impl LockInfo {
    /// "the fundwatch daemon (pid 42, running since 2026-11-26 17:40 UTC)".
    pub fn describe(&self) -> String {
        let what = if self.command == "daemon" {
            "the fundwatch daemon".to_owned()
        } else {
            format!("a one-shot `fundwatch {}`", self.command)
        };
        format!(
            "{what} (pid {}, running since {})",
            self.pid,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// Taking or probing the lock failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the lock (exit code 4).
    #[error(
        "{} already uses the data directory {dir}; {}",
        holder.as_ref().map_or_else(|| "another fundwatch process".to_owned(), LockInfo::describe),
        advice(holder.as_ref())
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// Who holds it, when the lock file says so.
        holder: Option<LockInfo>,
    },
    /// The lock file could not be created, read or locked.
    #[error(
        "cannot use the lock file {path}: {source}; check that the data directory exists and is writable"
    )]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn advice(holder: Option<&LockInfo>) -> &'static str {
    match holder.map(|h| h.command.as_str()) {
        Some("daemon") => {
            "it crawls and indexes on its own schedule; stop it first (`systemctl stop fundwatch`) or use another --data-dir"
        }
        _ => "wait for it to finish, or use another --data-dir",
    }
}

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    file: File,
    info: LockInfo,
}

impl DirLock {
    /// Takes the lock of `dir` for `command`, retrying for
    /// [`ACQUIRE_PATIENCE`]; [`LockError::Held`] when another process keeps it.
    pub fn acquire(dir: &Path, command: &str) -> Result<DirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Not truncated on open: until we hold the lock, the content is the
        // holder's, which the refusal message quotes.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + ACQUIRE_PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        dir: dir.to_owned(),
                        holder: read_info(&mut file),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let info = LockInfo {
            pid: std::process::id(),
            started_at: Utc::now(),
            command: command.to_owned(),
        };
        let line = serde_json::to_string(&info).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DirLock { file, info })
    }

    /// Who we are, as written in the file.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking explicitly
        // makes the release independent of other clones of the descriptor.
        let _ = self.file.unlock();
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nobody holds the lock. `last`: who held it last, if anyone ever did.
    Free {
        /// The last holder written in the file.
        last: Option<LockInfo>,
    },
    /// Someone holds it (`None` during the instant between its lock and its
    /// write of the file).
    Held(Option<LockInfo>),
}

/// Looks whether a process holds the lock of `dir`, without waiting.
pub fn probe(dir: &Path) -> Result<Probe, LockError> {
    let path = dir.join(LOCK_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Probe::Free { last: None });
        }
        Err(source) => return Err(LockError::Io { path, source }),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let last = read_info(&mut file);
            let _ = file.unlock();
            Ok(Probe::Free { last })
        }
        Err(TryLockError::WouldBlock) => Ok(Probe::Held(read_info(&mut file))),
        Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
    }
}

/// The holder written in the lock file, if it is readable.
fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(dir.path()).unwrap(), Probe::Free { last: None });
        let lock = DirLock::acquire(dir.path(), "daemon").unwrap();
        assert_eq!(lock.info().pid, std::process::id());
        // flock locks belong to the open file description, so a second
        // open in the same process conflicts just like another process.
        match DirLock::acquire(dir.path(), "crawl") {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder.as_ref(), Some(lock.info()));
                let message = LockError::Held {
                    dir: dir.path().to_owned(),
                    holder,
                }
                .to_string();
                assert!(message.contains("the fundwatch daemon (pid"), "{message}");
                assert!(message.contains("systemctl stop fundwatch"), "{message}");
            }
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(
            probe(dir.path()).unwrap(),
            Probe::Held(Some(lock.info().clone()))
        );
        let info = lock.info().clone();
        drop(lock);
        assert_eq!(probe(dir.path()).unwrap(), Probe::Free { last: Some(info) });
        // Free again: the next one gets it.
        let again = DirLock::acquire(dir.path(), "crawl").unwrap();
        assert_eq!(again.info().command, "crawl");
    }
}
