//! The HTTP/1.1 accept loop of both listeners. Our own rather than `axum::serve` so that a
//! client that never finishes its headers is dropped (slowloris) and shutdown drains the
//! connections in flight with a deadline.

use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for requests in flight.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// The router with the connection's peer address in every request's extensions.
fn with_peer(
    router: Router,
    peer: SocketAddr,
) -> impl Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(req)
    })
}

/// Serves an axum router (the control listener).
pub async fn serve(listener: TcpListener, router: Router, stop: watch::Receiver<bool>) {
    serve_with(listener, stop, move |peer| {
        TowerToHyperService::new(with_peer(router.clone(), peer))
    })
    .await;
}

/// The accept loop: one hyper connection per accepted stream, served by the service `make`
/// builds for its peer address, spawned on the current runtime. Returns once `stop` is set and
/// the connections have drained (or the deadline passed).
pub async fn serve_with<S, F>(listener: TcpListener, mut stop: watch::Receiver<bool>, make: F)
where
    F: Fn(SocketAddr) -> S,
    S: HttpService<Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors or similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    // The peer address, for X-Forwarded-For and access logs.
                    .serve_connection(TokioIo::new(stream), make(peer));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_DEADLINE) => {
            tracing::warn!("connections still open after the drain deadline; closing them");
        }
    }
}
