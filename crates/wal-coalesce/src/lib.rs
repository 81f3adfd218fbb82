#![doc = include_str!("../README.md")]
//!
//! ## How it works
//!
//! SQLite appends each changed page to the write-ahead log as two writes: the
//! frame's 24-byte header, then the page. Under the group writer's load that
//! is some seven `pwrite`s per statement, and the kernel's per-call and
//! per-page work on them was a fifth of the writer's time
//! (docs/PERFORMANCE.md). This VFS is SQLite's default VFS (`unix`) with one
//! change, on the log file only: consecutive frame writes are kept in memory
//! and written together, in writes of up to 124 KiB, when the frame that
//! commits the transaction is complete — before SQLite publishes the commit
//! in the log's index, so that every reader finds the frames in the file,
//! exactly as before. A failed write is SQLite's error at that moment (the
//! commit fails), as before.
//!
//! What is held back is only what SQLite has not committed yet:
//! - only the frame pattern is buffered (a 24-byte header, then a page, at
//!   the next offset); any other write first writes what is held, then goes
//!   through as it is;
//! - everything else on the log (reads, size, sync, truncation, file
//!   controls, close) first writes what is held;
//! - at most [`MAX_HELD`] bytes are held (a larger transaction is written in
//!   parts, as SQLite would write it, only in fewer calls).
//!
//! The database file, the shared-memory index and every other file are the
//! default VFS's own, unwrapped. Connections with and without this VFS share
//! a database as two connections of the default VFS do.
//!
//! Use: [`register`] once, then open the connection with [`VFS_NAME`]
//! (rusqlite: `Connection::open_with_flags_and_vfs`).

use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use libsqlite3_sys as ffi;

/// The name this VFS is registered under.
pub const VFS_NAME: &str = "coursebridge-wal-coalesce";
const VFS_NAME_C: &CStr = c"coursebridge-wal-coalesce";

/// The most bytes held before they are written (8 MiB: some 2,000 frames of
/// 4 KiB pages).
pub const MAX_HELD: usize = 8 << 20;

/// The most bytes passed on in one write: the unix VFS writes at most
/// 128 KiB - 1 per call (it masks the length with `0x1ffff`), so a longer
/// write would fail as a full disk.
const WRITE_CHUNK: usize = 31 * 4096;

/// The size of a frame header in the write-ahead log (SQLite's file format).
const FRAME_HEADER: c_int = 24;

/// Why the VFS could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// SQLite has no default VFS to wrap.
    NoDefaultVfs,
    /// `sqlite3_vfs_register` failed with this result code.
    Sqlite(c_int),
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterError::NoDefaultVfs => write!(f, "SQLite has no default VFS to wrap"),
            RegisterError::Sqlite(rc) => write!(f, "sqlite3_vfs_register failed ({rc})"),
        }
    }
}

impl std::error::Error for RegisterError {}

/// Frames and writes on the logs of this process (see [`counters`]).
static FRAMES: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);

/// What the logs opened through this VFS in this process have seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Frames SQLite wrote (each a header and a page).
    pub frames: u64,
    /// Writes passed on to the default VFS (held frames in one, or writes
    /// that went through as they were).
    pub writes: u64,
}

/// The process's counters (the tests check with them that frames are
/// coalesced).
pub fn counters() -> Counters {
    Counters {
        frames: FRAMES.load(Ordering::Relaxed),
        writes: WRITES.load(Ordering::Relaxed),
    }
}

/// The default VFS this one wraps, set once by [`register`].
static INNER: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(std::ptr::null_mut());

static REGISTERED: OnceLock<Result<(), RegisterError>> = OnceLock::new();

/// Registers the VFS (not as the default) once per process; later calls
/// return the first call's result. Returns the name to open connections with.
pub fn register() -> Result<&'static str, RegisterError> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: sqlite3_vfs_find initializes SQLite if needed and
            // returns a registered VFS that lives as long as the process
            // (or NULL).
            let inner = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
            if inner.is_null() {
                return Err(RegisterError::NoDefaultVfs);
            }
            INNER.store(inner, Ordering::Release);
            // SAFETY: `inner` is a valid VFS; copied, then ours is changed.
            let mut ours = unsafe { *inner };
            ours.zName = VFS_NAME_C.as_ptr();
            ours.pNext = std::ptr::null_mut();
            ours.szOsFile += held_offset() as c_int;
            ours.xOpen = Some(open);
            // Every other method is the default VFS's own; they read
            // `pAppData` (copied) and never our file layout.
            let ours: &'static mut ffi::sqlite3_vfs = Box::leak(Box::new(ours));
            // SAFETY: `ours` lives for the rest of the process.
            let rc = unsafe { ffi::sqlite3_vfs_register(ours, 0) };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(RegisterError::Sqlite(rc))
            }
        })
        .clone()
        .map(|()| VFS_NAME)
}

/// A log file opened through this VFS: our state, then the default VFS's
/// file (at [`held_offset`]).
#[repr(C)]
struct LogFile {
    /// Must come first: SQLite reads `pMethods` from it.
    base: ffi::sqlite3_file,
    held: Held,
}

/// Frames written but not yet passed on.
struct Held {
    bytes: Vec<u8>,
    /// Offset in the log of `bytes[0]`.
    start: i64,
    /// The next write that may be held: a frame header, or its page.
    next_is_page: bool,
    /// The held header is a commit frame's (non-zero database size).
    commit: bool,
}

/// Where the default VFS's file starts inside ours.
const fn held_offset() -> usize {
    let n = std::mem::size_of::<LogFile>();
    n.div_ceil(16) * 16
}

fn inner_vfs() -> *mut ffi::sqlite3_vfs {
    INNER.load(Ordering::Acquire)
}

/// # Safety
/// `file` is a file this VFS opened as a log file and has not closed.
unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (&'a mut Held, *mut ffi::sqlite3_file) {
    // SAFETY: by the caller: the allocation is ours, `LogFile` at its start
    // and the default VFS's file at `held_offset`.
    unsafe {
        let log = &mut *file.cast::<LogFile>();
        let inner = file
            .cast::<u8>()
            .add(held_offset())
            .cast::<ffi::sqlite3_file>();
        (&mut log.held, inner)
    }
}

/// # Safety
/// `inner` is an open file of the default VFS.
unsafe fn methods<'a>(inner: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    // SAFETY: an open file has its methods (checked in `open`).
    unsafe { &*(*inner).pMethods }
}

unsafe extern "C" fn open(
    _ours: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let inner_vfs = inner_vfs();
    // SAFETY: registered before any connection could name this VFS.
    let Some(inner_open) = (unsafe { (*inner_vfs).xOpen }) else {
        return ffi::SQLITE_CANTOPEN;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // Not a log: the default VFS's file, at the start of our allocation
        // (which is larger than it needs), with its own methods.
        // SAFETY: SQLite's arguments, passed on.
        return unsafe { inner_open(inner_vfs, name, file, flags, out_flags) };
    }
    // SAFETY: `file` has room for `LogFile` and the default VFS's file.
    unsafe {
        let inner = file
            .cast::<u8>()
            .add(held_offset())
            .cast::<ffi::sqlite3_file>();
        (*inner).pMethods = std::ptr::null();
        let rc = inner_open(inner_vfs, name, inner, flags, out_flags);
        if (*inner).pMethods.is_null() {
            // Not opened: SQLite will not call xClose.
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        std::ptr::write(
            file.cast::<LogFile>(),
            LogFile {
                base: ffi::sqlite3_file {
                    pMethods: &LOG_METHODS,
                },
                held: Held {
                    bytes: Vec::new(),
                    start: 0,
                    next_is_page: false,
                    commit: false,
                },
            },
        );
        rc
    }
}

/// Writes what is held, if anything.
///
/// # Safety
/// `inner` is the open default-VFS file behind `held`.
unsafe fn write_held(held: &mut Held, inner: *mut ffi::sqlite3_file) -> c_int {
    held.next_is_page = false;
    held.commit = false;
    if held.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let mut rc = ffi::SQLITE_OK;
    let mut offset = held.start;
    for chunk in held.bytes.chunks(WRITE_CHUNK) {
        WRITES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: by the caller; `chunk` is valid for its length (< 128 KiB).
        rc = unsafe {
            match methods(inner).xWrite {
                Some(write) => write(inner, chunk.as_ptr().cast(), chunk.len() as c_int, offset),
                None => ffi::SQLITE_IOERR_WRITE,
            }
        };
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    // On an error SQLite fails the transaction; what was held belongs to it.
    held.bytes.clear();
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file it opened through `open`, once.
    unsafe {
        let (held, inner) = parts(file);
        let written = write_held(held, inner);
        let closed = methods(inner)
            .xClose
            .map_or(ffi::SQLITE_OK, |close| close(inner));
        std::ptr::drop_in_place(file.cast::<LogFile>());
        (*file).pMethods = std::ptr::null();
        if written != ffi::SQLITE_OK {
            written
        } else {
            closed
        }
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amt: c_int,
    off: i64,
) -> c_int {
    // SAFETY: an open log file; `data` is valid for `amt` bytes.
    unsafe {
        let (held, inner) = parts(file);
        let Ok(len) = usize::try_from(amt) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let end = held.start + held.bytes.len() as i64;
        let follows = held.bytes.is_empty() || off == end;
        let expected = if held.next_is_page {
            (512..=65536).contains(&amt) && amt.count_ones() == 1
        } else {
            amt == FRAME_HEADER
        };
        if !(follows && expected) {
            let rc = write_held(held, inner);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            if amt != FRAME_HEADER {
                // Not a frame (the log's own header, a rewritten checksum):
                // through as it is.
                WRITES.fetch_add(1, Ordering::Relaxed);
                return methods(inner)
                    .xWrite
                    .map_or(ffi::SQLITE_IOERR_WRITE, |write| {
                        write(inner, data, amt, off)
                    });
            }
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
        if held.bytes.is_empty() {
            held.start = off;
        }
        held.bytes.extend_from_slice(bytes);
        if held.next_is_page {
            held.next_is_page = false;
            if held.commit || held.bytes.len() >= MAX_HELD {
                // The transaction's last frame (or enough held): written
                // before SQLite goes on to publish the commit.
                return write_held(held, inner);
            }
        } else {
            // Bytes 4..8 of a frame header: the database size after a
            // commit, zero in every other frame.
            held.commit = bytes[4..8] != [0, 0, 0, 0];
            FRAMES.fetch_add(1, Ordering::Relaxed);
            held.next_is_page = true;
        }
        ffi::SQLITE_OK
    }
}

/// A method that first writes what is held, then is the default VFS's.
macro_rules! after_held {
    ($name:ident, $field:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: an open log file; SQLite's arguments, passed on.
            unsafe {
                let (held, inner) = parts(file);
                let rc = write_held(held, inner);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                match methods(inner).$field {
                    Some(f) => f(inner $(, $arg)*),
                    None => $missing,
                }
            }
        }
    };
}

/// A method that is the default VFS's (nothing held matters to it).
macro_rules! passed_on {
    ($name:ident, $field:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            // SAFETY: an open log file; SQLite's arguments, passed on.
            unsafe {
                let (_, inner) = parts(file);
                match methods(inner).$field {
                    Some(f) => f(inner $(, $arg)*),
                    None => $missing,
                }
            }
        }
    };
}

after_held!(read, xRead, (buf: *mut c_void, amt: c_int, off: i64), ffi::SQLITE_IOERR_READ);
after_held!(truncate, xTruncate, (size: i64), ffi::SQLITE_IOERR_TRUNCATE);
after_held!(sync, xSync, (flags: c_int), ffi::SQLITE_IOERR_FSYNC);
after_held!(file_size, xFileSize, (size: *mut i64), ffi::SQLITE_IOERR_FSTAT);
after_held!(file_control, xFileControl, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);
after_held!(fetch, xFetch, (off: i64, amt: c_int, pp: *mut *mut c_void), {
    // No memory mapping: SQLite reads instead.
    *pp = std::ptr::null_mut();
    ffi::SQLITE_OK
});
passed_on!(lock, xLock, (level: c_int) -> c_int, ffi::SQLITE_OK);
passed_on!(unlock, xUnlock, (level: c_int) -> c_int, ffi::SQLITE_OK);
passed_on!(check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int, ffi::SQLITE_OK);
passed_on!(sector_size, xSectorSize, () -> c_int, 4096);
passed_on!(device_characteristics, xDeviceCharacteristics, () -> c_int, 0);
passed_on!(shm_map, xShmMap, (page: c_int, size: c_int, extend: c_int, pp: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP);
passed_on!(shm_lock, xShmLock, (offset: c_int, n: c_int, flags: c_int) -> c_int, ffi::SQLITE_IOERR_SHMLOCK);
passed_on!(shm_unmap, xShmUnmap, (delete: c_int) -> c_int, ffi::SQLITE_OK);
passed_on!(unfetch, xUnfetch, (off: i64, p: *mut c_void) -> c_int, ffi::SQLITE_OK);

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: an open log file.
    unsafe {
        let (_, inner) = parts(file);
        if let Some(f) = methods(inner).xShmBarrier {
            f(inner)
        }
    }
}

static LOG_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};
