//! Peak and current memory and CPU time of a process, read from `/proc/PID/status` (`VmHWM`,
//! the resident set's high-water mark, and `VmRSS`, the resident set now) and
//! `/proc/PID/stat` (user and system time in clock ticks), and this process's open file
//! descriptors (`/proc/self/fd`) against its limit.

use std::{fmt, time::Duration};

/// What a process used, and which process it was.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFigures {
    /// Peak resident memory, in KiB.
    pub peak_rss_kib: u64,
    /// Resident memory when read, in KiB.
    pub rss_kib: u64,
    /// CPU time in user mode.
    pub user: Duration,
    /// CPU time in the kernel.
    pub system: Duration,
    /// What the figures cover, e.g. "bot, simulators and load generator (one process)".
    pub of: String,
}

impl ProcessFigures {
    /// The figures of process `pid` (`"self"` for this one), described as `of`.
    pub fn read(pid: &str, of: &str) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (user, system) = cpu_times(&stat, clock_ticks_per_second())?;
        Some(Self {
            peak_rss_kib: status_kib(&status, "VmHWM:")?,
            rss_kib: status_kib(&status, "VmRSS:")?,
            user,
            system,
            of: of.to_owned(),
        })
    }

    /// User plus system time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

impl fmt::Display for ProcessFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "process      peak RSS {:.1} MiB, RSS at the end {:.1} MiB, CPU {:.2} s (user {:.2} + system {:.2}); {}",
            self.peak_rss_kib as f64 / 1024.0,
            self.rss_kib as f64 / 1024.0,
            self.cpu().as_secs_f64(),
            self.user.as_secs_f64(),
            self.system.as_secs_f64(),
            self.of
        )
    }
}

/// File descriptors this process has open, and the most it may (`RLIMIT_NOFILE`).
pub fn open_fds() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and has no other effect.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let max = if read == 0 { limit.rlim_cur } else { 0 };
    // The directory listing holds its own descriptor while it is read.
    Some((open.saturating_sub(1) as u64, max))
}

/// The figure of `field` (`VmHWM:`, `VmRSS:`) in a `/proc/PID/status` text, in KiB.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User and system time of a `/proc/PID/stat` text (fields 14 and 15; the command name in
/// field 2 may hold spaces, so fields are counted after its closing parenthesis).
fn cpu_times(stat: &str, ticks_per_second: u64) -> Option<(Duration, Duration)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> Option<Duration> {
        let ticks: u64 = fields.get(index)?.parse().ok()?;
        Some(Duration::from_secs_f64(
            ticks as f64 / ticks_per_second as f64,
        ))
    };
    // After ')': state is field 3, so field N is at index N - 3.
    Some((ticks(14 - 3)?, ticks(15 - 3)?))
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value; it has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0";
        let (user, system) = cpu_times(stat, 100).unwrap();
        assert_eq!(user, Duration::from_millis(2500));
        assert_eq!(system, Duration::from_millis(750));
    }

    #[test]
    fn this_process_has_figures() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t  1234 kB\nVmRSS:\t  999 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(1234));
        assert_eq!(status_kib(status, "VmRSS:"), Some(999));
        let figures = ProcessFigures::read("self", "test").unwrap();
        assert!(figures.peak_rss_kib > 0);
    }

    #[test]
    fn open_descriptors_are_counted_under_their_limit() {
        let (before, max) = open_fds().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let (during, _) = open_fds().unwrap();
        drop(file);
        assert!(before >= 3, "stdin, stdout and stderr at least: {before}");
        assert!(
            during > before && during <= max,
            "{before} then {during} of {max}"
        );
    }
}
