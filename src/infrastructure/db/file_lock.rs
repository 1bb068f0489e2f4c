//! One process per SQLite file. Two livecart processes on one file would each run an
//! InventoryActor for the same listing and oversell; an exclusive lock on `<file>.lock`, held for
//! the process's life (the kernel drops it when the process dies, even by SIGKILL), makes the
//! second one refuse to start instead.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Held while the process serves the file; dropping it lets another process in.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FileLockError {
    #[error("the database {0} is in use by another livecart process (its lock file {0}.lock is held); stop that process or use another database")]
    Held(String),
    #[error("cannot open the lock file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl FileLock {
    /// Takes the lock of the database file, waiting up to `patience` for a process that is
    /// exiting (a restart) to let go.
    pub fn hold(database: &Path, patience: Duration) -> Result<FileLock, FileLockError> {
        let path = PathBuf::from(format!("{}.lock", database.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let io = |source| FileLockError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + patience;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { _file: file, path }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(TryLockError::WouldBlock) => return Err(FileLockError::Held(database.display().to_string())),
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_of_the_same_file_is_refused_until_the_first_lets_go() {
        let db = std::env::temp_dir().join(format!("livecart-lock-{}.db", uuid::Uuid::new_v4().simple()));
        let first = FileLock::hold(&db, Duration::ZERO).expect("the first holder gets the lock");
        let second = FileLock::hold(&db, Duration::from_millis(100));
        assert!(matches!(second, Err(FileLockError::Held(_))), "{second:?}");
        let lock_file = first.path().to_owned();
        drop(first);
        let third = FileLock::hold(&db, Duration::ZERO).expect("free again once dropped");
        drop(third);
        let _ = std::fs::remove_file(lock_file);
    }
}
