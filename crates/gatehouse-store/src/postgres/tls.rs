//! TLS to PostgreSQL over rustls (aws-lc-rs, as the gateway's https upstreams), for the pool and
//! the change-notice connection alike. tokio-postgres decides from `sslmode` whether to ask for
//! TLS (`disable`: never; `prefer`: if the server offers it; `require`: or fail); when TLS is
//! used the certificate is always verified, chain and host name, against the Mozilla roots
//! (webpki-roots) plus the operator's CA file. A self-signed or private-CA server therefore
//! needs its CA given; that is stricter than libpq's `require`, on purpose.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::{StoreError, StoreResult};

/// Makes a verified TLS connector per connection; clones share one rustls configuration.
#[derive(Clone)]
pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
}

impl RustlsConnect {
    /// Trusts the Mozilla roots and every certificate in the PEM files `ca_files`.
    pub(crate) fn new(ca_files: &[&Path]) -> StoreResult<Self> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for &path in ca_files {
            for cert in read_ca_file(path)? {
                roots.add(cert).map_err(|e| {
                    StoreError::Unavailable(format!(
                        "database CA file {}: a certificate rustls cannot use as a root: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Unavailable(format!("TLS for PostgreSQL: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // What libpq 17 sends; servers before 17 ignore it, 17's direct TLS requires it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

/// The certificates of a PEM file; none, or anything unreadable, is a configuration error.
fn read_ca_file(path: &Path) -> StoreResult<Vec<CertificateDer<'static>>> {
    let bad = |why: String| {
        StoreError::Unavailable(format!("database CA file {}: {why}", path.display()))
    };
    // Read first, so a missing file says so (the PEM reader's error would not name the cause).
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnector;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<RustlsConnector> {
        // tokio-postgres asks for a connector before it knows whether TLS will be used, with
        // an empty host for Unix sockets (where the server never offers TLS): a name that is
        // no server name fails only if a handshake is attempted.
        let name = ServerName::try_from(host.to_string()).map_err(|_| host.to_string());
        Ok(RustlsConnector {
            config: Arc::clone(&self.config),
            name,
        })
    }
}

/// One connection's TLS handshake.
pub(crate) struct RustlsConnector {
    config: Arc<ClientConfig>,
    name: Result<ServerName<'static>, String>,
}

type Handshake<S> = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

impl<S> TlsConnect<S> for RustlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        Box::pin(async move {
            let name = self.name.map_err(|host| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{host:?} is not a host name or IP address a certificate can name"),
                )
            })?;
            let shown = name.to_str().into_owned();
            tokio_rustls::TlsConnector::from(self.config)
                .connect(name, stream)
                .await
                .map(RustlsStream)
                .map_err(|e| explain(e, &shown))
        })
    }
}

/// The handshake's failure in the operator's words: which check failed and what to do.
fn explain(e: io::Error, host: &str) -> io::Error {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e;
    };
    let text = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "the PostgreSQL server's certificate is not signed by a trusted CA (give the CA \
             certificate that signed it with --database-ca-file / GATEHOUSE_DATABASE_CA_FILE \
             or sslrootcert in the URL): {tls}"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the PostgreSQL server's certificate is not valid for the host name {host:?} of \
             the URL (connect by a name the certificate carries): {tls}"
        ),
        rustls::Error::InvalidCertificate(_) => {
            format!("the PostgreSQL server's certificate is not accepted: {tls}")
        }
        _ => format!("TLS with the PostgreSQL server failed: {tls}"),
    };
    io::Error::new(e.kind(), text)
}

/// A TLS connection to PostgreSQL.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> tokio_postgres::tls::TlsStream for RustlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        // No tls-server-end-point binding: SCRAM runs without it (channel_binding=prefer, the
        // default, accepts that); the verified certificate is what rules out a man in the middle.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// libpq's TLS parameters that tokio-postgres does not parse (it refuses the URL), taken out of
/// a `postgres://` URL's query: `sslrootcert=PATH` becomes an extra CA file (`system`: the
/// built-in roots, nothing extra), `sslmode=verify-full` and `verify-ca` become `require`
/// (which verifies the chain and the host name anyway). Everything else is left as written.
pub(crate) fn take_libpq_tls_params(url: &str) -> (String, Option<PathBuf>) {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return (url.to_string(), None);
    };
    let mut rootcert = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (key, value) {
            ("sslrootcert", "system") => {}
            ("sslrootcert", path) => {
                let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
                rootcert = Some(PathBuf::from(path.into_owned()));
            }
            ("sslmode", "verify-full" | "verify-ca") => kept.push("sslmode=require"),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, rootcert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_tls_parameters_are_translated() {
        assert_eq!(
            take_libpq_tls_params("postgres://h/db"),
            ("postgres://h/db".to_string(), None)
        );
        assert_eq!(
            take_libpq_tls_params(
                "postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20x.pem&application_name=a"
            ),
            (
                "postgres://u:p@h/db?sslmode=require&application_name=a".to_string(),
                Some(PathBuf::from("/etc/ca x.pem"))
            )
        );
        assert_eq!(
            take_libpq_tls_params("postgres://h/db?sslrootcert=system&sslmode=verify-ca"),
            ("postgres://h/db?sslmode=require".to_string(), None)
        );
        assert_eq!(
            take_libpq_tls_params("postgres://h/db?sslrootcert=/ca.pem"),
            (
                "postgres://h/db".to_string(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
    }

    #[test]
    fn a_bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = RustlsConnect::new(&[&missing]).err().unwrap().to_string();
        assert!(
            err.contains("missing.pem") && err.contains("No such file"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = RustlsConnect::new(&[&empty]).err().unwrap().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = RustlsConnect::new(&[&garbage]).err().unwrap().to_string();
        assert!(err.contains("garbage.pem"), "{err}");
        assert!(RustlsConnect::new(&[]).is_ok());
    }
}
