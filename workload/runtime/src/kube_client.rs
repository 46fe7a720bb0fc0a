//! The Kubernetes client of the workload binaries: from `--kubeconfig` when given, else the
//! in-cluster service account (or the usual inference). Every request it makes is counted in
//! `rest_client_requests_total` (the name client-go's metric has in upstream MetalLB).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use kube::client::ClientBuilder;
use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use tower::{Layer, Service};

use crate::metrics::{Family, Metrics};

/// Counter of the API requests made, by method and status code (`<error>` when no response came).
pub const REST_CLIENT_REQUESTS: Family = (
    "rest_client_requests_total",
    "counter",
    "Number of HTTP requests to the Kubernetes API, partitioned by method and status code",
);

/// Why no API client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig file given could not be read or parsed.
    #[error("cannot read {}", path.display())]
    ReadKubeconfig {
        /// The file given.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: KubeconfigError,
    },
    /// The kubeconfig was read but does not make a client configuration.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// No kubeconfig was given and none could be inferred (in-cluster or the usual files).
    #[error(transparent)]
    Infer(#[from] InferConfigError),
    /// The configuration was found but the client could not be built from it (TLS, proxy).
    #[error("cannot build the API client")]
    Build(#[source] kube::Error),
}

/// A client from `kubeconfig`, or inferred when there is none; requests are counted in `metrics`.
pub async fn client(
    kubeconfig: Option<&Path>,
    metrics: Option<&Metrics>,
) -> Result<Client, ClientError> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|source| ClientError::ReadKubeconfig {
                path: path.to_path_buf(),
                source,
            })?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?
        }
        None => Config::infer().await?,
    };
    let builder = ClientBuilder::try_from(config).map_err(ClientError::Build)?;
    Ok(match metrics {
        Some(metrics) => builder.with_layer(&CountRequests(metrics.clone())).build(),
        None => builder.build(),
    })
}

/// Wraps the client's HTTP service in [`Counted`].
struct CountRequests(Metrics);

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// An HTTP service that counts its requests by method and response status.
struct Counted<S> {
    inner: S,
    metrics: Metrics,
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
    type Future = Boxed<std::result::Result<Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method().as_str().to_owned();
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                Ok(r) => r.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            metrics.inc(
                REST_CLIENT_REQUESTS.0,
                &[("code", &code), ("method", &method)],
            );
            response
        })
    }
}
