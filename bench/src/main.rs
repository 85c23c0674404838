//! `rmq-bench`: a load generator for RocketMQ brokers speaking the remoting protocol through the
//! workspace's `remoting` crate, plus the small probes a side-by-side benchmark needs.
//!
//! Subcommands: `run` (producers and/or consumers for a bounded time), `create` (topics on a
//! broker, then wait for their routes), `offsets` (sum of the queues' max offsets: how many
//! messages a broker accepted), `probe` (time to the first accepted message of a starting
//! broker), `loopback` and `disk` (machine limits). Each prints one human line on stdout and,
//! with `--json FILE` (`-` for stdout), a JSON document. `bench/run` drives all of them.

mod load;
mod machine;
mod proto;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use remoting::client::{ClientConfig, RemotingClient};
use remoting::response_code;
use serde::Serialize;

use crate::load::{LoadConfig, StartFrom};
use crate::proto::{BoxError, Locator, Target, UniqIds};

#[derive(Parser, Debug)]
#[command(
    name = "rmq-bench",
    about = "RocketMQ broker load generator (remoting protocol)"
)]
struct Cli {
    /// Tokio worker threads (default: one per core)
    #[arg(long, global = true)]
    workers: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
struct Where {
    /// Nameserver address; queues come from its topic routes
    #[arg(short = 'n', long)]
    namesrv: Option<String>,
    /// Broker address; used directly with --queues queues per topic (wins over --namesrv)
    #[arg(short = 'b', long)]
    broker: Option<String>,
    /// Topic name, or prefix of NAME-0..NAME-(N-1) with --topics N > 1
    #[arg(short = 't', long, default_value = "BenchTopic")]
    topic: String,
    /// Number of topics
    #[arg(long, default_value_t = 1)]
    topics: usize,
    /// Queues per topic (with --broker, and for create)
    #[arg(short = 'q', long, default_value_t = 8)]
    queues: i32,
    /// Longest wait for a topic's route to appear on the nameserver, seconds
    #[arg(long, default_value_t = 40.0)]
    route_wait: f64,
}

impl Where {
    fn locator(&self) -> Locator {
        Locator {
            namesrv: self.namesrv.clone(),
            broker: self.broker.clone(),
            topic_prefix: self.topic.clone(),
            topics: self.topics.max(1),
            queues: self.queues,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Send and/or pull for a bounded time and report throughput and latency percentiles
    Run(RunArgs),
    /// Create the topics on --broker, then wait until --namesrv (if given) routes them
    Create {
        #[command(flatten)]
        at: Where,
        #[arg(long)]
        json: Option<String>,
    },
    /// Sum of the max offsets of every queue of the topics on --broker
    Offsets {
        #[command(flatten)]
        at: Where,
        #[arg(long)]
        json: Option<String>,
    },
    /// Send one message to --broker every 10 ms until one is accepted; report how long it took
    Probe {
        #[arg(short = 'b', long)]
        broker: String,
        #[arg(short = 't', long, default_value = "BenchColdStart")]
        topic: String,
        /// Give up after this many seconds
        #[arg(long, default_value_t = 90.0)]
        timeout: f64,
        /// Pause between attempts, in ms (bench/coldstart uses 1 for a finer figure)
        #[arg(long, default_value_t = 10)]
        interval_ms: u64,
        #[arg(long)]
        json: Option<String>,
    },
    /// Loopback TCP limits for frames of the given sizes
    Loopback {
        /// Frame sizes in bytes (repeatable)
        #[arg(long = "frame-size", default_values_t = vec![1024usize])]
        frame_sizes: Vec<usize>,
        /// Seconds per test
        #[arg(long, default_value_t = 2.0)]
        duration: f64,
        #[arg(long)]
        json: Option<String>,
    },
    /// Disk sequential write bandwidth and fdatasync rate in --dir
    Disk {
        #[arg(long)]
        dir: PathBuf,
        /// Most MiB written by the sequential test
        #[arg(long, default_value_t = 1024)]
        size_mb: u64,
        /// Seconds of the fsync test (the sequential test stops after 4x this)
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
        #[arg(long)]
        json: Option<String>,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    at: Where,
    /// Concurrent synchronous senders (tokio tasks); 0 = no producing
    #[arg(short = 'p', long, default_value_t = 16)]
    producers: usize,
    /// TCP connections per broker shared by the senders (and, separately, by the consumers)
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Message body size in bytes
    #[arg(short = 's', long, default_value_t = 1024)]
    body_size: usize,
    /// Messages per send: 1 = SEND_MESSAGE_V2, more = SEND_BATCH_MESSAGE
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Length of the run in seconds
    #[arg(short = 'd', long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds at the start left out of rates and histograms
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Stop producing after this many messages
    #[arg(long)]
    messages: Option<u64>,
    /// Target send rate in messages per second over all producers (paced, each producer sends
    /// every producers/rate seconds); without it every producer sends as fast as it can
    #[arg(long)]
    rate: Option<f64>,
    /// Request timeout in milliseconds
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
    /// Also pull every queue (one task per queue) and measure produce-to-consume latency
    #[arg(long)]
    consume: bool,
    /// Where consumers start
    #[arg(long, value_enum, default_value_t = StartFrom::Latest)]
    from: StartFrom,
    /// Consume from --from up to the max offsets at the start, then stop (backlog catch-up)
    #[arg(long)]
    drain: bool,
    /// Messages per pull
    #[arg(long, default_value_t = 32)]
    pull_batch: i32,
    /// Consumer group of the pulls
    #[arg(long, default_value = "rmq-bench-consumer")]
    group: String,
    /// Header serialization: rocketmq (as the Java benchmark tools) or json
    #[arg(long, default_value = "rocketmq")]
    serialize: String,
    #[arg(long)]
    json: Option<String>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 30.0 * 24.0 * 3600.0))
}

fn emit<T: Serialize>(json: Option<&str>, value: &T, line: &str) -> Result<(), BoxError> {
    println!("{line}");
    match json {
        None => {}
        Some("-") => println!("{}", serde_json::to_string_pretty(value)?),
        Some(path) => std::fs::write(path, serde_json::to_vec_pretty(value)?)?,
    }
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), BoxError> {
    if args.drain && args.producers > 0 {
        return Err("--drain measures a backlog: use it with --producers 0".into());
    }
    let cfg = LoadConfig {
        locator: args.at.locator(),
        producers: args.producers,
        connections: args.connections.max(1),
        body_size: args.body_size,
        batch: args.batch.max(1),
        duration: secs(args.duration),
        warmup: secs(args.warmup),
        max_messages: args.messages,
        rate: args.rate.filter(|r| r.is_finite() && *r > 0.0),
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        consume: args.consume || args.drain,
        from: if args.drain {
            StartFrom::Earliest
        } else {
            args.from
        },
        drain: args.drain,
        pull_batch: args.pull_batch.max(1),
        group: args.group.clone(),
        serialize: proto::serialize_type(&args.serialize)?,
        route_wait: secs(args.at.route_wait),
    };
    let report = load::run(cfg).await?;
    emit(args.json.as_deref(), &report, &report.line())
}

#[derive(Serialize)]
struct CreateReport {
    topics: usize,
    queues: i32,
    create_seconds: f64,
    route_seconds: f64,
}

async fn create(at: Where, json: Option<String>) -> Result<(), BoxError> {
    let Some(broker) = at.broker.clone() else {
        return Err("create needs --broker".into());
    };
    let client = RemotingClient::new(ClientConfig::default());
    let loc = at.locator();
    let started = std::time::Instant::now();
    for topic in loc.topic_names() {
        proto::create_topic(&client, &broker, &topic, at.queues, Duration::from_secs(10)).await?;
    }
    let create_seconds = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    if at.namesrv.is_some() {
        let by_route = Locator {
            broker: None,
            ..loc.clone()
        };
        by_route.targets(&client, true, secs(at.route_wait)).await?;
    }
    let report = CreateReport {
        topics: loc.topics,
        queues: at.queues,
        create_seconds,
        route_seconds: started.elapsed().as_secs_f64(),
    };
    let line = format!(
        "created {} topics x {} queues on {broker} in {:.2} s; routed in {:.2} s",
        report.topics, report.queues, report.create_seconds, report.route_seconds
    );
    emit(json.as_deref(), &report, &line)
}

#[derive(Serialize)]
struct OffsetsReport {
    queues: usize,
    messages: i64,
}

async fn offsets(at: Where, json: Option<String>) -> Result<(), BoxError> {
    let client = RemotingClient::new(ClientConfig::default());
    let targets = at.locator().targets(&client, false, secs(1.0)).await?;
    let mut total = 0i64;
    for t in &targets {
        total += proto::max_offset(&client, t, Duration::from_secs(5)).await?;
    }
    let report = OffsetsReport {
        queues: targets.len(),
        messages: total,
    };
    let line = format!("{} messages in {} queues", total, targets.len());
    emit(json.as_deref(), &report, &line)
}

#[derive(Serialize)]
struct ProbeReport {
    first_send_ms: f64,
    attempts: u64,
    /// Wall-clock time of the accepted answer, in µs since the Unix epoch, so a caller that
    /// started the broker can subtract its own spawn time (the probe may start earlier).
    accepted_unix_us: u64,
}

async fn probe(
    broker: String,
    topic: String,
    timeout: f64,
    interval_ms: u64,
    json: Option<String>,
) -> Result<(), BoxError> {
    let started = tokio::time::Instant::now();
    let deadline = started + secs(timeout);
    let target = Target {
        broker: broker.clone(),
        topic,
        queue_id: 0,
    };
    let ids = UniqIds::new();
    let body = bytes::Bytes::from_static(b"cold start probe");
    let mut attempts = 0u64;
    let mut last = String::from("no attempt");
    while tokio::time::Instant::now() < deadline {
        attempts += 1;
        // A fresh client per attempt: a refused or half-started connection is not reused.
        let client = RemotingClient::new(ClientConfig {
            connect_timeout: Duration::from_millis(500),
            ..ClientConfig::default()
        });
        let req = proto::send_request(
            &target,
            &body,
            &ids,
            remoting::protocol::SerializeType::RocketMq,
        );
        match client.invoke(&broker, req, Duration::from_secs(2)).await {
            Ok(r) if r.code == response_code::SUCCESS => {
                client.shutdown();
                let report = ProbeReport {
                    first_send_ms: started.elapsed().as_secs_f64() * 1000.0,
                    attempts,
                    accepted_unix_us: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_micros() as u64)
                        .unwrap_or(0),
                };
                let line = format!(
                    "first message accepted by {broker} after {:.0} ms ({attempts} attempts)",
                    report.first_send_ms
                );
                return emit(json.as_deref(), &report, &line);
            }
            Ok(r) => last = format!("code {} {}", r.code, r.remark.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        client.shutdown();
        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
    }
    Err(format!("{broker} accepted no message in {timeout} s (last: {last})").into())
}

#[derive(Serialize)]
struct LoopbackAll {
    results: Vec<machine::LoopbackReport>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(w) = cli.workers {
        rt.worker_threads(w.max(1));
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rmq-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), BoxError> = match cli.cmd {
        Cmd::Run(args) => rt.block_on(run(args)),
        Cmd::Create { at, json } => rt.block_on(create(at, json)),
        Cmd::Offsets { at, json } => rt.block_on(offsets(at, json)),
        Cmd::Probe {
            broker,
            topic,
            timeout,
            interval_ms,
            json,
        } => rt.block_on(probe(broker, topic, timeout, interval_ms, json)),
        Cmd::Loopback {
            frame_sizes,
            duration,
            json,
        } => (|| {
            let mut results = Vec::new();
            for size in frame_sizes {
                let r = machine::loopback(size, secs(duration))?;
                println!("{}", r.line());
                results.push(r);
            }
            emit(json.as_deref(), &LoopbackAll { results }, "loopback done")
        })(),
        Cmd::Disk {
            dir,
            size_mb,
            duration,
            json,
        } => machine::disk(&dir, size_mb, secs(duration))
            .and_then(|r| emit(json.as_deref(), &r, &r.line())),
    };
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rmq-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
