//! The sliding windows behind VIEW_BROKER_STATS_DATA (Java `StatsItem`): snapshots of a counter
//! taken every 10 s (7 kept: the last minute), every 10 min (7: the last hour) and every hour (25:
//! the last day); a window's figures are the difference between its first and last snapshot.
//!
//! Invariant: as Java, a window's first sampling also records a zero snapshot one period earlier, so
//! a counter created between two samplings reports everything it counted once it is sampled.

use std::collections::VecDeque;

use serde::Serialize;

/// Which window a sampling tick feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Minute,
    Hour,
    Day,
}

impl Window {
    fn period_ms(self) -> i64 {
        match self {
            Window::Minute => 10_000,
            Window::Hour => 600_000,
            Window::Day => 3_600_000,
        }
    }

    fn capacity(self) -> usize {
        match self {
            Window::Minute | Window::Hour => 7,
            Window::Day => 25,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Snapshot {
    at_ms: i64,
    times: u64,
    nums: u64,
    size: u64,
}

/// The figures of one window, as Java's `BrokerStatsItem` serialises them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WindowFigures {
    pub avgpt: f64,
    pub sum: u64,
    pub tps: f64,
}

/// `BrokerStatsData`: the three windows of one counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerStatsData {
    pub stats_day: WindowFigures,
    pub stats_hour: WindowFigures,
    pub stats_minute: WindowFigures,
}

/// Which of a counter's two values a view reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Nums,
    Size,
}

/// The three windows of one counter of messages (`nums`) and bytes (`size`).
#[derive(Debug, Default)]
pub struct Windows {
    minute: VecDeque<Snapshot>,
    hour: VecDeque<Snapshot>,
    day: VecDeque<Snapshot>,
}

impl Windows {
    fn list(&mut self, w: Window) -> &mut VecDeque<Snapshot> {
        match w {
            Window::Minute => &mut self.minute,
            Window::Hour => &mut self.hour,
            Window::Day => &mut self.day,
        }
    }

    /// Records the counter's totals at `now_ms` into window `w`.
    pub fn sample(&mut self, w: Window, now_ms: i64, times: u64, nums: u64, size: u64) {
        let list = self.list(w);
        if list.is_empty() {
            list.push_back(Snapshot {
                at_ms: now_ms - w.period_ms(),
                times: 0,
                nums: 0,
                size: 0,
            });
        }
        list.push_back(Snapshot {
            at_ms: now_ms,
            times,
            nums,
            size,
        });
        while list.len() > w.capacity() {
            list.pop_front();
        }
    }

    fn figures(list: &VecDeque<Snapshot>, v: Value) -> WindowFigures {
        let (Some(first), Some(last)) = (list.front(), list.back()) else {
            return WindowFigures::default();
        };
        let pick = |s: &Snapshot| match v {
            Value::Nums => s.nums,
            Value::Size => s.size,
        };
        let sum = pick(last).saturating_sub(pick(first));
        let span_ms = last.at_ms - first.at_ms;
        let tps = if span_ms > 0 {
            sum as f64 * 1000.0 / span_ms as f64
        } else {
            0.0
        };
        let times = last.times.saturating_sub(first.times);
        let avgpt = if times > 0 {
            sum as f64 / times as f64
        } else {
            0.0
        };
        WindowFigures { avgpt, sum, tps }
    }

    pub fn data(&self, v: Value) -> BrokerStatsData {
        BrokerStatsData {
            stats_day: Self::figures(&self.day, v),
            stats_hour: Self::figures(&self.hour, v),
            stats_minute: Self::figures(&self.minute, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsampled_counter_reports_zeros() {
        let w = Windows::default();
        assert_eq!(w.data(Value::Nums), BrokerStatsData::default());
    }

    #[test]
    fn the_first_sample_counts_everything_since_creation() {
        let mut w = Windows::default();
        w.sample(Window::Minute, 100_000, 4, 16, 1600);
        let d = w.data(Value::Nums);
        assert_eq!(d.stats_minute.sum, 16);
        assert!((d.stats_minute.tps - 1.6).abs() < 1e-9);
        assert!((d.stats_minute.avgpt - 4.0).abs() < 1e-9);
        assert_eq!(w.data(Value::Size).stats_minute.sum, 1600);
        // Hour and day windows were not sampled yet.
        assert_eq!(d.stats_hour.sum, 0);
        assert_eq!(d.stats_day.sum, 0);
    }

    #[test]
    fn the_minute_window_forgets_after_seven_snapshots() {
        let mut w = Windows::default();
        w.sample(Window::Minute, 10_000, 1, 5, 0);
        for i in 2..=7 {
            w.sample(Window::Minute, i * 10_000, 1, 5, 0);
        }
        // Seven snapshots kept: the zero one was dropped, nothing happened in between.
        assert_eq!(w.data(Value::Nums).stats_minute.sum, 0);
        w.sample(Window::Minute, 80_000, 3, 11, 0);
        let m = w.data(Value::Nums).stats_minute;
        assert_eq!(m.sum, 6);
        assert!((m.tps - 0.1).abs() < 1e-9);
        assert!((m.avgpt - 3.0).abs() < 1e-9);
    }

    #[test]
    fn serialises_like_java() {
        let mut w = Windows::default();
        w.sample(Window::Minute, 10_000, 1, 2, 0);
        let json = serde_json::to_string(&w.data(Value::Nums)).unwrap();
        assert_eq!(
            json,
            "{\"statsDay\":{\"avgpt\":0.0,\"sum\":0,\"tps\":0.0},\"statsHour\":{\"avgpt\":0.0,\"sum\":0,\"tps\":0.0},\"statsMinute\":{\"avgpt\":2.0,\"sum\":2,\"tps\":0.2}}"
        );
    }
}
