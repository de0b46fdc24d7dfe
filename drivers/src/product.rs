//! The true product behind the wire.
//!
//! Many engines speak the PostgreSQL or MySQL protocol and answer `version()` like the product
//! they imitate. Each announces itself in a cheap, documented signal that the probe already
//! has in hand: a start-up parameter (CockroachDB's `crdb_version`), a mark inside the version
//! text (Redshift's `Redshift 1.0.N`, YugabyteDB's `-YB-`, Greenplum's `(Greenplum Database
//! N)`, TiDB's `-TiDB-v`, Vitess's and PlanetScale's `-Vitess` / `-PlanetScale`), or, on the
//! MySQL wire, `@@version_comment`, asked in the same statement as `VERSION()` (every
//! MySQL-wire server answers it: the `mysql` client asks it at every login), where Vitess keeps
//! its own version, Doris and StarRocks name themselves and theirs, and SingleStore names
//! itself (`MemSQL source distribution`). Those cost no extra round trip. SingleStore keeps its
//! own version only in `@@memsql_version`: its comment is the signal for one more query, and
//! only then ([`needs_memsql_version`]).
//!
//! Amazon Aurora answers `version()` and `VERSION()` exactly as the PostgreSQL or MySQL it is
//! built on, and its comment is MySQL's: its own version is only in `aurora_version()` /
//! `@@aurora_version`, which other servers do not have. The cheap signal is the host name:
//! every Aurora endpoint is a name under `rds.amazonaws.com` (`….cluster-….rds.amazonaws.com`,
//! `….cluster-ro-…`, instance endpoints), so a test of such a host, and only of such a host,
//! asks that one more query ([`may_be_aurora`]); plain RDS answers it with an error, which
//! leaves the wire's product.
//!
//! [`identify`] names the product and its own version; the wire's product and the version it
//! announces become [`CompatibleWith`], and the raw text stays in `versionString`.

use crate::report::{CompatibleWith, ServerVersion};

/// The protocol a server was reached with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wire {
    Postgres,
    Mysql,
}

/// What a probe saw. Everything but `version_text` is optional.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub wire: Wire,
    /// The answer to `SELECT version()` / `SELECT VERSION()`.
    pub version_text: &'a str,
    /// PostgreSQL's `server_version` start-up parameter.
    pub server_version: Option<&'a str>,
    /// CockroachDB's `crdb_version` start-up parameter.
    pub crdb_version: Option<&'a str>,
    /// `@@version_comment`, asked with `VERSION()` on the MySQL wire.
    pub version_comment: Option<&'a str>,
    /// SingleStore's `@@memsql_version`, asked only when [`needs_memsql_version`] is true.
    pub memsql_version: Option<&'a str>,
    /// Aurora's `aurora_version()` / `@@aurora_version`, asked only when [`may_be_aurora`].
    pub aurora_version: Option<&'a str>,
}

/// Whether `host` (as configUri names it) is an Amazon RDS endpoint, where Aurora lives: the one
/// case a test asks for `aurora_version()` / `@@aurora_version`.
pub fn may_be_aurora(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host.ends_with(".rds.amazonaws.com") || host.ends_with(".rds.amazonaws.com.cn")
}

/// Whether `@@version_comment` names SingleStore (formerly MemSQL), whose own version is only
/// in `@@memsql_version`: the one case a MySQL test asks a second query.
pub fn needs_memsql_version(version_comment: &str) -> bool {
    version_comment.contains("MemSQL") || version_comment.contains("SingleStore")
}

fn vitess_like(text: &str) -> Option<&'static str> {
    let text = text.trim();
    if text.ends_with("-Vitess") {
        Some("Vitess")
    } else if text.ends_with("-PlanetScale") {
        Some("PlanetScale")
    } else {
        None
    }
}

/// The leading dotted number of `text` (`"23.1.11 (x86_64…)"` → `"23.1.11"`).
fn dotted(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text[..end].trim_end_matches('.')
}

/// The dotted number right after the first `marker` in `text`.
fn after<'t>(text: &'t str, marker: &str) -> Option<&'t str> {
    let at = text.find(marker)? + marker.len();
    Some(dotted(&text[at..])).filter(|v| !v.is_empty())
}

/// The first word of `text` that is `v` followed by a dotted number, without the `v`.
fn v_version(text: &str) -> Option<&str> {
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix('v'))
        .map(dotted)
        .find(|v| !v.is_empty())
}

/// The product, its version and what it announces on the wire.
pub fn identify(seen: &Seen<'_>) -> ServerVersion {
    let text = seen.version_text.trim();
    let mut version = match seen.wire {
        Wire::Postgres => postgres_wire(seen, text),
        Wire::Mysql => mysql_wire(seen, text),
    };
    version.version_string = Some(text.to_owned());
    version
}

/// Aurora on `wire`, when it told its own version.
fn aurora(seen: &Seen<'_>, text: &str, wire: &str, announced: &str) -> Option<ServerVersion> {
    let own = dotted(seen.aurora_version?.trim());
    if own.is_empty() {
        return None;
    }
    let mut v = ServerVersion::from_text(&format!("Amazon Aurora {wire}"), own, text.to_owned());
    v.compatible_with = Some(CompatibleWith::new(wire, announced));
    Some(v)
}

fn postgres_wire(seen: &Seen<'_>, text: &str) -> ServerVersion {
    // What the server announces as PostgreSQL: its server_version parameter (every server since
    // 7.4 sends it), else the word after "PostgreSQL " in version().
    let announced = seen
        .server_version
        .map(dotted)
        .filter(|v| !v.is_empty())
        .or_else(|| after(text, "PostgreSQL "))
        .unwrap_or("");
    let wire = || CompatibleWith::new("PostgreSQL", announced);
    let product = |name: &str, own: &str| {
        let mut v = ServerVersion::from_text(name, own, text.to_owned());
        v.compatible_with = Some(wire());
        v
    };
    if let Some(crdb) = seen
        .crdb_version
        .or_else(|| text.starts_with("CockroachDB").then_some(text))
    {
        return product("CockroachDB", v_version(crdb).unwrap_or(""));
    }
    if let Some(own) = text
        .rfind("Redshift ")
        .and_then(|at| after(&text[at..], "Redshift "))
    {
        return product("Amazon Redshift", own);
    }
    let server_version = seen.server_version.unwrap_or("");
    if let Some(own) = after(server_version, "-YB-").or_else(|| after(text, "-YB-")) {
        return product("YugabyteDB", own);
    }
    if let Some(own) = after(text, "(Greenplum Database ") {
        return product("Greenplum", own);
    }
    if let Some(v) = aurora(seen, text, "PostgreSQL", announced) {
        return v;
    }
    ServerVersion::from_text("PostgreSQL", announced, text.to_owned())
}

fn mysql_wire(seen: &Seen<'_>, text: &str) -> ServerVersion {
    let announced = dotted(text);
    let product = |name: &str, own: &str| {
        let mut v = ServerVersion::from_text(name, own, text.to_owned());
        v.compatible_with = Some(CompatibleWith::new("MySQL", announced));
        v
    };
    if let Some(own) = after(text, "-TiDB-v") {
        return product("TiDB", own);
    }
    if let Some(name) = vitess_like(text) {
        // "Version: 19.0.4 (Git revision …)" in Vitess's @@version_comment; PlanetScale's may
        // carry none, and then its version is unknown (empty), never the MySQL one.
        let own = seen
            .version_comment
            .and_then(|c| after(c, "Version: ").or_else(|| v_version(c)))
            .unwrap_or("");
        return product(name, own);
    }
    let comment = seen.version_comment.unwrap_or("").trim();
    // "Doris version doris-2.1.7-rc03-443e87e203" (Doris's VERSION() is a fixed 5.7.99).
    if let Some(rest) = comment.strip_prefix("Doris version ") {
        let own = rest.strip_prefix("doris-").unwrap_or(rest);
        return product("Apache Doris", dotted(own));
    }
    // "StarRocks version 3.3.5-4f3a2ee" (its VERSION() is a fixed 5.1.0 or 8.0.33).
    if let Some(own) = after(comment, "StarRocks version ") {
        return product("StarRocks", own);
    }
    if needs_memsql_version(comment) {
        return product("SingleStore", seen.memsql_version.map(dotted).unwrap_or(""));
    }
    if let Some(v) = aurora(seen, text, "MySQL", announced) {
        return v;
    }
    if text.contains("MariaDB") {
        // Old releases prefix "5.5.5-" for replication's sake: MariaDB's own version follows.
        let own = text.strip_prefix("5.5.5-").unwrap_or(text);
        return ServerVersion::from_text("MariaDB", own, text.to_owned());
    }
    ServerVersion::from_text("MySQL", text, text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(text: &str, server_version: Option<&str>, crdb: Option<&str>) -> ServerVersion {
        identify(&Seen {
            wire: Wire::Postgres,
            version_text: text,
            server_version,
            crdb_version: crdb,
            version_comment: None,
            memsql_version: None,
            aurora_version: None,
        })
    }

    fn my(text: &str, comment: Option<&str>) -> ServerVersion {
        my_with(text, comment, None)
    }

    fn my_with(text: &str, comment: Option<&str>, memsql: Option<&str>) -> ServerVersion {
        identify(&Seen {
            wire: Wire::Mysql,
            version_text: text,
            server_version: None,
            crdb_version: None,
            version_comment: comment,
            memsql_version: memsql,
            aurora_version: None,
        })
    }

    /// (product, version, major, minor, patch, compatibleWith)
    fn facts(v: &ServerVersion) -> (String, String, u64, u64, u64, Option<(String, String)>) {
        (
            v.product_name.clone(),
            v.product_version.clone(),
            v.major,
            v.minor,
            v.patch,
            v.compatible_with
                .as_ref()
                .map(|c| (c.product_name.clone(), c.product_version.clone())),
        )
    }

    fn want(
        name: &str,
        version: &str,
        (major, minor, patch): (u64, u64, u64),
        wire: Option<(&str, &str)>,
    ) -> (String, String, u64, u64, u64, Option<(String, String)>) {
        (
            name.to_owned(),
            version.to_owned(),
            major,
            minor,
            patch,
            wire.map(|(a, b)| (a.to_owned(), b.to_owned())),
        )
    }

    #[test]
    fn postgresql_wire_products_from_their_documented_strings() {
        let crdb =
            "CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.13)";
        for seen in [
            pg(crdb, Some("13.0.0"), Some(crdb)),
            // Without the start-up parameter (a pooler in front may drop it), version() says it.
            pg(crdb, Some("13.0.0"), None),
        ] {
            assert_eq!(
                facts(&seen),
                want(
                    "CockroachDB",
                    "23.1.11",
                    (23, 1, 11),
                    Some(("PostgreSQL", "13.0.0"))
                )
            );
        }
        let redshift = "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.54052";
        assert_eq!(
            facts(&pg(redshift, Some("8.0.2"), None)),
            want(
                "Amazon Redshift",
                "1.0.54052",
                (1, 0, 54052),
                Some(("PostgreSQL", "8.0.2"))
            )
        );
        let yb = "PostgreSQL 11.2-YB-2.18.0.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 15.0.3, 64-bit";
        assert_eq!(
            facts(&pg(yb, Some("11.2-YB-2.18.0.0-b0"), None)),
            want(
                "YugabyteDB",
                "2.18.0.0",
                (2, 18, 0),
                Some(("PostgreSQL", "11.2"))
            )
        );
        let gp7 = "PostgreSQL 12.12 (Greenplum Database 7.0.0 build commit:0a7a3566873325aca1789ae6f818c80f17a9402d Open Source) on x86_64-pc-linux-gnu, compiled by gcc (GCC) 8.5.0 20210514 (Red Hat 8.5.0-18), 64-bit compiled on Sep 20 2023 23:29:35 Bhuvnesh C.";
        assert_eq!(
            facts(&pg(gp7, Some("12.12"), None)),
            want(
                "Greenplum",
                "7.0.0",
                (7, 0, 0),
                Some(("PostgreSQL", "12.12"))
            )
        );
        let gp6 = "PostgreSQL 9.4.26 (Greenplum Database 6.20.0 build commit:8ba8bc6df6e9b9e1a8bd97d1c03fb7e0fb1f7b18 Open Source) on x86_64-unknown-linux-gnu, compiled by gcc (GCC) 6.4.0, 64-bit compiled on Mar 31 2022 21:06:47";
        assert_eq!(
            facts(&pg(gp6, Some("9.4.26"), None)),
            want(
                "Greenplum",
                "6.20.0",
                (6, 20, 0),
                Some(("PostgreSQL", "9.4.26"))
            )
        );
        let plain = "PostgreSQL 15.19 (Debian 15.19-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit";
        assert_eq!(
            facts(&pg(plain, Some("15.19 (Debian 15.19-0+deb12u1)"), None)),
            want("PostgreSQL", "15.19", (15, 19, 0), None)
        );
        // No server_version parameter: the word after "PostgreSQL ".
        assert_eq!(
            facts(&pg(plain, None, None)),
            want("PostgreSQL", "15.19", (15, 19, 0), None)
        );
        assert_eq!(pg(plain, None, None).version_string.as_deref(), Some(plain));
        // description stays the contract's full version text.
        assert_eq!(pg(redshift, None, None).description, redshift);
    }

    #[test]
    fn mysql_wire_products_from_their_documented_strings() {
        assert_eq!(
            facts(&my("8.0.11-TiDB-v7.5.0", None)),
            want("TiDB", "7.5.0", (7, 5, 0), Some(("MySQL", "8.0.11")))
        );
        assert_eq!(
            facts(&my("5.7.25-TiDB-v6.5.2", None)),
            want("TiDB", "6.5.2", (6, 5, 2), Some(("MySQL", "5.7.25")))
        );
        let vitess_comment = "Version: 19.0.4 (Git revision 3eb4ab0 branch 'HEAD') built on Wed Jun  5 2024 by vitess@buildkitsandbox using go1.22.3 linux/amd64";
        assert_eq!(
            facts(&my("8.0.30-Vitess", Some(vitess_comment))),
            want("Vitess", "19.0.4", (19, 0, 4), Some(("MySQL", "8.0.30")))
        );
        // PlanetScale without a version in its comment: the version is unknown, not MySQL's.
        assert_eq!(
            facts(&my("8.0.34-PlanetScale", Some("PlanetScale"))),
            want("PlanetScale", "", (0, 0, 0), Some(("MySQL", "8.0.34")))
        );
        assert_eq!(
            facts(&my("10.11.6-MariaDB-0+deb12u1", None)),
            want("MariaDB", "10.11.6", (10, 11, 6), None)
        );
        assert_eq!(
            facts(&my("5.5.5-10.4.32-MariaDB-log", None)),
            want("MariaDB", "10.4.32", (10, 4, 32), None)
        );
        assert_eq!(
            facts(&my("8.0.36-0ubuntu0.22.04.1", Some("(Ubuntu)"))),
            want("MySQL", "8.0.36", (8, 0, 36), None)
        );
        assert_eq!(
            facts(&my(
                "5.7.99",
                Some("Doris version doris-2.1.7-rc03-443e87e203")
            )),
            want(
                "Apache Doris",
                "2.1.7",
                (2, 1, 7),
                Some(("MySQL", "5.7.99"))
            )
        );
        // Older Doris: the version without the "doris-" prefix.
        assert_eq!(
            facts(&my("5.1.0", Some("Doris version 0.14.0-release"))),
            want(
                "Apache Doris",
                "0.14.0",
                (0, 14, 0),
                Some(("MySQL", "5.1.0"))
            )
        );
        assert_eq!(
            facts(&my("5.1.0", Some("StarRocks version 2.1.2"))),
            want("StarRocks", "2.1.2", (2, 1, 2), Some(("MySQL", "5.1.0")))
        );
        assert_eq!(
            facts(&my("8.0.33", Some("StarRocks version 3.3.5-4f3a2ee"))),
            want("StarRocks", "3.3.5", (3, 3, 5), Some(("MySQL", "8.0.33")))
        );
        let memsql = "MemSQL source distribution (compatible; MySQL Enterprise & MySQL Commercial)";
        assert_eq!(
            facts(&my_with("5.7.32", Some(memsql), Some("8.5.7"))),
            want("SingleStore", "8.5.7", (8, 5, 7), Some(("MySQL", "5.7.32")))
        );
        // MariaDB's and MySQL's own comments name no other product.
        assert_eq!(
            facts(&my("10.11.6-MariaDB-0+deb12u1", Some("Debian 12"))),
            want("MariaDB", "10.11.6", (10, 11, 6), None)
        );
        assert_eq!(
            facts(&my("8.0.36", Some("MySQL Community Server - GPL"))),
            want("MySQL", "8.0.36", (8, 0, 36), None)
        );
    }

    #[test]
    fn aurora_is_named_from_its_own_version_asked_only_of_rds_endpoints() {
        let aurora = |wire, text, own| {
            identify(&Seen {
                wire,
                version_text: text,
                server_version: None,
                crdb_version: None,
                version_comment: None,
                memsql_version: None,
                aurora_version: own,
            })
        };
        assert_eq!(
            facts(&aurora(Wire::Postgres, "PostgreSQL 15.4 on aarch64-unknown-linux-gnu, compiled by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit", Some("15.4.1"))),
            want("Amazon Aurora PostgreSQL", "15.4.1", (15, 4, 1), Some(("PostgreSQL", "15.4")))
        );
        assert_eq!(
            facts(&aurora(Wire::Mysql, "8.0.28", Some("3.04.0"))),
            want(
                "Amazon Aurora MySQL",
                "3.04.0",
                (3, 4, 0),
                Some(("MySQL", "8.0.28"))
            )
        );
        // Plain RDS answers with an error: nothing asked, nothing named.
        assert_eq!(facts(&aurora(Wire::Mysql, "8.0.28", None)).0, "MySQL");
        for host in [
            "prod.cluster-c9akciq32.us-east-1.rds.amazonaws.com",
            "prod.cluster-ro-c9akciq32.eu-west-1.rds.amazonaws.com.",
            "instance-1.c9akciq32.us-east-1.rds.amazonaws.com",
            "db.cluster-x.cn-north-1.rds.amazonaws.com.cn",
        ] {
            assert!(may_be_aurora(host), "{host}");
        }
        for host in [
            "db.example.com",
            "rds.amazonaws.com.evil.test",
            "127.0.0.1",
            "amazonaws.com",
        ] {
            assert!(!may_be_aurora(host), "{host}");
        }
    }

    #[test]
    fn only_singlestore_asks_for_another_query() {
        assert!(needs_memsql_version(
            "MemSQL source distribution (compatible; MySQL Enterprise & MySQL Commercial)"
        ));
        for comment in [
            "MySQL Community Server - GPL",
            "mariadb.org binary distribution",
            "Doris version doris-2.1.7-rc03",
            "StarRocks version 2.1.2",
            "Version: 19.0.4 (Git revision 3eb4ab0 branch 'HEAD')",
        ] {
            assert!(!needs_memsql_version(comment), "{comment}");
        }
    }

    #[test]
    fn odd_strings_never_panic_and_name_the_wire() {
        for text in [
            "",
            " ",
            "v",
            "Redshift ",
            "-YB-",
            "CockroachDB",
            "(Greenplum Database x",
        ] {
            let v = pg(text, None, None);
            assert!(!v.product_name.is_empty());
            let v = my(text, None);
            assert!(!v.product_name.is_empty());
        }
        assert_eq!(pg("", None, None).product_name, "PostgreSQL");
        assert_eq!(my("", None).product_name, "MySQL");
    }
}
