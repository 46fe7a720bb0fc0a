//! Until a client has its first answer, it does not know whether the API server speaks HTTP/2
//! (ALPN tells during the TLS handshake), and hyper's pool opens a connection for every request
//! sent meanwhile: a hook's seven reads sent at once cost seven TLS handshakes. This layer sends
//! the first request alone and holds the others until it is answered; then they all share its
//! connection (or, over HTTP/1.1, the pool does as it always does).

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::sync::Mutex;
use tower::{Layer, Service};

/// Wraps a client's HTTP service in [`FirstAlone`].
#[derive(Clone, Default)]
pub struct FirstAloneLayer;

impl<S> Layer<S> for FirstAloneLayer {
    type Service = FirstAlone<S>;

    fn layer(&self, inner: S) -> FirstAlone<S> {
        FirstAlone {
            inner,
            answered: Arc::default(),
        }
    }
}

/// An HTTP service that sends its first request alone (see the module's documentation).
#[derive(Clone)]
pub struct FirstAlone<S> {
    inner: S,
    /// Whether a request has had its answer (or error); held while the first is under way.
    answered: Arc<Mutex<bool>>,
}

impl<S, R> Service<R> for FirstAlone<S>
where
    S: Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // The service made ready is the one that must be called: keep it, leave a clone.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let answered = self.answered.clone();
        Box::pin(async move {
            let mut first = answered.lock().await;
            if *first {
                drop(first);
                return inner.call(request).await;
            }
            let out = inner.call(request).await;
            *first = true;
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tower::ServiceExt;

    /// Answers after a while, noting how many requests were under way at most.
    #[derive(Clone, Default)]
    struct Slow {
        now: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
        order: Arc<std::sync::Mutex<Vec<u32>>>,
    }

    impl Service<u32> for Slow {
        type Response = u32;
        type Error = std::convert::Infallible;
        type Future = BoxFuture<'static, Result<u32, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: u32) -> Self::Future {
            let this = self.clone();
            Box::pin(async move {
                let now = this.now.fetch_add(1, Ordering::SeqCst) + 1;
                this.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                this.now.fetch_sub(1, Ordering::SeqCst);
                this.order.lock().unwrap().push(request);
                Ok(request)
            })
        }
    }

    #[tokio::test]
    async fn the_first_request_goes_alone_and_the_rest_together() {
        let slow = Slow::default();
        let service = FirstAloneLayer.layer(slow.clone());
        let calls = (0..5).map(|i| service.clone().oneshot(i));
        let answers = futures::future::join_all(calls).await;
        assert_eq!(
            answers.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(
            slow.order.lock().unwrap()[0],
            0,
            "the first is answered first"
        );
        assert_eq!(
            slow.most.load(Ordering::SeqCst),
            4,
            "the other four at once"
        );
    }
}
