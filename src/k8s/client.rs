//! The charm's Kubernetes client: kube's request stack (base URI, credentials, extra headers,
//! timeouts) over HTTP/2, so the reads a hook makes at once share one TLS connection instead
//! of waiting for each other or opening one connection each (the first request goes alone:
//! [`FirstAloneLayer`]). kube's own builder speaks
//! HTTP/1.1 only. A request the API server asks to be sent again (429, 503, 504) is, after its
//! `Retry-After`, as client-go does; a read from the API server's cache that a cache still
//! initializing refuses (429 "storage is (re)initializing", right after a CRD is created or
//! changed) is first sent again at once as a read through to etcd, which is often served.

use std::time::Duration;

use http::{Request, Response, StatusCode, Uri};
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ClientBuilder, ConfigExt};
use kube::{Client, Config};
use tower::retry::{Policy, RetryLayer};
use tower::{BoxError, ServiceBuilder};

use super::K8sError;
use super::count::CountRequests;
use super::first_alone::FirstAloneLayer;

/// The most a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many requests may wait for kube's own (not clonable) stack, which a retry needs to clone.
const BUFFER: usize = 1024;
/// How often one request is sent again when the API server asks for it (client-go: 10).
const RETRIES: u32 = 10;

/// Retries what the API server asks to be sent again: a read from its cache at once as a read
/// through to etcd, then after its `Retry-After` (a cache initializing asks for 1 s) or after
/// 100 ms doubling to 2 s. Each attempt is counted.
pub(super) fn retry_layer() -> Result<RetryLayer<AskAgain>, K8sError> {
    let policy = RetryPolicy::new(
        Duration::from_millis(100),
        Duration::from_secs(2),
        RETRIES,
        true,
    )
    .map_err(no_access)?;
    Ok(RetryLayer::new(AskAgain(policy)))
}

/// kube's retry policy, with a cached read refused by a cache still initializing sent again
/// at once through to etcd.
#[derive(Clone)]
pub(super) struct AskAgain(RetryPolicy);

impl<B> Policy<Request<Body>, Response<B>, BoxError> for AskAgain {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        if let Ok(response) = result
            && response.status() == StatusCode::TOO_MANY_REQUESTS
            && let Some(through) = read_through(request.uri())
        {
            *request.uri_mut() = through;
            return Some(tokio::time::sleep(Duration::ZERO));
        }
        self.0.retry(request, result)
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        <RetryPolicy as Policy<Request<Body>, Response<B>, BoxError>>::clone_request(
            &mut self.0,
            request,
        )
    }
}

/// `uri` without what makes it a read from the API server's cache (`resourceVersion=0`, and
/// the `resourceVersionMatch` that goes with it), or None when it is not one.
fn read_through(uri: &Uri) -> Option<Uri> {
    let query = uri.query()?;
    let pairs: Vec<&str> = query.split('&').collect();
    if !pairs.contains(&"resourceVersion=0") {
        return None;
    }
    let kept: Vec<&str> = pairs
        .into_iter()
        .filter(|p| {
            !p.is_empty() && *p != "resourceVersion=0" && !p.starts_with("resourceVersionMatch=")
        })
        .collect();
    let path = if kept.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path.parse().ok()?);
    Uri::from_parts(parts).ok()
}

fn no_access(e: impl std::fmt::Display) -> K8sError {
    K8sError::NoAccess(e.to_string())
}

/// A client for `config` whose every request is counted by `counting`: HTTP/2 when the API
/// server offers it (ALPN), HTTP/1.1 otherwise. A proxy or a fixed TLS server name, which only
/// kube's own builder handles, gets that builder (HTTP/1.1). Must run inside a Tokio runtime.
pub(super) fn build(
    mut config: Config,
    counting: &CountRequests,
    call_timeout: Duration,
) -> Result<Client, K8sError> {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(call_timeout);
    config.write_timeout = Some(call_timeout);
    if config.proxy_url.is_some() || config.tls_server_name.is_some() {
        let builder = ClientBuilder::try_from(config).map_err(no_access)?;
        return Ok(builder
            .with_layer(counting)
            .with_layer(&tower::buffer::BufferLayer::new(BUFFER))
            .with_layer(&retry_layer()?)
            .build());
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // HTTP/2 writes a request's HEADERS and DATA frames separately: with Nagle's algorithm the
    // second waits for the server's delayed ACK (~40 ms on every write).
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config().map_err(no_access)?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let mut connector = TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let http_client = hyper_util::client::legacy::Builder::new(TokioExecutor::new())
        .build::<_, kube::client::Body>(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(no_access)?)
        .layer(config.extra_headers_layer().map_err(no_access)?)
        .layer(FirstAloneLayer)
        .map_err(BoxError::from)
        .service(http_client);
    Ok(ClientBuilder::new(service, config.default_namespace)
        .with_layer(counting)
        .with_layer(&retry_layer()?)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_read_is_read_through_without_its_version() {
        let cached: Uri =
            "https://api:6443/api/v1/services?labelSelector=a%3Db&resourceVersion=0&resourceVersionMatch=NotOlderThan"
                .parse()
                .unwrap();
        assert_eq!(
            read_through(&cached).unwrap().to_string(),
            "https://api:6443/api/v1/services?labelSelector=a%3Db"
        );
        let get: Uri = "/api/v1/namespaces/kube-system/configmaps/kube-proxy?&resourceVersion=0"
            .parse()
            .unwrap();
        assert_eq!(
            read_through(&get).unwrap().to_string(),
            "/api/v1/namespaces/kube-system/configmaps/kube-proxy"
        );
        for latest in ["/api/v1/services", "/api/v1/services?resourceVersion=12"] {
            assert_eq!(read_through(&latest.parse().unwrap()), None, "{latest}");
        }
    }
}
