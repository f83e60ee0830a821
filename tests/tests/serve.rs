//! `sgdlab serve` end to end: it serves a directory on a free loopback port with the right types,
//! answers 404 and 403 where it should, and refuses a directory that is not a built lab.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{sgdlab, sgdlab_bin, stderr};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `sgdlab serve`, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sgdlab serve --port 0 --dir dir` and reads the address it prints.
fn start(dir: &std::path::Path) -> Server {
    let mut child = Command::new(sgdlab_bin())
        .args(["serve", "--port", "0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in the first line: {line:?}"))
        .to_string();
    Server { child, addr }
}

/// Sends a raw request (no client-side path normalization) and returns status, headers, body.
fn request(addr: &str, raw_target: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {raw_target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(all[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, all[split + 4..].to_vec())
}

#[test]
fn serves_index_wasm_and_404_on_a_free_port() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let index = "<!doctype html><title>lab</title>";
    std::fs::write(site.join("index.html"), index).unwrap();
    std::fs::write(site.join("lab.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(tmp.path().join("outside.txt"), "secret").unwrap();
    let server = start(&site);

    let (status, head, body) = request(&server.addr, "/");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert_eq!(body, index.as_bytes());

    let (status, head, body) = request(&server.addr, "/index.html");
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, index.as_bytes());

    let (status, head, body) = request(&server.addr, "/lab.wasm");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: application/wasm"), "{head}");
    assert_eq!(body, b"\0asm\x01\0\0\0");

    let (status, head, _) = request(&server.addr, "/no-such-file.js");
    assert_eq!(status, 404, "{head}");

    for escape in ["/../outside.txt", "/%2e%2e/outside.txt"] {
        let (status, head, body) = request(&server.addr, escape);
        assert_eq!(status, 403, "{escape}: {head}");
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}

#[test]
fn a_missing_build_is_bad_input_that_says_to_run_build_sh() {
    let dir = tempfile::tempdir().unwrap();
    let o = sgdlab(&[
        "serve",
        "--port",
        "0",
        "--dir",
        dir.path().join("dist").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("web/build.sh"), "{}", stderr(&o));
}

#[test]
fn keeps_answering_while_100_clients_drip_and_cuts_them_off() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html>hi").unwrap();
    let server = start(dir.path());
    // 100 clients that send the first bytes of a request and then stall, as a slow-loris would.
    let drips: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
            s
        })
        .collect();
    for _ in 0..3 {
        let (status, _, body) = request(&server.addr, "/");
        assert_eq!(status, 200);
        assert_eq!(body, b"<!doctype html>hi");
    }
    // Each dripping client is closed once the request deadline passes (10 s; 60 s allowed).
    for mut d in drips.into_iter().take(5) {
        d.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = Vec::new();
        let closed = d.read_to_end(&mut buf).is_ok();
        assert!(closed, "a dripping client was not cut off");
    }
}

#[test]
fn another_host_or_origin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
    let server = start(dir.path());
    for extra in [
        "Host: attacker.example\r\n",
        &format!(
            "Host: {}\r\nOrigin: http://attacker.example\r\n",
            server.addr
        ),
    ] {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET / HTTP/1.1\r\n{extra}\r\n").unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        assert!(all.starts_with("HTTP/1.1 403"), "{extra:?}: {all}");
    }
}
