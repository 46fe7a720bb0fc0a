//! Counting the charm's Kubernetes API requests the way the workloads count theirs
//! (`workload/runtime/src/kube_client.rs`): a tower layer on the client's HTTP service, so every
//! request is counted, whichever API call made it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use tower::{Layer, Service};

/// The number of API requests sent through the clients it counts for (clones share it).
#[derive(Debug, Clone, Default)]
pub struct ApiRequests(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    total: AtomicUsize,
    writes: AtomicUsize,
    http2: AtomicUsize,
    micros: AtomicU64,
}

impl ApiRequests {
    /// Every request sent so far.
    pub fn total(&self) -> usize {
        self.0.total.load(Ordering::Relaxed)
    }

    /// The requests that may change something (anything but GET, HEAD and OPTIONS).
    pub fn writes(&self) -> usize {
        self.0.writes.load(Ordering::Relaxed)
    }

    /// The answers that came over HTTP/2 (multiplexed on one connection).
    pub fn over_http2(&self) -> usize {
        self.0.http2.load(Ordering::Relaxed)
    }

    /// The time spent waiting on the API (connecting, and every call until its answer).
    pub fn time(&self) -> Duration {
        Duration::from_micros(self.0.micros.load(Ordering::Relaxed))
    }

    /// Adds `spent` to [`Self::time`].
    pub fn add_time(&self, spent: Duration) {
        let micros = u64::try_from(spent.as_micros()).unwrap_or(u64::MAX);
        self.0.micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn count(&self, method: &Method) {
        self.0.total.fetch_add(1, Ordering::Relaxed);
        if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            self.0.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The layer that counts into this counter.
    pub fn layer(&self) -> CountRequests {
        CountRequests(self.clone())
    }
}

/// Wraps a client's HTTP service in [`Counted`].
pub struct CountRequests(ApiRequests);

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            requests: self.0.clone(),
        }
    }
}

/// An HTTP service that counts the requests it is given (and the answers that came over
/// HTTP/2).
#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    requests: ApiRequests,
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<Request<B>> for Counted<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Boxed<Result<Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.requests.count(request.method());
        let requests = self.requests.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if response.version() == http::Version::HTTP_2 {
                requests.0.http2.fetch_add(1, Ordering::Relaxed);
            }
            Ok(response)
        })
    }
}
