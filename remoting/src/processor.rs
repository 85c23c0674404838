//! Request processors and the table that maps request codes to them.
//!
//! Each registered processor may carry a concurrency limit; a request that finds the limit
//! reached, or a processor that rejects requests (store busy, shutting down), is answered
//! SYSTEM_BUSY at once instead of being queued without bound.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::channel::Channel;
use crate::protocol::command::RemotingCommand;

pub type ProcessFuture<'a> = Pin<Box<dyn Future<Output = Option<RemotingCommand>> + Send + 'a>>;

/// Handles one family of requests. Returns the response, or `None` when there is nothing to
/// answer (oneway requests, or a processor that already sent its answer on the channel).
pub trait RequestProcessor: Send + Sync + 'static {
    fn process<'a>(&'a self, channel: &'a Channel, request: RemotingCommand) -> ProcessFuture<'a>;

    /// True while the processor wants new requests refused with SYSTEM_BUSY.
    fn reject_request(&self) -> bool {
        false
    }
}

#[derive(Clone)]
pub(crate) struct Registered {
    pub processor: Arc<dyn RequestProcessor>,
    pub limit: Option<Arc<Semaphore>>,
}

/// Request code -> processor, with an optional default for codes not registered.
#[derive(Clone, Default)]
pub struct ProcessorTable {
    pub(crate) table: HashMap<i32, Registered>,
    pub(crate) default: Option<Registered>,
}

impl ProcessorTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `codes` to `processor`; `max_in_flight` bounds how many run at once (shared by
    /// those codes) — `None` for no bound.
    pub fn register(
        &mut self,
        codes: &[i32],
        processor: Arc<dyn RequestProcessor>,
        max_in_flight: Option<usize>,
    ) {
        let limit = max_in_flight.map(|n| Arc::new(Semaphore::new(n)));
        for &code in codes {
            self.table.insert(
                code,
                Registered {
                    processor: processor.clone(),
                    limit: limit.clone(),
                },
            );
        }
    }

    /// The processor for every code that has no processor of its own.
    pub fn register_default(
        &mut self,
        processor: Arc<dyn RequestProcessor>,
        max_in_flight: Option<usize>,
    ) {
        self.default = Some(Registered {
            processor,
            limit: max_in_flight.map(|n| Arc::new(Semaphore::new(n))),
        });
    }

    pub(crate) fn lookup(&self, code: i32) -> Option<&Registered> {
        self.table.get(&code).or(self.default.as_ref())
    }
}

/// Builds a processor from an async closure-like function, for small processors and tests.
pub struct FnProcessor<F>(pub F);

impl<F, Fut> RequestProcessor for FnProcessor<F>
where
    F: Fn(Channel, RemotingCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<RemotingCommand>> + Send + 'static,
{
    fn process<'a>(&'a self, channel: &'a Channel, request: RemotingCommand) -> ProcessFuture<'a> {
        Box::pin((self.0)(channel.clone(), request))
    }
}
