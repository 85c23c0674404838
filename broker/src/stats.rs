//! Broker statistics from real counters (Java `BrokerStatsManager`): messages and bytes put per
//! topic, messages got per group and topic, broker totals, and TPS over the last 10 s, 1 min and
//! 10 min computed from once-a-second samples of the totals.
//!
//! Invariant: counters only grow; TPS windows read two samples of the same counter.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::stats_windows::{BrokerStatsData, Value, Window, Windows};

/// Monotonically growing counters: events, bytes and calls; with the Java-style windows
/// (VIEW_BROKER_STATS_DATA) sampled from them.
#[derive(Default)]
pub struct Counter {
    pub nums: AtomicU64,
    pub size: AtomicU64,
    times: AtomicU64,
    windows: Mutex<Windows>,
}

impl Counter {
    /// One call that counted `nums` events of `size` bytes (Java `addValue(key, n, 1)`).
    fn add(&self, nums: u64, size: u64) {
        self.nums.fetch_add(nums, Ordering::Relaxed);
        self.size.fetch_add(size, Ordering::Relaxed);
        self.times.fetch_add(1, Ordering::Relaxed);
    }

    /// Events without a call count: Java's broker-wide counters add values only.
    fn add_untimed(&self, nums: u64, size: u64) {
        self.nums.fetch_add(nums, Ordering::Relaxed);
        self.size.fetch_add(size, Ordering::Relaxed);
    }

    fn sample(&self, w: Window, now_ms: i64) {
        let times = self.times.load(Ordering::Relaxed);
        let nums = self.nums.load(Ordering::Relaxed);
        let size = self.size.load(Ordering::Relaxed);
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sample(w, now_ms, times, nums, size);
    }

    fn data(&self, v: Value) -> BrokerStatsData {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .data(v)
    }
}

const WINDOW_SAMPLES: usize = 601;

/// Samples of one counter, one per second, newest last.
#[derive(Default)]
struct Samples {
    at: VecDeque<(Instant, u64)>,
}

impl Samples {
    fn push(&mut self, now: Instant, total: u64) {
        self.at.push_back((now, total));
        while self.at.len() > WINDOW_SAMPLES {
            self.at.pop_front();
        }
    }

    /// Events per second over roughly the last `window`.
    fn tps(&self, window: Duration) -> f64 {
        let Some(&(t1, v1)) = self.at.back() else {
            return 0.0;
        };
        let start = self
            .at
            .iter()
            .find(|(t, _)| t1.duration_since(*t) <= window)
            .copied();
        match start {
            Some((t0, v0)) if t1 > t0 => {
                (v1.saturating_sub(v0)) as f64 / t1.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Totals at the start of today and yesterday (local days are approximated by UTC days).
#[derive(Default, Clone, Copy)]
pub struct DayMarks {
    pub yesterday_morning: u64,
    pub today_morning: u64,
    day: u64,
}

#[derive(Default)]
pub struct BrokerStats {
    topic_put: DashMap<String, Counter>,
    group_get: DashMap<String, Counter>,
    pub broker_put: Counter,
    pub broker_get: Counter,
    /// Store-level put/get statistics (brokerStatus).
    pub store: crate::store_stats::StoreStats,
    samples: Mutex<StatSamples>,
}

#[derive(Default)]
struct StatSamples {
    put: Samples,
    get: Samples,
    get_found: Samples,
    get_miss: Samples,
    topic_put: std::collections::HashMap<String, Samples>,
    group_get: std::collections::HashMap<String, Samples>,
    put_marks: DayMarks,
    get_marks: DayMarks,
}

fn group_key(group: &str, topic: &str) -> String {
    format!("{topic}@{group}")
}

fn day_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// Moves the day marks forward when the day changed since the last sample.
fn roll_day(marks: &mut DayMarks, day: u64, total: u64) {
    if marks.day == 0 {
        *marks = DayMarks {
            yesterday_morning: 0,
            today_morning: 0,
            day,
        };
    } else if marks.day != day {
        marks.yesterday_morning = marks.today_morning;
        marks.today_morning = total;
        marks.day = day;
    }
}

impl BrokerStats {
    pub fn record_put(&self, topic: &str, nums: u64, size: u64) {
        self.broker_put.add_untimed(nums, size);
        if let Some(c) = self.topic_put.get(topic) {
            c.add(nums, size);
            return;
        }
        self.topic_put
            .entry(topic.to_string())
            .or_default()
            .add(nums, size);
    }

    pub fn record_get(&self, group: &str, topic: &str, nums: u64, size: u64) {
        self.broker_get.add_untimed(nums, size);
        let key = group_key(group, topic);
        if let Some(c) = self.group_get.get(&key) {
            c.add(nums, size);
            return;
        }
        self.group_get.entry(key).or_default().add(nums, size);
    }

    pub fn topic_put_nums(&self, topic: &str) -> u64 {
        self.topic_put
            .get(topic)
            .map(|c| c.nums.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    pub fn topic_put_size(&self, topic: &str) -> u64 {
        self.topic_put
            .get(topic)
            .map(|c| c.size.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// (group, topic, messages, bytes) of every group that pulled something.
    pub fn group_gets(&self) -> Vec<(String, String, u64, u64)> {
        let mut v: Vec<_> = self
            .group_get
            .iter()
            .filter_map(|e| {
                let (topic, group) = e.key().split_once('@')?;
                Some((
                    group.to_string(),
                    topic.to_string(),
                    e.value().nums.load(Ordering::Relaxed),
                    e.value().size.load(Ordering::Relaxed),
                ))
            })
            .collect();
        v.sort();
        v
    }

    pub fn group_get_nums(&self, group: &str, topic: &str) -> u64 {
        self.group_get
            .get(&group_key(group, topic))
            .map(|c| c.nums.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Feeds window `w` of every counter (Java samples minutes every 10 s, hours every 10 min,
    /// days every hour).
    pub fn sample_windows(&self, w: Window) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.broker_put.sample(w, now_ms);
        self.broker_get.sample(w, now_ms);
        for e in self.topic_put.iter() {
            e.value().sample(w, now_ms);
        }
        for e in self.group_get.iter() {
            e.value().sample(w, now_ms);
        }
    }

    /// VIEW_BROKER_STATS_DATA: the windows of Java stats `name` for `key` (a topic for TOPIC_*,
    /// `topic@group` for GROUP_GET_*, the cluster name for BROKER_*); None if nothing was counted
    /// under that key.
    pub fn view(&self, name: &str, key: &str, cluster: &str) -> Option<BrokerStatsData> {
        let (map, value) = match name {
            "TOPIC_PUT_NUMS" => (&self.topic_put, Value::Nums),
            "TOPIC_PUT_SIZE" => (&self.topic_put, Value::Size),
            "GROUP_GET_NUMS" => (&self.group_get, Value::Nums),
            "GROUP_GET_SIZE" => (&self.group_get, Value::Size),
            "BROKER_PUT_NUMS" if key == cluster => return Some(self.broker_put.data(Value::Nums)),
            "BROKER_GET_NUMS" if key == cluster => return Some(self.broker_get.data(Value::Nums)),
            _ => return None,
        };
        map.get(key).map(|c| c.data(value))
    }

    /// Forgets the counters of a deleted topic (Java `onTopicDeleted`).
    pub fn forget_topic(&self, topic: &str) {
        self.topic_put.remove(topic);
        let prefix = format!("{topic}@");
        self.group_get.retain(|k, _| !k.starts_with(&prefix));
        let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.topic_put.remove(topic);
        s.group_get.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Takes one sample of every counter (called once a second).
    pub fn sample(&self) {
        let now = Instant::now();
        let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let put = self.broker_put.nums.load(Ordering::Relaxed);
        let get = self.broker_get.nums.load(Ordering::Relaxed);
        s.put.push(now, put);
        s.get.push(now, get);
        let found = self.store.get_found.load(Ordering::Relaxed);
        let miss = self.store.get_miss.load(Ordering::Relaxed);
        s.get_found.push(now, found);
        s.get_miss.push(now, miss);
        for e in self.topic_put.iter() {
            let v = e.value().nums.load(Ordering::Relaxed);
            s.topic_put.entry(e.key().clone()).or_default().push(now, v);
        }
        for e in self.group_get.iter() {
            let v = e.value().nums.load(Ordering::Relaxed);
            s.group_get.entry(e.key().clone()).or_default().push(now, v);
        }
        let day = day_now();
        roll_day(&mut s.put_marks, day, put);
        roll_day(&mut s.get_marks, day, get);
    }
    /// `"<10s> <1min> <10min>"` TPS as Java's runtime info formats it.
    fn tps_triplet(samples: &Samples) -> String {
        format!(
            "{:.2} {:.2} {:.2}",
            samples.tps(Duration::from_secs(10)),
            samples.tps(Duration::from_secs(60)),
            samples.tps(Duration::from_secs(600))
        )
    }

    pub fn put_tps(&self) -> String {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        Self::tps_triplet(&s.put)
    }

    pub fn get_tps(&self) -> String {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        Self::tps_triplet(&s.get)
    }

    /// Store reads per second that found messages, missed, and both: (found, miss, total), each
    /// as Java's `getGetFoundTps` etc. print them (10 s, 1 min, 10 min windows).
    pub fn store_get_tps(&self) -> (String, String, String) {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let w = [10u64, 60, 600].map(Duration::from_secs);
        let found = w.map(|d| s.get_found.tps(d));
        let miss = w.map(|d| s.get_miss.tps(d));
        let fmt = |v: [f64; 3]| format!("{} {} {}", v[0], v[1], v[2]);
        (
            fmt(found),
            fmt(miss),
            fmt([found[0] + miss[0], found[1] + miss[1], found[2] + miss[2]]),
        )
    }

    pub fn put_marks(&self) -> DayMarks {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put_marks
    }

    pub fn get_marks(&self) -> DayMarks {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_marks
    }

    /// Messages per second got by `group` on `topic` over the last minute.
    pub fn group_get_tps(&self, group: &str, topic: &str) -> f64 {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.group_get
            .get(&group_key(group, topic))
            .map(|x| x.tps(Duration::from_secs(60)))
            .unwrap_or(0.0)
    }

    /// Messages per second put on `topic` over the last minute.
    pub fn topic_put_tps(&self, topic: &str) -> f64 {
        let s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.topic_put
            .get(topic)
            .map(|x| x.tps(Duration::from_secs(60)))
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tps_is_the_rate_between_samples() {
        let mut s = Samples::default();
        let t0 = Instant::now();
        s.push(t0, 0);
        s.push(t0 + Duration::from_secs(10), 1000);
        assert!((s.tps(Duration::from_secs(60)) - 100.0).abs() < 0.01);
        assert_eq!(Samples::default().tps(Duration::from_secs(10)), 0.0);
    }

    #[test]
    fn counters_accumulate_per_topic_and_group() {
        let st = BrokerStats::default();
        st.record_put("T", 2, 20);
        st.record_put("T", 1, 10);
        st.record_get("g", "T", 3, 30);
        assert_eq!(st.topic_put_nums("T"), 3);
        assert_eq!(st.group_get_nums("g", "T"), 3);
        assert_eq!(st.broker_put.size.load(Ordering::Relaxed), 30);
    }

    #[test]
    fn view_reads_the_counter_named_by_java_stats_name_and_key() {
        let st = BrokerStats::default();
        st.record_put("T", 2, 20);
        st.record_put("T", 1, 10);
        st.record_get("g", "T", 3, 30);
        assert!(st.view("TOPIC_PUT_NUMS", "T", "c").is_some());
        assert!(st.view("TOPIC_PUT_NUMS", "U", "c").is_none());
        assert!(st.view("NO_SUCH_STATS", "T", "c").is_none());
        assert!(st.view("BROKER_PUT_NUMS", "other-cluster", "c").is_none());
        st.sample_windows(Window::Minute);
        let put = st.view("TOPIC_PUT_NUMS", "T", "c").unwrap();
        assert_eq!(put.stats_minute.sum, 3);
        assert!((put.stats_minute.avgpt - 1.5).abs() < 1e-9, "two calls");
        assert_eq!(
            st.view("TOPIC_PUT_SIZE", "T", "c")
                .unwrap()
                .stats_minute
                .sum,
            30
        );
        assert_eq!(
            st.view("GROUP_GET_NUMS", "T@g", "c")
                .unwrap()
                .stats_minute
                .sum,
            3
        );
        let b = st.view("BROKER_PUT_NUMS", "c", "c").unwrap();
        assert_eq!(b.stats_minute.sum, 3);
        assert_eq!(
            b.stats_minute.avgpt, 0.0,
            "broker-wide counters count no calls, as Java"
        );
        st.forget_topic("T");
        assert!(st.view("TOPIC_PUT_NUMS", "T", "c").is_none());
        assert!(st.view("GROUP_GET_NUMS", "T@g", "c").is_none());
    }
}
