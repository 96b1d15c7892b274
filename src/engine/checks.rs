//! HTTP checks against a test (or production) listener: real requests, N consecutive passes,
//! a per-request timeout and an overall budget.

use super::watch::{Cut, Limit, Next, Pause, Watched};
use super::{Engine, Event};
use crate::error::Error;
use crate::spec::OnInterrupt;
use crate::spec::{BlueGreenSection, CheckSection, Spec};
use std::collections::BTreeMap;
use std::time::Duration;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The HTTP(S) client of the checks: reqwest over rustls (the platform's trust roots, plus the
/// deployspec's `ca_file`), connections reused across checks and rounds, `HTTP(S)_PROXY` /
/// `NO_PROXY` honoured. Redirects are not followed: a check sees the redirect's own status (an
/// ALB health check does the same), so `status = 301` can expect one.
#[derive(Clone)]
pub struct Prober {
    client: reqwest::Client,
}

impl Prober {
    /// `ca_pem`: extra trusted roots in PEM (a self-signed test listener's CA).
    pub fn new(ca_pem: Option<&[u8]>) -> Result<Prober, String> {
        let base = || reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).user_agent("fgdeploy-check");
        let client = match ca_pem {
            None => base().build(),
            Some(pem) => {
                let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("the CA file is not PEM certificates: {e}"))?;
                // Merge with the platform's roots; a verifier that cannot merge trusts the CA alone.
                base().tls_certs_merge(certs.clone()).build().or_else(|_| base().tls_certs_only(certs).build())
            }
        };
        client.map(|client| Prober { client }).map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))
    }

    /// GET `url` with `headers` (a `Host` header overrides the URL's host, for ALB host-based
    /// rules), within `timeout` for the whole answer, body included.
    pub async fn get(&self, url: &str, headers: &BTreeMap<String, String>, timeout: Duration) -> Result<HttpAnswer, String> {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("{url} is not an http:// or https:// URL"));
        }
        let mut req = self.client.get(url).timeout(timeout);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let too_slow = || format!("no complete answer within {}", humantime::format_duration(timeout));
        let resp = req.send().await.map_err(|e| if e.is_timeout() { too_slow() } else { format!("request: {}", chain(&e)) })?;
        let status = resp.status().as_u16();
        let headers =
            resp.headers().iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        let body = resp.bytes().await.map_err(|e| if e.is_timeout() { too_slow() } else { format!("read: {}", chain(&e)) })?;
        Ok(HttpAnswer { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

use crate::error::chain;

/// GET `url` once with a fresh client (no extra roots, no headers).
#[cfg(test)]
async fn http_get(url: &str, timeout: Duration) -> Result<HttpAnswer, String> {
    Prober::new(None)?.get(url, &BTreeMap::new(), timeout).await
}

/// The checks' client for a deployspec: with `deploy.blue_green.ca_file` (relative to the
/// deployspec's folder) trusted as well.
pub(crate) fn prober_for(spec: &Spec, bg: &BlueGreenSection) -> Result<Prober, String> {
    match &bg.ca_file {
        None => Prober::new(None),
        Some(f) => {
            let path = spec.path.parent().unwrap_or(std::path::Path::new(".")).join(f);
            let pem = std::fs::read(&path).map_err(|e| format!("cannot read deploy.blue_green.ca_file {}: {e}", path.display()))?;
            Prober::new(Some(&pem))
        }
    }
}

/// Whether one answer passes one check; the reason when not.
pub(crate) fn judge(c: &CheckSection, a: &HttpAnswer) -> Result<(), String> {
    if a.status != c.status {
        return Err(format!("{} answered {} (expected {})", c.path, a.status, c.status));
    }
    if let Some(s) = &c.body_contains
        && !a.body.contains(s.as_str())
    {
        return Err(format!("{} body lacks {s:?}", c.path));
    }
    if let Some(h) = &c.header {
        let (name, value) = h.split_once(':').map_or((h.as_str(), ""), |(n, v)| (n, v));
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if !a.headers.iter().any(|(k, v)| *k == name && (value.is_empty() || v.contains(value))) {
            return Err(format!("{} lacks header {h:?}", c.path));
        }
    }
    Ok(())
}

crate::engine::engine_part!(
    /// fgdeploy's HTTP(S) checks, run until they pass or their budget ends.
    Checks
);

impl Checks<'_> {
    /// Why checks ended without passing, as the rollback's reason: the operator's interrupt is
    /// not a failed check. With `on_interrupt = "detach"` the interrupt detaches instead (Err).
    pub(crate) fn checks_failure(&self, spec: &Spec, deployment: &str, what: &str, error: &str) -> crate::error::Result<String> {
        if !self.interrupt.is_set() {
            return Ok(format!("the {what} checks failed: {error}"));
        }
        if spec.file.rollback.on_interrupt == OnInterrupt::Detach {
            return Err(Error::Detached(format!(
                "interrupted during the {what} checks; {deployment} goes on without fgdeploy. Watch it with `fgdeploy status -f {}`",
                spec.path.display()
            )));
        }
        Ok(format!("interrupted by the operator (Ctrl-C / SIGTERM) during the {what} checks"))
    }

    /// A gated deployment completed without fgdeploy's gate: say so, and run the checks once
    /// against production so the user knows the state the service is in now.
    pub(crate) async fn gate_bypassed(&self, spec: &Spec, reason: String, url: Option<&str>) -> Error {
        self.warn(format!("gate bypassed: {reason}"));
        let checks = match url {
            None => "none (no production or test URL is known; set deploy.blue_green.production_url)".to_string(),
            Some(url) => match self.run_checks(spec, url, "production (after the bypassed gate)").await {
                Ok(()) => format!("passed against {url}"),
                Err(e) => format!("FAILED against {url}: {e}"),
            },
        };
        let path = spec.path.display();
        Error::GateBypassed {
            reason,
            checks,
            next: format!("the new revision serves; `fgdeploy status -f {path}`, and `fgdeploy rollback -f {path}` if it must not"),
        }
    }

    /// Run every check against `base` until each has passed `consecutive` times in a row, or the
    /// budget runs out. Ok, or Err with the last failure.
    pub(crate) async fn run_checks(&self, spec: &Spec, base: &str, what: &str) -> Result<(), String> {
        let Some(bg) = spec.file.deploy.blue_green.as_ref() else { return Ok(()) };
        let (checks, budget) = (&bg.checks, bg.check_budget);
        if checks.is_empty() {
            return Ok(());
        }
        let prober = prober_for(spec, bg)?;
        let base = base.trim_end_matches('/');
        let deadline = self.ports.clock.now() + budget.as_secs_f64();
        let mut w =
            ChecksWatch { e: self, checks, prober, base, what, budget, deadline, streak: vec![0; checks.len()], last_error: String::new() };
        self.drive(&mut w, Duration::ZERO).await.unwrap_or_else(|e| Err(e.to_string()))
    }
}

/// The checks looked at through [`Engine::drive`]: one round of requests a look (checks that
/// already passed `consecutive` times are not asked again), every 2 s, until all passed or
/// `check_budget` ran out. Ctrl-C ends them.
struct ChecksWatch<'a> {
    e: &'a Engine,
    checks: &'a [CheckSection],
    prober: Prober,
    base: &'a str,
    what: &'a str,
    budget: Duration,
    deadline: f64,
    streak: Vec<u32>,
    last_error: String,
}

impl Watched for ChecksWatch<'_> {
    type Out = Result<(), String>;

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: "deploy.blue_green.check_budget", what: "the checks to pass", interruptible: true }
    }

    async fn look(&mut self, _now: f64) -> crate::error::Result<Next<Self::Out>> {
        let (e, base, what) = (self.e, self.base, self.what);
        for (c, streak) in self.checks.iter().zip(self.streak.iter_mut()) {
            if *streak >= c.consecutive {
                continue;
            }
            let url = format!("{base}{}", c.path);
            match self.prober.get(&url, &c.headers, c.timeout).await.and_then(|a| judge(c, &a)) {
                Ok(()) => *streak += 1,
                Err(err) => {
                    if *streak > 0 || self.last_error != err {
                        e.emit(Event::Warning { message: format!("{what} check {url}: {err}") });
                    }
                    *streak = 0;
                    self.last_error = err;
                }
            }
        }
        if self.checks.iter().zip(&self.streak).all(|(c, s)| *s >= c.consecutive) {
            e.info(format!("{what} checks passed: {} path(s) against {base}", self.checks.len()));
            return Ok(Next::Done(Ok(())));
        }
        Ok(Next::Again(Pause::after(Duration::from_secs(2), false)))
    }

    async fn cut(&mut self, why: Cut) -> crate::error::Result<Next<Self::Out>> {
        Ok(Next::Done(Err(match why {
            Cut::Interrupt => "interrupted".into(),
            Cut::Deadline => format!(
                "{} checks did not pass within deploy.blue_green.check_budget ({}): {}",
                self.what,
                humantime::format_duration(self.budget),
                self.last_error
            ),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> CheckSection {
        CheckSection {
            path: "/health".into(),
            status: 200,
            body_contains: Some("ok".into()),
            consecutive: 1,
            header: Some("content-type: text/plain".into()),
            timeout: Duration::from_secs(1),
            headers: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn https_errors_are_reported_not_panicked() {
        // Nothing listens on port 1; a plain-HTTP listener cannot speak TLS either.
        let e = http_get("https://127.0.0.1:1/health", Duration::from_secs(2)).await.unwrap_err();
        assert!(e.contains("request"), "{e}");
        assert!(http_get("ftp://x/", Duration::from_secs(1)).await.unwrap_err().contains("not an http"));
    }

    #[test]
    fn judging() {
        let a =
            HttpAnswer { status: 200, headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())], body: "all ok".into() };
        assert!(judge(&check(), &a).is_ok());
        assert!(judge(&check(), &HttpAnswer { status: 503, ..a.clone() }).unwrap_err().contains("503"));
        assert!(judge(&check(), &HttpAnswer { body: "bad".into(), ..a.clone() }).unwrap_err().contains("lacks"));
        assert!(judge(&check(), &HttpAnswer { headers: vec![], ..a }).unwrap_err().contains("header"));
    }
}
