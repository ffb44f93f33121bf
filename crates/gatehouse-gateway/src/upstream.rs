//! The data plane's own HTTP/1.1 client, for what most proxied requests are: no request body,
//! a plain-http upstream. Each data-plane thread keeps its idle keep-alive connections in a
//! thread-local pool, and a request writes its head and reads the response on its own task:
//! no connection task, no channel between the two, no lock, no pool key hashing. Everything
//! else (bodies, https, threads without a pool) goes through the pooled hyper client
//! (`client.rs`), which this mirrors: the same request on the wire (origin-form target, `Host`
//! from the URI, headers as given), the same response framing (RFC 9112 §6.3).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri, Version};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes a response head may take (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The most header lines a response may have, as hyper allows.
const MAX_HEADERS: usize = 100;
/// The most bytes of a chunk-size line or of the trailers of a chunked body.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 64 * 1024;
/// How long a connection may wait idle in the pool (as the hyper client's pool).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream, and upstreams per thread.
const MAX_IDLE_PER_UPSTREAM: usize = 256;
const MAX_UPSTREAMS: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 16 * 1024;

/// Why a request through this client failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to {0}: {1}")]
    Connect(String, io::Error),
    #[error("connecting to {0}: timed out")]
    ConnectTimeout(String),
    #[error("upstream i/o: {0}")]
    Io(#[from] io::Error),
    /// Nothing of a response came: the connection was closed or broke first.
    #[error("the upstream closed the connection before responding{}", .0.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Closed(Option<io::Error>),
    #[error("malformed response from the upstream: {0}")]
    Malformed(&'static str),
}

/// One keep-alive connection and the bytes read from it but not yet used.
struct Conn {
    io: TcpStream,
    buf: BytesMut,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
struct Pool {
    /// Upstream authority -> its idle connections, most recently used last. A handful of
    /// upstreams per thread: a scan of short strings beats hashing them.
    upstreams: Vec<(Box<str>, Vec<Idle>)>,
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

/// Makes this client available on the calling thread (a data-plane thread, whose runtime runs
/// every task that touches its connections). Threads without it use the hyper client.
pub fn enable_on_this_thread() {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            *p = Some(Pool::default());
        }
    });
}

fn enabled() -> bool {
    POOL.with(|p| p.borrow().is_some())
}

/// Whether a request can take this path: an `http` URI and no body to send.
pub fn can_send(uri: &Uri, has_body: bool) -> bool {
    !has_body && uri.scheme() == Some(&http::uri::Scheme::HTTP) && enabled()
}

/// Closes connections idle for longer than the idle timeout; each data-plane thread calls it
/// periodically (a connection taken from the pool is checked for its age as well).
pub fn sweep() {
    let now = Instant::now();
    POOL.with(|p| {
        if let Some(pool) = p.borrow_mut().as_mut() {
            pool.sweep(now);
        }
    });
}

impl Pool {
    fn sweep(&mut self, now: Instant) {
        for (_, idle) in &mut self.upstreams {
            idle.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT);
        }
        self.upstreams.retain(|(_, idle)| !idle.is_empty());
    }

    fn take(&mut self, authority: &str, now: Instant) -> Option<Conn> {
        let (_, idle) = self.upstreams.iter_mut().find(|(a, _)| &**a == authority)?;
        while let Some(i) = idle.pop() {
            if now.duration_since(i.since) < IDLE_TIMEOUT && looks_open(&i.conn.io) {
                return Some(i.conn);
            }
        }
        None
    }

    fn put(&mut self, authority: &str, conn: Conn, now: Instant) {
        let idle = Idle { conn, since: now };
        if let Some((_, list)) = self.upstreams.iter_mut().find(|(a, _)| &**a == authority) {
            if list.len() < MAX_IDLE_PER_UPSTREAM {
                list.push(idle);
            }
        } else if self.upstreams.len() < MAX_UPSTREAMS {
            self.upstreams.push((authority.into(), vec![idle]));
        }
    }
}

/// Whether an idle connection still looks usable, without a system call: the runtime marks a
/// socket readable when the upstream closes it (or sends what nobody asked for); either way it
/// is not reused. (A read that filled the buffer also leaves the mark: that connection is
/// dropped though it was fine, which costs a reconnect, never a wrong answer.)
fn looks_open(io: &TcpStream) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    io.poll_read_ready(&mut cx).is_pending()
}

fn checkout(authority: &str) -> Option<Conn> {
    let now = Instant::now();
    POOL.with(|p| p.borrow_mut().as_mut().and_then(|p| p.take(authority, now)))
}

/// Gives a connection back to the pool of the thread that opened it (else it is closed).
fn checkin(authority: &str, owner: ThreadId, conn: Conn) {
    if std::thread::current().id() != owner || !conn.buf.is_empty() {
        return;
    }
    let now = Instant::now();
    POOL.with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if let Some(p) = p.as_mut() {
                p.put(authority, conn, now);
            }
        }
    });
}

async fn connect(uri: &Uri, authority: &str) -> Result<Conn, Error> {
    let host = uri.host().unwrap_or_default();
    // `[::1]` in a URI, `::1` to connect.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = uri.port_u16().unwrap_or(80);
    let io = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
        Err(_) => return Err(Error::ConnectTimeout(authority.to_string())),
        Ok(Err(e)) => return Err(Error::Connect(authority.to_string(), e)),
        Ok(Ok(io)) => io,
    };
    io.set_nodelay(true)?;
    Ok(Conn {
        io,
        buf: BytesMut::with_capacity(READ_CHUNK),
    })
}

/// The request head as the hyper client writes it: origin-form target, `Host` from the URI
/// (port only when not 80) unless the headers carry one, the headers in their order.
fn encode_head(method: &Method, uri: &Uri, headers: &HeaderMap) -> Vec<u8> {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut size = method.as_str().len() + target.len() + 16;
    for (n, v) in headers {
        size += n.as_str().len() + v.len() + 4;
    }
    let mut out = Vec::with_capacity(size + 64);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(uri.host().unwrap_or_default().as_bytes());
        if let Some(port) = uri.port_u16().filter(|p| *p != 80) {
            use std::io::Write as _;
            let _ = write!(out, ":{port}");
        }
        out.extend_from_slice(b"\r\n");
    }
    for (n, v) in headers {
        // Transfer-Encoding means a body, and this path sends none (as hyper drops it).
        if n == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(n.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// How the response body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes: the connection is not reused.
    Close,
}

struct Head {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    framing: Framing,
    /// Whether the connection may carry another request once the body is read.
    keep_alive: bool,
}

/// Parses one response head at the start of `buf`: `Ok(None)` when more bytes are needed,
/// else the head and its length.
fn parse_head(buf: &[u8], method: &Method) -> Result<Option<(Head, usize)>, Error> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::Malformed("too many headers")),
        Err(_) => return Err(Error::Malformed("not an HTTP/1.x response head")),
    };
    let code = resp.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| Error::Malformed("invalid status"))?;
    let version = if resp.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    let mut close = version == Version::HTTP_10;
    let mut keep_alive_10 = false;
    let mut chunked = None;
    let mut length: Option<u64> = None;
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Error::Malformed("invalid header name"))?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| Error::Malformed("invalid header"))?;
        if name == header::CONTENT_LENGTH {
            let n = parse_length(h.value).ok_or(Error::Malformed("invalid content-length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::Malformed("conflicting content-lengths"));
            }
            length = Some(n);
        } else if name == header::TRANSFER_ENCODING {
            // The last coding decides (RFC 9112 §6.3, item 4).
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == header::CONNECTION {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive_10 = true;
                }
            }
        }
        headers.append(name, value);
    }
    if version == Version::HTTP_10 && keep_alive_10 && length.is_some() {
        close = false;
    }
    // Transfer-Encoding overrides Content-Length; an intermediary removes the latter before
    // passing the message on (RFC 9112 §6.3, item 3).
    if chunked.is_some() && length.is_some() {
        headers.remove(header::CONTENT_LENGTH);
    }
    let framing = if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if let Some(chunked) = chunked {
        // Transfer-Encoding overrides Content-Length, and such a message ends the connection.
        if length.is_some() {
            close = true;
        }
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    let keep_alive = !close && framing != Framing::Close;
    Ok(Some((
        Head {
            status,
            version,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Reads more bytes into the connection's buffer; `Ok(0)` at the end of the stream.
async fn fill(conn: &mut Conn) -> io::Result<usize> {
    conn.buf.reserve(READ_CHUNK);
    conn.io.read_buf(&mut conn.buf).await
}

/// Reads the response head, past any interim (1xx) responses.
async fn read_head(conn: &mut Conn, method: &Method) -> Result<Head, Error> {
    // A pooled connection has nothing buffered (`checkin`): every byte read here is new.
    let mut got_any = false;
    loop {
        if !conn.buf.is_empty() {
            if let Some((head, len)) = parse_head(&conn.buf, method)? {
                conn.buf.advance(len);
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(Error::Malformed("unexpected 101 Switching Protocols"));
                }
                if head.status.is_informational() {
                    continue;
                }
                return Ok(head);
            }
            if conn.buf.len() > MAX_HEAD {
                return Err(Error::Malformed("response head too large"));
            }
        }
        match fill(conn).await {
            Ok(0) if !got_any => return Err(Error::Closed(None)),
            Ok(0) => return Err(Error::Malformed("response head cut short")),
            Ok(_) => got_any = true,
            Err(e) if !got_any => return Err(Error::Closed(Some(e))),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Methods a request may be sent again for when a kept-alive connection turns out closed
/// before any of the response came (RFC 9110 §9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Sends a request without a body to a plain-http upstream and returns the response once its
/// head is read; the body streams from the connection (which then goes back to the pool).
pub async fn send(method: Method, uri: Uri, headers: HeaderMap) -> Result<Response, Error> {
    let authority = uri.authority().map_or("", |a| a.as_str());
    let head_bytes = encode_head(&method, &uri, &headers);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut conn, reused) = match checkout(authority) {
            Some(c) => (c, true),
            None => (connect(&uri, authority).await?, false),
        };
        let outcome = match conn.io.write_all(&head_bytes).await {
            Ok(()) => read_head(&mut conn, &method).await,
            Err(e) => Err(Error::Closed(Some(e))),
        };
        let head = match outcome {
            Ok(head) => head,
            // A kept-alive connection the upstream closed meanwhile: nothing of a response
            // came, so an idempotent request goes again, once, on a new connection.
            Err(Error::Closed(_)) if reused && attempt == 1 && idempotent(&method) => {
                #[cfg(test)]
                tests::RETRIES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                continue;
            }
            Err(e) => return Err(e),
        };
        return Ok(respond(head, conn, authority));
    }
}

fn respond(head: Head, mut conn: Conn, authority: &str) -> Response {
    let owner = std::thread::current().id();
    let body = match head.framing {
        Framing::Empty => {
            if head.keep_alive {
                checkin(authority, owner, conn);
            }
            Body::empty()
        }
        // The whole body is already here (the usual small response): no streaming.
        Framing::Length(n) if conn.buf.len() as u64 >= n => {
            let body = conn.buf.split_to(n as usize).freeze();
            if head.keep_alive {
                checkin(authority, owner, conn);
            }
            Body::from(body)
        }
        framing => Body::new(UpstreamBody {
            conn: Some(conn),
            state: match framing {
                Framing::Length(n) => State::Length(n),
                Framing::Chunked => State::ChunkSize,
                _ => State::UntilClose,
            },
            keep_alive: head.keep_alive,
            authority: authority.into(),
            owner,
        }),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = head.status;
    *resp.version_mut() = head.version;
    *resp.headers_mut() = head.headers;
    resp
}

enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    Trailers,
    UntilClose,
    Done,
}

/// A response body read from the upstream connection as the client takes it.
struct UpstreamBody {
    conn: Option<Conn>,
    state: State,
    keep_alive: bool,
    authority: Box<str>,
    owner: ThreadId,
}

impl UpstreamBody {
    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(conn) = self.conn.take() {
            if self.keep_alive {
                checkin(&self.authority, self.owner, conn);
            }
        }
    }

    /// The next step of decoding from what is buffered: `Ok(Some(data))` yields data,
    /// `Ok(None)` needs more bytes (or the body just finished: see `state`).
    fn decode(&mut self) -> Result<Option<Bytes>, Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(None);
        };
        let buf = &mut conn.buf;
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Length(0) => {
                    self.finish();
                    return Ok(None);
                }
                State::Length(n) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = (buf.len() as u64).min(n) as usize;
                    self.state = State::Length(n - take as u64);
                    let data = buf.split_to(take).freeze();
                    if n == take as u64 {
                        self.finish();
                    }
                    return Ok(Some(data));
                }
                State::UntilClose => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(buf.split().freeze()));
                }
                State::ChunkSize => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((len, 0))) => {
                        buf.advance(len);
                        self.state = State::Trailers;
                    }
                    Ok(httparse::Status::Complete((len, size))) => {
                        buf.advance(len);
                        self.state = State::ChunkData(size);
                    }
                    Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => {
                        return Err(Error::Malformed("chunk size line too long"));
                    }
                    Ok(httparse::Status::Partial) => return Ok(None),
                    Err(_) => return Err(Error::Malformed("invalid chunk size")),
                },
                State::ChunkData(n) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = (buf.len() as u64).min(n) as usize;
                    let data = buf.split_to(take).freeze();
                    self.state = if n == take as u64 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(n - take as u64)
                    };
                    return Ok(Some(data));
                }
                State::ChunkEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Error::Malformed("chunk not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                }
                // Trailer fields are read and dropped: the client asked for none (`TE`).
                State::Trailers => {
                    if buf.starts_with(b"\r\n") {
                        buf.advance(2);
                        self.finish();
                        return Ok(None);
                    }
                    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        Some(end) => {
                            buf.advance(end + 4);
                            self.finish();
                            return Ok(None);
                        }
                        None if buf.len() > MAX_TRAILERS => {
                            return Err(Error::Malformed("trailers too large"));
                        }
                        None => return Ok(None),
                    }
                }
            }
        }
    }
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        loop {
            match this.decode() {
                Err(e) => {
                    this.state = State::Done;
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(None) => {}
            }
            if matches!(this.state, State::Done) {
                return Poll::Ready(None);
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            conn.buf.reserve(READ_CHUNK);
            let read = tokio_util::io::poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.buf);
            match read {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    this.state = State::Done;
                    this.conn = None;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
                Poll::Ready(Ok(0)) => {
                    let done = matches!(this.state, State::UntilClose);
                    this.state = State::Done;
                    this.conn = None;
                    return Poll::Ready(if done {
                        None
                    } else {
                        Some(Err(Error::Malformed("body cut short")))
                    });
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::net::TcpListener;

    pub(super) static RETRIES: AtomicUsize = AtomicUsize::new(0);

    /// A raw upstream: answers the n-th request of every connection with `responses[n]` (the
    /// last one again once they run out), closes after it when `close_after` says so, and
    /// records each request head.
    struct Upstream {
        uri: String,
        connections: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<String>>>,
    }

    async fn upstream(responses: Vec<&'static [u8]>, close_after: bool) -> Upstream {
        upstream_with(responses, close_after, false).await
    }

    /// `trickle`: each response is written a few bytes at a time, so heads, chunk-size lines
    /// and bodies arrive split at every possible place.
    async fn upstream_with(
        responses: Vec<&'static [u8]>,
        close_after: bool,
        trickle: bool,
    ) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
        tokio::spawn(async move {
            loop {
                let (mut io, _) = listener.accept().await.unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                let (r, responses) = (Arc::clone(&r), responses.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut n = 0;
                    loop {
                        let mut chunk = [0u8; 4096];
                        let Ok(got) = io.read(&mut chunk).await else {
                            return;
                        };
                        if got == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..got]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = buf.drain(..end + 4).collect();
                            r.lock().unwrap().push(String::from_utf8(head).unwrap());
                            let resp = responses[n.min(responses.len() - 1)];
                            n += 1;
                            if trickle {
                                io.set_nodelay(true).unwrap();
                                for piece in resp.chunks(3) {
                                    io.write_all(piece).await.unwrap();
                                    tokio::time::sleep(Duration::from_micros(200)).await;
                                }
                            } else {
                                io.write_all(resp).await.unwrap();
                            }
                            if close_after {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Upstream {
            uri,
            connections,
            requests,
        }
    }

    async fn get(uri: &str, method: Method) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let uri: Uri = format!("{uri}/p?q=1").parse().unwrap();
        let resp = send(method, uri, HeaderMap::new())
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?;
        Ok((parts.status, parts.headers, body.to_bytes()))
    }

    fn runtime() -> tokio::runtime::Runtime {
        enable_on_this_thread();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn keeps_connections_alive_and_writes_the_head_as_hyper_does() {
        runtime().block_on(async {
            let up = upstream(
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello"],
                false,
            )
            .await;
            for _ in 0..3 {
                let (status, headers, body) = get(&up.uri, Method::GET).await.unwrap();
                assert_eq!(status, 200);
                assert_eq!(headers["x-a"], "1");
                assert_eq!(&body[..], b"hello");
            }
            assert_eq!(up.connections.load(Ordering::SeqCst), 1);
            let mut headers = HeaderMap::new();
            headers.insert("x-b", HeaderValue::from_static("2"));
            headers.insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
            let uri: Uri = format!("{}/a%20b?x=1&y", up.uri).parse().unwrap();
            send(Method::DELETE, uri, headers).await.unwrap();
            let requests = up.requests.lock().unwrap();
            let port = up.uri.rsplit(':').next().unwrap();
            assert_eq!(
                requests[0],
                format!("GET /p?q=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n")
            );
            assert_eq!(
                requests[3],
                format!("DELETE /a%20b?x=1&y HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nx-b: 2\r\n\r\n")
            );
        });
    }

    #[test]
    fn decodes_chunked_bodies_and_drops_trailers() {
        runtime().block_on(async {
            let up = upstream(
                vec![b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n"],
                false,
            )
            .await;
            for _ in 0..2 {
                let (status, headers, body) = get(&up.uri, Method::GET).await.unwrap();
                assert_eq!(status, 201);
                assert_eq!(&body[..], b"hello, world");
                assert!(headers.contains_key(header::TRANSFER_ENCODING));
            }
            assert_eq!(up.connections.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn transfer_encoding_overrides_content_length_and_ends_the_connection() {
        runtime().block_on(async {
            let up = upstream(
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
                false,
            )
            .await;
            for _ in 0..2 {
                let (_, headers, body) = get(&up.uri, Method::GET).await.unwrap();
                assert_eq!(&body[..], b"hello");
                assert!(!headers.contains_key(header::CONTENT_LENGTH));
            }
            assert_eq!(up.connections.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn responses_arriving_a_few_bytes_at_a_time() {
        runtime().block_on(async {
            let up = upstream_with(
                vec![
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-a: 1\r\n\r\n10\r\n0123456789abcdef\r\n3\r\nxyz\r\n0\r\n\r\n",
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world",
                ],
                false,
                true,
            )
            .await;
            let (_, headers, body) = get(&up.uri, Method::GET).await.unwrap();
            assert_eq!(headers["x-a"], "1");
            assert_eq!(&body[..], b"0123456789abcdefxyz");
            let (_, _, body) = get(&up.uri, Method::GET).await.unwrap();
            assert_eq!(&body[..], b"hello world");
            assert_eq!(up.connections.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn reads_to_the_close_when_the_length_is_not_given() {
        runtime().block_on(async {
            let up = upstream(vec![b"HTTP/1.1 200 OK\r\n\r\nuntil the end"], true).await;
            for _ in 0..2 {
                let (_, _, body) = get(&up.uri, Method::GET).await.unwrap();
                assert_eq!(&body[..], b"until the end");
            }
            assert_eq!(up.connections.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn head_204_304_and_interim_responses_have_no_body() {
        runtime().block_on(async {
            let up = upstream(
                vec![
                    b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
                    b"HTTP/1.1 204 No Content\r\n\r\n",
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                ],
                false,
            )
            .await;
            let (s, h, b) = get(&up.uri, Method::HEAD).await.unwrap();
            assert_eq!((s, h[header::CONTENT_LENGTH].as_bytes(), &b[..]), (StatusCode::OK, &b"1000"[..], &b""[..]));
            let (s, _, b) = get(&up.uri, Method::GET).await.unwrap();
            assert_eq!((s, &b[..]), (StatusCode::NO_CONTENT, &b""[..]));
            let (s, _, b) = get(&up.uri, Method::GET).await.unwrap();
            assert_eq!((s, &b[..]), (StatusCode::NOT_MODIFIED, &b""[..]));
            let (s, _, b) = get(&up.uri, Method::GET).await.unwrap();
            assert_eq!((s, &b[..]), (StatusCode::OK, &b"ok"[..]));
            assert_eq!(up.connections.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn a_connection_the_upstream_closed_is_not_used_again() {
        runtime().block_on(async {
            // Content-Length and keep-alive, but the upstream hangs up after each answer.
            let up = upstream(
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
                true,
            )
            .await;
            for _ in 0..5 {
                let (_, _, b) = get(&up.uri, Method::GET).await.unwrap();
                assert_eq!(&b[..], b"ok");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Seen closed while idle (no request lost, none retried into a dead socket).
            assert_eq!(up.connections.load(Ordering::SeqCst), 5);
            assert_eq!(up.requests.lock().unwrap().len(), 5);
            // Closed too soon to be seen: an idempotent request goes again, once.
            for _ in 0..5 {
                let (_, _, b) = get(&up.uri, Method::GET).await.unwrap();
                assert_eq!(&b[..], b"ok");
            }
        });
    }

    #[test]
    fn a_request_on_a_connection_found_closed_goes_again_once() {
        runtime().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(addr).await.unwrap();
            let (server_side, _) = listener.accept().await.unwrap();
            // Closed by the upstream, and no turn of the runtime since: it looks open.
            drop(server_side);
            let authority = addr.to_string();
            let conn = Conn {
                io: client,
                buf: BytesMut::new(),
            };
            checkin(&authority, std::thread::current().id(), conn);
            tokio::spawn(async move {
                let (mut io, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = io.read(&mut buf).await.unwrap();
                io.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            });
            let before = RETRIES.load(Ordering::SeqCst);
            let (_, _, body) = get(&format!("http://{authority}"), Method::GET)
                .await
                .unwrap();
            assert_eq!(&body[..], b"ok");
            assert_eq!(RETRIES.load(Ordering::SeqCst), before + 1);
            // Not for a method that is not idempotent: that is an error (never sent twice).
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(addr).await.unwrap();
            drop(listener.accept().await.unwrap());
            checkin(
                &addr.to_string(),
                std::thread::current().id(),
                Conn {
                    io: client,
                    buf: BytesMut::new(),
                },
            );
            let err = get(&format!("http://{addr}"), Method::POST)
                .await
                .unwrap_err();
            assert!(
                err.contains("closed the connection before responding"),
                "{err}"
            );
        });
    }

    #[test]
    fn malformed_responses_are_errors_not_guesses() {
        runtime().block_on(async {
            let cases: [(&'static [u8], &str); 6] = [
                (b"SMTP ready\r\n\r\n", "not an HTTP/1.x response head"),
                (
                    b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nxx",
                    "conflicting",
                ),
                (
                    b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
                    "invalid content-length",
                ),
                (
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                    "invalid chunk size",
                ),
                (
                    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
                    "cut short",
                ),
                (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
            ];
            for (response, want) in cases {
                let up = upstream(vec![response], true).await;
                let err = get(&up.uri, Method::POST).await.unwrap_err();
                assert!(err.contains(want), "{err:?} should say {want:?}");
            }
            static HUGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let huge = HUGE.get_or_init(|| {
                let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..3000 {
                    h.extend_from_slice(format!("x-{i}: {}\r\n", "v".repeat(20)).as_bytes());
                }
                h
            });
            let up = upstream(vec![huge.as_slice()], false).await;
            let err = get(&up.uri, Method::GET).await.unwrap_err();
            assert!(
                err.contains("too many headers") || err.contains("too large"),
                "{err}"
            );
        });
    }

    #[test]
    fn refused_connections_are_errors() {
        runtime().block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let uri = format!("http://{}", listener.local_addr().unwrap());
            drop(listener);
            let err = get(&uri, Method::GET).await.unwrap_err();
            assert!(err.starts_with("connecting to 127.0.0.1:"), "{err}");
        });
    }
}
