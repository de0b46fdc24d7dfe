//! Failure classification as a table: each case a URI and what its failure must be. Every case
//! runs, and every mismatch is reported under the case's name, so one run shows all that differ.
#![allow(dead_code)]

use std::future::Future;

use jackal_drivers::{ErrorCode, Phase, ProbeReport};

/// What the TLS part of a failed report must say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tls {
    /// No TLS report: the handshake failed, or a server without TLS refused it (PostgreSQL).
    NotReported,
    /// Reported, not enabled: a plain connection, or a server that offered no TLS (MySQL).
    Off,
    /// Reported and enabled: the failure came after a handshake that succeeded.
    On,
    /// Reported with the certificate the server presented, which verification refused: the
    /// handshake did not finish (no protocol).
    Refused,
}

pub struct Case {
    pub name: &'static str,
    pub uri: String,
    pub code: ErrorCode,
    /// Texts the message must contain.
    pub message: Vec<String>,
    /// The phase that failed, which must be the last one reported: nothing ran after it.
    pub failed: Phase,
    pub tls: Tls,
}

/// Runs each case through `run` in turn and fails naming every case whose report differs; no
/// message may contain any of `secrets`.
pub async fn check<F, Fut>(cases: Vec<Case>, secrets: &[&str], run: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ProbeReport>,
{
    assert!(!cases.is_empty(), "a table without cases asserts nothing");
    let mut mismatches = Vec::new();
    for case in cases {
        let report = run(case.uri.clone()).await;
        mismatches.extend(
            mismatches_of(&case, &report, secrets)
                .into_iter()
                .map(|why| format!("{}: {why}", case.name)),
        );
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

fn mismatches_of(case: &Case, report: &ProbeReport, secrets: &[&str]) -> Vec<String> {
    let failure = match &report.outcome {
        Ok(version) => {
            return vec![format!(
                "expected {:?}, got success: {version:?}",
                case.code
            )]
        }
        Err(failure) => failure,
    };
    let message = &failure.message;
    let mut why = Vec::new();
    if failure.code != case.code {
        why.push(format!(
            "code {:?}, expected {:?} ({message})",
            failure.code, case.code
        ));
    }
    for part in &case.message {
        if !message.contains(part.as_str()) {
            why.push(format!("message lacks {part:?}: {message}"));
        }
    }
    if secrets.iter().any(|secret| message.contains(secret)) {
        why.push(format!("message quotes a password: {message}"));
    }
    let last = report.phases.last().map(|p| (p.phase, p.ok));
    if last != Some((case.failed, false)) {
        why.push(format!(
            "last phase {last:?}, expected ({:?}, false); phases {:?}",
            case.failed, report.phases
        ));
    }
    let tls = match &report.tls {
        None => Tls::NotReported,
        Some(tls) if tls.enabled && tls.protocol.is_none() => Tls::Refused,
        Some(tls) if tls.enabled => Tls::On,
        Some(_) => Tls::Off,
    };
    if tls != case.tls {
        why.push(format!("TLS {tls:?}, expected {:?}", case.tls));
    }
    why
}
