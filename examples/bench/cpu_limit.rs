//! Lambda gives a function CPU in proportion to its memory size: one vCPU at 1,769 MB. A CFS
//! quota on the function's process (a cgroup of its own) gives it the same share here. Needs
//! a writable cgroup cpu controller (v1 or v2, as root); without one the sizes are skipped.

use std::path::PathBuf;

/// CFS period: the kernel's default. AWS does not publish Lambda's.
const PERIOD_US: u64 = 100_000;
const FULL_VCPU_MB: u64 = 1769;

pub struct CpuLimit {
    dir: PathBuf,
    root_procs: PathBuf,
    pid: u32,
}

impl CpuLimit {
    /// Puts `pid` (all its threads) in a new cgroup with `memory_mb`'s CPU share; None when
    /// this machine does not allow it.
    pub fn apply(pid: u32, memory_mb: u64) -> Option<Self> {
        let quota = PERIOD_US * memory_mb / FULL_VCPU_MB;
        let name = format!("passkey-bench-{}-{memory_mb}", std::process::id());
        let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers");
        let (root, limit_file, limit) = if v2.exists() {
            let root = PathBuf::from("/sys/fs/cgroup");
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+cpu");
            (root, "cpu.max", format!("{quota} {PERIOD_US}"))
        } else {
            (PathBuf::from("/sys/fs/cgroup/cpu"), "cpu.cfs_quota_us", quota.to_string())
        };
        let dir = root.join(name);
        std::fs::create_dir(&dir).ok()?;
        let guard = Self { dir: dir.clone(), root_procs: root.join("cgroup.procs"), pid };
        if !v2.exists() {
            std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string()).ok()?;
        }
        std::fs::write(dir.join(limit_file), limit).ok()?;
        std::fs::write(dir.join("cgroup.procs"), pid.to_string()).ok()?;
        Some(guard)
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.root_procs, self.pid.to_string());
        let _ = std::fs::remove_dir(&self.dir);
    }
}
