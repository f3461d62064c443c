//! The limits a sandbox can have, in docker's terms (`--memory`, `--cpus`,
//! `--pids-limit`), independent of the cgroup version that enforces them.

/// Limits for one sandbox. `None` leaves the kernel's default (no limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Memory limit in bytes (`--memory`). With docker semantics the swap
    /// limit follows it: as much swap again as memory (`--memory-swap`
    /// unset means twice `--memory` of memory plus swap).
    pub memory_bytes: Option<u64>,
    /// CPU bandwidth (`--cpus`).
    pub cpu_quota: Option<CpuQuota>,
    /// Maximum number of tasks (processes and threads; `--pids-limit`).
    pub pids_max: Option<u64>,
    /// Host devices the sandbox may open and make (`--device`), on top of
    /// docker's default list.
    pub devices: Vec<crate::Device>,
}

/// CFS bandwidth: the cgroup's tasks may run `quota_us` microseconds of CPU
/// time in every `period_us` microseconds, across all CPUs (kernel
/// Documentation/scheduler/sched-bwc.rst). `--cpus 1.5` is 150000/100000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    /// CPU time allowed per period, in microseconds.
    pub quota_us: u64,
    /// The period, in microseconds.
    pub period_us: u64,
}

impl CpuQuota {
    /// docker's period (and the kernel's default): 100 ms.
    pub const DEFAULT_PERIOD_US: u64 = 100_000;
    /// The smallest quota the kernel accepts (sched-bwc.rst: 1 ms).
    pub const MIN_QUOTA_US: u64 = 1_000;

    /// The quota for `cpus` CPUs over docker's 100 ms period, as
    /// `docker run --cpus` computes it. `None` for zero, negative, NaN or
    /// infinite counts. Tiny positive counts are raised to the kernel's
    /// 1 ms minimum rather than refused by the kernel later.
    pub fn from_cpus(cpus: f64) -> Option<CpuQuota> {
        if !cpus.is_finite() || cpus <= 0.0 {
            return None;
        }
        let period = Self::DEFAULT_PERIOD_US;
        // `as` saturates for out-of-range floats; 0.1 * 100000 is
        // 10000.000000000002, hence the rounding.
        let quota = (cpus * period as f64).round() as u64;
        Some(CpuQuota {
            quota_us: quota.max(Self::MIN_QUOTA_US),
            period_us: period,
        })
    }

    /// The v2 `cpu.max` line: "$QUOTA $PERIOD".
    pub(crate) fn cpu_max(&self) -> String {
        format!("{} {}", self.quota_us, self.period_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cpus_become_quota_over_100ms() {
        let q = |cpus| CpuQuota::from_cpus(cpus).map(|q| (q.quota_us, q.period_us));
        assert_eq!(q(1.5), Some((150_000, 100_000)));
        assert_eq!(q(0.5), Some((50_000, 100_000)));
        assert_eq!(q(0.1), Some((10_000, 100_000)));
        assert_eq!(q(2.0), Some((200_000, 100_000)));
        assert_eq!(
            q(0.001),
            Some((1_000, 100_000)),
            "raised to the 1 ms minimum"
        );
    }

    #[test]
    fn nonsense_cpu_counts_have_no_quota() {
        for cpus in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(CpuQuota::from_cpus(cpus), None, "{cpus}");
        }
    }

    #[test]
    fn cpu_max_is_quota_then_period() {
        let quota = CpuQuota::from_cpus(1.5).unwrap();
        assert_eq!(quota.cpu_max(), "150000 100000");
    }
}
