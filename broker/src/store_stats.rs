//! Store-level statistics as Java's `StoreStatsService` reports them in GET_BROKER_RUNTIME_INFO
//! (mqadmin brokerStatus): put calls, failures, bytes and latency (max and a per-millisecond
//! histogram for the 99th/99.9th percentiles), get calls that found or missed messages with their
//! rates, the slowest get, and the broker's running time. Real counters, updated by the send and
//! pull processors. Invariant: counters only grow; latencies of 1 s and more share the last bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const LATENCY_BUCKETS: usize = 1001; // 0..=999 ms, then ">= 1000 ms"

pub struct StoreStats {
    started: Instant,
    put_times: AtomicU64,
    put_failed: AtomicU64,
    put_size: AtomicU64,
    put_time_max_ms: AtomicU64,
    put_latency: Vec<AtomicU64>,
    pub get_found: AtomicU64,
    pub get_miss: AtomicU64,
    get_time_max_ms: AtomicU64,
}

impl Default for StoreStats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            put_times: AtomicU64::new(0),
            put_failed: AtomicU64::new(0),
            put_size: AtomicU64::new(0),
            put_time_max_ms: AtomicU64::new(0),
            put_latency: (0..LATENCY_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            get_found: AtomicU64::new(0),
            get_miss: AtomicU64::new(0),
            get_time_max_ms: AtomicU64::new(0),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl StoreStats {
    /// One put of `msgs` messages (`bytes` written) that took `took`; `stored` false = failed.
    pub fn record_put(&self, stored: bool, msgs: u64, bytes: u64, took: Duration) {
        if !stored {
            self.put_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.put_times.fetch_add(msgs, Ordering::Relaxed);
        self.put_size.fetch_add(bytes, Ordering::Relaxed);
        let t = ms(took);
        self.put_time_max_ms.fetch_max(t, Ordering::Relaxed);
        let i = usize::try_from(t)
            .unwrap_or(usize::MAX)
            .min(LATENCY_BUCKETS - 1);
        if let Some(b) = self.put_latency.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One store read that found messages (or not) and took `took`.
    pub fn record_get(&self, found: bool, took: Duration) {
        let c = if found {
            &self.get_found
        } else {
            &self.get_miss
        };
        c.fetch_add(1, Ordering::Relaxed);
        self.get_time_max_ms.fetch_max(ms(took), Ordering::Relaxed);
    }

    /// The smallest latency in ms that at least `q` of the puts did not exceed (0 with no puts).
    pub fn put_latency_quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .put_latency
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return i as u64;
            }
        }
        (LATENCY_BUCKETS - 1) as u64
    }

    /// The runtime-info keys this service answers, Java's names and formats.
    pub fn runtime_info(
        &self,
        found_tps: String,
        miss_tps: String,
        total_tps: String,
    ) -> Vec<(String, String)> {
        let times = self.put_times.load(Ordering::Relaxed);
        let size = self.put_size.load(Ordering::Relaxed);
        let avg = if times > 0 {
            size as f64 / times as f64
        } else {
            0.0
        };
        let secs = self.started.elapsed().as_secs();
        let runtime = format!(
            "[ {} days, {} hours, {} minutes, {} seconds ]",
            secs / 86_400,
            secs % 86_400 / 3_600,
            secs % 3_600 / 60,
            secs % 60
        );
        vec![
            ("runtime".into(), runtime),
            ("putMessageTimesTotal".into(), times.to_string()),
            ("putMessageSizeTotal".into(), size.to_string()),
            ("putMessageAverageSize".into(), avg.to_string()),
            (
                "putMessageFailedTimes".into(),
                self.put_failed.load(Ordering::Relaxed).to_string(),
            ),
            (
                "putMessageEntireTimeMax".into(),
                self.put_time_max_ms.load(Ordering::Relaxed).to_string(),
            ),
            ("putMessageDistributeTime".into(), self.distribution()),
            (
                "putLatency99".into(),
                format!("{:.2}", self.put_latency_quantile(0.99) as f64),
            ),
            (
                "putLatency999".into(),
                format!("{:.2}", self.put_latency_quantile(0.999) as f64),
            ),
            (
                "getMessageEntireTimeMax".into(),
                self.get_time_max_ms.load(Ordering::Relaxed).to_string(),
            ),
            ("getFoundTps".into(), found_tps),
            ("getMissTps".into(), miss_tps),
            ("getTotalTps".into(), total_tps),
        ]
    }

    /// Put latencies in Java's distribution ranges: `[<=0ms]:n [0~10ms]:n ... [1s~]:n`.
    fn distribution(&self) -> String {
        let ranges: [(&str, usize, usize); 7] = [
            ("<=0ms", 0, 1),
            ("0~10ms", 1, 10),
            ("10~50ms", 10, 50),
            ("50~100ms", 50, 100),
            ("100~200ms", 100, 200),
            ("200~500ms", 200, 500),
            ("500ms~1s", 500, 1000),
        ];
        let count = |a: usize, b: usize| -> u64 {
            self.put_latency
                .get(a..b)
                .map(|s| s.iter().map(|x| x.load(Ordering::Relaxed)).sum())
                .unwrap_or(0)
        };
        let mut out: Vec<String> = ranges
            .iter()
            .map(|(name, a, b)| format!("[{name}]:{}", count(*a, *b)))
            .collect();
        out.push(format!("[1s~]:{}", count(1000, LATENCY_BUCKETS)));
        out.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_follow_the_recorded_latencies() {
        let s = StoreStats::default();
        assert_eq!(s.put_latency_quantile(0.99), 0);
        for _ in 0..990 {
            s.record_put(true, 1, 100, Duration::from_millis(1));
        }
        for _ in 0..10 {
            s.record_put(true, 1, 100, Duration::from_millis(40));
        }
        s.record_put(false, 1, 100, Duration::from_millis(5000));
        assert_eq!(s.put_latency_quantile(0.99), 1);
        assert_eq!(s.put_latency_quantile(0.999), 40);
        let info: std::collections::HashMap<_, _> = s
            .runtime_info(String::new(), String::new(), String::new())
            .into_iter()
            .collect();
        assert_eq!(info["putMessageTimesTotal"], "1000");
        assert_eq!(info["putMessageFailedTimes"], "1");
        assert_eq!(info["putMessageEntireTimeMax"], "40");
        assert_eq!(info["putMessageAverageSize"], "100");
        assert!(info["putMessageDistributeTime"].contains("[0~10ms]:990"));
    }

    #[test]
    fn gets_count_found_and_missed_with_the_slowest() {
        let s = StoreStats::default();
        s.record_get(true, Duration::from_millis(3));
        s.record_get(false, Duration::from_millis(7));
        assert_eq!(s.get_found.load(Ordering::Relaxed), 1);
        assert_eq!(s.get_miss.load(Ordering::Relaxed), 1);
        assert_eq!(s.get_time_max_ms.load(Ordering::Relaxed), 7);
    }
}
