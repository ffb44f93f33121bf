//! The one outgoing HTTP client: pooled keep-alive connections, http and https (rustls with
//! the webpki roots), used for HTTP_PROXY integrations, Lambda invocations and JWKS fetches.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Body>;

thread_local! {
    /// The client of a data-plane thread (`set_thread_client`).
    static THREAD_CLIENT: std::cell::OnceCell<HttpClient> = const { std::cell::OnceCell::new() };
}

/// Gives the calling thread a client of its own, used for integrations instead of the shared one
/// (`thread_client`). The pooled client runs each connection on the runtime that opened it: a
/// data-plane thread with its own client keeps its upstream connections on its own runtime, so
/// a request never wakes another thread. A second call changes nothing.
pub fn set_thread_client(client: HttpClient) {
    THREAD_CLIENT.with(|c| {
        let _ = c.set(client);
    });
}

/// The calling thread's own client, if it was given one.
pub fn thread_client() -> Option<HttpClient> {
    THREAD_CLIENT.with(|c| c.get().cloned())
}

/// A client with a pool of idle keep-alive connections per upstream.
pub fn build() -> Result<HttpClient, rustls::Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(https))
}

/// GETs a small document: at most `limit` bytes within `timeout`.
pub async fn get_small(
    client: &HttpClient,
    url: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, String> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Body::empty())
        .map_err(|e| format!("bad url {url}: {e}"))?;
    let fetch = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: status {}", resp.status()));
        }
        let body = http_body_util::Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        Ok(body.to_bytes())
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("GET {url}: timed out"))?
}
