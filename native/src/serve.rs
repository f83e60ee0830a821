//! `sgdlab serve`: the browser lab (`web/dist`, built by `web/build.sh`) on
//! `http://127.0.0.1:PORT/`, for whoever has no other static server at hand.
//!
//! A small static file server: loopback only, GET and HEAD, one thread per connection (at most
//! [`MAX_CONNECTIONS`] at once; more are answered 503 and closed), one request per connection
//! with a deadline for the whole request head ([`REQUEST_DEADLINE`]: a client dripping a byte
//! every few seconds is cut off) and one for the whole response ([`RESPONSE_DEADLINE`]: a
//! client that reads a few bytes and stalls is cut off too), no directory listings. Files are
//! streamed [`CHUNK_BYTES`] at a time, never read whole, so a connection holds one chunk
//! whatever the file's size: at most [`MAX_CONNECTIONS`] × [`CHUNK_BYTES`] (32 MiB) in all.
//! Paths that climb out of the served directory (`..`, encoded or not, or a symlink pointing
//! outside) are refused with 403. The `Host` (and, when sent, `Origin`) must name the loopback
//! address served (`127.0.0.1:PORT` or `localhost:PORT`; on port 80 also without the port, the
//! scheme's default that browsers and curl leave out), so a web page that rebinds its own DNS
//! name to 127.0.0.1 cannot read the files. Running out of file handles backs off instead of
//! spinning, with one log line per episode.
//!
//! `web/build.sh` writes pre-compressed twins beside the files (`x.wasm.br`, `x.wasm.gz`); a
//! request whose `Accept-Encoding` takes brotli or gzip gets the twin with `Content-Encoding`
//! (brotli first: smaller), everyone else the file itself; `Vary: Accept-Encoding` either way.
//!
//! Written on `std::net` rather than a server framework (axum, tower-http): the needs are a
//! few hundred lines, the browser tests cover them, and a framework would add an async runtime
//! and minutes to every cold build.

use crate::Failure;
use crate::say::{say, say_err};
use anyhow::{Context, anyhow};
use clap::Args;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `sgdlab serve`.
#[derive(Args, Debug)]
#[command(
    after_help = "Limits: one request per connection; its head must arrive within 10 s \
                        and the whole response be read within 60 s (a slower client is cut \
                        off); at most 512 connections at once (more are answered 503); files \
                        are streamed in 64 KiB pieces."
)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 takes any free port; the URL is printed either way).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The directory to serve: the output of `web/build.sh`.
    #[arg(long, default_value = "web/dist")]
    dir: PathBuf,
    /// Seconds a client has to read a whole response (for tests; 60 by default).
    #[arg(long, hide = true, value_name = "SECS", default_value_t = RESPONSE_DEADLINE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    response_deadline: u64,
}

/// The longest request head read (request line and headers); longer ones get 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long a client has to send its whole request head.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long a client has to read a whole response, from the end of its request: a 30 MB
/// `.wasm` takes well under a second on loopback; a client that stalls holds its connection
/// (one of [`MAX_CONNECTIONS`]) no longer than this.
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(60);
/// Connections served at once; more are answered 503.
pub const MAX_CONNECTIONS: usize = 512;
/// The piece of a file read and written at a time: a connection's whole buffer.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Serves `args.dir` until the process is stopped.
pub fn serve(args: ServeArgs) -> Result<(), Failure> {
    let root = site_root(&args.dir).map_err(Failure::BadInput)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, args.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))
        .map_err(Failure::BadInput)?;
    let addr = listener
        .local_addr()
        .context("the listening socket has no address")
        .map_err(Failure::Other)?;
    // The URL line is what scripts and tests wait for: `say!` flushes it at once, and a stdout
    // that cannot take it ends the command (exit 1) rather than serving unannounced.
    say!(
        "serving {} on http://{addr}/ (Ctrl-C stops)",
        root.display()
    )?;
    let response_deadline = Duration::from_secs(args.response_deadline);
    let active = Arc::new(AtomicUsize::new(0));
    let mut backoff = Duration::ZERO;
    for stream in listener.incoming() {
        match stream {
            Ok(mut stream) => {
                backoff = Duration::ZERO;
                if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    refuse_busy(&mut stream);
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let guard = ActiveGuard(active.clone());
                let root = root.clone();
                let spawned = std::thread::Builder::new()
                    .name("sgdlab-serve".into())
                    .spawn(move || {
                        let _guard = guard;
                        if let Err(e) = handle(stream, &root, addr, response_deadline) {
                            say_err!("serve: {e:#}");
                        }
                    });
                if let Err(e) = spawned {
                    say_err!("serve: cannot start a connection thread: {e}");
                }
            }
            Err(e) => {
                // Out of file handles (EMFILE, ENFILE) or other transient trouble: wait and
                // retry instead of spinning on accept, and say so once per episode.
                if backoff.is_zero() {
                    say_err!("serve: accepting connections failed ({e}); backing off");
                }
                backoff = (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
                std::thread::sleep(backoff);
            }
        }
    }
    Ok(())
}

/// Decrements the count of active connections when a connection's thread ends.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers 503 to a connection over the limit, without waiting on it.
fn refuse_busy(stream: &mut TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let body = "503 Service Unavailable: too many connections\n";
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// The canonical directory to serve, or why it cannot be served.
fn site_root(dir: &Path) -> anyhow::Result<PathBuf> {
    let hint = "build the browser lab first with `web/build.sh` (from the repository root), \
                or pass --dir with the directory it wrote";
    let root = dir
        .canonicalize()
        .map_err(|e| anyhow!("{} not found ({e}): {hint}", dir.display()))?;
    if !root.join("index.html").is_file() {
        return Err(anyhow!("{} has no index.html: {hint}", dir.display()));
    }
    Ok(root)
}

/// One response: status, content type, content encoding (a pre-compressed twin) and body.
struct Response {
    status: u16,
    content_type: &'static str,
    encoding: Option<&'static str>,
    body: Body,
}

/// A response body: a short message, or a file streamed [`CHUNK_BYTES`] at a time.
enum Body {
    /// A status message (a few dozen bytes).
    Text(Vec<u8>),
    /// An open file and its length when opened (what `Content-Length` says).
    File(File, u64),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Text(t) => t.len() as u64,
            Body::File(_, len) => *len,
        }
    }
}

impl Response {
    fn text(status: u16, message: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            encoding: None,
            body: Body::Text(format!("{status} {}: {message}\n", reason(status)).into_bytes()),
        }
    }
}

/// The encodings of the pre-compressed twins, best first: `Content-Encoding` and file suffix.
const TWINS: [(&str, &str); 2] = [("br", "br"), ("gzip", "gz")];

/// The codings an `Accept-Encoding` value takes (`q=0` refuses one; `*` takes any).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut star = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if name.eq_ignore_ascii_case(coding) {
            return !refused;
        }
        star |= name == "*" && !refused;
    }
    star
}

/// The twin of `file` to send for `accept_encoding` (its path and coding), if one exists under
/// `root` (a twin that is a symlink out of `root` is not sent, as [`resolve`] refuses files).
fn twin(
    root: &Path,
    file: &Path,
    accept_encoding: Option<&str>,
) -> Option<(PathBuf, &'static str)> {
    let accept = accept_encoding?;
    TWINS.iter().find_map(|&(coding, suffix)| {
        let mut name = file.file_name()?.to_os_string();
        name.push(format!(".{suffix}"));
        let path = file.with_file_name(name).canonicalize().ok()?;
        (accepts(accept, coding) && path.starts_with(root) && path.is_file())
            .then_some((path, coding))
    })
}

/// Reads one request from `stream` and answers it; the answer must be read within
/// `response_deadline` of the request, or the connection is closed.
fn handle(
    mut stream: TcpStream,
    root: &Path,
    served: SocketAddr,
    response_deadline: Duration,
) -> anyhow::Result<()> {
    let (response, head_only) = match read_head(&mut stream)? {
        Some(head) => match check_host(&head, served) {
            Ok(()) => respond(&head, root),
            Err(why) => (Response::text(403, &why), false),
        },
        None => (
            Response::text(431, "request head too large or incomplete"),
            false,
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    if response.status == 200 {
        out.push_str("Vary: Accept-Encoding\r\n");
    }
    if let Some(coding) = response.encoding {
        out.push_str(&format!("Content-Encoding: {coding}\r\n"));
    }
    if response.status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let deadline = Instant::now() + response_deadline;
    write_by(&mut stream, out.as_bytes(), deadline)?;
    if !head_only {
        match response.body {
            Body::Text(text) => write_by(&mut stream, &text, deadline)?,
            Body::File(file, len) => stream_file(&mut stream, file, len, deadline)?,
        }
    }
    Ok(())
}

/// Copies `len` bytes of `file` to `stream`, [`CHUNK_BYTES`] at a time, by `deadline`.
fn stream_file(
    stream: &mut TcpStream,
    mut file: File,
    len: u64,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(CHUNK_BYTES, |l| l.min(CHUNK_BYTES));
        let n = match file.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the file being sent"),
        };
        if n == 0 {
            // The file shrank while being sent: the client sees a short body and the close.
            return Err(anyhow!("the file being sent shrank by {left} bytes"));
        }
        write_by(stream, &buf[..n], deadline)?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes all of `bytes` to `stream`, or fails once `deadline` passes (no single write blocks
/// past it): a client that stops reading is cut off at the deadline, not after it.
fn write_by(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> anyhow::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(anyhow!(
                "a client did not read its response within the deadline; connection closed"
            ));
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(anyhow!("the client closed the connection")),
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e).context("writing the response"),
        }
    }
    Ok(())
}

/// The request head (up to the blank line), or `None` when it is too long, cut off or not
/// complete within [`REQUEST_DEADLINE`].
fn read_head(stream: &mut TcpStream) -> anyhow::Result<Option<String>> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e).context("reading the request"),
        };
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

/// The value of header `name` in a request head (the first one; names are case-insensitive).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Checks that the request's `Host` (and `Origin`, when present) name the loopback address
/// served: `127.0.0.1:PORT` or `localhost:PORT`, and on port 80 also `127.0.0.1` or
/// `localhost` (browsers and curl leave the scheme's default port out of both headers).
fn check_host(head: &str, served: SocketAddr) -> Result<(), String> {
    let port = served.port();
    let mut allowed = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    if port == 80 {
        allowed.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
    }
    match header(head, "host") {
        Some(h) if allowed.iter().any(|a| a.eq_ignore_ascii_case(h)) => {}
        Some(h) => return Err(format!("Host `{h}` is not this server ({})", allowed[0])),
        None => return Err("no Host header".into()),
    }
    if let Some(o) = header(head, "origin") {
        let ok = allowed
            .iter()
            .any(|a| o.eq_ignore_ascii_case(&format!("http://{a}")));
        if !ok {
            return Err(format!("Origin `{o}` is not this server"));
        }
    }
    Ok(())
}

/// The response to a request head, and whether only the headers go out (HEAD).
fn respond(head: &str, root: &Path) -> (Response, bool) {
    let mut parts = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/") => (m, t),
        _ => return (Response::text(400, "malformed request line"), false),
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return (Response::text(405, "only GET and HEAD"), false);
    }
    let response = match resolve(root, target) {
        Ok(path) => {
            let (file, encoding) = match twin(root, &path, header(head, "accept-encoding")) {
                Some((twin, coding)) => (twin, Some(coding)),
                None => (path.clone(), None),
            };
            match File::open(&file).and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((len, f)) => Response {
                    status: 200,
                    content_type: mime_type(&path),
                    encoding,
                    body: Body::File(f, len),
                },
                Err(e) => Response::text(500, &format!("reading {target}: {e}")),
            }
        }
        Err(status) => Response::text(status, target),
    };
    (response, head_only)
}

/// The file a request target names inside `root`, or the status that refuses it: 400 for a
/// malformed target, 403 for one that leaves `root`, 404 for one that does not exist.
fn resolve(root: &Path, target: &str) -> Result<PathBuf, u16> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(400);
    }
    let decoded = percent_decode(path).ok_or(400u16)?;
    if decoded.contains(['\\', '\0']) {
        return Err(400);
    }
    let mut file = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(403),
            s => file.push(s),
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    let file = file.canonicalize().map_err(|_| 404u16)?;
    // A symlink inside root may point anywhere; only what really lies under root is served.
    if !file.starts_with(root) {
        return Err(403);
    }
    if !file.is_file() {
        return Err(404);
    }
    Ok(file)
}

/// `%XX`-decodes a URL path; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The Content-Type of a file, by extension (browsers insist on `application/wasm` for
/// streaming compilation and on a JavaScript type for modules).
fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json" | "map") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    }
}

/// The reason phrase of the statuses this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes a response's body sends.
    fn body(r: Response) -> Vec<u8> {
        match r.body {
            Body::Text(t) => t,
            Body::File(mut f, len) => {
                let mut v = Vec::new();
                f.read_to_end(&mut v).unwrap();
                assert_eq!(v.len() as u64, len);
                v
            }
        }
    }

    fn site() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a b.js"), "1").unwrap();
        let root = dir.path().canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn resolves_files_directories_and_escapes() {
        let (_dir, root) = site();
        assert_eq!(resolve(&root, "/"), Ok(root.join("index.html")));
        assert_eq!(
            resolve(&root, "/index.html?x=1#y"),
            Ok(root.join("index.html"))
        );
        assert_eq!(resolve(&root, "/sub/a%20b.js"), Ok(root.join("sub/a b.js")));
        assert_eq!(
            resolve(&root, "/./sub//a%20b.js"),
            Ok(root.join("sub/a b.js"))
        );
        assert_eq!(resolve(&root, "/missing.js"), Err(404));
        assert_eq!(resolve(&root, "/sub/"), Err(404)); // no index.html there, no listing
    }

    #[test]
    fn refuses_paths_out_of_the_root() {
        let (_dir, root) = site();
        for target in [
            "/../x",
            "/sub/../../x",
            "/%2e%2e/x",
            "/sub/%2E%2E/%2e%2e/x",
            "/..",
        ] {
            assert_eq!(resolve(&root, target), Err(403), "{target}");
        }
        for target in ["x", "/a%5c..%5cx", "/a%00", "/%zz", "/%e2%82"] {
            assert_eq!(resolve(&root, target), Err(400), "{target}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_symlink_out_of_the_root() {
        let (dir, root) = site();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        assert_eq!(resolve(&root, "/link"), Err(403));
    }

    #[cfg(unix)]
    #[test]
    fn a_twin_that_links_out_of_the_root_is_not_sent() {
        let (dir, root) = site();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.gz"), "s").unwrap();
        std::fs::write(dir.path().join("m.wasm"), "raw").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.gz"),
            dir.path().join("m.wasm.gz"),
        )
        .unwrap();
        let (r, _) = respond(
            "GET /m.wasm HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
            &root,
        );
        assert_eq!((r.status, r.encoding), (200, None));
        assert_eq!(body(r), b"raw");
    }

    #[test]
    fn names_the_types_browsers_need() {
        assert_eq!(mime_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(
            mime_type(Path::new("a.JS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            mime_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(mime_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn answers_methods_and_malformed_requests() {
        let (_dir, root) = site();
        let (r, head_only) = respond("HEAD / HTTP/1.1\r\n\r\n", &root);
        assert_eq!((r.status, head_only), (200, true));
        assert_eq!(respond("POST / HTTP/1.1\r\n\r\n", &root).0.status, 405);
        assert_eq!(respond("GET /\r\n\r\n", &root).0.status, 400);
        assert_eq!(respond("GET /nope HTTP/1.1\r\n\r\n", &root).0.status, 404);
    }

    #[test]
    fn only_the_served_loopback_host_and_origin_are_answered() {
        let served: SocketAddr = "127.0.0.1:8123".parse().unwrap();
        let req = |extra: &str| format!("GET / HTTP/1.1\r\n{extra}\r\n");
        assert_eq!(check_host(&req("Host: 127.0.0.1:8123\r\n"), served), Ok(()));
        assert_eq!(check_host(&req("host: LOCALHOST:8123\r\n"), served), Ok(()));
        assert!(check_host(&req("Host: evil.example:8123\r\n"), served).is_err());
        assert!(check_host(&req("Host: 127.0.0.1:9999\r\n"), served).is_err());
        assert!(check_host(&req(""), served).is_err());
        assert_eq!(
            check_host(
                &req("Host: 127.0.0.1:8123\r\nOrigin: http://127.0.0.1:8123\r\n"),
                served
            ),
            Ok(())
        );
        let e = check_host(
            &req("Host: 127.0.0.1:8123\r\nOrigin: http://evil.example\r\n"),
            served,
        )
        .unwrap_err();
        assert!(e.contains("evil.example"), "{e}");
    }

    #[test]
    fn on_port_80_the_host_without_a_port_is_answered_and_foreign_hosts_are_not() {
        let served: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let req = |extra: &str| format!("GET / HTTP/1.1\r\n{extra}\r\n");
        // What curl and browsers send for http://127.0.0.1/ and http://localhost/.
        for ok in [
            "Host: 127.0.0.1\r\n",
            "Host: localhost\r\n",
            "Host: 127.0.0.1:80\r\n",
            "Host: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\n",
            "Host: localhost\r\nOrigin: http://localhost:80\r\n",
        ] {
            assert_eq!(check_host(&req(ok), served), Ok(()), "{ok:?}");
        }
        // The DNS-rebinding guard stays: another name, another port, another origin.
        for refused in [
            "Host: evil.example\r\n",
            "Host: evil.example:80\r\n",
            "Host: 127.0.0.1:8080\r\n",
            "Host: 127.0.0.1\r\nOrigin: http://evil.example\r\n",
            "Host: 127.0.0.1\r\nOrigin: http://127.0.0.1:8080\r\n",
        ] {
            assert!(check_host(&req(refused), served).is_err(), "{refused:?}");
        }
        // On another port the port stays required.
        let other: SocketAddr = "127.0.0.1:8123".parse().unwrap();
        assert!(check_host(&req("Host: 127.0.0.1\r\n"), other).is_err());
        assert!(check_host(&req("Host: localhost\r\n"), other).is_err());
    }

    #[test]
    fn a_file_streams_in_chunks_and_a_stalled_reader_is_cut_off_at_the_deadline() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let _stalled = TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        // Far more than the socket buffers hold: the writes block once the client stops reading.
        let big = vec![7u8; 64 << 20];
        let started = Instant::now();
        let e = write_by(&mut server, &big, started + Duration::from_millis(500)).unwrap_err();
        let waited = started.elapsed();
        assert!(e.to_string().contains("deadline"), "{e:#}");
        assert!(
            (Duration::from_millis(450)..Duration::from_secs(5)).contains(&waited),
            "{waited:?}"
        );
        // A reader that keeps up gets the whole file, in order.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..3 * CHUNK_BYTES + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let f = File::open(&path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        stream_file(&mut server, f, data.len() as u64, deadline).unwrap();
        drop(server);
        assert_eq!(reader.join().unwrap(), data);
    }

    #[test]
    fn sends_the_precompressed_twin_the_browser_accepts() {
        let (dir, root) = site();
        std::fs::write(dir.path().join("m.wasm"), "raw").unwrap();
        std::fs::write(dir.path().join("m.wasm.gz"), "gz").unwrap();
        std::fs::write(dir.path().join("m.wasm.br"), "br").unwrap();
        let get = |accept: &str| {
            let (r, _) = respond(
                &format!("GET /m.wasm HTTP/1.1\r\nHost: x\r\n{accept}\r\n"),
                &root,
            );
            (
                r.encoding,
                r.content_type,
                String::from_utf8(body(r)).unwrap(),
            )
        };
        let wasm = "application/wasm";
        assert_eq!(
            get("Accept-Encoding: gzip, deflate, br, zstd\r\n"),
            (Some("br"), wasm, "br".into())
        );
        assert_eq!(
            get("accept-encoding: gzip\r\n"),
            (Some("gzip"), wasm, "gz".into())
        );
        assert_eq!(
            get("Accept-Encoding: br;q=0, gzip;q=0.5\r\n"),
            (Some("gzip"), wasm, "gz".into())
        );
        assert_eq!(get("Accept-Encoding: *\r\n").0, Some("br"));
        assert_eq!(
            get("Accept-Encoding: identity\r\n"),
            (None, wasm, "raw".into())
        );
        assert_eq!(get(""), (None, wasm, "raw".into()));
        // A file without twins goes out as it is, whatever the browser accepts.
        let (r, _) = respond(
            "GET /index.html HTTP/1.1\r\nAccept-Encoding: br, gzip\r\n\r\n",
            &root,
        );
        assert_eq!((r.status, r.encoding), (200, None));
    }

    #[test]
    fn a_directory_without_index_html_is_refused_with_the_build_hint() {
        let dir = tempfile::tempdir().unwrap();
        let e = site_root(dir.path()).unwrap_err().to_string();
        assert!(e.contains("web/build.sh"), "{e}");
        let e = site_root(&dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("web/build.sh") && e.contains("not found"), "{e}");
    }
}
