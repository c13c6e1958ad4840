//! ACLs: world, digest, auth, ip and super; each permission enforced; addauth.

use zk::{Acl, Acls, AuthId, CreateMode, Error, Permission};
use zkrs_tests::*;

fn acl(perms: Permission, scheme: &str, id: &str) -> Acl {
    Acl::new(perms, AuthId::new(scheme, id))
}

fn with_acl(acls: &[Acl]) -> zk::CreateOptions<'_> {
    CreateMode::Persistent.with_acls(Acls::new(acls))
}

async fn digest_client(server: &ServerUnderTest, user_password: &str) -> zk::Client {
    server
        .connect(zk::Client::connector().with_auth("digest", user_password.as_bytes()))
        .await
}

#[tokio::test]
async fn each_permission_is_enforced() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    let perms = [
        ("READ", Permission::READ),
        ("WRITE", Permission::WRITE),
        ("CREATE", Permission::CREATE),
        ("DELETE", Permission::DELETE),
        ("ADMIN", Permission::ADMIN),
        ("NONE", Permission::NONE),
    ];
    for (name, perm) in perms {
        let node = format!("/{name}");
        // Open while it is set up, then restricted to `perm` for everyone.
        c.create(&node, b"data", &open()).await.unwrap();
        c.create(&format!("{node}/victim"), b"", &open())
            .await
            .unwrap();
        let only = [acl(perm, "world", "anyone")];
        c.set_acl(&node, &only, None).await.unwrap();

        let allowed = |p: Permission| perm != Permission::NONE && perm.has(p);
        let check = |what: &str, p: Permission, result: Result<(), Error>| {
            if allowed(p) {
                assert_eq!(result, Ok(()), "{what} on a {name}-only node");
            } else {
                assert_eq!(result, Err(Error::NoAuth), "{what} on a {name}-only node");
            }
        };
        check(
            "getData",
            Permission::READ,
            c.get_data(&node).await.map(|_| ()),
        );
        check(
            "getChildren",
            Permission::READ,
            c.list_children(&node).await.map(|_| ()),
        );
        check(
            "getChildren2",
            Permission::READ,
            c.get_children(&node).await.map(|_| ()),
        );
        check(
            "getAllChildrenNumber",
            Permission::READ,
            c.count_descendants_number(&node).await.map(|_| ()),
        );
        check(
            "setData",
            Permission::WRITE,
            c.set_data(&node, b"new", None).await.map(|_| ()),
        );
        check(
            "create child",
            Permission::CREATE,
            c.create(&format!("{node}/new"), b"", &open())
                .await
                .map(|_| ()),
        );
        // DELETE on the parent governs deleting a child (the child itself is open).
        check(
            "delete child",
            Permission::DELETE,
            c.delete(&format!("{node}/victim"), None).await,
        );
        check(
            "setACL",
            Permission::ADMIN,
            c.set_acl(&node, &only, None).await.map(|_| ()),
        );
        // exists is never checked.
        assert!(c.check_stat(&node).await.unwrap().is_some());
        // The children of a restricted node keep their own (open) ACL.
        if !allowed(Permission::DELETE) {
            c.set_data(&format!("{node}/victim"), b"x", None)
                .await
                .unwrap();
        }
    }
    // Deleting a node needs DELETE on its parent, not on the node itself.
    c.create("/parent", b"", &open()).await.unwrap();
    c.create(
        "/parent/locked",
        b"",
        &with_acl(&[acl(Permission::READ, "world", "anyone")]),
    )
    .await
    .unwrap();
    c.delete("/parent/locked", None).await.unwrap();
}

#[tokio::test]
async fn get_acl_needs_read_or_admin_and_hides_digests_without_admin() {
    let server = ServerUnderTest::start();
    let alice = digest_client(&server, "alice:secret").await;
    let anon = server.client().await;
    let alice_id = digest_id("alice", "secret");

    // READ for everyone, ALL for alice.
    let acls = [
        acl(Permission::READ, "world", "anyone"),
        acl(Permission::ALL, "digest", &alice_id),
    ];
    alice.create("/r", b"", &with_acl(&acls)).await.unwrap();
    assert_eq!(alice.get_acl("/r").await.unwrap().0, acls);
    // Without ADMIN, Apache replaces the digest hash with "x". (`synced`: alice's writes may
    // reach anon's member of an ensemble later.)
    assert_eq!(
        synced(&anon).await.get_acl("/r").await.unwrap().0,
        [
            acl(Permission::READ, "world", "anyone"),
            acl(Permission::ALL, "digest", "alice:x"),
        ]
    );

    // ADMIN alone is enough to read the ACL, in full.
    let admin = [
        acl(Permission::ADMIN, "world", "anyone"),
        acl(Permission::ALL, "digest", &alice_id),
    ];
    alice.create("/a", b"", &with_acl(&admin)).await.unwrap();
    assert_eq!(synced(&anon).await.get_acl("/a").await.unwrap().0, admin);

    // Neither: NoAuth.
    let neither = [
        acl(Permission::WRITE, "world", "anyone"),
        acl(Permission::ALL, "digest", &alice_id),
    ];
    alice.create("/n", b"", &with_acl(&neither)).await.unwrap();
    assert_eq!(synced(&anon).await.get_acl("/n").await, Err(Error::NoAuth));
    assert_eq!(alice.get_acl("/n").await.unwrap().0, neither);
}

#[tokio::test]
async fn digest_acl_admits_only_the_right_user_and_password() {
    let server = ServerUnderTest::start();
    let alice = digest_client(&server, "alice:secret").await;
    let id = digest_id("alice", "secret");
    assert_eq!(id, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
    alice
        .create(
            "/d",
            b"private",
            &with_acl(&[acl(Permission::ALL, "digest", &id)]),
        )
        .await
        .unwrap();
    assert_eq!(alice.get_data("/d").await.unwrap().0, b"private");

    let anon = server.client().await;
    // Each reader syncs first: in an ensemble it may be served by a member behind alice's.
    assert_eq!(synced(&anon).await.get_data("/d").await, Err(Error::NoAuth));
    assert_eq!(anon.set_data("/d", b"x", None).await, Err(Error::NoAuth));

    let bob = digest_client(&server, "bob:secret").await;
    assert_eq!(synced(&bob).await.get_data("/d").await, Err(Error::NoAuth));

    // A wrong password is not an error when authenticating: it is just another identity.
    let wrong = digest_client(&server, "alice:wrong").await;
    assert_eq!(
        synced(&wrong).await.get_data("/d").await,
        Err(Error::NoAuth)
    );

    // addauth on a live session takes effect for what follows.
    anon.auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(anon.get_data("/d").await.unwrap().0, b"private");
    anon.set_data("/d", b"changed", None).await.unwrap();
    // Several identities at once: bob adds alice's.
    bob.auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(
        synced(&bob).await.get_data("/d").await.unwrap().0,
        b"changed"
    );
}

#[tokio::test]
async fn auth_scheme_means_the_session_identities() {
    let server = ServerUnderTest::start();
    let anon = server.client().await;
    // Nobody authenticated: there is no identity to put in the ACL.
    assert_eq!(
        anon.create(
            "/x",
            b"",
            &CreateMode::Persistent.with_acls(Acls::creator_all())
        )
        .await,
        Err(Error::InvalidAcl)
    );

    let alice = digest_client(&server, "alice:secret").await;
    alice
        .create(
            "/x",
            b"",
            &CreateMode::Persistent.with_acls(Acls::creator_all()),
        )
        .await
        .unwrap();
    // The auth ACL was stored as the authenticated digest identity.
    let (acls, _) = alice.get_acl("/x").await.unwrap();
    assert_eq!(
        acls,
        [acl(
            Permission::ALL,
            "digest",
            &digest_id("alice", "secret")
        )]
    );
    assert_eq!(synced(&anon).await.get_data("/x").await, Err(Error::NoAuth));

    // whoami: the ip identity every connection has, plus the digest user.
    let mut users: Vec<(String, String)> = alice
        .list_auth_users()
        .await
        .unwrap()
        .iter()
        .map(|u| (u.scheme().to_string(), u.user().to_string()))
        .collect();
    users.sort();
    assert_eq!(
        users,
        [
            ("digest".to_string(), "alice".to_string()),
            ("ip".to_string(), "127.0.0.1".to_string())
        ]
    );
    let anon_users = anon.list_auth_users().await.unwrap();
    assert_eq!(anon_users, [zk::AuthUser::new("ip", "127.0.0.1")]);
}

#[tokio::test]
async fn ip_acl_matches_the_client_address() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    c.create(
        "/mine",
        b"ip",
        &with_acl(&[acl(Permission::ALL, "ip", "127.0.0.1")]),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/mine").await.unwrap().0, b"ip");

    c.create(
        "/net",
        b"ip",
        &with_acl(&[acl(Permission::READ, "ip", "127.0.0.0/8")]),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/net").await.unwrap().0, b"ip");
    assert_eq!(c.set_data("/net", b"x", None).await, Err(Error::NoAuth));

    // Another address (a documentation range: only a string here).
    c.create(
        "/other",
        b"ip",
        &with_acl(&[acl(Permission::ALL, "ip", "192.0.2.0/24")]),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/other").await, Err(Error::NoAuth));
    assert_eq!(c.list_children("/other").await, Err(Error::NoAuth));
}

#[tokio::test]
async fn invalid_acls_are_rejected() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    for bad in [
        acl(Permission::ALL, "digest", "no-colon"),
        acl(Permission::ALL, "no-such-scheme", "x"),
        acl(Permission::ALL, "ip", "999.1.1.1"),
    ] {
        assert_eq!(
            c.create("/n", b"", &with_acl(std::slice::from_ref(&bad)))
                .await,
            Err(Error::InvalidAcl),
            "{bad:?}"
        );
    }
    assert!(c.check_stat("/n").await.unwrap().is_none());
    c.create("/n", b"", &open()).await.unwrap();
    assert_eq!(
        c.set_acl("/n", &[acl(Permission::ALL, "digest", "no-colon")], None)
            .await,
        Err(Error::InvalidAcl)
    );
}

#[tokio::test]
async fn addauth_with_an_unknown_scheme_fails_the_session() {
    let server = ServerUnderTest::start();
    let c = server.client().await;
    assert_eq!(c.auth("no-such-scheme", b"x").await, Err(Error::AuthFailed));
    assert_eq!(c.state(), zk::SessionState::AuthFailed);
    assert_eq!(c.get_data("/").await, Err(Error::AuthFailed));
}

#[tokio::test]
async fn super_digest_passes_every_check() {
    let server = ServerUnderTest::start_with(ServerConfig::default().with_super_password("sup3r"));
    let alice = digest_client(&server, "alice:secret").await;
    let id = digest_id("alice", "secret");
    alice
        .create(
            "/private",
            b"alice's",
            &with_acl(&[acl(Permission::ALL, "digest", &id)]),
        )
        .await
        .unwrap();
    alice.create("/private/kid", b"", &open()).await.unwrap();
    alice
        .set_acl(
            "/private/kid",
            &[acl(Permission::NONE, "world", "anyone")],
            None,
        )
        .await
        .unwrap();

    let root = digest_client(&server, "super:sup3r").await;
    // Readers sync first: in an ensemble the writer's member may be ahead of theirs.
    assert_eq!(
        synced(&root).await.get_data("/private").await.unwrap().0,
        b"alice's"
    );
    assert_eq!(
        root.get_acl("/private").await.unwrap().0,
        [acl(Permission::ALL, "digest", &id)]
    );
    assert_eq!(root.get_data("/private/kid").await.unwrap().0, b"");
    root.set_data("/private", b"super's", None).await.unwrap();
    root.delete("/private/kid", None).await.unwrap();
    assert_eq!(
        synced(&alice).await.get_data("/private").await.unwrap().0,
        b"super's"
    );

    // The super identity is a digest identity like any other for those without the password.
    let impostor = digest_client(&server, "super:guess").await;
    assert_eq!(
        synced(&impostor).await.get_data("/private").await,
        Err(Error::NoAuth)
    );
}
