//! Host names to addresses, behind a trait so tests can answer (or fail) without a real lookup.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use futures_util::future::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The name does not exist (NXDOMAIN or no such host).
    #[error("no such host")]
    NotFound,
    /// The resolver could not answer now (SERVFAIL, no DNS server reachable).
    #[error("the resolver failed temporarily")]
    Temporary,
    /// The lookup failed in another way; the text is the system's.
    #[error("{0}")]
    Other(String),
}

pub trait Resolver: Send + Sync + fmt::Debug {
    /// Every address `host` resolves to, in preference order.
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>>;
}

/// The operating system's resolver (getaddrinfo, so /etc/hosts applies).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0))
                .await
                // getaddrinfo's failures reach us only as io::Error text; all of them mean
                // the name could not be resolved, which is all the test needs to report.
                .map_err(|e| ResolveError::Other(e.to_string()))?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Fixed answers, for tests: no packet leaves the machine. Unknown names are `NotFound`.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    answers: HashMap<String, Result<Vec<IpAddr>, ResolveError>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn answer(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.answers
            .insert(host.to_ascii_lowercase(), Ok(addrs.to_vec()));
        self
    }

    pub fn fail(mut self, host: &str, error: ResolveError) -> Self {
        self.answers.insert(host.to_ascii_lowercase(), Err(error));
        self
    }
}

impl Resolver for StaticResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        let answer = self
            .answers
            .get(&host.to_ascii_lowercase())
            .cloned()
            .unwrap_or(Err(ResolveError::NotFound));
        Box::pin(async move { answer })
    }
}
