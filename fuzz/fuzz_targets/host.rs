//! Hosts in every place one is written, on arbitrary text: `host::parse` itself, the host of a
//! `configUri`, `sshHost` and a hop of `sshJump`.
//!
//! Checked: no panic; every host accepted is canonical (parsing it again gives it back, and an
//! address is written as std writes it); an accepted name is never read as an IPv4 address by
//! the URL standard's parser, which reads what `inet_aton` reads (`127.1`, `0x7f.1`,
//! `2130706433`, octal); and each place in `configUri` accepts exactly what `host::parse`
//! accepts, and gives back what it gives.
#![no_main]

use std::net::IpAddr;

use jackal_drivers::{host, ConnectionSpec};
use libfuzzer_sys::fuzz_target;

/// `host` accepted somewhere: canonical, and a number only as a canonical address.
fn check_accepted(written: &str, host: &str) {
    assert_eq!(
        host::parse(host).as_deref(),
        Ok(host),
        "{written:?} gave {host:?}, which does not read back as itself"
    );
    match host.parse::<IpAddr>() {
        Ok(ip) => assert_eq!(ip.to_string(), host, "{written:?}"),
        Err(_) => {
            if let Ok(url) = url::Url::parse(&format!("http://{host}/")) {
                assert!(
                    !matches!(url.host(), Some(url::Host::Ipv4(_))),
                    "{written:?} was accepted as the name {host:?}, which the URL standard reads as {:?}",
                    url.host()
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = host::parse(text);
    if let Ok(host) = &parsed {
        check_accepted(text, host);
    }

    // The database's host. `url` reads the authority itself first, so only texts without its
    // delimiters are compared with `host::parse`; every host it lets through must still hold.
    let bracketed = if text.contains(':') && !text.starts_with('[') {
        format!("[{text}]")
    } else {
        text.to_owned()
    };
    let uri = format!("postgresql://u@{bracketed}:5432/db");
    if let Ok(spec) = ConnectionSpec::parse(&uri) {
        let host = spec.host().expect("a network spec has a host");
        check_accepted(&uri, host);
    }
    let plain = !text
        .bytes()
        .any(|b| b"@/?#%\\:[]".contains(&b) || b.is_ascii_whitespace() || b.is_ascii_control());
    if plain && !text.is_empty() {
        let spec = ConnectionSpec::parse(&uri);
        assert_eq!(
            spec.as_ref().ok().and_then(|s| s.host()),
            parsed.as_deref().ok(),
            "{uri:?}: configUri and host::parse disagree"
        );
    }

    // The bastion and a jump host, as option values (percent-encoded, so any text arrives).
    let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
    let uri = format!("postgresql://u@127.0.0.1:5432/db?sshHost={encoded}&sshUser=x");
    let spec = ConnectionSpec::parse(&uri);
    assert_eq!(
        spec.as_ref().ok().and_then(|s| s.ssh_route()).map(|r| r.bastion().host.clone()),
        parsed.ok(),
        "{text:?}: sshHost and host::parse disagree"
    );
    if !text.contains([',', ';', ':', '@', '[']) {
        let uri = format!(
            "postgresql://u@127.0.0.1:5432/db?sshHost=127.0.0.1&sshUser=x&sshJump=j%40{encoded}"
        );
        // A hop (`j@text`) is trimmed before it is read (spaces around `,` and `;` are
        // allowed): the end of the host, not its start.
        let spec = ConnectionSpec::parse(&uri);
        assert_eq!(
            spec.as_ref().ok().and_then(|s| s.ssh_route()).map(|r| r.hops[0].host.clone()),
            host::parse(text.trim_end()).ok(),
            "{text:?}: sshJump and host::parse disagree"
        );
    }
});
