//! The load itself: N producer tasks sending synchronously (each waits for its answer before the
//! next send, as the Java benchmark's threads do) round-robin over every queue of every topic,
//! and one consumer task per queue pulling with long polling and timing each message from the
//! send timestamp in its `BENCH_TS` property to its arrival.
//!
//! Every loop ends at the run's deadline (and a drain ends earlier, when every queue has reached
//! the offset it had at the start); failures are counted, never retried in a tight loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::SerializeType;
use remoting::{response_code, Channel, RemotingCommand};
use serde::Serialize;
use store::message::record::decode_messages;
use tokio::time::Instant;

use crate::proto::{self, BoxError, Locator, Target, UniqIds};
use crate::stats::{note_error, Latency, Side};

/// Where consumers start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// The queue's max offset when the run starts: only what is produced during the run.
    Latest,
    /// Offset 0: everything the queue holds.
    Earliest,
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub locator: Locator,
    pub producers: usize,
    pub connections: usize,
    pub body_size: usize,
    pub batch: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub max_messages: Option<u64>,
    /// Paced sends: messages per second over all producers.
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub consume: bool,
    pub from: StartFrom,
    pub drain: bool,
    pub pull_batch: i32,
    pub group: String,
    pub serialize: SerializeType,
    pub route_wait: Duration,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub queues: usize,
    pub producers: usize,
    /// Body size and batch size of the sends (absent without producers).
    pub body_size: Option<usize>,
    pub batch: Option<usize>,
    pub produce: Option<Side>,
    pub consume: Option<Side>,
    /// Drain only: whether every queue reached its start-time max offset before the deadline.
    pub drained: Option<bool>,
    /// Drain only: messages the queues held at the start (the backlog).
    pub backlog_messages: Option<u64>,
}

impl Report {
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.produce {
            parts.push(p.line("produce", "send rt"));
        }
        if let Some(c) = &self.consume {
            parts.push(c.line("consume", "produce-to-consume"));
        }
        if let Some(d) = self.drained {
            parts.push(format!(
                "drain of {} msgs {}",
                self.backlog_messages.unwrap_or(0),
                if d { "complete" } else { "INCOMPLETE" }
            ));
        }
        parts.join(" | ")
    }
}

/// A task's open connections, reopened through its client after one closes.
struct Conns {
    client: RemotingClient,
    open: HashMap<String, Channel>,
}

impl Conns {
    fn new(client: RemotingClient) -> Self {
        Self {
            client,
            open: HashMap::new(),
        }
    }

    async fn invoke(
        &mut self,
        addr: &str,
        req: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, BoxError> {
        let ch = match self.open.get(addr) {
            Some(ch) if !ch.is_closed() => ch.clone(),
            _ => {
                let ch = tokio::time::timeout(timeout, self.client.channel(addr))
                    .await
                    .map_err(|_| format!("connect to {addr} timed out"))??;
                self.open.insert(addr.to_string(), ch.clone());
                ch
            }
        };
        Ok(ch.invoke(req, timeout).await?)
    }
}

fn clients(n: usize) -> Vec<RemotingClient> {
    (0..n.max(1))
        .map(|_| RemotingClient::new(ClientConfig::default()))
        .collect()
}

struct Tally {
    side: Side,
    latency: Latency,
}

impl Tally {
    fn new() -> Self {
        Self {
            side: Side::default(),
            latency: Latency::new(),
        }
    }

    fn merge(&mut self, other: Tally) {
        self.side.messages += other.side.messages;
        self.side.bytes += other.side.bytes;
        self.side.total_messages += other.side.total_messages;
        self.side.errors += other.side.errors;
        for e in other.side.error_samples {
            note_error(&mut self.side.error_samples, e);
        }
        self.latency.merge(&other.latency);
    }
}

struct ProduceShared {
    targets: Vec<Target>,
    body: Bytes,
    ids: UniqIds,
    claimed: AtomicU64,
    cfg: LoadConfig,
    measure_from: Instant,
    deadline: Instant,
}

async fn produce_task(idx: usize, client: RemotingClient, s: Arc<ProduceShared>) -> Tally {
    let mut t = Tally::new();
    let mut conns = Conns::new(client);
    let batch = s.cfg.batch.max(1);
    let mut k = 0usize;
    // Paced: this producer's sends are `interval` apart, producers staggered over one interval.
    // A producer that falls behind (a slow answer) sends at once but does not burst to catch up.
    let interval = s
        .cfg
        .rate
        .map(|r| Duration::from_secs_f64((s.cfg.producers.max(1) * batch) as f64 / r));
    let mut next_send =
        interval.map(|iv| Instant::now() + iv.mul_f64(idx as f64 / s.cfg.producers.max(1) as f64));
    loop {
        if let (Some(iv), Some(at)) = (interval, next_send.as_mut()) {
            tokio::time::sleep_until(*at).await;
            *at = (*at + iv).max(Instant::now());
        }
        if Instant::now() >= s.deadline {
            break;
        }
        if let Some(max) = s.cfg.max_messages {
            if s.claimed.fetch_add(batch as u64, Ordering::Relaxed) >= max {
                break;
            }
        }
        let target = &s.targets[(idx + k * s.cfg.producers) % s.targets.len()];
        k = k.wrapping_add(1);
        let req = if batch > 1 {
            proto::batch_request(target, &s.body, batch, &s.ids, s.cfg.serialize)
        } else {
            proto::send_request(target, &s.body, &s.ids, s.cfg.serialize)
        };
        let sent = Instant::now();
        let res = conns.invoke(&target.broker, req, s.cfg.timeout).await;
        let rt = sent.elapsed();
        match res {
            Ok(r) if r.code == response_code::SUCCESS => {
                t.side.total_messages += batch as u64;
                if sent >= s.measure_from {
                    t.side.messages += batch as u64;
                    t.side.bytes += (batch * s.body.len()) as u64;
                    t.latency.record(rt.as_micros() as u64);
                }
            }
            Ok(r) => {
                t.side.errors += 1;
                let text = format!("code {} {}", r.code, r.remark.as_deref().unwrap_or(""));
                note_error(&mut t.side.error_samples, text);
                // A busy broker is not helped by an immediate retry.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(e) => {
                t.side.errors += 1;
                note_error(&mut t.side.error_samples, e.to_string());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    t
}

struct ConsumeShared {
    cfg: LoadConfig,
    measure_from: Instant,
    deadline: Instant,
}

async fn consume_task(
    client: RemotingClient,
    target: Target,
    start: i64,
    end: Option<i64>,
    s: Arc<ConsumeShared>,
) -> (Tally, bool) {
    let mut t = Tally::new();
    let mut conns = Conns::new(client);
    let mut offset = start;
    loop {
        let now = Instant::now();
        if let Some(end) = end {
            if offset >= end {
                return (t, true);
            }
        }
        if now >= s.deadline {
            break;
        }
        let left = s.deadline - now;
        let suspend_ms = if s.cfg.drain {
            0
        } else {
            left.min(Duration::from_millis(1000)).as_millis() as i64
        };
        let req = proto::pull_request(
            &s.cfg.group,
            &target,
            offset,
            s.cfg.pull_batch,
            suspend_ms,
            s.cfg.serialize,
        );
        let timeout = Duration::from_millis(suspend_ms as u64) + s.cfg.timeout;
        let r = match conns.invoke(&target.broker, req, timeout).await {
            Ok(r) => r,
            Err(e) => {
                t.side.errors += 1;
                note_error(&mut t.side.error_samples, e.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let next = proto::ext_i64(&r, "nextBeginOffset");
        match r.code {
            response_code::SUCCESS => {
                let body = r.body.to_bytes();
                let arrived = proto::now_micros();
                let measured = Instant::now() >= s.measure_from;
                for rec in decode_messages(&body, false) {
                    match rec {
                        Ok(m) => {
                            t.side.total_messages += 1;
                            if measured {
                                t.side.messages += 1;
                                t.side.bytes += m.body.len() as u64;
                                let sent_us = m
                                    .property(proto::TS_PROPERTY)
                                    .and_then(|v| v.parse::<u64>().ok())
                                    .unwrap_or((m.born_timestamp.max(0) as u64) * 1000);
                                t.latency.record(arrived.saturating_sub(sent_us));
                            }
                        }
                        Err(e) => {
                            t.side.errors += 1;
                            note_error(&mut t.side.error_samples, format!("bad record: {e}"));
                            break;
                        }
                    }
                }
                match next {
                    Ok(n) => offset = n,
                    Err(e) => {
                        t.side.errors += 1;
                        note_error(&mut t.side.error_samples, e.to_string());
                        break;
                    }
                }
            }
            response_code::PULL_NOT_FOUND
            | response_code::PULL_RETRY_IMMEDIATELY
            | response_code::PULL_OFFSET_MOVED => {
                if let Ok(n) = next {
                    offset = n;
                }
                if suspend_ms == 0 && r.code == response_code::PULL_NOT_FOUND {
                    // Drain: the broker has not dispatched that far yet.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            code => {
                t.side.errors += 1;
                let text = format!("pull code {code} {}", r.remark.as_deref().unwrap_or(""));
                note_error(&mut t.side.error_samples, text);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let done = end.is_some_and(|e| offset >= e);
    (t, done)
}

/// Runs producers and/or consumers as configured and reports what they measured.
pub async fn run(cfg: LoadConfig) -> Result<Report, BoxError> {
    let admin = RemotingClient::new(ClientConfig::default());
    let wants_produce = cfg.producers > 0;
    let write_targets = if wants_produce {
        cfg.locator.targets(&admin, true, cfg.route_wait).await?
    } else {
        Vec::new()
    };
    let read_targets = if cfg.consume {
        cfg.locator.targets(&admin, false, cfg.route_wait).await?
    } else {
        Vec::new()
    };
    if wants_produce && write_targets.is_empty() {
        return Err("no queues to send to".into());
    }
    if cfg.consume && read_targets.is_empty() {
        return Err("no queues to pull from".into());
    }

    // Consumer start and end offsets, read before anything is produced.
    let mut starts = Vec::with_capacity(read_targets.len());
    let mut ends = Vec::with_capacity(read_targets.len());
    for t in &read_targets {
        let max = if cfg.from == StartFrom::Latest || cfg.drain {
            proto::max_offset(&admin, t, cfg.timeout).await?
        } else {
            0
        };
        starts.push(if cfg.from == StartFrom::Latest {
            max
        } else {
            0
        });
        ends.push(if cfg.drain { Some(max) } else { None });
    }
    let backlog = cfg.drain.then(|| {
        starts
            .iter()
            .zip(&ends)
            .map(|(s, e)| (e.unwrap_or(0) - s).max(0) as u64)
            .sum::<u64>()
    });

    let start = Instant::now();
    let deadline = start + cfg.duration;
    let warmup = if cfg.drain {
        Duration::ZERO
    } else {
        cfg.warmup.min(cfg.duration / 2)
    };
    let measure_from = start + warmup;

    let mut consumers = Vec::new();
    if cfg.consume {
        let shared = Arc::new(ConsumeShared {
            cfg: cfg.clone(),
            measure_from,
            deadline,
        });
        let pool = clients(cfg.connections);
        for (i, t) in read_targets.iter().enumerate() {
            consumers.push(tokio::spawn(consume_task(
                pool[i % pool.len()].clone(),
                t.clone(),
                starts[i],
                ends[i],
                shared.clone(),
            )));
        }
    }

    let n_write = write_targets.len();
    let mut producers = Vec::new();
    if wants_produce {
        let body: Bytes = (0..cfg.body_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>()
            .into();
        let shared = Arc::new(ProduceShared {
            targets: write_targets,
            body,
            ids: UniqIds::new(),
            claimed: AtomicU64::new(0),
            cfg: cfg.clone(),
            measure_from,
            deadline,
        });
        let pool = clients(cfg.connections);
        for i in 0..cfg.producers {
            producers.push(tokio::spawn(produce_task(
                i,
                pool[i % pool.len()].clone(),
                shared.clone(),
            )));
        }
    }

    let mut produce = None;
    if wants_produce {
        let mut all = Tally::new();
        for h in producers {
            all.merge(h.await.map_err(|e| format!("producer task: {e}"))?);
        }
        let seconds = (Instant::now().min(deadline) - measure_from).as_secs_f64();
        all.side.finish(seconds, &all.latency);
        produce = Some(all.side);
    }
    let mut consume = None;
    let mut drained = None;
    if cfg.consume {
        let mut all = Tally::new();
        let mut all_done = true;
        for h in consumers {
            let (t, done) = h.await.map_err(|e| format!("consumer task: {e}"))?;
            all.merge(t);
            all_done &= done;
        }
        let seconds = (Instant::now().min(deadline) - measure_from).as_secs_f64();
        all.side.finish(seconds, &all.latency);
        consume = Some(all.side);
        if cfg.drain {
            drained = Some(all_done);
        }
    }
    Ok(Report {
        queues: read_targets.len().max(n_write),
        producers: cfg.producers,
        body_size: wants_produce.then_some(cfg.body_size),
        batch: wants_produce.then_some(cfg.batch),
        produce,
        consume,
        drained,
        backlog_messages: backlog,
    })
}
