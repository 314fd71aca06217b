//! /proc/PID/stat (proc(5)): `pid (comm) state ppid … starttime …`.
//!
//! Hand-written because the command name may hold spaces and parentheses (it ends at the
//! *last* `)`), and because garbled input must give `None`, not a panic; procfs-core's parser
//! slices before checking.

/// The fields of /proc/PID/stat the checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    /// R, S, D, Z, T, t, X, I, …
    pub state: char,
    pub ppid: u32,
    /// Clock ticks after boot at which the process started (field 22).
    pub start_ticks: u64,
    /// PF_KTHREAD in the flags (field 9): a kernel thread, which has no files of its own.
    pub kernel_thread: bool,
}

/// `PF_KTHREAD` (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

pub fn parse(text: &str) -> Option<ProcStat> {
    let open = text.find(" (")?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let pid = text[..open].trim().parse().ok()?;
    let comm = text[open + 2..close].to_string();
    // Up to starttime: the thirty fields after it are not split.
    let rest: Vec<&str> = text[close + 1..].split_whitespace().take(20).collect();
    // After comm: state is field 3, ppid field 4, starttime field 22.
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let flags: u64 = rest.get(6)?.parse().ok()?;
    let start_ticks = rest.get(19)?.parse().ok()?;
    Some(ProcStat {
        pid,
        comm,
        state,
        ppid,
        start_ticks,
        kernel_thread: flags & PF_KTHREAD != 0,
    })
}

/// Seconds since boot, the first number of /proc/uptime.
pub fn uptime_seconds(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_with_spaces_and_parens() {
        let line = "4242 (a) b (c)) Z 1 4242 4242 0 -1 4227148 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0 \
                    18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let s = parse(line).unwrap();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.state, s.ppid, s.start_ticks),
            (4242, "a) b (c)", 'Z', 1, 123456)
        );
    }

    #[test]
    fn kernel_threads_by_their_flags() {
        // kthreadd and a user process, as /proc/2/stat and /proc/1/stat read on Linux 6.18.
        let kthreadd = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 1 0 0 0 20 0 1 0 14 0 0 \
                        18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let user = "1 (process_api) S 0 0 0 0 -1 4194560 344120 654573186 0 142837 1172 2097 \
                    4219167 558441 10 -10 13 0 14 37818368 1982 18446744073709551615 1 1 0 0 0 0 0 \
                    4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert!(parse(kthreadd).unwrap().kernel_thread);
        assert!(!parse(user).unwrap().kernel_thread);
    }

    #[test]
    fn garbage_is_none() {
        for junk in [
            "",
            "(x)",
            ") (",
            "1 (x) R",
            "1 (x) R 1 2 3",
            "abc (x) R 1",
            "1 (x)",
        ] {
            assert!(parse(junk).is_none(), "{junk:?}");
        }
        assert_eq!(uptime_seconds("350735.47 234388.90\n"), Some(350735.47));
        assert_eq!(uptime_seconds("NaN 1"), None);
    }
}
