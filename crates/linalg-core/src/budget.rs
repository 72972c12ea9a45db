//! The memory budget: every size that comes from outside (a file header, a
//! problem name, a flag) is turned into a byte count with overflow-checked
//! arithmetic and compared against this budget *before* anything is
//! allocated, so a 60-byte file that declares 10⁹ rows is refused in
//! microseconds instead of driving the process out of memory.
//!
//! The default budget is half of the memory this process can actually use:
//! the smallest of physical memory (`/proc/meminfo`), the cgroup limit
//! (`/sys/fs/cgroup/memory.max`) and the address-space limit
//! (`RLIMIT_AS`, read from `/proc/self/limits`), halved; 4 GiB where none of
//! them can be read. [`set_max_memory`] overrides it for the whole process
//! (the command line's `--max-memory`).
//!
//! ```
//! use linalg_core::budget::{Bytes, check};
//! // 10⁹ rows of row pointers: 8 GB, refused under a 1 GiB budget.
//! linalg_core::budget::set_max_memory(1 << 30);
//! let need = Bytes::of::<u64>(1_000_000_001);
//! let err = check("the row pointers", need).unwrap_err();
//! assert!(err.to_string().contains("8000000008 bytes"));
//! # linalg_core::budget::reset_max_memory();
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// 0 means "not overridden": use [`default_max_memory`].
static OVERRIDE: AtomicU64 = AtomicU64::new(0);
static DEFAULT: OnceLock<u64> = OnceLock::new();

/// A byte count built with overflow-checked arithmetic; `None` inside means
/// it does not fit in 64 bits (always over budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(Option<u64>);

impl Bytes {
    /// `count` items of type `T`.
    pub fn of<T>(count: usize) -> Bytes {
        Bytes::items(count, std::mem::size_of::<T>())
    }

    /// `count` items of `item` bytes each.
    pub fn items(count: usize, item: usize) -> Bytes {
        Bytes((count as u64).checked_mul(item as u64))
    }

    /// `rows × cols` items of type `T` (a dense matrix).
    pub fn matrix<T>(rows: usize, cols: usize) -> Bytes {
        match rows.checked_mul(cols) {
            Some(n) => Bytes::of::<T>(n),
            None => Bytes(None),
        }
    }

    /// An exact byte count.
    pub fn exact(bytes: u64) -> Bytes {
        Bytes(Some(bytes))
    }

    /// The count, or `None` where it overflowed.
    pub fn get(self) -> Option<u64> {
        self.0
    }

    /// `self × k` (e.g. `k` vectors of one size).
    pub fn times(self, k: usize) -> Bytes {
        Bytes(self.0.and_then(|b| b.checked_mul(k as u64)))
    }
}

impl std::ops::Add for Bytes {
    type Output = Bytes;
    fn add(self, rhs: Bytes) -> Bytes {
        Bytes(match (self.0, rhs.0) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        })
    }
}

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(b) => write!(f, "{b} bytes"),
            None => f.write_str("more than 2⁶⁴ bytes"),
        }
    }
}

/// The budget in bytes now in force.
pub fn max_memory() -> u64 {
    match OVERRIDE.load(Ordering::Relaxed) {
        0 => default_max_memory(),
        b => b,
    }
}

/// Sets the budget for the whole process (`bytes` ≥ 1).
pub fn set_max_memory(bytes: u64) {
    OVERRIDE.store(bytes.max(1), Ordering::Relaxed);
}

/// Returns to the default budget.
pub fn reset_max_memory() {
    OVERRIDE.store(0, Ordering::Relaxed);
}

/// Half of the smallest of physical memory, the cgroup limit and the
/// address-space limit (4 GiB where none can be read); computed once.
pub fn default_max_memory() -> u64 {
    *DEFAULT.get_or_init(|| {
        let limits = [physical_memory(), cgroup_limit(), address_space_limit()];
        limits.into_iter().flatten().min().unwrap_or(8 << 30) / 2
    })
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

fn cgroup_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?;
    text.trim().parse().ok()
}

fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    // "Max address space  <soft> <hard> bytes"; the soft limit binds.
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Refuses `need` when it exceeds the budget: the error names `what`, the
/// bytes it would take and the budget.
pub fn check(what: impl Into<String>, need: Bytes) -> Result<u64> {
    let budget = max_memory();
    match need.0 {
        Some(b) if b <= budget => Ok(b),
        _ => Err(Error::TooLarge {
            what: what.into(),
            bytes: need,
            budget,
        }),
    }
}

/// The most bytes read from an input whose size is not known in advance
/// (a pipe, a FIFO, a device such as `/dev/zero`): 256 MiB, or the budget
/// if smaller.
pub const MAX_STREAM: u64 = 256 << 20;

/// Reads all of `reader` into memory, refusing ([`Error::TooLarge`], naming
/// `what`) a stream longer than `limit` bytes instead of growing without
/// bound.
pub fn read_to_end_limited(reader: impl std::io::Read, limit: u64, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: format!("{what} longer than {limit} bytes"),
            bytes: Bytes::exact(limit.saturating_add(1)),
            budget: max_memory(),
        });
    }
    Ok(buf)
}

/// Reads a whole file: a regular file's size is checked against the budget
/// before reading; anything else (a pipe, a FIFO, `/dev/zero`) is read up
/// to `min(budget, MAX_STREAM)` bytes. Errors name the file.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::from(e).in_file(path))?;
    let meta = f.metadata().map_err(|e| Error::from(e).in_file(path))?;
    if meta.is_dir() {
        return Err(Error::from(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        ))
        .in_file(path));
    }
    let limit = if meta.is_file() {
        check(
            format!("reading a file of {} bytes", meta.len()),
            Bytes::exact(meta.len()),
        )
        .map_err(|e| e.in_file(path))?
    } else {
        max_memory().min(MAX_STREAM)
    };
    read_to_end_limited(f, limit, "a stream").map_err(|e| match e {
        Error::TooLarge { .. } if !meta.is_file() => Error::from(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "not a regular file, and longer than the {limit} bytes read from a stream (save it to a file)"
            ),
        ))
        .in_file(path),
        e => e.in_file(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_read_up_to_a_limit_and_devices_do_not_run_away() {
        let data = vec![7u8; 1000];
        assert_eq!(
            read_to_end_limited(&data[..], 1000, "x").unwrap().len(),
            1000
        );
        assert!(matches!(
            read_to_end_limited(&data[..], 999, "x"),
            Err(Error::TooLarge { .. })
        ));
        // /dev/zero has size 0 and never ends: refused after MAX_STREAM.
        if std::path::Path::new("/dev/zero").exists() {
            let t = std::time::Instant::now();
            let e = read_file(std::path::Path::new("/dev/zero")).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert!(t.elapsed().as_secs_f64() < 10.0);
        }
        assert!(read_file(std::path::Path::new("/")).is_err());
    }

    #[test]
    fn overflow_is_over_budget_and_sums_are_checked() {
        assert_eq!(Bytes::of::<f64>(usize::MAX).get(), None);
        assert_eq!(Bytes::matrix::<f64>(1 << 33, 1 << 33).get(), None);
        assert_eq!(
            (Bytes::exact(u64::MAX) + Bytes::exact(1)).get(),
            None,
            "sum overflow"
        );
        assert_eq!(Bytes::matrix::<f64>(3, 4).get(), Some(96));
        assert!(check("x", Bytes(None)).is_err());
        assert!(check("x", Bytes::exact(1)).is_ok());
        // The default is a real, positive amount below physical memory.
        let d = default_max_memory();
        assert!(d > 0 && physical_memory().is_none_or(|p| d <= p), "{d}");
    }
}
