//! Which addresses a connection test may dial. Every resolved address is checked, and only a
//! checked address is dialled, so a DNS answer that changes between lookups (rebinding) cannot
//! get around the policy.
//!
//! The unspecified addresses (`0.0.0.0/8`, `::`, and those written as IPv4-mapped IPv6) are
//! refused whatever the policy says: they name no remote host, and the kernel delivers a
//! connection to them to this machine itself, so `deny = ["127.0.0.0/8"]` would not stop them.

use std::net::IpAddr;

use ipnet::IpNet;

/// Cloud metadata services live on link-local addresses; they are denied unless allowed.
pub const DEFAULT_DENY: &[&str] = &["169.254.0.0/16", "fe80::/10"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Empty: every address not denied is allowed.
    allow: Vec<IpNet>,
    /// Wins over `allow`.
    deny: Vec<IpNet>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: DEFAULT_DENY.iter().map(|n| n.parse().unwrap()).collect(),
        }
    }
}

impl EgressPolicy {
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Self {
        Self { allow, deny }
    }

    /// Allows everything; for tools and tests that need no policy.
    pub fn allow_all() -> Self {
        Self::new(Vec::new(), Vec::new())
    }

    /// `Err` holds a sentence naming the rule that refused `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        // ::ffff:169.254.169.254 is 169.254.169.254 on the wire.
        let ip = ip.to_canonical();
        if is_unspecified(ip) {
            return Err(format!(
                "{ip} is an unspecified address, which reaches the Jackal server itself rather than another host; it is never dialled, whatever [egress] says. Write the database server's own address or name"
            ));
        }
        if let Some(net) = self.deny.iter().find(|net| net.contains(&ip)) {
            return Err(format!(
                "{ip} is denied by Jackal's egress policy ([egress] deny contains {net}); nothing was sent. An admin can change [egress] in config.toml"
            ));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(&ip)) {
            return Err(format!(
                "{ip} is not in Jackal's egress policy ([egress] allow does not contain it); nothing was sent. An admin can change [egress] in config.toml"
            ));
        }
        Ok(())
    }
}

/// `0.0.0.0/8` ("this network", which Linux delivers locally) and `::`; `ip` is canonical.
fn is_unspecified(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 0,
        IpAddr::V6(v6) => v6.is_unspecified(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn default_denies_link_local_only() {
        let policy = EgressPolicy::default();
        assert!(policy.check(ip("169.254.169.254")).is_err());
        assert!(policy.check(ip("fe80::1")).is_err());
        assert!(
            policy.check(ip("::ffff:169.254.169.254")).is_err(),
            "mapped v4"
        );
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        assert!(policy.check(ip("::1")).is_ok());
        assert!(policy.check(ip("10.1.2.3")).is_ok());
    }

    #[test]
    fn deny_wins_over_allow_and_allow_limits() {
        let policy = EgressPolicy::new(
            vec!["127.0.0.0/8".parse().unwrap()],
            vec!["127.0.0.2/32".parse().unwrap()],
        );
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        let denied = policy.check(ip("127.0.0.2")).unwrap_err();
        assert!(
            denied.contains("[egress] deny contains 127.0.0.2/32"),
            "{denied}"
        );
        let outside = policy.check(ip("10.0.0.1")).unwrap_err();
        assert!(outside.contains("[egress] allow"), "{outside}");
    }

    #[test]
    fn unspecified_addresses_are_refused_whatever_the_policy() {
        for policy in [
            EgressPolicy::allow_all(),
            EgressPolicy::default(),
            EgressPolicy::new(
                vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
                vec![],
            ),
        ] {
            for refused in [
                "0.0.0.0",
                "0.1.2.3",
                "::",
                "::ffff:0.0.0.0",
                "::ffff:0.9.9.9",
            ] {
                let why = policy.check(ip(refused)).unwrap_err();
                assert!(why.contains("unspecified"), "{refused}: {why}");
            }
            for allowed in ["1.0.0.0", "::2", "::ffff:1.2.3.4"] {
                assert!(policy.check(ip(allowed)).is_ok(), "{allowed}");
            }
        }
    }
}
