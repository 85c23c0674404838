//! One connection, either side: a reader task that routes responses to waiting callers by
//! opaque and hands requests to an inbound handler, and a writer task that drains a bounded
//! queue with vectored writes (bodies go to the socket straight from their buffers).
//!
//! Invariants: a pending call is removed exactly once (by its response, its timeout, or the
//! close); closing fails every pending call; the writer queue is bounded, so a peer that stops
//! reading blocks its own senders instead of growing memory. A failed write does not drop what
//! the peer already sent: the reader goes on until the peer's EOF (or a short grace period).

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::codec::{FrameLimits, RemotingCodec};
use crate::error::RemotingError;
use crate::protocol::command::{write_frame_prefix, RemotingCommand, FLAG_RESPONSE};

/// Receives what a peer sends on a channel other than responses to our own calls.
pub trait InboundHandler: Send + Sync + 'static {
    /// A request (or oneway request) arrived. Must not block: spawn for real work.
    fn on_request(&self, channel: &Channel, request: RemotingCommand);
    /// The channel closed (peer gone, idle, decode error or shutdown).
    fn on_close(&self, _channel: &Channel) {}
}

/// Settings of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ChannelConfig {
    pub limits: FrameLimits,
    /// Close after this long with nothing read (Java: 120 s).
    pub idle_timeout: Duration,
    /// Commands queued for writing before senders wait.
    pub write_queue: usize,
    /// Bytes queued for writing before senders wait: what a peer that stops reading can make
    /// this side hold for it.
    pub max_pending_write_bytes: usize,
    /// A sender that waits this long for room (the peer reads nothing) closes the connection.
    pub write_stall_timeout: Duration,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            limits: FrameLimits::default(),
            idle_timeout: Duration::from_secs(120),
            write_queue: 4096,
            max_pending_write_bytes: 64 * 1024 * 1024,
            write_stall_timeout: Duration::from_secs(30),
        }
    }
}

static NEXT_CHANNEL_ID: AtomicU64 = AtomicU64::new(1);

/// A command waiting to be written, holding its share of the connection's write budget.
struct Queued {
    cmd: RemotingCommand,
    _budget: Option<OwnedSemaphorePermit>,
}

/// A cheap, cloneable handle to one connection.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    peer: SocketAddr,
    tx: mpsc::Sender<Queued>,
    write_budget: Arc<Semaphore>,
    max_pending_write_bytes: usize,
    write_stall_timeout: Duration,
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    next_opaque: AtomicI32,
    closed: CancellationToken,
    /// The socket refused a write: nothing more is sent, but requests the peer wrote before
    /// it went away are still read and served (a client's last oneway offset commits, say).
    write_failed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel#{}({})", self.inner.id, self.inner.peer)
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl Eq for Channel {}
impl std::hash::Hash for Channel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state)
    }
}

impl Channel {
    /// Starts the reader and writer tasks of `stream`; they end when the peer closes, on a
    /// protocol error, after the idle timeout, or when `shutdown` is cancelled.
    pub fn spawn(
        stream: TcpStream,
        config: ChannelConfig,
        handler: Arc<dyn InboundHandler>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Channel> {
        let peer = stream.peer_addr()?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Ok(Self::spawn_halves(
            read, write, peer, config, handler, shutdown,
        ))
    }

    /// Like `spawn`, over any byte stream (a TLS session): `peer` is the remote address of the
    /// connection underneath.
    pub fn spawn_io<S>(
        stream: S,
        peer: SocketAddr,
        config: ChannelConfig,
        handler: Arc<dyn InboundHandler>,
        shutdown: CancellationToken,
    ) -> Channel
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        Self::spawn_halves(read, write, peer, config, handler, shutdown)
    }

    fn spawn_halves<R, W>(
        read: R,
        write: W,
        peer: SocketAddr,
        config: ChannelConfig,
        handler: Arc<dyn InboundHandler>,
        shutdown: CancellationToken,
    ) -> Channel
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(config.write_queue.max(1));
        let closed = shutdown.child_token();
        let channel = Channel {
            inner: Arc::new(Inner {
                id: NEXT_CHANNEL_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                tx,
                write_budget: Arc::new(Semaphore::new(config.max_pending_write_bytes.max(1))),
                max_pending_write_bytes: config.max_pending_write_bytes.max(1),
                write_stall_timeout: config.write_stall_timeout,
                pending: Mutex::new(HashMap::new()),
                next_opaque: AtomicI32::new(1),
                closed,
                write_failed: Arc::new(AtomicBool::new(false)),
            }),
        };
        tokio::spawn(write_loop(
            write,
            rx,
            channel.inner.closed.clone(),
            channel.inner.write_failed.clone(),
            peer,
        ));
        let reader = channel.clone();
        tokio::spawn(async move {
            reader
                .read_loop(
                    FramedRead::new(read, RemotingCodec::new(config.limits)),
                    config,
                    &*handler,
                )
                .await;
            reader.close();
            reader.fail_pending();
            handler.on_close(&reader);
        });
        channel
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        &self,
        mut frames: FramedRead<R, RemotingCodec>,
        config: ChannelConfig,
        handler: &dyn InboundHandler,
    ) {
        loop {
            let next = tokio::select! {
                _ = self.inner.closed.cancelled() => return,
                next = tokio::time::timeout(config.idle_timeout, frames.next()) => next,
            };
            match next {
                Err(_) => {
                    tracing::info!(peer = %self.inner.peer, "closing idle connection");
                    return;
                }
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    tracing::warn!(peer = %self.inner.peer, error = %e, "closing connection: bad frame");
                    return;
                }
                Ok(Some(Ok(cmd))) => {
                    if cmd.flag & FLAG_RESPONSE != 0 {
                        let waiter = self.lock_pending().remove(&cmd.opaque);
                        match waiter {
                            Some(w) => {
                                let _ = w.send(cmd);
                            }
                            None => {
                                tracing::debug!(peer = %self.inner.peer, opaque = cmd.opaque, "response with no waiting call")
                            }
                        }
                    } else {
                        handler.on_request(self, cmd);
                    }
                }
            }
        }
    }

    fn lock_pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<i32, oneshot::Sender<RemotingCommand>>> {
        // A poisoned map only means another task panicked mid-insert; the map itself is intact.
        self.inner.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail_pending(&self) {
        self.lock_pending().clear();
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Closed, or no longer writable (a write to the socket failed).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled() || self.inner.write_failed.load(Ordering::Acquire)
    }

    /// Closes the connection; pending calls fail.
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// Resolves when the channel has closed.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await
    }

    /// Bytes of write budget a command takes: its body, plus a little for the header.
    fn budget_of(&self, cmd: &RemotingCommand) -> u32 {
        (cmd.body.len() + 256).min(self.inner.max_pending_write_bytes) as u32
    }

    /// Queues a command for writing (a response, or a request whose answer nobody awaits),
    /// waiting for room in the write budget; a peer that reads nothing for the stall timeout
    /// gets its connection closed.
    pub async fn send(&self, cmd: RemotingCommand) -> Result<(), RemotingError> {
        let closed = || RemotingError::ConnectionClosed(self.inner.peer.to_string());
        if self.is_closed() {
            return Err(closed());
        }
        let need = self.budget_of(&cmd);
        let permit = match tokio::time::timeout(
            self.inner.write_stall_timeout,
            self.inner.write_budget.clone().acquire_many_owned(need),
        )
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(closed()),
            Err(_) => {
                tracing::warn!(peer = %self.inner.peer, "peer is not reading its responses; closing connection");
                self.close();
                return Err(closed());
            }
        };
        self.inner
            .tx
            .send(Queued {
                cmd,
                _budget: Some(permit),
            })
            .await
            .map_err(|_| closed())
    }

    /// Queues a command without waiting for room; fails if the queue or budget is full.
    pub fn try_send(&self, cmd: RemotingCommand) -> Result<(), RemotingError> {
        let need = self.budget_of(&cmd);
        let permit = self
            .inner
            .write_budget
            .clone()
            .try_acquire_many_owned(need)
            .map_err(|_| RemotingError::TooManyRequests(self.inner.peer.to_string()))?;
        self.inner
            .tx
            .try_send(Queued {
                cmd,
                _budget: Some(permit),
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    RemotingError::TooManyRequests(self.inner.peer.to_string())
                }
                mpsc::error::TrySendError::Closed(_) => {
                    RemotingError::ConnectionClosed(self.inner.peer.to_string())
                }
            })
    }

    fn next_opaque(&self) -> i32 {
        self.inner.next_opaque.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a request and waits for its response, at most `timeout`.
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let started = Instant::now();
        let opaque = self.next_opaque();
        cmd.opaque = opaque;
        cmd.flag &= !FLAG_RESPONSE;
        let (tx, rx) = oneshot::channel();
        self.lock_pending().insert(opaque, tx);
        let guard = PendingGuard {
            channel: self,
            opaque,
        };
        let result = tokio::time::timeout(timeout, async {
            self.send(cmd).await?;
            rx.await
                .map_err(|_| RemotingError::ConnectionClosed(self.inner.peer.to_string()))
        })
        .await;
        drop(guard);
        match result {
            Ok(r) => r,
            Err(_) => Err(RemotingError::Timeout {
                addr: self.inner.peer.to_string(),
                opaque,
                after: started.elapsed(),
            }),
        }
    }

    /// Sends a oneway request: flag bit 1 set, no response expected.
    pub async fn invoke_oneway(&self, mut cmd: RemotingCommand) -> Result<(), RemotingError> {
        cmd.opaque = self.next_opaque();
        cmd.flag &= !FLAG_RESPONSE;
        cmd.mark_oneway();
        self.send(cmd).await
    }
}

/// Removes a pending call's entry however the call ends (response, timeout, cancellation).
struct PendingGuard<'a> {
    channel: &'a Channel,
    opaque: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.channel.lock_pending().remove(&self.opaque);
    }
}

/// Most commands gathered into one vectored write.
const WRITE_BATCH: usize = 64;

/// After a failed write, how long the reader may go on draining what the peer sent before the
/// connection is closed anyway (normally the peer's EOF or reset ends it first).
const WRITE_FAILED_GRACE: Duration = Duration::from_secs(2);

async fn write_loop<W: AsyncWrite + Unpin>(
    mut write: W,
    mut rx: mpsc::Receiver<Queued>,
    closed: CancellationToken,
    write_failed: Arc<AtomicBool>,
    peer: SocketAddr,
) {
    let mut chunks: Vec<Bytes> = Vec::with_capacity(WRITE_BATCH * 2);
    // Budget permits of the commands being written; released once they are on the socket.
    let mut held: Vec<Queued> = Vec::with_capacity(WRITE_BATCH);
    loop {
        let first = tokio::select! {
            _ = closed.cancelled() => break,
            q = rx.recv() => match q { Some(q) => q, None => break },
        };
        push_frame(&mut chunks, &first.cmd);
        held.push(first);
        while held.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(q) => {
                    push_frame(&mut chunks, &q.cmd);
                    held.push(q);
                }
                Err(_) => break,
            }
        }
        let res = tokio::select! {
            _ = closed.cancelled() => break,
            res = write_all_vectored(&mut write, &mut chunks) => res,
        };
        held.clear();
        if let Err(e) = res {
            tracing::debug!(%peer, error = %e, "write failed; reading what the peer sent, then closing");
            write_failed.store(true, Ordering::Release);
            let grace = tokio::time::sleep(WRITE_FAILED_GRACE);
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    _ = closed.cancelled() => break,
                    _ = &mut grace => {
                        closed.cancel();
                        break;
                    }
                    // Queued commands are dropped, releasing their write budget.
                    q = rx.recv() => if q.is_none() { break },
                }
            }
            return;
        }
    }
    let _ = write.shutdown().await;
}

fn push_frame(chunks: &mut Vec<Bytes>, cmd: &RemotingCommand) {
    let header = cmd.encode_header();
    let mut prefix = bytes::BytesMut::with_capacity(8 + header.len());
    write_frame_prefix(
        &mut prefix,
        cmd.serialize_type,
        header.len(),
        cmd.body.len(),
    );
    prefix.extend_from_slice(&header);
    chunks.push(prefix.freeze());
    for part in cmd.body.parts() {
        if !part.is_empty() {
            chunks.push(part.clone());
        }
    }
}

async fn write_all_vectored<W: AsyncWrite + Unpin>(
    w: &mut W,
    chunks: &mut Vec<Bytes>,
) -> std::io::Result<()> {
    let mut start = 0;
    while start < chunks.len() {
        let slices: Vec<IoSlice<'_>> = chunks[start..]
            .iter()
            .take(256)
            .map(|c| IoSlice::new(c))
            .collect();
        let mut written = w.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 && start < chunks.len() {
            let len = chunks[start].len();
            if written >= len {
                written -= len;
                start += 1;
            } else {
                chunks[start].advance(written);
                written = 0;
            }
        }
    }
    chunks.clear();
    // A no-op on TCP; a TLS session sends what it still buffers.
    w.flush().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::protocol::ext_fields::ExtFields;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncWriteExt, DuplexStream, ReadBuf};

    /// Reads from an in-memory pipe; every write fails as on a socket the peer has reset.
    struct WritesFail(DuplexStream);

    impl AsyncRead for WritesFail {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for WritesFail {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Answers every request and records its code.
    struct Answering(tokio::sync::mpsc::UnboundedSender<i32>);

    impl InboundHandler for Answering {
        fn on_request(&self, channel: &Channel, request: RemotingCommand) {
            let _ = self.0.send(request.code);
            if !request.is_oneway() {
                let ch = channel.clone();
                tokio::spawn(async move {
                    let _ = ch
                        .send(RemotingCommand::response_to(&request, 0, None))
                        .await;
                });
            }
        }
    }

    fn addr() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[tokio::test]
    async fn requests_sent_before_a_failed_write_are_still_served() {
        let (ours, mut peer) = tokio::io::duplex(64 * 1024);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ch = Channel::spawn_io(
            WritesFail(ours),
            addr(),
            ChannelConfig::default(),
            Arc::new(Answering(tx)),
            CancellationToken::new(),
        );
        peer.write_all(&RemotingCommand::request(10, ExtFields::default()).encode_frame())
            .await
            .unwrap();
        assert_eq!(rx.recv().await, Some(10));
        // The answer to request 10 cannot be written: the channel stops sending ...
        tokio::time::timeout(Duration::from_secs(2), async {
            while !ch.is_closed() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("a failed write marks the channel closed for senders");
        assert!(ch
            .send(RemotingCommand::request(1, ExtFields::default()))
            .await
            .is_err());
        // ... but what the peer wrote before going away (a last oneway commit) is still read.
        let mut oneway = RemotingCommand::request(15, ExtFields::default());
        oneway.mark_oneway();
        peer.write_all(&oneway.encode_frame()).await.unwrap();
        assert_eq!(rx.recv().await, Some(15));
        drop(peer);
        tokio::time::timeout(Duration::from_secs(1), ch.closed())
            .await
            .expect("the peer's EOF closes the channel");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_write_closes_the_channel_after_a_grace_period() {
        let (ours, mut peer) = tokio::io::duplex(64 * 1024);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ch = Channel::spawn_io(
            WritesFail(ours),
            addr(),
            ChannelConfig::default(),
            Arc::new(Answering(tx)),
            CancellationToken::new(),
        );
        peer.write_all(&RemotingCommand::request(10, ExtFields::default()).encode_frame())
            .await
            .unwrap();
        assert_eq!(rx.recv().await, Some(10));
        // The peer stays connected but silent: the grace period ends the connection.
        tokio::time::timeout(WRITE_FAILED_GRACE + Duration::from_secs(1), ch.closed())
            .await
            .expect("closed after the grace period");
        drop(peer);
    }
}
