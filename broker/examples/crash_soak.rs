//! Crash soak: proves that nothing the broker acknowledged is lost when its process dies.
//!
//! Starts the real `mqbroker` binary as a child process on a fresh store (small CommitLog files
//! so roll-overs happen), lets concurrent producers send verifiable messages (producer id,
//! sequence, attempt, deterministic payload and a CRC in every body; sizes from a few bytes to
//! past 4 KiB), SIGKILLs the broker at a random moment of every cycle, restarts it on the same
//! store and port, and measures the recovery (process start -> port accepting -> a send
//! succeeds). After the last cycle it pulls every queue from offset 0 and checks:
//!
//! * every acknowledged (SEND_OK) message is present, with an intact body, at the queue and
//!   offset its answer named (SYNC_FLUSH: required; ASYNC_FLUSH: losses are counted);
//! * no record fails decoding or its CRC, queue offsets are contiguous;
//! * nothing was stored twice except by a retry (a send whose answer was lost to the kill is
//!   retried; both copies may exist: at-least-once, counted separately);
//! * offline, after the broker is gone: every record of the CommitLog decodes and was
//!   dispatched to its ConsumeQueue.
//!
//! ```text
//! cargo build --release -p broker --bins --example crash_soak
//! cargo run --release -p broker --example crash_soak -- --cycles 100 --flush SYNC_FLUSH
//! ```
//!
//! The integration test `broker/tests/crash_soak.rs` runs a short version of the same harness.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};
use store::message::record::{decode_messages, decode_record, Decoded};

/// The topic the producers write (created with UPDATE_AND_CREATE_TOPIC before the first cycle).
pub const TOPIC: &str = "CrashSoakTopic";
/// The producer id of the messages the harness sends itself to see the broker is back.
const PROBE_PRODUCER: u32 = u32::MAX;
const BODY_MAGIC: &[u8; 4] = b"SOAK";
/// magic(4) producer(4) seq(8) attempt(4) length(4)
const BODY_HEADER: usize = 24;
/// The header and the trailing CRC32 of everything before it.
const MIN_BODY: usize = BODY_HEADER + 4;
/// Detailed lines kept per kind of problem.
const MAX_DETAILS: usize = 20;

/// The broker's `flushDiskType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    Sync,
    Async,
}

impl Flush {
    pub fn as_str(self) -> &'static str {
        match self {
            Flush::Sync => "SYNC_FLUSH",
            Flush::Async => "ASYNC_FLUSH",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "SYNC_FLUSH" | "SYNC" => Some(Flush::Sync),
            "ASYNC_FLUSH" | "ASYNC" => Some(Flush::Async),
            _ => None,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub broker_bin: PathBuf,
    pub cycles: u32,
    pub flush: Flush,
    pub producers: usize,
    /// The kill comes at a uniformly random moment in `min_cycle..=max_cycle` after the
    /// producers start.
    pub min_cycle: Duration,
    pub max_cycle: Duration,
    pub queues: u32,
    pub commit_log_file_size: u64,
    pub max_body: usize,
    pub seed: u64,
    /// Probability that a restart is itself killed during recovery (then restarted again).
    pub kill_during_recovery: f64,
    /// Where the store and the broker's log go; a temporary directory when `None`.
    pub work_dir: Option<PathBuf>,
    /// Keep the temporary directory even when everything passed.
    pub keep: bool,
    pub send_timeout: Duration,
    pub start_timeout: Duration,
    pub verify_timeout: Duration,
    /// One line per cycle on stdout.
    pub verbose: bool,
}

impl Options {
    pub fn new(broker_bin: PathBuf) -> Self {
        Options {
            broker_bin,
            cycles: 100,
            flush: Flush::Sync,
            producers: 4,
            min_cycle: Duration::from_millis(500),
            max_cycle: Duration::from_secs(3),
            queues: 8,
            commit_log_file_size: 4 * 1024 * 1024,
            max_body: 24 * 1024,
            seed: 0x005e_ed0f_c4a5,
            kill_during_recovery: 0.0,
            work_dir: None,
            keep: false,
            send_timeout: Duration::from_secs(5),
            start_timeout: Duration::from_secs(60),
            verify_timeout: Duration::from_secs(900),
            verbose: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness and message bodies
// ---------------------------------------------------------------------------------------------

/// SplitMix64: small, seedable, good enough for sizes, queues and payload bytes.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// A message's identity: the same for every attempt to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgKey {
    pub producer: u32,
    pub seq: u64,
}

impl std::fmt::Display for MsgKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.producer == PROBE_PRODUCER {
            write!(f, "probe#{}", self.seq)
        } else {
            write!(f, "p{}#{}", self.producer, self.seq)
        }
    }
}

fn key_rng(seed: u64, key: MsgKey) -> Rng {
    Rng(seed
        ^ u64::from(key.producer).rotate_left(40)
        ^ key.seq.wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

/// The body length of a message: the same for every attempt. 55% up to 512 B, 30% up to
/// 4 KiB, 15% past 4 KiB up to `max_body`.
fn body_len(seed: u64, key: MsgKey, max_body: usize) -> usize {
    let mut r = key_rng(seed, key);
    r.next();
    let max = max_body.max(MIN_BODY) as u64;
    let (lo, hi) = match r.below(100) {
        0..=54 => (MIN_BODY as u64, 512),
        55..=84 => (513, 4096),
        _ => (4097, max),
    };
    r.range(lo.min(max), hi.min(max)) as usize
}

fn fill_payload(seed: u64, key: MsgKey, out: &mut [u8]) {
    let mut r = key_rng(seed, key);
    r.next();
    r.next();
    for chunk in out.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

pub fn make_body(seed: u64, key: MsgKey, attempt: u32, max_body: usize) -> Vec<u8> {
    let len = body_len(seed, key, max_body);
    let mut b = vec![0u8; len];
    b[0..4].copy_from_slice(BODY_MAGIC);
    b[4..8].copy_from_slice(&key.producer.to_le_bytes());
    b[8..16].copy_from_slice(&key.seq.to_le_bytes());
    b[16..20].copy_from_slice(&attempt.to_le_bytes());
    b[20..24].copy_from_slice(&(len as u32).to_le_bytes());
    fill_payload(seed, key, &mut b[BODY_HEADER..len - 4]);
    let crc = crc32fast::hash(&b[..len - 4]);
    b[len - 4..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

/// Checks a stored body completely: header, length, CRC and the regenerated payload.
pub fn parse_body(seed: u64, max_body: usize, b: &[u8]) -> Result<(MsgKey, u32), String> {
    if b.len() < MIN_BODY || &b[0..4] != BODY_MAGIC {
        return Err(format!("not a soak body ({} bytes)", b.len()));
    }
    let (Some(producer), Some(seq), Some(attempt), Some(len)) =
        (le_u32(b, 4), le_u64(b, 8), le_u32(b, 16), le_u32(b, 20))
    else {
        return Err("short header".to_string());
    };
    let key = MsgKey { producer, seq };
    if len as usize != b.len() {
        return Err(format!(
            "{key}: length field {len} but body has {}",
            b.len()
        ));
    }
    let stored_crc = le_u32(b, b.len() - 4).unwrap_or(0);
    let crc = crc32fast::hash(&b[..b.len() - 4]);
    if crc != stored_crc {
        return Err(format!(
            "{key}: body crc {crc:08x} != stored {stored_crc:08x}"
        ));
    }
    if body_len(seed, key, max_body) != b.len() {
        return Err(format!("{key}: unexpected length {}", b.len()));
    }
    let mut expect = vec![0u8; b.len() - MIN_BODY];
    fill_payload(seed, key, &mut expect);
    if expect[..] != b[BODY_HEADER..b.len() - 4] {
        return Err(format!("{key}: payload differs from the one sent"));
    }
    Ok((key, attempt))
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn send_request(key: MsgKey, queue: u32, body: Vec<u8>) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("a", "crash_soak_pg");
    ext.insert("b", TOPIC);
    ext.insert("c", "TBW102");
    ext.insert("d", "8");
    ext.insert("e", queue.to_string());
    ext.insert("f", "0");
    ext.insert("g", now_ms().to_string());
    ext.insert("h", "0");
    ext.insert("j", "0");
    ext.insert("k", "false");
    ext.insert("m", "false");
    let tag = if key.producer == PROBE_PRODUCER {
        "probe".to_string()
    } else {
        format!("p{}", key.producer)
    };
    ext.insert(
        "i",
        format!("TAGS\u{1}{tag}\u{2}KEYS\u{1}{key}\u{2}WAIT\u{1}true\u{2}"),
    );
    RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext).with_body(body)
}

fn create_topic_request(queues: u32) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("topic", TOPIC);
    ext.insert("defaultTopic", "TBW102");
    ext.insert("readQueueNums", queues.to_string());
    ext.insert("writeQueueNums", queues.to_string());
    ext.insert("perm", "6");
    ext.insert("topicFilterType", "SINGLE_TAG");
    ext.insert("topicSysFlag", "0");
    ext.insert("order", "false");
    RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC, ext)
}

fn pull_request(queue: u32, offset: i64, max: u32) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("consumerGroup", "crash_soak_verify");
    ext.insert("topic", TOPIC);
    ext.insert("queueId", queue.to_string());
    ext.insert("queueOffset", offset.to_string());
    ext.insert("maxMsgNums", max.to_string());
    // FLAG_SUBSCRIPTION only: no commit, no suspend.
    ext.insert("sysFlag", "4");
    ext.insert("commitOffset", "0");
    ext.insert("suspendTimeoutMillis", "0");
    ext.insert("subscription", "*");
    ext.insert("subVersion", "0");
    ext.insert("expressionType", "TAG");
    RemotingCommand::request(request_code::PULL_MESSAGE, ext)
}

fn ext_i64(r: &RemotingCommand, key: &str) -> Option<i64> {
    r.ext(key).and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// The broker process
// ---------------------------------------------------------------------------------------------

/// The child `mqbroker`; SIGKILLed when dropped.
struct BrokerProcess {
    child: Option<Child>,
    started: Instant,
}

impl BrokerProcess {
    fn spawn(bin: &Path, conf: &Path, log: &Path, label: &str) -> Result<Self, String> {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let _ = writeln!(file, "\n===== crash_soak: {label} =====");
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot clone the log handle: {e}"))?;
        let started = Instant::now();
        let child = Command::new(bin)
            .arg("-c")
            .arg(conf)
            .arg("-n")
            .arg("127.0.0.1:1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        Ok(BrokerProcess {
            child: Some(child),
            started,
        })
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap. Returns the exit status when the
    /// process had already exited on its own.
    fn kill9(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let early = child.try_wait().ok().flatten();
        let _ = child.kill();
        let _ = child.wait();
        early
    }

    /// The exit status if the process has ended.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

fn free_port() -> Result<u16, String> {
    // A port whose neighbours (the broker also opens the VIP channel on port - 2) are free too.
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let p = l.local_addr().map_err(|e| e.to_string())?.port();
        drop(l);
        if p > 1024 && std::net::TcpListener::bind(("127.0.0.1", p - 2)).is_ok() {
            return Ok(p);
        }
    }
    Err("no free port".to_string())
}

// ---------------------------------------------------------------------------------------------
// Producers
// ---------------------------------------------------------------------------------------------

/// One acknowledged (SEND_OK) send.
#[derive(Debug, Clone)]
struct Ack {
    key: MsgKey,
    attempt: u32,
    queue: i64,
    queue_offset: i64,
    cycle: u32,
}

/// A producer's state, shared so that nothing is lost when its task is aborted.
struct ProducerState {
    id: u32,
    next_seq: AtomicU64,
    /// The message being sent and its last attempt number, until it is acknowledged.
    pending: Mutex<Option<(u64, u32)>>,
    rng: Mutex<Rng>,
}

impl ProducerState {
    fn new(id: u32, seed: u64) -> Self {
        ProducerState {
            id,
            next_seq: AtomicU64::new(0),
            pending: Mutex::new(None),
            rng: Mutex::new(Rng(seed ^ u64::from(id).wrapping_mul(0xA076_1D64_78BD_642F))),
        }
    }

    /// The next (key, attempt) to send: the unacknowledged one again, or a new one.
    fn next_attempt(&self) -> (MsgKey, u32) {
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (seq, attempt) = match *p {
            Some((seq, a)) => (seq, a + 1),
            None => (self.next_seq.fetch_add(1, Ordering::SeqCst), 0),
        };
        *p = Some((seq, attempt));
        (
            MsgKey {
                producer: self.id,
                seq,
            },
            attempt,
        )
    }

    fn acked(&self) {
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn queue(&self, queues: u32) -> u32 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .below(u64::from(queues)) as u32
    }
}

/// What all sends have produced so far.
#[derive(Default)]
struct Ledger {
    acks: Vec<Ack>,
    attempts: u64,
    /// Transport errors (connection refused/reset, timeouts): outcome unknown.
    errors: u64,
    /// Answers other than SUCCESS, by code.
    codes: BTreeMap<i32, u64>,
    /// SUCCESS answers without a usable queueId/queueOffset.
    bad_answers: u64,
}

struct Shared {
    addr: String,
    seed: u64,
    queues: u32,
    max_body: usize,
    send_timeout: Duration,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

enum SendOutcome {
    Acked,
    Refused,
    Failed,
}

/// Sends one attempt of `p`'s next message and records the outcome.
async fn send_one(
    shared: &Shared,
    client: &RemotingClient,
    p: &ProducerState,
    cycle: u32,
) -> SendOutcome {
    let (key, attempt) = p.next_attempt();
    let queue = p.queue(shared.queues);
    let body = make_body(shared.seed, key, attempt, shared.max_body);
    shared.ledger().attempts += 1;
    let res = client
        .invoke(
            &shared.addr,
            send_request(key, queue, body),
            shared.send_timeout,
        )
        .await;
    match res {
        Ok(r) if r.code == response_code::SUCCESS => {
            let q = ext_i64(&r, "queueId");
            let o = ext_i64(&r, "queueOffset");
            let mut l = shared.ledger();
            if q.is_none() || o.is_none() {
                l.bad_answers += 1;
            }
            l.acks.push(Ack {
                key,
                attempt,
                queue: q.unwrap_or(-1),
                queue_offset: o.unwrap_or(-1),
                cycle,
            });
            drop(l);
            p.acked();
            SendOutcome::Acked
        }
        Ok(r) => {
            *shared.ledger().codes.entry(r.code).or_default() += 1;
            SendOutcome::Refused
        }
        Err(_) => {
            shared.ledger().errors += 1;
            SendOutcome::Failed
        }
    }
}

async fn producer_loop(
    shared: Arc<Shared>,
    p: Arc<ProducerState>,
    stop: Arc<AtomicBool>,
    cycle: u32,
) {
    let client = RemotingClient::new(ClientConfig::default());
    while !stop.load(Ordering::SeqCst) {
        match send_one(&shared, &client, &p, cycle).await {
            SendOutcome::Acked => {}
            SendOutcome::Refused => tokio::time::sleep(Duration::from_millis(5)).await,
            SendOutcome::Failed => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    client.shutdown();
}

// ---------------------------------------------------------------------------------------------
// Starting and recovering
// ---------------------------------------------------------------------------------------------

/// One restart after a kill.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub cycle: u32,
    /// Process start -> the port accepts connections.
    pub accept: Duration,
    /// Process start -> the first send succeeded.
    pub ready: Duration,
}

/// Waits until the port accepts and a probe send succeeds; (accept, ready) since the spawn.
async fn wait_ready(
    shared: &Shared,
    broker: &mut BrokerProcess,
    probe: &ProducerState,
    cycle: u32,
    timeout: Duration,
) -> Result<(Duration, Duration), String> {
    let deadline = Instant::now() + timeout;
    let accept = loop {
        if let Some(st) = broker.exited() {
            return Err(format!("the broker exited during startup: {st}"));
        }
        if Instant::now() > deadline {
            return Err(format!("the port did not accept within {timeout:?}"));
        }
        let attempt = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(&shared.addr),
        )
        .await;
        if let Ok(Ok(_)) = attempt {
            break broker.started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let client = RemotingClient::new(ClientConfig::default());
    let result = loop {
        if let Some(st) = broker.exited() {
            break Err(format!("the broker exited during startup: {st}"));
        }
        if Instant::now() > deadline {
            break Err(format!("no send succeeded within {timeout:?}"));
        }
        match send_one(shared, &client, probe, cycle).await {
            SendOutcome::Acked => break Ok((accept, broker.started.elapsed())),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    client.shutdown();
    result
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// A stored record of the soak topic, as pulled (or found in the CommitLog).
#[derive(Debug, Clone)]
struct Found {
    key: MsgKey,
    attempt: u32,
    queue: i64,
    queue_offset: i64,
    physical_offset: i64,
}

#[derive(Default)]
struct PullScan {
    found: Vec<Found>,
    /// Records that failed decoding, the body CRC or the body check.
    corrupted: u64,
    /// Queue offsets skipped, repeated or out of order.
    offset_problems: u64,
    /// Records of other topics or queues in a pull answer.
    foreign: u64,
    per_queue_end: BTreeMap<u32, i64>,
    details: Vec<String>,
}

impl PullScan {
    fn detail(&mut self, s: String) {
        if self.details.len() < MAX_DETAILS * 4 {
            self.details.push(s);
        }
    }
}

async fn pull_all(addr: &str, opts: &Options) -> Result<PullScan, String> {
    let deadline = Instant::now() + opts.verify_timeout;
    let client = RemotingClient::new(ClientConfig::default());
    let mut scan = PullScan::default();
    let t = Duration::from_secs(15);
    for queue in 0..opts.queues {
        let mut offset = 0i64;
        let mut batch = 32u32;
        let mut transient = 0u32;
        loop {
            if Instant::now() > deadline {
                client.shutdown();
                return Err(format!(
                    "verification did not finish within {:?}",
                    opts.verify_timeout
                ));
            }
            let r = match client
                .invoke(addr, pull_request(queue, offset, batch), t)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    transient += 1;
                    if transient > 20 {
                        client.shutdown();
                        return Err(format!("pull q{queue}@{offset} keeps failing: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let next = ext_i64(&r, "nextBeginOffset");
            match r.code {
                response_code::SUCCESS => {
                    transient = 0;
                    let body = r.body.to_bytes();
                    let mut expected = offset;
                    let mut failed = None;
                    for m in decode_messages(&body, true) {
                        let m = match m {
                            Ok(m) => m,
                            Err(e) => {
                                failed = Some(e.to_string());
                                break;
                            }
                        };
                        if m.topic != TOPIC || m.queue_id != queue as i32 {
                            scan.foreign += 1;
                            scan.detail(format!(
                                "q{queue}@{expected}: record of {}/{} in the answer",
                                m.topic, m.queue_id
                            ));
                        }
                        if m.queue_offset != expected {
                            scan.offset_problems += 1;
                            scan.detail(format!(
                                "q{queue}: record carries queue offset {} where {expected} was expected (phys {})",
                                m.queue_offset, m.physical_offset
                            ));
                        }
                        match parse_body(opts.seed, opts.max_body, m.body) {
                            Ok((key, attempt)) => scan.found.push(Found {
                                key,
                                attempt,
                                queue: i64::from(queue),
                                queue_offset: expected,
                                physical_offset: m.physical_offset,
                            }),
                            Err(e) => {
                                scan.corrupted += 1;
                                scan.detail(format!(
                                    "q{queue}@{expected} (phys {}): bad body: {e}",
                                    m.physical_offset
                                ));
                            }
                        }
                        expected += 1;
                    }
                    if let Some(e) = failed {
                        if batch > 1 {
                            // Isolate the bad record: read this stretch one by one.
                            batch = 1;
                            offset = expected;
                            continue;
                        }
                        scan.corrupted += 1;
                        scan.detail(format!("q{queue}@{expected}: record does not decode: {e}"));
                        expected += 1;
                    }
                    let next = next.unwrap_or(expected);
                    if next != expected {
                        scan.offset_problems += 1;
                        scan.detail(format!(
                            "q{queue}: answer for {offset} ends at {expected} but nextBeginOffset is {next}"
                        ));
                    }
                    let new_offset = next.max(expected);
                    if new_offset <= offset {
                        scan.offset_problems += 1;
                        scan.detail(format!("q{queue}@{offset}: pull makes no progress"));
                        break;
                    }
                    offset = new_offset;
                    batch = 32;
                }
                response_code::PULL_NOT_FOUND => {
                    let max = ext_i64(&r, "maxOffset").unwrap_or(offset);
                    if max != offset {
                        scan.offset_problems += 1;
                        scan.detail(format!(
                            "q{queue}: PULL_NOT_FOUND at {offset} but maxOffset is {max}"
                        ));
                    }
                    break;
                }
                code => {
                    // RETRY_IMMEDIATELY (nothing matched "*") or OFFSET_MOVED: both mean
                    // offsets the queue should have are not readable.
                    scan.offset_problems += 1;
                    scan.detail(format!(
                        "q{queue}@{offset}: pull answered {code} ({:?}), next {next:?}, min {:?}, max {:?}",
                        r.remark,
                        r.ext("minOffset"),
                        r.ext("maxOffset")
                    ));
                    match next {
                        Some(n) if n > offset => offset = n,
                        _ => break,
                    }
                }
            }
        }
        scan.per_queue_end.insert(queue, offset);
    }
    client.shutdown();
    Ok(scan)
}

/// The CommitLog read offline, after the broker is gone.
#[derive(Default)]
struct LogScan {
    files: usize,
    bytes: u64,
    records: u64,
    /// Soak-topic records by (queue, queue offset).
    soak: HashMap<(i64, i64), Found>,
    /// Records that do not decode, or whose physical offset or body is wrong, before the end.
    corrupted: u64,
    /// A torn record or stale bytes after the last valid record (harmless: beyond the end).
    tail_junk: bool,
    /// The same (queue, queue offset) twice.
    duplicate_positions: u64,
    details: Vec<String>,
}

fn scan_commit_log(dir: &Path, seed: u64, max_body: usize) -> Result<LogScan, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    files.sort();
    let mut out = LogScan::default();
    let mut ended = false;
    for path in &files {
        let start: i64 = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let data =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        out.files += 1;
        out.bytes += data.len() as u64;
        if ended {
            if data.iter().any(|b| *b != 0) && !out.tail_junk {
                out.details.push(format!(
                    "{}: data in a file after the end of the log",
                    path.display()
                ));
                out.tail_junk = true;
            }
            continue;
        }
        let mut pos = 0usize;
        while pos < data.len() {
            match decode_record(&data[pos..], true) {
                Ok(Decoded::Message(m)) => {
                    let phys = start + pos as i64;
                    if m.physical_offset != phys {
                        out.corrupted += 1;
                        out.details.push(format!(
                            "phys {phys}: record claims physical offset {}",
                            m.physical_offset
                        ));
                    }
                    out.records += 1;
                    if m.topic == TOPIC {
                        match parse_body(seed, max_body, m.body) {
                            Ok((key, attempt)) => {
                                let f = Found {
                                    key,
                                    attempt,
                                    queue: i64::from(m.queue_id),
                                    queue_offset: m.queue_offset,
                                    physical_offset: phys,
                                };
                                if let Some(prev) =
                                    out.soak.insert((f.queue, f.queue_offset), f.clone())
                                {
                                    out.duplicate_positions += 1;
                                    if out.details.len() < MAX_DETAILS {
                                        out.details.push(format!(
                                            "q{}@{}: two records, phys {} ({} a{}) and {phys} ({} a{})",
                                            f.queue,
                                            f.queue_offset,
                                            prev.physical_offset,
                                            prev.key,
                                            prev.attempt,
                                            key,
                                            attempt
                                        ));
                                    }
                                }
                            }
                            Err(e) => {
                                out.corrupted += 1;
                                out.details.push(format!("phys {phys}: bad body: {e}"));
                            }
                        }
                    }
                    pos += m.total_size as usize;
                }
                Ok(Decoded::Blank { .. }) => break,
                Err(e) => {
                    // The end of the log: zeros, or a record torn by the kill after the last
                    // complete one (recovery truncates it).
                    if data[pos..].iter().any(|b| *b != 0) {
                        out.tail_junk = true;
                        out.details.push(format!(
                            "phys {}: log ends at an invalid record ({e})",
                            start + pos as i64
                        ));
                    }
                    ended = true;
                    break;
                }
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The run and its report
// ---------------------------------------------------------------------------------------------

/// The outcome of a soak run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub flush: String,
    pub cycles: u32,
    pub elapsed: Duration,
    pub work_dir: PathBuf,
    pub send_attempts: u64,
    /// SEND_OK answers (probe sends included).
    pub acked: u64,
    pub send_errors: u64,
    pub refusals: BTreeMap<i32, u64>,
    pub bad_answers: u64,
    /// Records of the soak topic read back by pulling.
    pub records_pulled: u64,
    /// Acknowledged messages of which no copy is readable.
    pub lost: u64,
    /// Acknowledged messages whose acknowledged copy is missing though another attempt is there.
    pub ack_copy_missing: u64,
    /// Acknowledged copies found at another queue/offset than the answer named.
    pub misplaced: u64,
    /// Extra copies made by retries of sends whose outcome was unknown (at-least-once).
    pub retry_duplicates: u64,
    /// The same attempt stored more than once (never legitimate).
    pub duplicated: u64,
    /// Stored messages never acknowledged (in flight at a kill; allowed).
    pub stored_unacked: u64,
    /// Records that fail decoding, CRC or the body check (pulled or in the CommitLog).
    pub corrupted: u64,
    /// Skipped, repeated or out-of-order queue offsets; unreadable stretches of a queue.
    pub offset_problems: u64,
    /// Soak records in the CommitLog that no pull returned (not dispatched).
    pub not_dispatched: u64,
    pub commit_log_files: usize,
    pub commit_log_bytes: u64,
    pub commit_log_records: u64,
    pub commit_log_tail_junk: bool,
    /// Exits of the broker nobody asked for (crash, panic).
    pub unexpected_exits: u64,
    pub kills: u64,
    pub kills_during_recovery: u64,
    pub recoveries: Vec<Recovery>,
    pub details: Vec<String>,
}

impl Report {
    /// No corruption of any kind, and with SYNC_FLUSH nothing acknowledged is missing.
    pub fn passed(&self) -> bool {
        let consistent = self.corrupted == 0
            && self.duplicated == 0
            && self.offset_problems == 0
            && self.not_dispatched == 0
            && self.unexpected_exits == 0
            && self.bad_answers == 0;
        let complete = self.lost == 0 && self.ack_copy_missing == 0 && self.misplaced == 0;
        consistent && (self.flush != Flush::Sync.as_str() || complete)
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "==== crash soak summary ({}) ====", self.flush);
        let _ = writeln!(
            s,
            "cycles {} (kill -9: {}, of them during recovery: {}), elapsed {:.1}s, store {}",
            self.cycles,
            self.kills,
            self.kills_during_recovery,
            self.elapsed.as_secs_f64(),
            self.work_dir.display()
        );
        let _ = writeln!(
            s,
            "sends: {} attempts, {} acked (SEND_OK), {} transport errors, refusals {:?}, bad answers {}",
            self.send_attempts, self.acked, self.send_errors, self.refusals, self.bad_answers
        );
        let _ = writeln!(
            s,
            "pulled {} records; lost {}, acked copy missing {}, misplaced {}, corrupted {}, duplicated {} (+{} retry duplicates, at-least-once), stored unacked {}",
            self.records_pulled,
            self.lost,
            self.ack_copy_missing,
            self.misplaced,
            self.corrupted,
            self.duplicated,
            self.retry_duplicates,
            self.stored_unacked
        );
        let _ = writeln!(
            s,
            "queue offset problems {}, not dispatched {}, unexpected broker exits {}",
            self.offset_problems, self.not_dispatched, self.unexpected_exits
        );
        let _ = writeln!(
            s,
            "commitlog: {} files, {:.1} MiB, {} records{}",
            self.commit_log_files,
            self.commit_log_bytes as f64 / (1024.0 * 1024.0),
            self.commit_log_records,
            if self.commit_log_tail_junk {
                " (torn tail after the last record)"
            } else {
                ""
            }
        );
        if !self.recoveries.is_empty() {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let stats = |f: &dyn Fn(&Recovery) -> Duration| {
                let v: Vec<f64> = self.recoveries.iter().map(|r| ms(f(r))).collect();
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                let max = v.iter().copied().fold(0.0, f64::max);
                let avg = v.iter().sum::<f64>() / v.len() as f64;
                format!("min {min:.0} / avg {avg:.0} / max {max:.0} ms")
            };
            let _ = writeln!(
                s,
                "recovery ({} restarts): start->accepting {}; start->first SEND_OK {}",
                self.recoveries.len(),
                stats(&|r| r.accept),
                stats(&|r| r.ready)
            );
        }
        if self.flush == Flush::Async.as_str() {
            let _ = writeln!(
                s,
                "note: kill -9 ends the process, not the OS: the page cache keeps what was written \
                 but not yet flushed, so ASYNC_FLUSH should lose nothing here either (only a \
                 machine crash or power loss can lose unflushed data)"
            );
        }
        for d in &self.details {
            let _ = writeln!(s, "  ! {d}");
        }
        let _ = write!(s, "result: {}", if self.passed() { "PASS" } else { "FAIL" });
        s
    }
}

fn write_conf(path: &Path, store: &Path, port: u16, opts: &Options) -> Result<(), String> {
    let text = format!(
        "brokerClusterName=CrashSoakCluster\n\
         brokerName=crash-soak\n\
         brokerId=0\n\
         brokerIP1=127.0.0.1\n\
         listenPort={port}\n\
         namesrvAddr=127.0.0.1:1\n\
         storePathRootDir={store}\n\
         mappedFileSizeCommitLog={size}\n\
         flushDiskType={flush}\n\
         autoCreateTopicEnable=true\n\
         autoCreateSubscriptionGroup=true\n",
        store = store.display(),
        size = opts.commit_log_file_size,
        flush = opts.flush.as_str(),
    );
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A directory removed on drop unless kept.
struct WorkDir {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    fn new(opts: &Options) -> Result<Self, String> {
        match &opts.work_dir {
            Some(p) => {
                std::fs::create_dir_all(p)
                    .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
                Ok(WorkDir {
                    path: p.clone(),
                    temp: None,
                })
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("crash-soak-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
                Ok(WorkDir {
                    path: t.path().to_path_buf(),
                    temp: Some(t),
                })
            }
        }
    }

    fn keep(&mut self) {
        if let Some(t) = self.temp.take() {
            let _ = t.keep();
        }
    }
}

/// Runs the soak. `Err` only when the harness itself cannot go on (the broker does not come
/// back, the pull verification cannot finish); findings are in the report.
pub async fn run(opts: &Options) -> Result<Report, String> {
    let began = Instant::now();
    if !opts.broker_bin.is_file() {
        return Err(format!(
            "broker binary {} not found (build it: cargo build --release -p broker --bin mqbroker, or pass --broker-bin)",
            opts.broker_bin.display()
        ));
    }
    let mut work = WorkDir::new(opts)?;
    let store = work.path.join("store");
    let conf = work.path.join("broker.conf");
    let log = work.path.join("broker.log");
    let port = free_port()?;
    write_conf(&conf, &store, port, opts)?;
    let shared = Arc::new(Shared {
        addr: format!("127.0.0.1:{port}"),
        seed: opts.seed,
        queues: opts.queues.max(1),
        max_body: opts.max_body.max(MIN_BODY),
        send_timeout: opts.send_timeout,
        ledger: Mutex::new(Ledger::default()),
    });
    let mut report = Report {
        flush: opts.flush.as_str().to_string(),
        work_dir: work.path.clone(),
        ..Default::default()
    };
    let result = drive(opts, &shared, &conf, &log, &store, &mut report).await;
    report.elapsed = began.elapsed();
    if result.is_err() || !report.passed() || opts.keep {
        work.keep();
    }
    result.map(|()| report)
}

async fn drive(
    opts: &Options,
    shared: &Arc<Shared>,
    conf: &Path,
    log: &Path,
    store: &Path,
    report: &mut Report,
) -> Result<(), String> {
    let mut rng = Rng(opts.seed ^ 0x6b69_6c6c);
    let probe = ProducerState::new(PROBE_PRODUCER, opts.seed);
    let producers: Vec<Arc<ProducerState>> = (0..opts.producers)
        .map(|i| Arc::new(ProducerState::new(i as u32, opts.seed)))
        .collect();

    let mut broker = BrokerProcess::spawn(&opts.broker_bin, conf, log, "start")?;
    let client = RemotingClient::new(ClientConfig::default());
    let deadline = Instant::now() + opts.start_timeout;
    loop {
        if let Some(st) = broker.exited() {
            return Err(format!(
                "the broker exited at start: {st} (log: {})",
                log.display()
            ));
        }
        match client
            .invoke(
                &shared.addr,
                create_topic_request(shared.queues),
                Duration::from_secs(3),
            )
            .await
        {
            Ok(r) if r.code == response_code::SUCCESS => break,
            Ok(r) if Instant::now() > deadline => {
                return Err(format!("topic creation refused: {} {:?}", r.code, r.remark))
            }
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "the broker did not start: {e} (log: {})",
                    log.display()
                ))
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    client.shutdown();
    wait_ready(shared, &mut broker, &probe, 0, opts.start_timeout)
        .await
        .map_err(|e| format!("{e} (log: {})", log.display()))?;
    if opts.verbose {
        println!(
            "crash soak: {} cycles, {}, {} producers, broker {} pid {} on {}, store {}",
            opts.cycles,
            opts.flush.as_str(),
            opts.producers,
            opts.broker_bin.display(),
            broker.pid(),
            shared.addr,
            store.display()
        );
    }

    for cycle in 1..=opts.cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let acked_before = shared.ledger().acks.len();
        let tasks: Vec<_> = producers
            .iter()
            .map(|p| {
                tokio::spawn(producer_loop(
                    shared.clone(),
                    p.clone(),
                    stop.clone(),
                    cycle,
                ))
            })
            .collect();
        let run_for = Duration::from_millis(rng.range(
            opts.min_cycle.as_millis() as u64,
            opts.max_cycle.as_millis() as u64,
        ));
        let started = Instant::now();
        let mut died = None;
        while started.elapsed() < run_for {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(st) = broker.exited() {
                died = Some(st);
                break;
            }
        }
        // kill -9 while the producers are in full flight.
        let early = broker.kill9().or(died);
        report.kills += 1;
        stop.store(true, Ordering::SeqCst);
        if let Some(st) = early {
            report.unexpected_exits += 1;
            report.details.push(format!(
                "cycle {cycle}: the broker exited by itself ({st}); see {}",
                log.display()
            ));
        }
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(opts.send_timeout + Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let acked_in_cycle = shared.ledger().acks.len() - acked_before;

        // Restart on the same store and port; sometimes kill it again while it recovers.
        let mut extra_kills = 0;
        let timing = loop {
            let label = format!("cycle {cycle} restart");
            broker = BrokerProcess::spawn(&opts.broker_bin, conf, log, &label)?;
            if rng.chance(opts.kill_during_recovery) && extra_kills < 3 {
                let wait = Duration::from_millis(rng.range(0, 150));
                tokio::time::sleep(wait).await;
                if broker.kill9().is_none() {
                    extra_kills += 1;
                    report.kills += 1;
                    report.kills_during_recovery += 1;
                    continue;
                }
                extra_kills += 1;
                report.unexpected_exits += 1;
                report.details.push(format!(
                    "cycle {cycle}: the broker exited by itself while recovering"
                ));
                continue;
            }
            match wait_ready(shared, &mut broker, &probe, cycle, opts.start_timeout).await {
                Ok(t) => break t,
                Err(e) => {
                    report.unexpected_exits += 1;
                    return Err(format!(
                        "cycle {cycle}: the broker did not recover: {e} (log: {})",
                        log.display()
                    ));
                }
            }
        };
        report.recoveries.push(Recovery {
            cycle,
            accept: timing.0,
            ready: timing.1,
        });
        report.cycles = cycle;
        if opts.verbose {
            println!(
                "cycle {cycle:>4}: killed after {:>5} ms, {acked_in_cycle:>6} acked (total {:>7}), restart{}: accepting {:>4} ms, first SEND_OK {:>4} ms",
                run_for.as_millis(),
                shared.ledger().acks.len(),
                if extra_kills > 0 {
                    format!(" (after {extra_kills} kill(s) during recovery)")
                } else {
                    String::new()
                },
                timing.0.as_millis(),
                timing.1.as_millis()
            );
        }
    }

    // Everything acknowledged must now be readable.
    let scan = pull_all(&shared.addr, opts).await?;
    broker.kill9();
    drop(broker);
    let dir = store.join("commitlog");
    let (seed, max_body) = (shared.seed, shared.max_body);
    let log_scan = tokio::task::spawn_blocking(move || scan_commit_log(&dir, seed, max_body))
        .await
        .map_err(|e| format!("commitlog scan panicked: {e}"))??;
    analyse(shared, scan, log_scan, report);
    Ok(())
}

fn analyse(shared: &Shared, scan: PullScan, log: LogScan, report: &mut Report) {
    let ledger = shared.ledger();
    report.send_attempts = ledger.attempts;
    report.acked = ledger.acks.len() as u64;
    report.send_errors = ledger.errors;
    report.refusals = ledger.codes.clone();
    report.bad_answers = ledger.bad_answers;
    report.records_pulled = scan.found.len() as u64;
    report.corrupted = scan.corrupted + log.corrupted;
    report.offset_problems = scan.offset_problems + scan.foreign + log.duplicate_positions;
    report.commit_log_files = log.files;
    report.commit_log_bytes = log.bytes;
    report.commit_log_records = log.records;
    report.commit_log_tail_junk = log.tail_junk;
    report.details.extend(scan.details.iter().cloned());
    report
        .details
        .extend(log.details.iter().take(MAX_DETAILS).cloned());

    // Copies by message and by attempt.
    let mut by_key: HashMap<MsgKey, Vec<&Found>> = HashMap::new();
    for f in &scan.found {
        by_key.entry(f.key).or_default().push(f);
    }
    let mut details = Vec::new();
    for (key, copies) in &by_key {
        let mut attempts: Vec<u32> = copies.iter().map(|f| f.attempt).collect();
        attempts.sort_unstable();
        let distinct = {
            let mut d = attempts.clone();
            d.dedup();
            d.len()
        };
        report.retry_duplicates += distinct as u64 - 1;
        let same = attempts.len() - distinct;
        if same > 0 {
            report.duplicated += same as u64;
            if details.len() < MAX_DETAILS {
                let at: Vec<String> = copies
                    .iter()
                    .map(|f| format!("q{}@{} a{}", f.queue, f.queue_offset, f.attempt))
                    .collect();
                details.push(format!("{key} stored more than once: {}", at.join(", ")));
            }
        }
    }

    // Every acknowledged message against what is there.
    let pulled_pos: HashSet<(i64, i64)> = scan
        .found
        .iter()
        .map(|f| (f.queue, f.queue_offset))
        .collect();
    let mut acked_keys = HashSet::new();
    let mut lost_by_cycle: BTreeMap<u32, u64> = BTreeMap::new();
    for a in &ledger.acks {
        acked_keys.insert(a.key);
        let Some(copies) = by_key.get(&a.key) else {
            report.lost += 1;
            *lost_by_cycle.entry(a.cycle).or_default() += 1;
            if details.len() < MAX_DETAILS {
                let in_log = log.soak.get(&(a.queue, a.queue_offset));
                details.push(format!(
                    "LOST {} a{} acked in cycle {} at q{}@{}; CommitLog has there: {}",
                    a.key,
                    a.attempt,
                    a.cycle,
                    a.queue,
                    a.queue_offset,
                    match in_log {
                        Some(f) =>
                            format!("{} a{} at phys {}", f.key, f.attempt, f.physical_offset),
                        None => "nothing".to_string(),
                    }
                ));
            }
            continue;
        };
        match copies.iter().find(|f| f.attempt == a.attempt) {
            None => {
                report.ack_copy_missing += 1;
                if details.len() < MAX_DETAILS {
                    details.push(format!(
                        "{} a{} acked in cycle {} at q{}@{} is missing (other attempts are there)",
                        a.key, a.attempt, a.cycle, a.queue, a.queue_offset
                    ));
                }
            }
            Some(f) if (f.queue, f.queue_offset) != (a.queue, a.queue_offset) => {
                report.misplaced += 1;
                if details.len() < MAX_DETAILS {
                    details.push(format!(
                        "{} a{} acked in cycle {} at q{}@{} is at q{}@{}",
                        a.key, a.attempt, a.cycle, a.queue, a.queue_offset, f.queue, f.queue_offset
                    ));
                }
            }
            Some(_) => {}
        }
    }
    if !lost_by_cycle.is_empty() {
        details.push(format!(
            "lost by cycle of acknowledgement: {lost_by_cycle:?}"
        ));
    }
    report.stored_unacked = by_key.keys().filter(|k| !acked_keys.contains(k)).count() as u64;

    // Every soak record of the CommitLog must have been readable through its queue.
    let mut missing: Vec<&Found> = log
        .soak
        .iter()
        .filter(|(pos, _)| !pulled_pos.contains(pos))
        .map(|(_, f)| f)
        .collect();
    missing.sort_by_key(|f| f.physical_offset);
    report.not_dispatched = missing.len() as u64;
    for f in missing.iter().take(MAX_DETAILS) {
        details.push(format!(
            "CommitLog record {} a{} (q{}@{}, phys {}) is not readable through its queue",
            f.key, f.attempt, f.queue, f.queue_offset, f.physical_offset
        ));
    }
    report.details.extend(details);
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[derive(clap::Parser, Debug)]
#[command(
    name = "crash_soak",
    about = "kill -9 the broker again and again under load; check nothing acknowledged is lost"
)]
struct Cli {
    /// Number of kill/restart cycles.
    #[arg(long, default_value_t = 100)]
    cycles: u32,
    /// SYNC_FLUSH or ASYNC_FLUSH.
    #[arg(long, default_value = "SYNC_FLUSH")]
    flush: String,
    /// Concurrent producers (one connection each).
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Longest time before the kill in a cycle (the kill comes at a random moment between a
    /// quarter of it and all of it).
    #[arg(long, default_value_t = 3.0)]
    seconds_per_cycle: f64,
    /// Queues of the soak topic.
    #[arg(long, default_value_t = 8)]
    queues: u32,
    /// mappedFileSizeCommitLog (small, so files roll over).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    commit_log_file_size: u64,
    /// Largest message body.
    #[arg(long, default_value_t = 24 * 1024)]
    max_body: usize,
    /// Seed of sizes, queues, payloads and kill moments (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Probability that a restart is killed again while it recovers.
    #[arg(long, default_value_t = 0.1)]
    kill_during_recovery: f64,
    /// The mqbroker binary (default: next to this example, target/<profile>/mqbroker).
    #[arg(long)]
    broker_bin: Option<PathBuf>,
    /// Directory for the store and broker.log (default: a temporary one, removed on success).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the temporary directory even on success.
    #[arg(long)]
    keep: bool,
    /// Seconds the final pull verification may take.
    #[arg(long, default_value_t = 900)]
    verify_timeout: u64,
    /// Only print the summary.
    #[arg(long)]
    quiet: bool,
}

fn default_broker_bin() -> Option<PathBuf> {
    // target/<profile>/examples/crash_soak -> target/<profile>/mqbroker
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    Some(profile_dir.join(format!("mqbroker{}", std::env::consts::EXE_SUFFIX)))
}

#[tokio::main]
async fn main() -> ExitCode {
    use clap::Parser as _;
    let cli = Cli::parse();
    let Some(flush) = Flush::parse(&cli.flush) else {
        eprintln!(
            "--flush must be SYNC_FLUSH or ASYNC_FLUSH, not {}",
            cli.flush
        );
        return ExitCode::from(2);
    };
    let Some(bin) = cli.broker_bin.clone().or_else(default_broker_bin) else {
        eprintln!("cannot locate mqbroker; pass --broker-bin");
        return ExitCode::from(2);
    };
    if !(cli.seconds_per_cycle > 0.0 && cli.seconds_per_cycle < 86_400.0) {
        eprintln!("--seconds-per-cycle must be positive");
        return ExitCode::from(2);
    }
    let mut o = Options::new(bin);
    o.cycles = cli.cycles;
    o.flush = flush;
    o.producers = cli.producers.max(1);
    o.max_cycle = Duration::from_secs_f64(cli.seconds_per_cycle);
    o.min_cycle = o.max_cycle / 4;
    o.queues = cli.queues.max(1);
    o.commit_log_file_size = cli.commit_log_file_size;
    o.max_body = cli.max_body;
    o.seed = cli.seed.unwrap_or_else(|| now_ms() as u64);
    o.kill_during_recovery = cli.kill_during_recovery.clamp(0.0, 1.0);
    o.work_dir = cli.work_dir.clone();
    o.keep = cli.keep;
    o.verify_timeout = Duration::from_secs(cli.verify_timeout);
    o.verbose = !cli.quiet;
    println!("seed {} (repeat with --seed {})", o.seed, o.seed);
    // Ctrl-C: dropping the run future drops the broker process handle, which kills the child.
    let outcome = tokio::select! {
        r = run(&o) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    match outcome {
        Ok(report) => {
            println!("{}", report.summary());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("crash soak aborted: {e}");
            ExitCode::FAILURE
        }
    }
}
