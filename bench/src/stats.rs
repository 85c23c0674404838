//! Counters and latency histograms (HdrHistogram, microseconds, 3 significant digits) and
//! their JSON / one-line summaries.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks (larger values are clamped): 10 minutes in µs.
const MAX_MICROS: u64 = 600_000_000;

/// A latency histogram in microseconds.
#[derive(Clone)]
pub struct Latency(Histogram<u64>);

impl Latency {
    pub fn new() -> Self {
        // 1 µs .. 10 min with 3 significant digits is a valid configuration.
        match Histogram::new_with_bounds(1, MAX_MICROS, 3) {
            Ok(h) => Self(h),
            Err(_) => unreachable!("valid histogram bounds"),
        }
    }

    pub fn record(&mut self, micros: u64) {
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.0.len(),
            mean_ms: self.0.mean() / 1000.0,
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p90_ms: ms(self.0.value_at_quantile(0.90)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            p999_ms: ms(self.0.value_at_quantile(0.999)),
            max_ms: ms(self.0.max()),
        }
    }
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// What one side (producers or consumers) did in the measured window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// Messages in the measured window (after warm-up).
    pub messages: u64,
    /// Body bytes in the measured window.
    pub bytes: u64,
    /// Length of the measured window in seconds.
    pub seconds: f64,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
    /// Messages over the whole run, warm-up included.
    pub total_messages: u64,
    /// Failed requests (timeouts, closed connections, non-SUCCESS codes), whole run.
    pub errors: u64,
    /// The first few distinct error texts.
    pub error_samples: Vec<String>,
    /// Send round trip (producers) or produce-to-consume latency (consumers).
    pub latency: LatencySummary,
}

impl Side {
    pub fn finish(&mut self, seconds: f64, latency: &Latency) {
        self.seconds = seconds;
        if seconds > 0.0 {
            self.msgs_per_sec = self.messages as f64 / seconds;
            self.mb_per_sec = self.bytes as f64 / seconds / 1e6;
        }
        self.latency = latency.summary();
    }

    pub fn line(&self, what: &str, latency_name: &str) -> String {
        let l = &self.latency;
        format!(
            "{what}: {:.0} msg/s {:.1} MB/s ({} msgs in {:.1} s, {} errors) {latency_name} p50 {:.3} ms p99 {:.3} ms p999 {:.3} ms max {:.1} ms",
            self.msgs_per_sec,
            self.mb_per_sec,
            self.messages,
            self.seconds,
            self.errors,
            l.p50_ms,
            l.p99_ms,
            l.p999_ms,
            l.max_ms
        )
    }
}

/// Keeps the first few distinct error texts.
pub fn note_error(samples: &mut Vec<String>, text: String) {
    if samples.len() < 5 && !samples.contains(&text) {
        samples.push(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut l = Latency::new();
        for us in 1..=1000 {
            l.record(us);
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 0.5).abs() < 0.01, "{s:?}");
        assert!((s.p99_ms - 0.99).abs() < 0.01, "{s:?}");
        let mut other = Latency::new();
        other.record(u64::MAX);
        l.merge(&other);
        assert_eq!(l.summary().count, 1001);
        assert!(l.summary().max_ms >= 599_000.0);
    }

    #[test]
    fn side_rates() {
        let mut s = Side {
            messages: 2000,
            bytes: 2_000_000,
            ..Side::default()
        };
        s.finish(2.0, &Latency::new());
        assert_eq!(s.msgs_per_sec, 1000.0);
        assert_eq!(s.mb_per_sec, 1.0);
    }
}
