//! The server under load and abuse: concurrent clients lose nothing and leave no run
//! stalled, a journal locked by another process gets `503` + `Retry-After`, floods of
//! idle or trickling connections do not keep a valid request out, and slow clients
//! are cut off by the read timeouts. Timing appears only as hang guards; latency is
//! measured by `cargo bench --bench serve`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Reply, parse_reply, post, serving, sign, stop, wait_within};
use crate::support::Test;

/// One request on a kept-alive connection; reads exactly one answer.
fn post_on(
    s: &mut BufReader<TcpStream>,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let w = s.get_mut();
    w.write_all(req.as_bytes()).unwrap();
    w.write_all(body).unwrap();
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            s.read_line(&mut line).unwrap() > 0,
            "the server closed the connection"
        );
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("a content-length");
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    parse_reply(&format!("{head}{}", String::from_utf8_lossy(&body)))
}

/// Every run's `who` input, straight from the journal (either backend).
fn recorded_whos(t: &Test) -> Vec<String> {
    t.sql_rows("SELECT inputs FROM runs ORDER BY id", &[])
        .into_iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r[0].as_str().unwrap()).unwrap();
            v["who"].as_str().unwrap().to_string()
        })
        .collect()
}

fn statuses(t: &Test) -> Vec<(String, i64)> {
    t.sql_rows(
        "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status",
        &[],
    )
    .into_iter()
    .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
    .collect()
}

/// 20 clients × 25 signed requests at once (kept-alive connections): every one is
/// answered 202 with its own run, every run is recorded exactly once, and the server
/// drives them all to the end by itself (no tick runs; a stalled run would stay
/// `running`).
#[test]
fn concurrent_requests_are_all_recorded_once_and_driven() {
    const CLIENTS: usize = 20;
    const EACH: usize = 25;
    let (t, bg, port, secret) = serving(&[]);
    let secret = Arc::new(secret);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let secret = secret.clone();
            std::thread::spawn(move || {
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut s = BufReader::new(s);
                (0..EACH)
                    .map(|i| {
                        let body = format!(r#"{{"who": "c{c}-{i}"}}"#);
                        let sig = sign(&secret, body.as_bytes());
                        let r = post_on(
                            &mut s,
                            "/hooks/greet",
                            &[("X-Aios-Signature", &sig)],
                            body.as_bytes(),
                        );
                        assert_eq!(r.status, 202, "{}", r.body);
                        r.json()["run_id"].as_i64().unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<i64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        CLIENTS * EACH,
        "two requests got the same run"
    );
    wait_within(Duration::from_secs(120), "every run to succeed", || {
        statuses(&t) == [("succeeded".to_string(), (CLIENTS * EACH) as i64)]
    });
    let whos: BTreeSet<String> = recorded_whos(&t).into_iter().collect();
    let expected: BTreeSet<String> = (0..CLIENTS)
        .flat_map(|c| (0..EACH).map(move |i| format!("c{c}-{i}")))
        .collect();
    assert_eq!(whos, expected, "each request is recorded exactly once");
    let out = stop(bg).success();
    assert!(!out.stderr.contains("locked"), "{}", out.stderr);
}

/// Another process holds the journal's write lock past the lock timeout: the request
/// gets 503 with Retry-After and starts nothing; once the lock is gone it goes
/// through.
#[test]
fn a_journal_locked_elsewhere_answers_503_with_retry_after() {
    let Some(t) = Test::sqlite_only(
        "another process holds the aios.db file's write lock past AIOS_LOCK_TIMEOUT (PostgreSQL waits on row locks)",
    ) else {
        return;
    };
    let t = t.write("greet.toml", super::GREET);
    let secret = super::printed_secret(
        &t.aios(&["hook", "add", "greet", "greet.toml"])
            .success()
            .stdout,
    );
    let port = super::free_port();
    let addr = format!("127.0.0.1:{port}");
    let bg = t
        .args(&["serve", "--addr", &addr])
        .env("AIOS_LOCK_TIMEOUT", "300ms")
        .spawn();
    crate::support::wait_until("the server listens", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let locker = rusqlite::Connection::open(t.db()).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let body = br#"{"who": "Ada"}"#;
    let sig = sign(&secret, body);
    let r = post(port, "/hooks/greet", &[("X-Aios-Signature", &sig)], body);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert!(
        r.error()
            .contains("the journal is locked by another process"),
        "{}",
        r.body
    );
    locker.execute_batch("ROLLBACK").unwrap();
    assert!(recorded_whos(&t).is_empty());
    let r = post(port, "/hooks/greet", &[("X-Aios-Signature", &sig)], body);
    assert_eq!(r.status, 202, "{}", r.body);
    wait_within(Duration::from_secs(20), "run 1 to succeed", || {
        statuses(&t) == [("succeeded".to_string(), 1)]
    });
    stop(bg).success();
}

/// Whether the server closed this connection (without waiting for it).
fn closed_by_peer(mut s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(n) => n == 0,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Let this process open `n` more files (the flood's sockets).
fn allow_open_files(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < n {
            assert!(lim.rlim_max >= n, "the hard open-file limit is below {n}");
            lim.rlim_cur = n;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
}

/// 2,000 connections (1,000 idle, 1,000 sending their head one byte a second) held
/// open against a server whose process may open only 1,024 files (a common `ulimit
/// -n`; it serves at most 896 connections then): a valid request still gets its
/// 202, and the flood's oldest connections were closed to make room.
#[test]
fn a_flood_of_idle_and_trickling_connections_does_not_keep_a_request_out() {
    const FLOOD: usize = 2000;
    const LIMIT: usize = 1024 - 128;
    allow_open_files(FLOOD as u64 + 512);
    let t = crate::support::Test::new().write("greet.toml", super::GREET);
    let secret = super::printed_secret(
        &t.aios(&["hook", "add", "greet", "greet.toml"])
            .success()
            .stdout,
    );
    let port = super::free_port();
    let addr = format!("127.0.0.1:{port}");
    let bg = t
        .args(&["serve", "--addr", &addr])
        .open_files_limit(1024)
        .spawn();
    crate::support::wait_until("the server listens", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if i % 2 == 1 {
            let _ = s.write_all(b"POST /hooks/greet HTTP/1.1\r\nHost: x\r\n");
        }
        flood.push(s);
    }
    let trickle: Vec<TcpStream> = flood
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.try_clone().unwrap())
        .collect();
    let stopping = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stopping = stopping.clone();
        std::thread::spawn(move || {
            let mut trickle = trickle;
            while !stopping.load(Ordering::Relaxed) {
                for s in &mut trickle {
                    let _ = s.write(b"X");
                }
                // One byte a second per connection: the pace of the attack.
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    // While the flood is held: valid requests on new connections are answered.
    for i in 0..3 {
        let body = format!(r#"{{"who": "valid-{i}"}}"#);
        let r = post(
            port,
            "/hooks/greet",
            &[("X-Aios-Signature", &sign(&secret, body.as_bytes()))],
            body.as_bytes(),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    // Past the limit, the server closed flood connections (the longest-waiting ones).
    let closed = || flood.iter().filter(|s| closed_by_peer(s)).count();
    wait_within(
        Duration::from_secs(20),
        "the flood to be cut to the limit",
        || closed() >= FLOOD - LIMIT,
    );
    stopping.store(true, Ordering::Relaxed);
    trickler.join().unwrap();
    drop(flood);
    wait_within(Duration::from_secs(20), "the valid runs to succeed", || {
        statuses(&t) == [("succeeded".to_string(), 3)]
    });
    stop(bg)
        .success()
        .stderr_contains("the open-file limit (1024) allows 896 connections; serving at most 896");
}

/// With `--read-timeout 1s`: a connection that sends nothing, or half a head, is
/// closed; a body that stops coming gets 408 with a JSON error.
#[test]
fn slow_clients_are_cut_off_by_the_read_timeouts() {
    let (t, bg, port, secret) = serving(&["--read-timeout", "1s"]);
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // A hang guard: the server closes well before.
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    };
    let mut silent = connect();
    let mut half = connect();
    half.write_all(b"POST /hooks/greet HTTP/1.1\r\nHost: x\r\nX-Pad: ab")
        .unwrap();
    let mut slow_body = connect();
    let bearer = format!("Bearer {secret}");
    slow_body
        .write_all(format!("POST /hooks/greet HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\nContent-Length: 100\r\n\r\n{{\"who\":").as_bytes())
        .unwrap();
    for s in [&mut silent, &mut half] {
        let mut out = Vec::new();
        let n = s
            .read_to_end(&mut out)
            .expect("closed by the server, not timed out here");
        assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&out));
    }
    let mut out = Vec::new();
    slow_body
        .read_to_end(&mut out)
        .expect("answered by the server");
    let r = parse_reply(&String::from_utf8_lossy(&out));
    assert_eq!(
        (r.status, r.error()),
        (408, "the body did not arrive within 1s".into())
    );
    // A head larger than 64 KiB is refused by the HTTP layer.
    let mut big = connect();
    let head = format!(
        "POST /hooks/greet HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let _ = big.write_all(head.as_bytes());
    let mut out = Vec::new();
    let _ = big.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 431 "));
    // The server still answers.
    let body = br#"{"who": "Ada"}"#;
    assert_eq!(
        post(
            port,
            "/hooks/greet",
            &[("X-Aios-Signature", &sign(&secret, body))],
            body
        )
        .status,
        202
    );
    stop(bg).success();
    assert_eq!(recorded_whos(&t), ["Ada"]);
}
