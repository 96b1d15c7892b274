//! The HTTP(S) checks' client against real local servers: chunked bodies that split a UTF-8
//! character, redirects, slow bodies, a Host override, connection reuse, TLS with a private CA,
//! and a proxy taken from the environment.

use crate::harness::{Test, spec_dir};
use fgdeploy::engine::checks::Prober;
use fgdeploy::error::exit;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A keep-alive HTTP/1.1 server on loopback; `answer(request_head)` gives the raw bytes to send
/// (a `None` closes the connection). Counts accepted connections.
fn server(answer: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static) -> (u16, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let conns = Arc::new(AtomicUsize::new(0));
    let (count, answer) = (conns.clone(), Arc::new(answer));
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut out = c.try_clone().expect("clone");
                let mut r = BufReader::new(c);
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    match answer(&head) {
                        Some(bytes) => {
                            if out.write_all(&bytes).is_err() {
                                return;
                            }
                        }
                        None => return,
                    }
                }
            });
        }
    });
    (port, conns)
}

fn ok(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[tokio::test]
async fn a_chunk_boundary_inside_a_utf8_character_is_read_not_panicked() {
    let (port, _) = server(|_| {
        let mut b = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\xC3\r\n3\r\n\xA9!!\r\n0\r\n\r\n".to_vec();
        b.shrink_to_fit();
        Some(b)
    });
    let a = Prober::new(None).expect("client").get(&format!("http://127.0.0.1:{port}/health"), &none(), Duration::from_secs(5)).await;
    assert_eq!(a.expect("answer").body, "oké!!");
}

#[tokio::test]
async fn redirects_are_seen_not_followed() {
    let (port, _) = server(|_| Some(b"HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n".to_vec()));
    let a = Prober::new(None)
        .expect("client")
        .get(&format!("http://127.0.0.1:{port}/"), &none(), Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(a.status, 301);
    assert!(a.headers.iter().any(|(k, v)| k == "location" && v == "/elsewhere"));
}

#[tokio::test]
async fn a_slow_body_fails_at_the_check_timeout() {
    let (port, _) = server(|_| {
        // Headers at once, the body never completes in time.
        Some(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial".to_vec())
    });
    let started = std::time::Instant::now();
    let e =
        Prober::new(None).expect("client").get(&format!("http://127.0.0.1:{port}/"), &none(), Duration::from_secs(1)).await.unwrap_err();
    assert!(e.contains("no complete answer within 1s"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_host_header_can_be_set_and_connections_are_reused() {
    let (port, conns) = server(|head| {
        let host =
            head.lines().find_map(|l| l.strip_prefix("host: ").or_else(|| l.strip_prefix("Host: "))).unwrap_or("-").trim().to_string();
        Some(ok(&host))
    });
    let p = Prober::new(None).expect("client");
    let headers: BTreeMap<String, String> = [("Host".to_string(), "api.example.com".to_string())].into();
    for _ in 0..3 {
        let a = p.get(&format!("http://127.0.0.1:{port}/"), &headers, Duration::from_secs(5)).await.expect("answer");
        assert_eq!(a.body, "api.example.com");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1, "one connection for three checks");
}

/// A TLS server on loopback with a certificate from a private CA made here.
async fn tls_server() -> (u16, String) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "fgdeploy test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(&ok("secure ok")).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, ca.pem())
}

#[tokio::test]
async fn https_with_a_private_ca_needs_the_ca_setting() {
    let (port, ca_pem) = tls_server().await;
    let url = format!("https://localhost:{port}/health");
    let e = Prober::new(None).expect("client").get(&url, &none(), Duration::from_secs(5)).await.unwrap_err();
    assert!(e.to_ascii_lowercase().contains("certificate"), "an untrusted certificate is named: {e}");
    let a = Prober::new(Some(ca_pem.as_bytes())).expect("client").get(&url, &none(), Duration::from_secs(5)).await.expect("answer");
    assert_eq!((a.status, a.body.as_str()), (200, "secure ok"));
}

/// The checks go through `HTTP_PROXY` (the built binary, so the environment is its own): a
/// blue/green sandbox release whose test URL only the proxy can answer.
#[test]
fn checks_honour_http_proxy() {
    let (port, _) = server(|head| {
        // A proxy gets the absolute URL in the request line.
        let absolute = head.lines().next().is_some_and(|l| l.contains("http://checks.example.invalid/health"));
        Some(if absolute { ok("ok via proxy") } else { b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n".to_vec() })
    });
    let (_d, spec) = spec_dir(
        "\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\napplication = \"AppECS-demo-web\"\ncontainer_port = 8080\ntest_url = \"http://checks.example.invalid\"\ncheck_budget = \"20s\"\n[[deploy.blue_green.checks]]\npath = \"/health\"\nbody_contains = \"via proxy\"\nconsecutive = 1\n",
    );
    Test::new()
        .env("HTTP_PROXY", &format!("http://127.0.0.1:{port}"))
        .env("NO_PROXY", "")
        .args(["release", "--sandbox", "-f", spec.to_str().expect("utf-8")])
        .status(exit::OK)
        .stdout_has("test-listener checks passed");
}

#[test]
fn a_ca_file_that_is_not_pem_is_refused_offline() {
    let (d, spec) = spec_dir(
        "\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\nca_file = \"ca.pem\"\n[[deploy.blue_green.checks]]\npath = \"/health\"\nheaders = { \"Bad Header\" = \"x\" }\n",
    );
    std::fs::write(d.path().join("ca.pem"), "not a certificate").expect("write");
    let out = Test::new().args(["validate", "-f", spec.to_str().expect("utf-8")]).status(exit::INPUT);
    out.stderr_has("deploy.blue_green.ca_file").stderr_has("no PEM certificate").stderr_has("not a valid HTTP header");
}
