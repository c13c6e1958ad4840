"""The official ZooKeeper shell (zkCli.sh 3.8) against the server under test.

Each test batches its commands into as few zkCli runs as possible (one JVM
start each) and asserts on the exact text zkCli prints.  Where the printed
values come from the server (zxids, versions, times, ACL ids), they are
cross-checked with an independent kazoo client.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time

from zkcli import InteractiveCli, run_batch, run_oneshot
from zkhelpers import wait_until

STAT_FIELDS = [
    "cZxid",
    "ctime",
    "mZxid",
    "mtime",
    "pZxid",
    "cversion",
    "dataVersion",
    "aclVersion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
]
HEX_FIELDS = {"cZxid", "mZxid", "pZxid", "ephemeralOwner"}
TIME_FIELDS = {"ctime", "mtime"}
# java.util.Date.toString() with TZ=UTC: "Wed Nov 25 10:58:48 UTC 2026"
JAVA_DATE_RE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}")


def java_date(ms: int) -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(ms / 1000.0))


def parse_stat(lines: list[str]) -> dict:
    """Parse the 11 ``name = value`` lines zkCli prints for a Stat."""
    assert len(lines) == len(STAT_FIELDS), f"not a stat block: {lines!r}"
    stat = {}
    for name, line in zip(STAT_FIELDS, lines):
        prefix = f"{name} = "
        assert line.startswith(prefix), f"expected {prefix!r}..., got {line!r} in {lines!r}"
        value = line[len(prefix):]
        if name in HEX_FIELDS:
            assert re.fullmatch(r"0x[0-9a-f]+", value), line
            stat[name] = int(value, 16)
        elif name in TIME_FIELDS:
            assert JAVA_DATE_RE.fullmatch(value), line
            stat[name] = value
        else:
            assert re.fullmatch(r"-?\d+", value), line
            stat[name] = int(value)
    return stat


def assert_stat_matches(printed: dict, zstat) -> None:
    """Compare a parsed zkCli stat with a kazoo ZnodeStat."""
    assert printed["cZxid"] == zstat.czxid
    assert printed["mZxid"] == zstat.mzxid
    assert printed["pZxid"] == zstat.pzxid
    assert printed["ctime"] == java_date(zstat.ctime)
    assert printed["mtime"] == java_date(zstat.mtime)
    assert printed["cversion"] == zstat.cversion
    assert printed["dataVersion"] == zstat.version
    assert printed["aclVersion"] == zstat.aversion
    assert printed["ephemeralOwner"] == zstat.ephemeralOwner
    assert printed["dataLength"] == zstat.dataLength
    assert printed["numChildren"] == zstat.numChildren


def digest(user: str, password: str) -> str:
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------


def test_connect_banner_and_ls_root(zk_server, zk_hosts):
    r = run_batch(zk_hosts, ["ls /", "ls /zookeeper", "ls /zookeeper/quota"])
    assert r.preamble[0] == f"Connecting to {zk_hosts}", r.describe()
    assert "Welcome to ZooKeeper!" in r.preamble, r.describe()
    assert "JLine support is disabled" in r.preamble, r.describe()
    # First event: the connection; last: the close caused by `quit`.
    assert r.events[0] == "WatchedEvent state:SyncConnected type:None path:null", r.describe()
    assert r.events[-1] == "WatchedEvent state:Closed type:None path:null", r.describe()
    root = r.out(0)
    assert len(root) == 1 and root[0].startswith("[") and root[0].endswith("]"), r.describe()
    assert "zookeeper" in root[0][1:-1].split(", "), r.describe()
    assert r.out(1) == ["[config, quota]"], r.describe()
    assert r.out(2) == ["[]"], r.describe()
    assert r.returncode == 0, r.describe()


def test_create_get_set_stat(zk_hosts, zk):
    r = run_batch(
        zk_hosts,
        [
            'create /wzyy "phone game"',  # 0
            "get /wzyy",  # 1
            "get -s /wzyy",  # 2
            "create /wzyy again",  # 3
            'set /wzyy "mobile game"',  # 4
            "get -s /wzyy",  # 5
            "stat /wzyy",  # 6
            "set -s /wzyy xyz",  # 7
            "set -v 0 /wzyy stale",  # 8
            "set -v 2 /wzyy fresh",  # 9
            "get /wzyy",  # 10
        ],
    )
    d = r.describe()
    assert r.out(0) == ["Created /wzyy"], d
    assert r.out(1) == ["phone game"], d

    out2 = r.out(2)
    assert out2[0] == "phone game", d
    s0 = parse_stat(out2[1:])
    assert s0["cZxid"] == s0["mZxid"] == s0["pZxid"], d
    assert s0["ctime"] == s0["mtime"], d
    assert (s0["cversion"], s0["dataVersion"], s0["aclVersion"]) == (0, 0, 0), d
    assert s0["ephemeralOwner"] == 0, d
    assert s0["dataLength"] == len("phone game"), d
    assert s0["numChildren"] == 0, d

    assert r.out(3) == ["Node already exists: /wzyy"], d
    assert r.out(4) == [], d

    out5 = r.out(5)
    assert out5[0] == "mobile game", d
    s1 = parse_stat(out5[1:])
    assert s1["cZxid"] == s0["cZxid"], d
    assert s1["mZxid"] > s0["mZxid"], d
    assert s1["pZxid"] == s0["pZxid"], d
    assert s1["dataVersion"] == 1, d
    assert s1["dataLength"] == len("mobile game"), d

    # `stat` prints only the Stat, identical to the one after `get -s`.
    assert parse_stat(r.out(6)) == s1, d

    s2 = parse_stat(r.out(7))
    assert s2["dataVersion"] == 2 and s2["dataLength"] == 3, d
    assert s2["mZxid"] > s1["mZxid"], d

    assert r.out(8) == ["version No is not valid : /wzyy"], d
    assert r.out(9) == [], d
    assert r.out(10) == ["fresh"], d

    # zkCli's session wrote it; in an ensemble kazoo's member may lag until a sync.
    zk.sync("/")
    data, zstat = zk.get("/wzyy")
    assert data == b"fresh"
    assert zstat.version == 3
    assert s0["cZxid"] == zstat.czxid
    assert s0["ctime"] == java_date(zstat.ctime)
    assert s2["mZxid"] < zstat.mzxid


def test_sequential_numbering_follows_parent_cversion(zk_hosts, zk):
    r = run_batch(
        zk_hosts,
        [
            "create /zhanshi",  # 0
            "create /zhanshi/a",  # 1
            "create /zhanshi/b",  # 2
            "delete /zhanshi/b",  # 3
            "stat /zhanshi",  # 4
            'create -s /zhanshi/zhanshi "x"',  # 5
            "create -s /zhanshi/zhanshi",  # 6
            "create -s -e /zhanshi/eph",  # 7
            "create -s /zhanshi/",  # 8
            "ls /zhanshi",  # 9
            "ls -s /zhanshi",  # 10
        ],
    )
    d = r.describe()
    assert r.out(0) == ["Created /zhanshi"], d
    assert r.out(3) == [], d
    st = parse_stat(r.out(4))
    # Two creates and one delete of children: the client-visible cversion is 3.
    assert st["cversion"] == 3, d
    assert st["numChildren"] == 1, d
    # The sequence suffix (%010d) is the parent's *internal* cversion, which
    # counts child creations only.  Apache reports cversion to clients as
    # creations + deletions (DataNode.copyStat: internal*2 - numChildren), so
    # the next suffix is (cversion + numChildren) / 2 = (3 + 1) / 2 = 2.
    seq = (st["cversion"] + st["numChildren"]) // 2
    assert r.out(5) == [f"Created /zhanshi/zhanshi{seq:010d}"], d
    assert r.out(5) == ["Created /zhanshi/zhanshi0000000002"], d
    assert r.out(6) == ["Created /zhanshi/zhanshi0000000003"], d
    assert r.out(7) == ["Created /zhanshi/eph0000000004"], d
    assert r.out(8) == ["Created /zhanshi/0000000005"], d
    # zkCli sorts the children it prints; the ephemeral child (owned by the
    # zkCli session) still exists while the session is open.
    assert r.out(9) == [
        "[0000000005, a, eph0000000004, zhanshi0000000002, zhanshi0000000003]"
    ], d
    out10 = r.out(10)
    assert out10[0] == r.out(9)[0], d
    st2 = parse_stat(out10[1:])
    # 6 creations, 1 deletion.
    assert st2["cversion"] == 7 and st2["numChildren"] == 5, d

    # The zkCli session is closed: its ephemeral child is gone.
    zk.sync("/")  # zkCli's writes (another member, in an ensemble)
    wait_until(lambda: zk.exists("/zhanshi/eph0000000004") is None, 10,
               "ephemeral sequential node removed after zkCli quit")
    assert sorted(zk.get_children("/zhanshi")) == [
        "0000000005", "a", "zhanshi0000000002", "zhanshi0000000003"
    ]
    # The session-close deletion counts as a child change too.
    zstat = zk.exists("/zhanshi")
    assert (zstat.cversion, zstat.numChildren) == (8, 4)
    # ...and the next sequence number continues from the creations count.
    assert zk.create("/zhanshi/k", sequence=True) == "/zhanshi/k0000000006"


def test_ephemeral_node_lives_with_the_session(zk_hosts, zk):
    with InteractiveCli(zk_hosts) as cli:
        cli.sync_point()
        assert cli.run('create -e /eph "ephemeral data"') == ["Created /eph"]
        out = cli.run("get -s /eph")
        assert out[0] == "ephemeral data", out
        st = parse_stat(out[1:])
        assert st["ephemeralOwner"] != 0, out
        assert st["dataLength"] == len("ephemeral data")
        zk.sync("/")  # written by zkCli's session (another member, in an ensemble)
        data, zstat = zk.get("/eph")
        assert data == b"ephemeral data"
        assert_stat_matches(st, zstat)
        # The owner is the zkCli session, not ours.
        assert zstat.ephemeralOwner != zk.client_id[0]

        assert cli.run("getEphemerals /") == ["[/eph]"]
        assert cli.run("getEphemerals") == ["[/eph]"]
        assert cli.run("create /eph/child") == ["Ephemerals cannot have children: /eph/child"]
        assert cli.run("create -e /eph") == ["Node already exists: /eph"]
        assert zk.exists("/eph") is not None
    # `quit` closed the session: the ephemeral node is gone.
    wait_until(lambda: zk.exists("/eph") is None, 10, "ephemeral /eph removed after quit")


def test_ls_variants(zk_hosts, zk):
    r = run_batch(
        zk_hosts,
        [
            "create /lsdir",  # 0
            "create /lsdir/c2",  # 1
            "create /lsdir/c1 one",  # 2
            "create /lsdir/c1/g",  # 3
            "ls /lsdir",  # 4
            "ls -s /lsdir",  # 5
            "ls -R /lsdir",  # 6
            "getAllChildrenNumber /lsdir",  # 7
            "ls /",  # 8
            "ls /lsdir/c2",  # 9
            "sync /lsdir",  # 10
        ],
    )
    d = r.describe()
    assert r.out(4) == ["[c1, c2]"], d
    out5 = r.out(5)
    assert out5[0] == "[c1, c2]", d
    st = parse_stat(out5[1:])
    assert st["numChildren"] == 2 and st["cversion"] == 2, d
    zk.sync("/")  # written by zkCli's session (another member, in an ensemble)
    assert_stat_matches(st, zk.exists("/lsdir"))
    # ls -R: breadth first, starting with the path itself.
    rec = r.out(6)
    assert rec[0] == "/lsdir", d
    assert set(rec[1:3]) == {"/lsdir/c1", "/lsdir/c2"}, d
    assert rec[3:] == ["/lsdir/c1/g"], d
    assert r.out(7) == ["3"], d
    assert "lsdir" in r.out(8)[0][1:-1].split(", "), d
    assert r.out(9) == ["[]"], d
    assert r.out(10) == ["Sync is OK"], d


def test_delete_and_deleteall(zk_hosts, zk):
    r = run_batch(
        zk_hosts,
        [
            "create /del",  # 0
            "create /del/a",  # 1
            "create /del/a/b",  # 2
            "create /del/c",  # 3
            "delete /del",  # 4
            "delete /del/c",  # 5
            "delete /del/c",  # 6
            "delete -v 5 /del/a/b",  # 7
            "delete /del/a",  # 8
            "deleteall /del",  # 9
            "ls /del",  # 10
            "deleteall /del",  # 11
        ],
    )
    d = r.describe()
    assert r.out(4) == ["Node not empty: /del"], d
    assert r.out(5) == [], d
    assert r.out(6) == ["Node does not exist: /del/c"], d
    assert r.out(7) == ["version No is not valid : /del/a/b"], d
    assert r.out(8) == ["Node not empty: /del/a"], d
    assert r.out(9) == [], d
    assert r.out(10) == ["Node does not exist: /del"], d
    assert r.out(11) == ["Node does not exist: /del"], d
    zk.sync("/")  # deleted by zkCli's session (another member, in an ensemble)
    assert zk.exists("/del") is None


def test_error_messages(zk_hosts):
    missing = [
        "get /missing",
        "get -s /missing",
        "set /missing x",
        "stat /missing",
        "ls /missing",
        "ls -s /missing",
        "delete /missing",
        "getAcl /missing",
        "setAcl /missing world:anyone:cdrwa",
        "getAllChildrenNumber /missing",
    ]
    r = run_batch(
        zk_hosts,
        missing
        + [
            "create /missing/child x",
            "create /zookeeper",
            "create /exists",
            "create /exists",
        ],
    )
    d = r.describe()
    for i in range(len(missing)):
        assert r.out(i) == ["Node does not exist: /missing"], d
    n = len(missing)
    assert r.out(n) == ["Node does not exist: /missing/child"], d
    assert r.out(n + 1) == ["Node already exists: /zookeeper"], d
    assert r.out(n + 2) == ["Created /exists"], d
    assert r.out(n + 3) == ["Node already exists: /exists"], d


def test_get_watch_fires_in_live_zkcli(zk_hosts, zk):
    zk.create("/wx", b"v1")
    zk.create("/wdir")
    zk.create("/wdir/gone")
    with InteractiveCli(zk_hosts) as cli:
        cli.wait_for(r"WatchedEvent state:SyncConnected type:None path:null")
        cli.sync_point()

        # get -w: data watch -> NodeDataChanged
        assert cli.run("get -w /wx") == ["v1"]
        zk.set("/wx", b"v2")
        n = len(cli.seen)
        line = cli.wait_for(
            re.escape("WatchedEvent state:SyncConnected type:NodeDataChanged path:/wx")
        )
        idx = n + cli.seen[n:].index(line)
        assert cli.seen[idx - 3: idx] == ["", "WATCHER::", ""], cli.seen

        # ls -w: child watch -> NodeChildrenChanged
        assert cli.run("ls -w /wdir") == ["[gone]"]
        zk.create("/wdir/new")
        cli.wait_for(
            re.escape("WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/wdir")
        )

        # stat -w on an existing node -> NodeDeleted
        out = cli.run("stat -w /wdir/gone")
        parse_stat(out)
        zk.delete("/wdir/gone")
        cli.wait_for(
            re.escape("WatchedEvent state:SyncConnected type:NodeDeleted path:/wdir/gone")
        )

        # stat -w on a missing node sets an exists watch -> NodeCreated
        assert cli.run("stat -w /wnew") == ["Node does not exist: /wnew"]
        zk.create("/wnew", b"")
        cli.wait_for(
            re.escape("WatchedEvent state:SyncConnected type:NodeCreated path:/wnew")
        )

        # get -w then delete -> NodeDeleted on the data watch
        assert cli.run("get -w /wnew") == [""]
        zk.delete("/wnew")
        cli.wait_for(
            re.escape("WatchedEvent state:SyncConnected type:NodeDeleted path:/wnew")
        )

    rc = cli.proc.returncode
    assert rc == 0, cli.seen
    assert "WatchedEvent state:Closed type:None path:null" in cli.seen


def test_persistent_recursive_watch(zk_hosts, zk):
    with InteractiveCli(zk_hosts) as cli:
        cli.sync_point()
        assert cli.run("addWatch -m PERSISTENT_RECURSIVE /wrec") == []
        zk.create("/wrec", b"0")
        cli.wait_for(re.escape("WatchedEvent state:SyncConnected type:NodeCreated path:/wrec"))
        zk.create("/wrec/a/b", b"1", makepath=True)
        cli.wait_for(re.escape("WatchedEvent state:SyncConnected type:NodeCreated path:/wrec/a"))
        cli.wait_for(re.escape("WatchedEvent state:SyncConnected type:NodeCreated path:/wrec/a/b"))
        zk.set("/wrec/a/b", b"2")
        cli.wait_for(
            re.escape("WatchedEvent state:SyncConnected type:NodeDataChanged path:/wrec/a/b")
        )
        # Still armed after firing (persistent).
        zk.set("/wrec/a/b", b"3")
        zk.delete("/wrec/a/b")
        zk.create("/wrec-sibling")  # not under /wrec/: no event
        zk.create("/wrec/done")
        cli.wait_for(re.escape("WatchedEvent state:SyncConnected type:NodeCreated path:/wrec/done"))
        events = [ln for ln in cli.seen if ln.startswith("WatchedEvent ")]
        tail = events[events.index(
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/wrec/a/b"):]
        assert tail == [
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/wrec/a/b",
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/wrec/a/b",
            "WatchedEvent state:SyncConnected type:NodeDeleted path:/wrec/a/b",
            "WatchedEvent state:SyncConnected type:NodeCreated path:/wrec/done",
        ], cli.seen
        # Recursive watches never report NodeChildrenChanged.
        assert not any("NodeChildrenChanged" in e for e in events), events


def test_digest_auth_and_acls(zk_hosts, zk):
    hashed = digest("user", "pass")
    assert hashed == "smGaoVKd/cQkjm7b88GyorAUz20="
    r = run_batch(
        zk_hosts,
        [
            "addauth digest user:pass",  # 0
            "create /secure sec",  # 1
            "setAcl /secure auth:user:pass:cdrwa",  # 2
            "getAcl /secure",  # 3
            "get /secure",  # 4
            "whoami",  # 5
            "getAcl -s /secure",  # 6
            f"create /secure2 s2 digest:user:{hashed}:cdrwa",  # 7
            "get /secure2",  # 8
            "create /ronly x world:anyone:r",  # 9
            "getAcl /ronly",  # 10
            "set /ronly y",  # 11
            "create /ronly/c",  # 12
            "setAcl /ronly world:anyone:cdrwa",  # 13
            "get /ronly",  # 14
        ],
    )
    d = r.describe()
    assert r.out(0) == [], d
    assert r.out(2) == [], d
    assert r.out(3) == [f"'digest,'user:{hashed}", ": cdrwa"], d
    assert r.out(4) == ["sec"], d
    assert r.out(5) == ["Auth scheme: User", "ip: 127.0.0.1", "digest: user"], d
    out6 = r.out(6)
    assert out6[:2] == [f"'digest,'user:{hashed}", ": cdrwa"], d
    st = parse_stat(out6[2:])
    assert st["aclVersion"] == 1 and st["dataLength"] == 3, d
    assert r.out(7) == ["Created /secure2"], d
    assert r.out(8) == ["s2"], d
    assert r.out(9) == ["Created /ronly"], d
    assert r.out(10) == ["'world,'anyone", ": r"], d
    assert r.out(11) == ["Insufficient permission : /ronly"], d
    assert r.out(12) == ["Insufficient permission : /ronly/c"], d
    assert r.out(13) == ["Insufficient permission : /ronly"], d
    assert r.out(14) == ["x"], d

    # A session without the credentials.
    r2 = run_batch(
        zk_hosts,
        [
            "get /secure",  # 0
            "getAcl /secure",  # 1
            "set /secure x",  # 2
            "ls /secure",  # 3
            "stat /secure",  # 4  exists() is not ACL-checked
            "whoami",  # 5
            "addauth digest user:wrong",  # 6
            "get /secure",  # 7
            "addauth digest user:pass",  # 8
            "get /secure",  # 9
        ],
    )
    d2 = r2.describe()
    for i in range(4):
        assert r2.out(i) == ["Insufficient permission : /secure"], d2
    st2 = parse_stat(r2.out(4))
    assert st2["aclVersion"] == 1, d2
    zk.sync("/")  # written by zkCli's session (another member, in an ensemble)
    assert_stat_matches(st2, zk.exists("/secure"))
    assert r2.out(5) == ["Auth scheme: User", "ip: 127.0.0.1"], d2
    assert r2.out(7) == ["Insufficient permission : /secure"], d2
    assert r2.out(9) == ["sec"], d2


def test_ttl_node_expires(zk_hosts, zk):
    r = run_batch(
        zk_hosts,
        [
            "create -t 1000 /ttlnode x",  # 0
            "get -s /ttlnode",  # 1
            "create -t 600000 /ttlkeep y",  # 2
        ],
    )
    d = r.describe()
    assert r.out(0) == ["Created /ttlnode"], d
    out = r.out(1)
    assert out[0] == "x", d
    st = parse_stat(out[1:])
    # TTL (and container) nodes report no ephemeral owner to clients.
    assert st["ephemeralOwner"] == 0, d
    assert r.out(2) == ["Created /ttlkeep"], d
    wait_until(lambda: zk.exists("/ttlnode") is None, 20, "TTL node /ttlnode expired")
    assert zk.exists("/ttlkeep") is not None


def test_container_node_removed_when_emptied(zk_hosts, zk):
    r = run_batch(
        zk_hosts,
        [
            "create -c /cont",  # 0
            "create /cont/kid",  # 1
            "create -c /cont_empty",  # 2
            "get -s /cont",  # 3
            "delete /cont/kid",  # 4
        ],
    )
    d = r.describe()
    assert r.out(0) == ["Created /cont"], d
    assert r.out(1) == ["Created /cont/kid"], d
    assert r.out(2) == ["Created /cont_empty"], d
    st = parse_stat(r.out(3)[1:])
    assert st["numChildren"] == 1 and st["ephemeralOwner"] == 0, d
    assert r.out(4) == [], d
    wait_until(lambda: zk.exists("/cont") is None, 20, "emptied container /cont removed")
    # A container that never had a child is kept.
    assert zk.exists("/cont_empty") is not None


def test_oneshot_mode(zk_hosts):
    r = run_oneshot(zk_hosts, "create", "/oneshot", "hello world")
    assert r.returncode == 0, r.raw
    assert r.lines[0] == f"Connecting to {zk_hosts}", r.raw
    assert "Created /oneshot" in r.lines, r.raw
    r = run_oneshot(zk_hosts, "get", "/oneshot")
    assert r.returncode == 0, r.raw
    assert r.lines[-1] == "hello world", r.raw
    assert r.events[0] == "WatchedEvent state:SyncConnected type:None path:null", r.raw
    r = run_oneshot(zk_hosts, "get", "/oneshot-missing")
    assert r.returncode != 0, r.raw
    assert r.lines[-1] == "Node does not exist: /oneshot-missing", r.raw
