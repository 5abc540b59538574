//! CPU time and peak memory of processes, from /proc (Linux).

/// Direct children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            (parent(child)? == pid).then_some(child)
        })
        .collect()
}

fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    stat.rsplit(')').next().unwrap_or_default().split_whitespace().map(str::to_owned).collect()
}

fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid).get(1)?.parse().ok()
}

/// `pid` and all its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children(all[i]));
        i += 1;
    }
    all
}

/// User + system CPU time of `pid` (all its threads), in ms.
pub fn cpu_ms(pid: u32) -> f64 {
    let fields = stat_fields(pid);
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the name);
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) * 10.0
}

/// CPU time of `pid` and its live descendants, in ms.
pub fn tree_cpu_ms(pid: u32) -> f64 {
    tree(pid).into_iter().map(cpu_ms).sum()
}

/// Peak resident set size (VmHWM) of `pid`, in kB.
pub fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Peak RSS of `pid` and its live descendants, in kB (an upper bound of their joint peak).
pub fn tree_peak_rss_kb(pid: u32) -> u64 {
    tree(pid).into_iter().map(peak_rss_kb).sum()
}

/// A group of processes whose CPU time is compared before and after.
pub struct Group {
    pub name: String,
    pub pids: Vec<u32>,
    /// Count each process's descendants too (not for an emulator, whose child is the function).
    pub descendants: bool,
}

impl Group {
    fn cpu_ms(&self) -> f64 {
        self.pids.iter().map(|&p| if self.descendants { tree_cpu_ms(p) } else { cpu_ms(p) }).sum()
    }
}

pub struct CpuMeter {
    groups: Vec<(Group, f64)>,
}

impl CpuMeter {
    pub fn start(groups: Vec<Group>) -> Self {
        Self {
            groups: groups
                .into_iter()
                .map(|g| {
                    let before = g.cpu_ms();
                    (g, before)
                })
                .collect(),
        }
    }

    /// Each group's CPU time since `start`, in ms.
    pub fn stop(self) -> Vec<(String, f64)> {
        self.groups
            .into_iter()
            .map(|(g, before)| {
                let after = g.cpu_ms();
                (g.name, after - before)
            })
            .collect()
    }
}
