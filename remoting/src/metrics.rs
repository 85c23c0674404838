//! Request metrics of a remoting server in Prometheus text format, named as the Java broker's
//! OpenTelemetry metrics where one exists (`rocketmq_rpc_latency` in ms buckets by request and
//! response code), plus open connections and refused requests by reason; and a minimal HTTP
//! endpoint that serves a rendered page to Prometheus scrapers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Upper bounds (ms) of the latency buckets, as Java's `rocketmq_rpc_latency` view uses.
pub const LATENCY_BUCKETS_MS: [u64; 9] = [1, 3, 5, 10, 30, 50, 100, 500, 1000];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS_MS.len()],
    count: u64,
    sum_ms: f64,
}

/// Metrics one remoting server keeps about its requests and connections.
#[derive(Default)]
pub struct RpcMetrics {
    latency: Mutex<BTreeMap<(i32, i32), Histogram>>,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    connections: AtomicI64,
    connections_total: AtomicU64,
}

impl std::fmt::Debug for RpcMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RpcMetrics({} connections)", self.open_connections())
    }
}

impl RpcMetrics {
    pub fn record(&self, request_code: i32, response_code: i32, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let mut map = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = map.entry((request_code, response_code)).or_default();
        h.count += 1;
        h.sum_ms += ms;
        if let Some(i) = LATENCY_BUCKETS_MS.iter().position(|b| ms <= *b as f64) {
            h.buckets[i] += 1;
        }
    }

    /// A request refused before processing: `busy`, `not_supported`, `too_many_connections`.
    pub fn reject(&self, reason: &'static str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn open_connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Appends this server's metrics in Prometheus text format; `labels` (e.g.
    /// `cluster="c",node_type="broker"`) go on every sample.
    pub fn render(&self, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let _ = writeln!(out, "# HELP rocketmq_rpc_latency Time to process a request, by request and response code (ms).");
        let _ = writeln!(out, "# TYPE rocketmq_rpc_latency histogram");
        for ((req, resp), h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let l = format!("{labels}{sep}request_code=\"{req}\",response_code=\"{resp}\"");
            let mut cum = 0;
            for (i, b) in LATENCY_BUCKETS_MS.iter().enumerate() {
                cum += h.buckets[i];
                let _ = writeln!(out, "rocketmq_rpc_latency_bucket{{{l},le=\"{b}\"}} {cum}");
            }
            let _ = writeln!(
                out,
                "rocketmq_rpc_latency_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "rocketmq_rpc_latency_sum{{{l}}} {:.3}", h.sum_ms);
            let _ = writeln!(out, "rocketmq_rpc_latency_count{{{l}}} {}", h.count);
        }
        let _ = writeln!(out, "# HELP rocketmq_rejected_requests_total Requests refused before processing, by reason.");
        let _ = writeln!(out, "# TYPE rocketmq_rejected_requests_total counter");
        for (reason, n) in self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "rocketmq_rejected_requests_total{{{labels}{sep}reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP rocketmq_connections Open client connections.");
        let _ = writeln!(out, "# TYPE rocketmq_connections gauge");
        let _ = writeln!(
            out,
            "rocketmq_connections{{{labels}}} {}",
            self.open_connections()
        );
        let _ = writeln!(
            out,
            "# HELP rocketmq_connections_opened_total Connections accepted since start."
        );
        let _ = writeln!(out, "# TYPE rocketmq_connections_opened_total counter");
        let _ = writeln!(
            out,
            "rocketmq_connections_opened_total{{{labels}}} {}",
            self.connections_total.load(Ordering::Relaxed)
        );
    }
}

/// Renders the page served to scrapers.
pub type RenderFn = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `render()` over HTTP/1.1 on `addr` until `shutdown`; every path answers the page.
/// Requests are read up to 8 KiB and connections are closed after one answer.
pub async fn serve_http(
    addr: SocketAddr,
    render: RenderFn,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "metrics endpoint listening");
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
            };
            let render = render.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while n < buf.len() {
                    match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf[n..]))
                        .await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                        Ok(Ok(k)) => {
                            n += k;
                            if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                    }
                }
                let body = render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets() {
        let m = RpcMetrics::default();
        m.record(10, 0, Duration::from_millis(2));
        m.record(10, 0, Duration::from_millis(40));
        m.reject("busy");
        let mut out = String::new();
        m.render("node_type=\"broker\"", &mut out);
        assert!(out.contains("rocketmq_rpc_latency_bucket{node_type=\"broker\",request_code=\"10\",response_code=\"0\",le=\"3\"} 1"));
        assert!(out.contains("le=\"50\"} 2"));
        assert!(out.contains("rocketmq_rpc_latency_count{node_type=\"broker\",request_code=\"10\",response_code=\"0\"} 2"));
        assert!(out.contains("reason=\"busy\"} 1"));
    }
}
