//! Server and generator resource use, read from /proc (Linux only).

/// Resident set size of a process in KiB (`VmRSS` in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process (all its threads) in clock ticks.
fn cpu_ticks_of(path: &str) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the ')'.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn cpu_ticks(pid: u32) -> Option<u64> {
    cpu_ticks_of(&format!("/proc/{pid}/stat"))
}

pub fn self_cpu_ticks() -> Option<u64> {
    cpu_ticks_of("/proc/self/stat")
}

/// Clock ticks per second (USER_HZ). 100 on every Linux this runs on; read it from
/// `getconf` once rather than linking libc for sysconf.
pub fn ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Per-core (busy, steal, total) ticks from /proc/stat, for cores `cpu0`, `cpu1`, ...
/// Busy excludes idle and iowait; steal is time the hypervisor gave to someone else.
pub fn core_ticks() -> Vec<(u64, u64, u64)> {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else { return Vec::new() };
    s.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
            let get = |i: usize| v.get(i).copied().unwrap_or(0);
            // user nice system idle iowait irq softirq steal
            let total: u64 = (0..8).map(get).sum();
            let busy = total - get(3) - get(4) - get(7);
            (busy, get(7), total)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(super::rss_kib(pid).unwrap() > 0);
        assert!(super::cpu_ticks(pid).is_some());
        assert!(super::self_cpu_ticks().is_some());
        assert!(!super::core_ticks().is_empty());
    }
}
