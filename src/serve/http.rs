//! A small HTTP/1.1 server on `std::net`: one accept thread, a fixed pool of workers fed
//! through a bounded queue, a deadline on every socket, and nothing else.
//!
//! - **Bounded**: [`Limits::workers`] threads serve requests; accepted connections wait in a
//!   queue of [`Limits::queue`]; beyond that a connection gets `503` at once from the accept
//!   thread (a few bytes into an empty socket buffer: it never blocks) and is closed. So a
//!   thousand clients cost a thousand sockets for a moment, never a thousand threads.
//! - **Deadlines**: a request head must arrive whole within [`Limits::head_timeout`] and fit
//!   in [`MAX_HEAD`] bytes (`431` otherwise); every read and write has a socket timeout, so a
//!   stuck client holds a worker for a few seconds at most.
//! - **One request per connection** (`Connection: close`): a browser tab that polls cannot
//!   pin a worker between its requests.
//! - `GET` and `HEAD` only (`405` otherwise); a request body is never read. The target is
//!   split into a path, matched exactly by the caller (nothing is decoded in it, so
//!   `/%2e%2e/` matches no route), and a query, percent-decoded into key–value pairs.
//! - Parsing is httparse's; a malformed head is `400`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most bytes of a request head (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;

/// How much the server takes on at once, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Worker threads.
    pub workers: usize,
    /// Accepted connections waiting for a worker.
    pub queue: usize,
    /// Time for a whole request head to arrive.
    pub head_timeout: Duration,
    /// Timeout of each write of a response.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 4,
            queue: 32,
            head_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// `GET` or `HEAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD: the same head as GET, no body.
    Head,
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path as sent (not decoded), e.g. `/api/now`.
    pub path: String,
    /// The query's pairs, percent-decoded, in order; or why it does not decode (a bad
    /// escape, not UTF-8), for the route to answer `400` in its own format.
    pub query: Result<Vec<(String, String)>, String>,
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// `Cache-Control`.
    pub cache: &'static str,
    /// Instead of this response, write an event-stream head and hand the connection to
    /// [`Handler::take_stream`] (server-sent events).
    pub stream: bool,
}

impl Response {
    /// A response with `no-store` caching.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
            cache: "no-store",
            stream: false,
        }
    }

    /// A server-sent events stream: the connection goes to [`Handler::take_stream`].
    pub fn event_stream() -> Response {
        Response {
            stream: true,
            ..Response::new(200, "text/event-stream", Vec::new())
        }
    }

    /// Plain text.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

/// Turns requests into responses; called on the worker threads.
pub trait Handler: Send + Sync {
    /// The response to `request`.
    fn handle(&self, request: &Request) -> Response;

    /// Takes the connection of a [`Response::event_stream`], its head written (the default
    /// closes it).
    fn take_stream(&self, _request: &Request, _stream: TcpStream) {}
}

/// Why a request head was refused, with its status.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Malformed (400), in words.
    Malformed(String),
    /// Not HTTP/1.x (400): the parser's error.
    Syntax(httparse::Error),
    /// The connection closed before a whole head (no answer).
    Closed,
    /// Too long (431).
    TooLong,
    /// Not GET or HEAD (405).
    Method(String),
}

impl HeadError {
    fn response(&self) -> Response {
        match self {
            HeadError::Malformed(why) => Response::text(400, format!("bad request: {why}")),
            HeadError::Syntax(e) => Response::text(400, format!("bad request: {e}")),
            HeadError::Closed => Response::text(400, "bad request: closed before a whole head"),
            HeadError::TooLong => Response::text(431, "request head too long"),
            HeadError::Method(m) => Response::text(
                405,
                format!("method {m:?} not allowed: this server is read-only (GET, HEAD)"),
            ),
        }
    }
}

/// Parses a complete request head; `Ok(None)` while it is incomplete.
pub fn parse_head(buf: &[u8]) -> Result<Option<Request>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLong),
        Err(e) => Err(HeadError::Syntax(e)),
        Ok(httparse::Status::Complete(_)) => {
            let method = match req.method.unwrap_or("") {
                "GET" => Method::Get,
                "HEAD" => Method::Head,
                m => return Err(HeadError::Method(m.chars().take(16).collect())),
            };
            let target = req.path.unwrap_or("");
            if !target.starts_with('/') {
                return Err(HeadError::Malformed(
                    "the target must be a path starting with /".into(),
                ));
            }
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            Ok(Some(Request {
                method,
                path: path.to_owned(),
                query: parse_query(query),
            }))
        }
    }
}

/// Splits a query string into percent-decoded pairs (`+` is a space).
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!("bad percent-escape in the query at {:?}", cut(&s[i..]))
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the query is not UTF-8 once decoded".to_owned())
}

/// At most 16 characters of `s`, for messages.
fn cut(s: &str) -> String {
    s.chars().take(16).collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Writes `r` (without its body for HEAD) and closes the connection.
fn respond(stream: &mut TcpStream, r: &Response, head_only: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: {}\r\n\
         Connection: close\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len(),
        r.cache,
    );
    if r.status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&r.body);
    }
    stream.write_all(&bytes)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Reads one request head by `deadline` (the head timeout counted from the connection's
/// accept, so that idle connections waiting in the queue cannot hold the workers for longer).
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Request, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Malformed(
                "request head not received in time".into(),
            ));
        }
        // A zero timeout would mean "none".
        let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                return Err(HeadError::Malformed(
                    "request head not received in time".into(),
                ))
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(r) = parse_head(&buf)? {
            return Ok(r);
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLong);
        }
    }
}

fn serve_one(mut stream: TcpStream, accepted: Instant, handler: &dyn Handler, limits: &Limits) {
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let _ = stream.set_nodelay(true);
    // A connection that waited in the queue past its deadline still gets a short read: its
    // head may be there already (an idle one then costs the grace, not the whole timeout).
    let deadline = (accepted + limits.head_timeout).max(Instant::now() + HEAD_GRACE);
    match read_head(&mut stream, deadline) {
        Ok(req) => {
            // A panic in a handler is a bug: it answers 500 and the worker lives on.
            let resp =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(&req)))
                    .unwrap_or_else(|_| {
                        Response::text(500, "internal error (a bug: please report it)")
                    });
            if resp.stream && req.method == Method::Get {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n";
                if stream.write_all(head.as_bytes()).is_ok() {
                    // As for handle: a panic (a bug) drops this stream, the worker lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        handler.take_stream(&req, stream);
                    }));
                }
                return;
            }
            let _ = respond(&mut stream, &resp, req.method == Method::Head);
        }
        Err(HeadError::Closed) => {}
        Err(e) => {
            let _ = respond(&mut stream, &e.response(), false);
        }
    }
}

/// A running server: its threads stop when it is dropped.
pub struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Running {
    /// The address it listens on (with the port chosen when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread up, blocked in accept().
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(500));
        // Only the accept thread is waited for (it stops at once). The workers end when the
        // queue is closed, once their current request is done; nobody waits for them, so a
        // slow client never delays the recorder's exit.
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// The least time a connection taken off the queue has to send its head.
const HEAD_GRACE: Duration = Duration::from_millis(100);

/// A connection and when it was accepted.
type Accepted = (TcpStream, Instant);

/// The accepted connections waiting for a worker: a queue under a lock, and a condition
/// variable that wakes one idle worker a connection (a receiver shared under a mutex would
/// wake a second worker to wait in its place at every connection: a wake-up more a request,
/// which is most of what an idle recorder's page costs).
struct Queue {
    state: Mutex<(VecDeque<Accepted>, bool)>,
    ready: Condvar,
    cap: usize,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<Accepted>, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a connection, or hands it back when [`Queue::cap`] are waiting.
    fn push(&self, conn: Accepted) -> Result<(), Accepted> {
        let mut s = self.lock();
        if s.0.len() >= self.cap {
            return Err(conn);
        }
        s.0.push_back(conn);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next connection; `None` once the queue is closed and empty.
    fn pop(&self) -> Option<Accepted> {
        let mut s = self.lock();
        loop {
            if let Some(c) = s.0.pop_front() {
                return Some(c);
            }
            if s.1 {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// No more connections: the workers end once the queue is empty.
    fn close(&self) {
        self.lock().1 = true;
        self.ready.notify_all();
    }
}

/// Serves `listener` with `handler` on its own threads until the [`Running`] is dropped.
pub fn start(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    limits: Limits,
) -> io::Result<Running> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let queue = Arc::new(Queue {
        state: Mutex::new((VecDeque::new(), false)),
        ready: Condvar::new(),
        cap: limits.queue.max(1),
    });
    for i in 0..limits.workers.max(1) {
        let queue = Arc::clone(&queue);
        let handler = Arc::clone(&handler);
        std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || {
                while let Some((stream, accepted)) = queue.pop() {
                    serve_one(stream, accepted, &*handler, &limits);
                }
            })?;
    }
    let stop_accept = Arc::clone(&stop);
    let accept = std::thread::Builder::new()
        .name("http-accept".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            accept_loop(listener, &queue, &stop_accept);
            queue.close();
        })?;
    Ok(Running {
        addr,
        stop,
        accept: Some(accept),
    })
}

fn accept_loop(listener: TcpListener, queue: &Queue, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(stream) => {
                if let Err((mut stream, _)) = queue.push((stream, Instant::now())) {
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                    let busy = Response::text(503, "busy: too many requests at once, try again");
                    let _ = respond(&mut stream, &busy, false);
                }
            }
            // Out of descriptors, a connection reset before accept: wait a little.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let get = |q: &[(&str, &str)]| {
            Ok(Some(Request {
                method: Method::Get,
                path: "/api/periods".into(),
                query: Ok(q
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()),
            }))
        };
        type Case<'a> = (&'a [u8], Result<Option<Request>, HeadError>);
        let cases: Vec<Case<'_>> = vec![
            (b"GET /api/periods HTTP/1.1\r\nHost: x\r\n\r\n", get(&[])),
            (
                b"GET /api/periods?period=day&from=2026-01-01&x=a+b%2Fc HTTP/1.1\r\n\r\n",
                get(&[("period", "day"), ("from", "2026-01-01"), ("x", "a b/c")]),
            ),
            (b"GET /api/periods HTTP/1.1\r\nHost: x\r\n", Ok(None)),
            (
                b"GET /api/periods?x=%zz HTTP/1.1\r\n\r\n",
                Ok(Some(Request {
                    method: Method::Get,
                    path: "/api/periods".into(),
                    query: Err("bad percent-escape in the query at \"%zz\"".into()),
                })),
            ),
            (
                b"GET /api/periods?x=%ff HTTP/1.1\r\n\r\n",
                Ok(Some(Request {
                    method: Method::Get,
                    path: "/api/periods".into(),
                    query: Err("the query is not UTF-8 once decoded".into()),
                })),
            ),
            (
                b"POST /api/now HTTP/1.1\r\n\r\n",
                Err(HeadError::Method("POST".into())),
            ),
            (
                b"GET http://evil/ HTTP/1.1\r\n\r\n",
                Err(HeadError::Malformed(
                    "the target must be a path starting with /".into(),
                )),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_head(raw), want, "{}", String::from_utf8_lossy(raw));
        }
        assert!(matches!(
            parse_head(b"\x00\x01garbage\r\n\r\n"),
            Err(HeadError::Syntax(_))
        ));
        let h = parse_head(b"HEAD /%2e%2e/etc/passwd HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.method, h.path.as_str()),
            (Method::Head, "/%2e%2e/etc/passwd")
        );
    }
}
