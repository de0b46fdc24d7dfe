//! One admin script from start to finish: data sources, people, roles, memberships, permissions,
//! people moving between roles, revocations, expiry, locking and deletions. After every step the
//! script compares every relevant list, as whole lists of ids in order, with what it expects.

use std::time::Duration;

use jackal::clock::ManualClock;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_json, ok_json, spawn_app_with_clock, TestApp};
use crate::person::{
    add_ds, add_person, add_role, delete_count, delete_ok, id, list_ids, lock, put_ok, ts, HOUR,
    MINUTE, SECOND, T0,
};

struct Grant {
    id: String,
    person: String,
    ds: String,
    starts: i64,
    expires: i64,
}

/// What the admin believes is stored: (name, id) pairs in creation order, memberships as
/// (role id, member id), permissions in grant order.
#[derive(Default)]
struct World {
    now: i64,
    ds: Vec<(String, String)>,
    people: Vec<(String, String)>,
    roles: Vec<(String, String)>,
    locked: Vec<String>,
    role_ds: Vec<(String, String)>,
    role_people: Vec<(String, String)>,
    grants: Vec<Grant>,
}

fn lookup(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
        .clone()
}

impl World {
    fn ds(&self, alias: &str) -> String {
        lookup(&self.ds, alias)
    }

    fn person(&self, username: &str) -> String {
        lookup(&self.people, username)
    }

    fn role(&self, name: &str) -> String {
        lookup(&self.roles, name)
    }

    fn grant_ids(&self, keep: impl Fn(&Grant) -> bool) -> Vec<String> {
        self.grants
            .iter()
            .filter(|g| keep(g))
            .map(|g| g.id.clone())
            .collect()
    }

    fn reaches(&self, person: &str, ds: &str) -> bool {
        if self.locked.iter().any(|p| p == person) {
            return false;
        }
        let by_role = self.roles.iter().any(|(_, r)| {
            self.role_people.contains(&(r.clone(), person.to_owned()))
                && self.role_ds.contains(&(r.clone(), ds.to_owned()))
        });
        let by_grant = self.grants.iter().any(|g| {
            g.person == person && g.ds == ds && g.starts <= self.now && self.now < g.expires
        });
        by_role || by_grant
    }

    fn remove_grants(&mut self, keep: impl Fn(&Grant) -> bool) -> u64 {
        let before = self.grants.len();
        self.grants.retain(|g| keep(g));
        (before - self.grants.len()) as u64
    }
}

/// Every list the API has, compared whole with the admin's expectation.
async fn check(app: &TestApp, w: &World, step: &str) {
    let all = |pairs: &[(String, String)]| -> Vec<String> {
        pairs.iter().map(|(_, i)| i.clone()).collect()
    };
    assert_eq!(list_ids(app, "/data-source").await, all(&w.ds), "{step}");
    assert_eq!(list_ids(app, "/person").await, all(&w.people), "{step}");
    assert_eq!(list_ids(app, "/role").await, all(&w.roles), "{step}");
    assert_eq!(
        list_ids(app, "/permission").await,
        w.grant_ids(|_| true),
        "{step}"
    );

    for (name, rid) in &w.roles {
        let ds: Vec<String> =
            w.ds.iter()
                .filter(|(_, d)| w.role_ds.contains(&(rid.clone(), d.clone())))
                .map(|(_, d)| d.clone())
                .collect();
        let path = format!("/role/{name}/data-source");
        assert_eq!(list_ids(app, &path).await, ds, "{step}: {path}");
        let people: Vec<String> = w
            .people
            .iter()
            .filter(|(_, p)| w.role_people.contains(&(rid.clone(), p.clone())))
            .map(|(_, p)| p.clone())
            .collect();
        let path = format!("/role/{rid}/person");
        assert_eq!(list_ids(app, &path).await, people, "{step}: {path}");
    }

    for (alias, did) in &w.ds {
        let roles: Vec<String> = w
            .roles
            .iter()
            .filter(|(_, r)| w.role_ds.contains(&(r.clone(), did.clone())))
            .map(|(_, r)| r.clone())
            .collect();
        let path = format!("/data-source/{alias}/role");
        assert_eq!(list_ids(app, &path).await, roles, "{step}: {path}");
        let path = format!("/data-source/{alias}/permission");
        assert_eq!(
            list_ids(app, &path).await,
            w.grant_ids(|g| &g.ds == did),
            "{step}: {path}"
        );
        for (username, pid) in &w.people {
            let path = format!("/data-source/{did}/permission/person/{username}");
            assert_eq!(
                list_ids(app, &path).await,
                w.grant_ids(|g| &g.ds == did && &g.person == pid),
                "{step}: {path}"
            );
        }
    }

    for (username, pid) in &w.people {
        let roles: Vec<String> = w
            .roles
            .iter()
            .filter(|(_, r)| w.role_people.contains(&(r.clone(), pid.clone())))
            .map(|(_, r)| r.clone())
            .collect();
        let path = format!("/person/{username}/role");
        assert_eq!(list_ids(app, &path).await, roles, "{step}: {path}");
        let path = format!("/person/{pid}/permission");
        assert_eq!(
            list_ids(app, &path).await,
            w.grant_ids(|g| &g.person == pid),
            "{step}: {path}"
        );
        let reach: Vec<String> =
            w.ds.iter()
                .filter(|(_, d)| w.reaches(pid, d))
                .map(|(_, d)| d.clone())
                .collect();
        let path = format!("/person/{username}/data-source");
        assert_eq!(list_ids(app, &path).await, reach, "{step}: {path}");
        let person = ok_json(app.get(&format!("/person/{pid}")).await).await;
        assert_eq!(
            person["isLocked"],
            w.locked.contains(pid),
            "{step}: {username}"
        );
    }
}

async fn grant(
    app: &TestApp,
    w: &mut World,
    alias: &str,
    username: &str,
    seconds: i64,
    starts: Option<i64>,
) -> String {
    let mut body = format!("duration={seconds}");
    if let Some(starts) = starts {
        body.push_str(&format!("&startsAt={}", ts(starts)));
    }
    let path = format!("/data-source/{alias}/permission/person/{username}");
    let p = ok_json(app.form(Method::POST, &path, &body).await).await;
    let starts = starts.unwrap_or(w.now);
    let expires = starts + seconds * SECOND;
    assert_eq!(p["startsAt"], ts(starts), "{path} {body}");
    assert_eq!(p["expiresAt"], ts(expires), "{path} {body}");
    assert_eq!(p["personId"], w.person(username).as_str());
    assert_eq!(p["dataSourceId"], w.ds(alias).as_str());
    let pid = id(&p);
    w.grants.push(Grant {
        id: pid.clone(),
        person: w.person(username),
        ds: w.ds(alias),
        starts,
        expires,
    });
    pid
}

async fn join(app: &TestApp, w: &mut World, role: &str, username: &str) {
    put_ok(app, &format!("/role/{role}/person/{username}")).await;
    w.role_people.push((w.role(role), w.person(username)));
}

async fn leave(app: &TestApp, w: &mut World, role: &str, username: &str) {
    delete_ok(app, &format!("/role/{role}/person/{username}")).await;
    let pair = (w.role(role), w.person(username));
    w.role_people.retain(|m| *m != pair);
}

async fn attach(app: &TestApp, w: &mut World, role: &str, alias: &str) {
    put_ok(app, &format!("/role/{role}/data-source/{alias}")).await;
    w.role_ds.push((w.role(role), w.ds(alias)));
}

#[tokio::test]
async fn an_admin_script_sets_up_moves_revokes_and_deletes_and_every_list_follows() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    let mut w = World {
        now: T0,
        ..World::default()
    };
    let tick = |w: &mut World, ms: i64| {
        w.now += ms;
        clock.advance(Duration::from_millis(ms as u64));
    };

    // 1. Three data sources, five people, two roles.
    for alias in ["warehouse", "billing", "audit"] {
        let ds = add_ds(&app, alias).await;
        w.ds.push((alias.to_owned(), id(&ds)));
        tick(&mut w, SECOND);
    }
    for username in ["alice", "bob", "carol", "dave", "erin"] {
        let person = add_person(&app, username).await;
        w.people.push((username.to_owned(), id(&person)));
        tick(&mut w, SECOND);
    }
    for name in ["analysts", "engineers"] {
        let role = add_role(&app, name).await;
        w.roles.push((name.to_owned(), id(&role)));
        tick(&mut w, SECOND);
    }
    check(&app, &w, "1. created").await;
    for (username, _) in &w.people {
        let path = format!("/person/{username}/data-source");
        assert_eq!(ok_json(app.get(&path).await).await, json!([]), "{path}");
    }

    // 2. Memberships.
    attach(&app, &mut w, "analysts", "billing").await;
    attach(&app, &mut w, "analysts", "warehouse").await;
    attach(&app, &mut w, "engineers", "audit").await;
    attach(&app, &mut w, "engineers", "warehouse").await;
    join(&app, &mut w, "analysts", "alice").await;
    join(&app, &mut w, "analysts", "bob").await;
    join(&app, &mut w, "engineers", "carol").await;
    tick(&mut w, SECOND);
    check(&app, &w, "2. memberships").await;
    assert_eq!(
        list_ids(&app, "/role/analysts/data-source").await,
        [w.ds("warehouse"), w.ds("billing")]
    );
    assert_eq!(
        list_ids(&app, "/data-source/warehouse/role").await,
        [w.role("analysts"), w.role("engineers")]
    );
    assert_eq!(
        list_ids(&app, "/person/carol/data-source").await,
        [w.ds("warehouse"), w.ds("audit")]
    );

    // 3. Ten permissions.
    let start = w.now;
    let dave_billing = grant(&app, &mut w, "billing", "dave", 3_600, None).await;
    let dave_audit = grant(&app, &mut w, "audit", "dave", 7_200, None).await;
    let erin_warehouse = grant(
        &app,
        &mut w,
        "warehouse",
        "erin",
        3_600,
        Some(start + 30 * MINUTE),
    )
    .await;
    let erin_billing = grant(&app, &mut w, "billing", "erin", 3_600, None).await;
    let alice_audit = grant(&app, &mut w, "audit", "alice", 3_600, None).await;
    let bob_audit = grant(&app, &mut w, "audit", "bob", 10_800, None).await;
    let carol_billing = grant(&app, &mut w, "billing", "carol", 1_800, None).await;
    let alice_warehouse = grant(&app, &mut w, "warehouse", "alice", 3_600, None).await;
    let erin_audit = grant(&app, &mut w, "audit", "erin", 86_400, None).await;
    let bob_billing = grant(
        &app,
        &mut w,
        "billing",
        "bob",
        3_600,
        Some(start - 2 * HOUR),
    )
    .await;
    assert_eq!(w.grants.len(), 10);
    check(&app, &w, "3. ten permissions").await;
    assert_eq!(
        list_ids(&app, "/permission").await,
        [
            &dave_billing,
            &dave_audit,
            &erin_warehouse,
            &erin_billing,
            &alice_audit,
            &bob_audit,
            &carol_billing,
            &alice_warehouse,
            &erin_audit,
            &bob_billing
        ]
        .map(String::clone)
    );
    assert_eq!(
        list_ids(&app, "/person/dave/data-source").await,
        [w.ds("billing"), w.ds("audit")]
    );
    assert_eq!(
        list_ids(&app, "/person/erin/data-source").await,
        [w.ds("billing"), w.ds("audit")],
        "the warehouse permission has not started"
    );
    assert_eq!(
        list_ids(&app, "/person/alice/data-source").await,
        [w.ds("warehouse"), w.ds("billing"), w.ds("audit")],
        "warehouse by role and permission, once"
    );

    // 4. Bob moves to engineers; carol moves to analysts.
    tick(&mut w, MINUTE);
    leave(&app, &mut w, "analysts", "bob").await;
    join(&app, &mut w, "engineers", "bob").await;
    leave(&app, &mut w, "engineers", "carol").await;
    join(&app, &mut w, "analysts", "carol").await;
    check(&app, &w, "4. moves").await;
    assert_eq!(
        list_ids(&app, "/role/analysts/person").await,
        [w.person("alice"), w.person("carol")]
    );
    assert_eq!(
        list_ids(&app, "/role/engineers/person").await,
        [w.person("bob")]
    );

    // 5. Revocations: one by id, one pair, one person's all.
    tick(&mut w, MINUTE);
    delete_ok(&app, &format!("/permission/{bob_audit}")).await;
    w.remove_grants(|g| g.id != bob_audit);
    check(&app, &w, "5a. revoke one").await;

    let erin = w.person("erin");
    let billing = w.ds("billing");
    let n = w.remove_grants(|g| !(g.person == erin && g.ds == billing));
    assert_eq!(n, 1);
    delete_count(&app, "/data-source/billing/permission/person/erin", n).await;
    check(&app, &w, "5b. revoke a pair").await;

    let dave = w.person("dave");
    let n = w.remove_grants(|g| g.person != dave);
    assert_eq!(n, 2);
    delete_count(&app, &format!("/person/{dave}/permission"), n).await;
    check(&app, &w, "5c. revoke a person's all").await;
    assert_eq!(
        list_ids(&app, "/person/dave/data-source").await,
        Vec::<String>::new()
    );

    // 6. Time passes: erin's warehouse permission starts, carol's billing one ends.
    w.now = start + 45 * MINUTE;
    clock.set_millis(w.now);
    check(&app, &w, "6. 45 minutes in").await;
    assert_eq!(
        list_ids(&app, "/person/erin/data-source").await,
        [w.ds("warehouse"), w.ds("audit")]
    );
    assert_eq!(
        list_ids(&app, "/person/carol/data-source").await,
        [w.ds("warehouse"), w.ds("billing")],
        "billing still through analysts"
    );

    // 7. Later still: the one-hour permissions are over but still listed.
    w.now = start + 100 * MINUTE;
    clock.set_millis(w.now);
    check(&app, &w, "7. 100 minutes in").await;
    assert_eq!(
        list_ids(&app, "/person/erin/data-source").await,
        [w.ds("audit")]
    );
    assert!(list_ids(&app, "/permission")
        .await
        .contains(&erin_warehouse));

    // 8. Carol is locked, reaches nothing, then is deleted; bob cannot be deleted unlocked.
    let carol = w.person("carol");
    lock(&app, "carol").await;
    w.locked.push(carol.clone());
    check(&app, &w, "8a. carol locked").await;
    assert_eq!(
        list_ids(&app, "/person/carol/data-source").await,
        Vec::<String>::new()
    );
    delete_ok(&app, "/person/carol@example.com").await;
    w.people.retain(|(_, p)| *p != carol);
    w.locked.retain(|p| *p != carol);
    w.role_people.retain(|(_, p)| *p != carol);
    w.remove_grants(|g| g.person != carol);
    check(&app, &w, "8b. carol deleted").await;
    assert!(!list_ids(&app, "/permission").await.contains(&carol_billing));
    error_json(app.delete("/person/bob").await, 409, "person_not_locked").await;
    check(&app, &w, "8c. bob not deleted").await;

    // 9. The audit data source is retired.
    let audit = w.ds("audit");
    delete_ok(&app, "/data-source/audit").await;
    w.ds.retain(|(_, d)| *d != audit);
    w.role_ds.retain(|(_, d)| *d != audit);
    let gone = w.remove_grants(|g| g.ds != audit);
    assert_eq!(gone, 2, "alice's and erin's");
    check(&app, &w, "9. audit deleted").await;
    assert_eq!(
        list_ids(&app, "/role/engineers/data-source").await,
        [w.ds("warehouse")]
    );

    // 10. Engineers lose the warehouse; analysts are disbanded.
    tick(&mut w, MINUTE);
    delete_ok(&app, "/role/engineers/data-source/warehouse").await;
    let pair = (w.role("engineers"), w.ds("warehouse"));
    w.role_ds.retain(|m| *m != pair);
    check(&app, &w, "10a. engineers without warehouse").await;
    let analysts = w.role("analysts");
    delete_ok(&app, "/role/analysts").await;
    w.roles.retain(|(_, r)| *r != analysts);
    w.role_ds.retain(|(r, _)| *r != analysts);
    w.role_people.retain(|(r, _)| *r != analysts);
    check(&app, &w, "10b. analysts deleted").await;
    assert_eq!(
        list_ids(&app, "/person/alice/role").await,
        Vec::<String>::new()
    );

    // 11. Clean the warehouse's (expired) permissions.
    let warehouse = w.ds("warehouse");
    let n = w.remove_grants(|g| g.ds != warehouse);
    assert_eq!(n, 2, "erin's and alice's");
    delete_count(&app, "/data-source/warehouse/permission", n).await;
    check(&app, &w, "11. warehouse permissions deleted").await;

    // The end state, spelled out.
    assert_eq!(
        list_ids(&app, "/data-source").await,
        [w.ds("warehouse"), w.ds("billing")]
    );
    assert_eq!(
        list_ids(&app, "/person").await,
        [
            w.person("alice"),
            w.person("bob"),
            w.person("dave"),
            w.person("erin")
        ]
    );
    assert_eq!(list_ids(&app, "/role").await, [w.role("engineers")]);
    assert_eq!(list_ids(&app, "/permission").await, [bob_billing]);
    assert_eq!(
        list_ids(&app, "/role/engineers/person").await,
        [w.person("bob")]
    );
    assert_eq!(
        list_ids(&app, "/role/engineers/data-source").await,
        Vec::<String>::new()
    );
    for (username, _) in &w.people {
        let path = format!("/person/{username}/data-source");
        assert_eq!(ok_json(app.get(&path).await).await, json!([]), "{path}");
    }
}
