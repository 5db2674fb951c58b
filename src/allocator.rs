//! glibc malloc, tuned for a long-running server ([`tune`], first thing in `main`), and
//! freed memory handed back to the kernel after bursts ([`give_back_freed_memory`]).
//!
//! glibc keeps what the program frees for reuse. It returns memory to the kernel only from
//! the top of a heap, past a threshold; and it raises that threshold, and the size from which
//! a block gets a mapping of its own, to the largest mapped block freed so far. A burst of
//! hostile webhook bodies (each read into a buffer that doubles up to 1 MiB, then parsed into
//! a tree of values many times its size: 14 MB for an array of half a million zeros) thus
//! leaves the process resident at its peak for good, though almost all of it is free:
//! 13 → 145 MiB after a 10 s flood. Hence fixed thresholds (large blocks are mapped and
//! unmapped when freed; a heap's free top is given back past 1 MiB), and a periodic trim for
//! the free pages in the middle of the heaps. Other platforms are left alone.

use std::time::Duration;

/// How often malloc's free memory is looked at (`mallinfo2` walks its free lists).
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// Memory freed since the last trim that malloc may keep for reuse; past it, a trim.
pub const KEEP_FREE_BYTES: usize = 1024 * 1024;

/// Blocks from this size on get a mapping of their own, unmapped when freed.
const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;
/// Free memory at the top of a heap past this is given back at once.
const TRIM_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Sets malloc's parameters; glibc's own variable for one, when set, is left to rule it.
/// - Two arenas: glibc gives every thread that allocates an arena of its own, each holding
///   freed memory; with a dozen threads (HTTP workers, actors, SQLite's workers) that is
///   several MiB resident for nothing (`MALLOC_ARENA_MAX`).
/// - Fixed mapping and trim thresholds ([`MMAP_THRESHOLD_BYTES`], [`TRIM_THRESHOLD_BYTES`];
///   `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`): setting them stops glibc raising
///   them after each large block freed.
///
/// Call first thing in `main`, before any other thread exists.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (variable, parameter, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 2),
        (
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD_BYTES,
        ),
        (
            "MALLOC_TRIM_THRESHOLD_",
            libc::M_TRIM_THRESHOLD,
            TRIM_THRESHOLD_BYTES,
        ),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mallopt only sets an allocator parameter; called before other threads
            // exist.
            unsafe {
                libc::mallopt(parameter, value);
            }
        }
    }
}

/// Runs for ever: every [`CHECK_EVERY`], when more than [`KEEP_FREE_BYTES`] were freed since
/// the last trim, gives the free pages back to the kernel (on a blocking thread: a trim walks
/// every arena). malloc still counts trimmed memory as free, so what counts is the growth
/// over what it held free after the last trim (or since then, when it reused some).
pub async fn give_back_freed_memory() {
    let mut every = tokio::time::interval(CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut free_after_trim = 0;
    loop {
        every.tick().await;
        let free = free_bytes();
        free_after_trim = free_after_trim.min(free);
        if free <= free_after_trim + KEEP_FREE_BYTES {
            continue;
        }
        match tokio::task::spawn_blocking(|| {
            trim();
            free_bytes()
        })
        .await
        {
            Ok(free) => free_after_trim = free,
            Err(error) => tracing::warn!(%error, "malloc trim task failed"),
        }
    }
}

/// Bytes malloc holds free in its arenas (not counting blocks it maps one by one, which it
/// unmaps when they are freed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn free_bytes() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    info.fordblks
}

/// Releases every free page malloc holds back to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() {
    // SAFETY: malloc_trim only returns free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Elsewhere: nothing is known, so nothing is trimmed.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn free_bytes() -> usize {
    0
}

/// Elsewhere: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}
