"""The kazoo Python client and its recipes against the server under test.

Every wait is bounded by an explicit deadline (see ``wait_until`` and the
``timeout=`` arguments); nothing relies on a sleep being long enough.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

import pytest
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionClosedError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState, WatchedEvent
from kazoo.security import (
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

from zkhelpers import wait_until

WAIT = 15.0  # seconds: upper bound for anything that should happen "soon"


def _get(q: "queue.Queue", what: str, timeout: float = WAIT):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


def _synced(client, path: str = "/"):
    """``client`` after a ``sync``: its server has applied every write committed before.

    Needed before a session reads what another session wrote: ZooKeeper orders a session's
    reads after that session's own writes, not after other sessions' writes, and in an
    ensemble the two sessions may be served by different members, one behind the other."""
    client.sync(path)
    return client


def _assert_empty(q: "queue.Queue", what: str) -> None:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            break
    assert not items, f"unexpected {what}: {items!r}"


# ---------------------------------------------------------------------------
# Basic operations


def test_crud(zk):
    assert zk.create("/crud", b"hello") == "/crud"
    data, stat = zk.get("/crud")
    assert data == b"hello"
    assert stat.version == 0
    assert zk.exists("/crud") == stat

    with pytest.raises(NodeExistsError):
        zk.create("/crud", b"again")
    with pytest.raises(NoNodeError):
        zk.create("/crud-missing/child")
    with pytest.raises(NoNodeError):
        zk.get("/crud-missing")
    with pytest.raises(NoNodeError):
        zk.set("/crud-missing", b"x")
    with pytest.raises(NoNodeError):
        zk.delete("/crud-missing")
    assert zk.exists("/crud-missing") is None

    stat = zk.set("/crud", b"world", version=0)
    assert stat.version == 1
    with pytest.raises(BadVersionError):
        zk.set("/crud", b"stale", version=0)
    assert zk.get("/crud")[0] == b"world"

    zk.create("/crud/a", b"")
    zk.create("/crud/b", b"bee")
    assert sorted(zk.get_children("/crud")) == ["a", "b"]
    children, pstat = zk.get_children("/crud", include_data=True)
    assert sorted(children) == ["a", "b"] and pstat.numChildren == 2
    assert zk.get("/crud/a")[0] == b""

    with pytest.raises(NotEmptyError):
        zk.delete("/crud")
    with pytest.raises(BadVersionError):
        zk.delete("/crud/b", version=3)
    zk.delete("/crud/b", version=0)
    zk.delete("/crud", recursive=True)
    assert zk.exists("/crud") is None

    path, stat = zk.create("/crud2", b"abc", include_data=True)
    assert path == "/crud2"
    assert stat.dataLength == 3 and stat.version == 0
    assert zk.create("/deep/er/path", b"x", makepath=True) == "/deep/er/path"
    assert zk.get("/deep/er")[0] == b""

    big = os.urandom(512 * 1024)
    zk.create("/big", big)
    assert zk.get("/big")[0] == big


def test_stat_fields(zk):
    before_ms = int(time.time() * 1000)
    zk.create("/st", b"12345")
    _, s0 = zk.get("/st")
    after_ms = int(time.time() * 1000)
    assert s0.czxid == s0.mzxid == s0.pzxid > 0
    assert s0.ctime == s0.mtime
    # Same machine: the server's clock agrees with ours (allow some slack).
    assert before_ms - 2000 <= s0.ctime <= after_ms + 2000
    assert (s0.version, s0.cversion, s0.aversion) == (0, 0, 0)
    assert s0.ephemeralOwner == 0
    assert s0.dataLength == 5 and s0.numChildren == 0

    s1 = zk.set("/st", b"xy")
    assert s1.czxid == s0.czxid and s1.ctime == s0.ctime
    assert s1.mzxid > s0.mzxid and s1.mtime >= s0.mtime
    assert s1.version == 1 and s1.dataLength == 2
    assert s1.pzxid == s0.pzxid

    zk.create("/st/kid", b"")
    _, kid = zk.get("/st/kid")
    s2 = zk.exists("/st")
    assert kid.czxid > s1.mzxid
    assert s2.pzxid == kid.czxid
    assert s2.mzxid == s1.mzxid  # children do not touch the parent's data
    assert s2.cversion == 1 and s2.numChildren == 1
    assert s2.version == 1

    zk.delete("/st/kid")
    s3 = zk.exists("/st")
    assert s3.pzxid > kid.czxid
    assert s3.cversion == 2 and s3.numChildren == 0

    zk.set_acls("/st", OPEN_ACL_UNSAFE)
    s4 = zk.exists("/st")
    assert s4.aversion == 1 and s4.version == 1
    assert s4.mzxid == s1.mzxid  # setACL changes neither data nor mzxid

    root = zk.exists("/")
    assert root.czxid == 0 and root.ctime == 0
    assert root.numChildren >= 2  # zookeeper + st
    # zxids are monotonic across operations.
    assert zk.create("/st2") and zk.exists("/st2").czxid > s3.pzxid


def test_sequence_nodes(zk):
    zk.create("/seq")
    p0 = zk.create("/seq/n-", b"", sequence=True)
    p1 = zk.create("/seq/n-", b"", sequence=True)
    assert (p0, p1) == ("/seq/n-0000000000", "/seq/n-0000000001")
    zk.create("/seq/plain")
    zk.delete("/seq/plain")
    # The counter is the number of child creations so far (deletions do not
    # count), although the cversion clients see is creations + deletions.
    st = zk.exists("/seq")
    assert (st.cversion, st.numChildren) == (4, 2)
    assert zk.create("/seq/n-", sequence=True) == "/seq/n-0000000003"
    assert zk.create("/seq/", sequence=True) == "/seq/0000000004"
    e = zk.create("/seq/e-", ephemeral=True, sequence=True)
    assert e == "/seq/e-0000000005"
    assert zk.exists(e).ephemeralOwner == zk.client_id[0]


def test_ephemeral_nodes(zk, kazoo_factory):
    other = kazoo_factory()
    zk.create("/eph-parent")
    path = other.create("/eph-parent/e", b"mine", ephemeral=True)
    stat = _synced(zk).exists(path)
    assert stat.ephemeralOwner == other.client_id[0] != 0
    assert zk.exists("/eph-parent").ephemeralOwner == 0
    with pytest.raises(NoChildrenForEphemeralsError):
        other.create("/eph-parent/e/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eph-parent/e/child")

    deleted = threading.Event()
    zk.exists(path, watch=lambda ev: ev.type == EventType.DELETED and deleted.set())
    other.stop()  # closes the session
    assert deleted.wait(WAIT), "ephemeral node not deleted after client.stop()"
    assert zk.exists(path) is None
    assert zk.get_children("/eph-parent") == []


def test_ensure_path(zk):
    assert zk.ensure_path("/ens/a/b/c")
    for p in ("/ens", "/ens/a", "/ens/a/b", "/ens/a/b/c"):
        assert zk.exists(p) is not None
    assert zk.ensure_path("/ens/a/b/c")  # idempotent
    zk.set("/ens/a", b"keep")
    zk.ensure_path("/ens/a/x")
    assert zk.get("/ens/a")[0] == b"keep"


# ---------------------------------------------------------------------------
# Transactions (multi)


def test_transaction_commit(zk):
    zk.create("/tx", b"")
    t = zk.transaction()
    t.check("/tx", 0)
    t.create("/tx/a", b"1")
    t.set_data("/tx", b"x")
    t.create("/tx/b")
    t.delete("/tx/b")
    res = t.commit()
    assert len(res) == 5
    assert res[0] is True
    assert res[1] == "/tx/a"
    assert res[2].version == 1 and res[2].dataLength == 1
    assert res[3] == "/tx/b"
    assert res[4] is True
    assert zk.get("/tx")[0] == b"x"
    assert zk.get_children("/tx") == ["a"]
    # Every op of a multi is one transaction: one zxid for all of them.
    st = zk.exists("/tx")
    a = zk.exists("/tx/a")
    assert a.czxid == st.mzxid == st.pzxid

    t = zk.transaction()
    t.create("/tx/seq-", sequence=True)
    t.create("/tx/seq-", ephemeral=True, sequence=True)
    r = t.commit()
    assert r == ["/tx/seq-0000000002", "/tx/seq-0000000003"]


def test_transaction_failure_rolls_back(zk):
    zk.create("/txf", b"orig")
    t = zk.transaction()
    t.create("/txf/a")
    t.set_data("/txf", b"changed")
    t.delete("/txf/nonexistent")
    t.create("/txf/b")
    res = t.commit()
    assert [type(r) for r in res] == [
        RolledBackError,
        RolledBackError,
        NoNodeError,
        RuntimeInconsistency,
    ]
    assert zk.exists("/txf/a") is None
    assert zk.exists("/txf/b") is None
    data, st = zk.get("/txf")
    assert data == b"orig" and st.version == 0 and st.cversion == 0

    t = zk.transaction()
    t.check("/txf", 5)
    t.create("/txf/c")
    res = t.commit()
    assert [type(r) for r in res] == [BadVersionError, RuntimeInconsistency]

    t = zk.transaction()
    t.create("/txf/d")
    t.create("/txf/d")
    res = t.commit()
    assert [type(r) for r in res] == [RolledBackError, NodeExistsError]
    assert zk.get_children("/txf") == []

    # The failed multis consumed no sequence numbers.
    assert zk.create("/txf/s-", sequence=True) == "/txf/s-0000000000"


# ---------------------------------------------------------------------------
# Watches


def test_one_shot_watches(zk, kazoo_factory):
    other = kazoo_factory()
    zk.create("/w", b"0")
    events: "queue.Queue[WatchedEvent]" = queue.Queue()

    data, _ = zk.get("/w", watch=events.put)
    assert data == b"0"
    other.set("/w", b"1")
    ev = _get(events, "data watch")
    assert (ev.type, ev.state, ev.path) == (EventType.CHANGED, KazooState.CONNECTED, "/w")
    other.set("/w", b"2")  # the watch is spent: no second event

    marker: "queue.Queue[WatchedEvent]" = queue.Queue()
    zk.get_children("/w", watch=marker.put)
    other.create("/w/c")
    ev = _get(marker, "child watch")
    assert (ev.type, ev.path) == (EventType.CHILD, "/w")
    # Events arrive in order, so had the spent data watch fired again it would
    # have been queued before the child event.
    _assert_empty(events, "events from a spent watch")

    assert zk.exists("/w-new", watch=events.put) is None
    other.create("/w-new")
    ev = _get(events, "exists watch")
    assert (ev.type, ev.path) == (EventType.CREATED, "/w-new")

    zk.get("/w/c", watch=events.put)
    other.delete("/w/c")
    ev = _get(events, "delete on data watch")
    assert (ev.type, ev.path) == (EventType.DELETED, "/w/c")

    # A change made by the watching client itself also triggers its watch.
    zk.get("/w", watch=events.put)
    zk.set("/w", b"3")
    ev = _get(events, "self-triggered watch")
    assert (ev.type, ev.path) == (EventType.CHANGED, "/w")


def test_children_watch_recipe(zk, kazoo_factory):
    other = kazoo_factory()
    zk.create("/cw")
    seen: "queue.Queue[list]" = queue.Queue()

    @zk.ChildrenWatch("/cw")
    def _watch(children):
        seen.put(sorted(children))

    assert _get(seen, "initial children") == []
    other.create("/cw/a")
    assert _get(seen, "child a") == ["a"]
    other.create("/cw/b")
    assert _get(seen, "child b") == ["a", "b"]
    other.delete("/cw/a")
    assert _get(seen, "delete a") == ["b"]
    other.set("/cw/b", b"data changes do not matter")
    other.create("/cw/c")
    assert _get(seen, "child c") == ["b", "c"]


def test_data_watch_recipe(zk, kazoo_factory):
    other = kazoo_factory()
    seen: "queue.Queue[tuple]" = queue.Queue()

    @zk.DataWatch("/dw")
    def _watch(data, stat, event=None):
        seen.put((data, stat.version if stat else None, event.type if event else None))

    assert _get(seen, "initial (missing) node") == (None, None, None)
    other.create("/dw", b"a")
    assert _get(seen, "created") == (b"a", 0, EventType.CREATED)
    other.set("/dw", b"b")
    assert _get(seen, "changed") == (b"b", 1, EventType.CHANGED)
    other.delete("/dw")
    assert _get(seen, "deleted") == (None, None, EventType.DELETED)
    other.create("/dw", b"again")
    assert _get(seen, "recreated") == (b"again", 0, EventType.CREATED)


# ---------------------------------------------------------------------------
# Recipes


def test_lock_mutual_exclusion(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    lock_a = a.Lock("/locks/l1", "client-a")
    lock_b = b.Lock("/locks/l1", "client-b")

    assert lock_a.acquire(timeout=WAIT)
    assert not lock_b.acquire(blocking=False)
    _synced(a)  # b's failed attempt removed its node
    assert lock_a.contenders() == ["client-a"]

    got_b = threading.Event()

    def take_b():
        if lock_b.acquire(timeout=WAIT):
            got_b.set()

    t = threading.Thread(target=take_b, daemon=True)
    t.start()
    wait_until(lambda: lock_a.contenders() == ["client-a", "client-b"], WAIT,
               "b queued behind a")
    assert not got_b.is_set()
    lock_a.release()
    assert got_b.wait(WAIT), "b did not get the lock after a released it"
    t.join(WAIT)
    assert lock_b.is_acquired
    assert lock_a.contenders() == ["client-b"]
    lock_b.release()
    wait_until(lambda: lock_a.contenders() == [], WAIT, "no contenders left")

    # Several threads on two sessions: never more than one inside.
    inside = 0
    max_inside = 0
    total = 0
    guard = threading.Lock()
    errors = []

    def worker(client, ident):
        nonlocal inside, max_inside, total
        lk = client.Lock("/locks/l2", ident)
        try:
            for _ in range(3):
                if not lk.acquire(timeout=WAIT):
                    errors.append(f"{ident} timed out")
                    return
                try:
                    with guard:
                        inside += 1
                        max_inside = max(max_inside, inside)
                    time.sleep(0.01)  # hold the lock briefly (not a wait)
                    with guard:
                        inside -= 1
                        total += 1
                finally:
                    lk.release()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [
        threading.Thread(target=worker, args=(c, f"{n}-{i}"), daemon=True)
        for i in range(2)
        for c, n in ((a, "a"), (b, "b"))
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(WAIT * 2)
        assert not th.is_alive(), "lock worker hung"
    assert not errors, errors
    assert total == 12 and max_inside == 1


def test_election(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    leaders: "queue.Queue[str]" = queue.Queue()
    release = {"a": threading.Event(), "b": threading.Event()}

    def lead(name):
        leaders.put(name)
        release[name].wait(WAIT)

    el_a = a.Election("/election", "a")
    el_b = b.Election("/election", "b")
    ta = threading.Thread(target=el_a.run, args=(lead, "a"), daemon=True)
    ta.start()
    assert _get(leaders, "first leader") == "a"
    tb = threading.Thread(target=el_b.run, args=(lead, "b"), daemon=True)
    tb.start()
    wait_until(lambda: el_a.contenders() == ["a", "b"], WAIT, "b in the election")
    assert leaders.empty()
    release["a"].set()  # a's term ends; b must take over
    assert _get(leaders, "second leader") == "b"
    release["b"].set()
    ta.join(WAIT)
    tb.join(WAIT)
    assert not ta.is_alive() and not tb.is_alive()


def test_election_leader_session_closed(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    leaders: "queue.Queue[str]" = queue.Queue()
    done = threading.Event()

    def lead(name):
        leaders.put(name)
        done.wait(WAIT)

    def run(election, name):
        try:
            election.run(lead, name)
        except ConnectionClosedError:
            pass  # a's client was stopped while it led

    ta = threading.Thread(target=run, args=(a.Election("/election2", "a"), "a"), daemon=True)
    ta.start()
    assert _get(leaders, "first leader") == "a"
    el_b = b.Election("/election2", "b")
    tb = threading.Thread(target=run, args=(el_b, "b"), daemon=True)
    tb.start()
    wait_until(lambda: el_b.contenders() == ["a", "b"], WAIT, "b in the election")
    a.stop()  # leader's session closes: its ephemeral lock node goes away
    assert _get(leaders, "leader after a's session closed") == "b"
    done.set()
    ta.join(WAIT)
    tb.join(WAIT)
    assert not tb.is_alive()


def test_party(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    pa = a.Party("/party", "alice")
    pb = b.Party("/party", "bob")
    pa.join()
    pb.join()
    _synced(a)
    assert len(pa) == 2
    assert sorted(pa) == ["alice", "bob"]
    pb.leave()
    _synced(a)
    assert list(pa) == ["alice"]
    sa = a.ShallowParty("/shallow", "s1")
    sb = b.ShallowParty("/shallow", "s2")
    sa.join()
    sb.join()
    _synced(a)
    assert sorted(sa) == ["s1", "s2"]
    b.stop()  # membership is ephemeral
    wait_until(lambda: sorted(sa) == ["s1"], WAIT, "s2 left with its session")


def test_queue(zk):
    q = zk.Queue("/queue")
    q.put(b"one")
    q.put(b"two")
    q.put(b"urgent", priority=10)
    assert len(q) == 3
    assert [q.get(), q.get(), q.get()] == [b"urgent", b"one", b"two"]
    assert q.get() is None
    assert len(q) == 0


def test_locking_queue(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    qa = a.LockingQueue("/lqueue")
    qb = b.LockingQueue("/lqueue")
    qa.put_all([b"first", b"second"])
    qa.put(b"prio", priority=1)
    assert len(qa) == 3

    assert qa.get(timeout=WAIT) == b"prio"
    assert qa.holds_lock()
    _synced(b)
    # The locked item is invisible to b; it gets the next one.
    assert qb.get(timeout=WAIT) == b"first"
    assert qb.release()  # b gives "first" back without consuming it
    assert qa.consume()  # transaction: delete entry + lock
    assert not qa.holds_lock()
    assert len(qa) == 2
    assert qa.get(timeout=WAIT) == b"first"
    assert qa.consume()
    _synced(b)
    assert qb.get(timeout=WAIT) == b"second"
    assert qb.consume()
    _synced(a)
    assert len(qa) == 0

    # get() blocks until someone puts.
    got: "queue.Queue[bytes]" = queue.Queue()
    t = threading.Thread(target=lambda: got.put(qb.get(timeout=WAIT)), daemon=True)
    t.start()
    qa.put(b"late")
    assert _get(got, "blocked LockingQueue.get") == b"late"
    assert qb.consume()
    t.join(WAIT)


def test_counter(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    ca = a.Counter("/counter")
    cb = b.Counter("/counter")
    ca += 5
    _synced(b)
    assert cb.value == 5
    cb -= 2
    _synced(a)
    assert ca.value == 3

    def bump(counter, n):
        for _ in range(n):
            counter += 1  # noqa: F841 - Counter mutates in place

    threads = [
        threading.Thread(target=bump, args=(c, 10), daemon=True)
        for c in (a.Counter("/counter"), b.Counter("/counter"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
        assert not t.is_alive()
    _synced(a)
    assert ca.value == 23

    fc = a.Counter("/fcounter", default=0.5)
    fc += 1.25
    _synced(b)
    assert b.Counter("/fcounter", default=0.5).value == 1.75


def test_barrier(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    bar_a = a.Barrier("/barrier")
    bar_b = b.Barrier("/barrier")
    assert bar_b.wait(timeout=1) is True  # no barrier: passes at once
    bar_a.create()
    passed: "queue.Queue[bool]" = queue.Queue()
    t = threading.Thread(target=lambda: passed.put(bar_b.wait(timeout=WAIT)), daemon=True)
    t.start()
    wait_until(lambda: b.exists("/barrier") is not None, WAIT, "barrier node")
    assert passed.empty()
    bar_a.remove()
    assert _get(passed, "barrier release") is True
    t.join(WAIT)


def test_double_barrier(kazoo_factory):
    a = kazoo_factory()
    b = kazoo_factory()
    da = a.DoubleBarrier("/dbarrier", 2)
    db = b.DoubleBarrier("/dbarrier", 2)
    entered: "queue.Queue[str]" = queue.Queue()
    left: "queue.Queue[str]" = queue.Queue()
    proceed_leave = threading.Event()

    def member(barrier, name):
        barrier.enter()
        entered.put(name)
        proceed_leave.wait(WAIT)
        barrier.leave()
        left.put(name)

    ta = threading.Thread(target=member, args=(da, "a"), daemon=True)
    ta.start()
    # a alone cannot enter: wait until its node is there, then check.
    wait_until(lambda: len(b.get_children("/dbarrier")) >= 1, WAIT, "a registered")
    assert entered.empty()
    tb = threading.Thread(target=member, args=(db, "b"), daemon=True)
    tb.start()
    assert {_get(entered, "enter"), _get(entered, "enter")} == {"a", "b"}
    proceed_leave.set()
    assert {_get(left, "leave"), _get(left, "leave")} == {"a", "b"}
    ta.join(WAIT)
    tb.join(WAIT)
    assert [c for c in a.get_children("/dbarrier") if c != "ready"] == []


# ---------------------------------------------------------------------------
# Auth and ACLs


def test_digest_auth_and_acl_enforcement(kazoo_factory):
    owner = kazoo_factory(auth_data=[("digest", "user:pass")])
    anon = kazoo_factory()
    acl = make_digest_acl("user", "pass", all=True)
    assert acl.id.id == "user:smGaoVKd/cQkjm7b88GyorAUz20="
    owner.create("/secret", b"s3cr3t", acl=[acl])

    acls, stat = owner.get_acls("/secret")
    assert len(acls) == 1
    assert acls[0].perms == 31
    assert (acls[0].id.scheme, acls[0].id.id) == ("digest", acl.id.id)
    assert owner.get("/secret")[0] == b"s3cr3t"

    _synced(anon)
    with pytest.raises(NoAuthError):
        anon.get("/secret")
    with pytest.raises(NoAuthError):
        anon.set("/secret", b"x")
    with pytest.raises(NoAuthError):
        anon.get_children("/secret")
    with pytest.raises(NoAuthError):
        anon.create("/secret/child")
    with pytest.raises(NoAuthError):
        anon.get_acls("/secret")  # 3.8 requires READ or ADMIN
    with pytest.raises(NoAuthError):
        anon.set_acls("/secret", OPEN_ACL_UNSAFE)
    assert anon.exists("/secret") is not None  # exists is not ACL-checked

    wrong = kazoo_factory(auth_data=[("digest", "user:wrong")])
    with pytest.raises(NoAuthError):
        _synced(wrong).get("/secret")

    anon.add_auth("digest", "user:pass")
    assert anon.get("/secret")[0] == b"s3cr3t"

    # Read-only for the world: reads pass, writes fail.
    owner.create("/ro", b"r", acl=READ_ACL_UNSAFE)
    other = kazoo_factory()
    assert _synced(other).get("/ro")[0] == b"r"
    with pytest.raises(NoAuthError):
        other.set("/ro", b"w")
    with pytest.raises(NoAuthError):
        other.create("/ro/kid")

    # Per-permission enforcement: create-only for the world.
    owner.create("/createonly", acl=[make_acl("world", "anyone", create=True)])
    other.create("/createonly/kid")
    with pytest.raises(NoAuthError):
        _synced(other).get_children("/createonly")
    with pytest.raises(NoAuthError):
        other.delete("/createonly/kid")

    # The "auth" pseudo-scheme expands to the session's digest identity.
    owner.create("/authacl", b"a", acl=[make_acl("auth", "", all=True)])
    acls, _ = owner.get_acls("/authacl")
    assert [(x.id.scheme, x.id.id) for x in acls] == [("digest", acl.id.id)]
    assert acls[0].perms == 31

    # setACL bumps aversion and is version-checked.
    _, st = owner.get_acls("/authacl")
    owner.set_acls("/authacl", OPEN_ACL_UNSAFE, version=st.aversion)
    assert _synced(other).get("/authacl")[0] == b"a"
    with pytest.raises(BadVersionError):
        owner.set_acls("/authacl", OPEN_ACL_UNSAFE, version=0)
    assert owner.exists("/authacl").aversion == 1

    cred = make_digest_acl_credential("user", "pass")
    assert cred == "user:smGaoVKd/cQkjm7b88GyorAUz20="


def test_invalid_acls(zk):
    with pytest.raises(InvalidACLError):
        zk.create("/badacl1", acl=[make_acl("ip", "not-an-ip", all=True)])
    with pytest.raises(InvalidACLError):
        zk.create("/badacl2", acl=[make_acl("digest", "no-colon", all=True)])
    # "auth" with no authenticated identity on the session.
    with pytest.raises(InvalidACLError):
        zk.create("/badacl3", acl=[make_acl("auth", "", all=True)])
    assert zk.exists("/badacl1") is None


def test_unknown_auth_scheme_fails(kazoo_factory):
    c = kazoo_factory()
    with pytest.raises(AuthFailedError):
        c.add_auth("nosuchscheme", "whatever")


# ---------------------------------------------------------------------------
# Sessions

SESSION_CHILD = r"""
import sys, time
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=4.0)
c.start(timeout=15)
c.create(sys.argv[2], b"child", ephemeral=True)
sid, pwd = c.client_id
print(f"{sid} {pwd.hex()}", flush=True)
time.sleep(120)  # killed by the test long before this ends
"""


def _spawn_session_holder(hosts: str, path: str):
    """Run a kazoo client in a child process that owns ``path`` (ephemeral)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SESSION_CHILD, hosts, path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out = queue.Queue()
    threading.Thread(target=lambda: out.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = out.get(timeout=WAIT * 2)
    except queue.Empty:
        proc.kill()
        proc.wait(WAIT)
        raise AssertionError("session holder did not start: " + proc.stderr.read())
    if not line:
        proc.wait(WAIT)
        raise AssertionError("session holder failed: " + proc.stderr.read())
    sid, pwd = line.split()
    return proc, int(sid), bytes.fromhex(pwd)


def _kill(proc):
    if proc.poll() is None:
        proc.kill()  # SIGKILL by PID: the session is NOT closed
    proc.wait(WAIT)


def test_session_expires_after_client_dies(zk, zk_hosts):
    zk.ensure_path("/sess")
    proc, sid, _ = _spawn_session_holder(zk_hosts, "/sess/crash")
    try:
        assert _synced(zk).exists("/sess/crash").ephemeralOwner == sid
        deleted = threading.Event()
        zk.exists("/sess/crash",
                  watch=lambda ev: ev.type == EventType.DELETED and deleted.set())
        t0 = time.monotonic()
        _kill(proc)
        # A dropped TCP connection does not end the session: the node stays
        # until the (4 s) session timeout runs out.
        assert zk.exists("/sess/crash") is not None
        assert deleted.wait(30), "ephemeral not removed after the session timed out"
        elapsed = time.monotonic() - t0
        assert elapsed >= 2.0, f"session ended too early ({elapsed:.1f}s < timeout)"
        assert zk.exists("/sess/crash") is None
    finally:
        _kill(proc)


def test_session_resumed_by_new_connection(zk, zk_hosts, kazoo_factory):
    zk.ensure_path("/sess")
    proc, sid, pwd = _spawn_session_holder(zk_hosts, "/sess/resume")
    try:
        _kill(proc)
        # Reattach to the same session before it expires.
        c = kazoo_factory(client_id=(sid, pwd), timeout=4.0)
        assert c.client_id[0] == sid
        assert _synced(zk).exists("/sess/resume").ephemeralOwner == sid
        c.stop()  # now close it properly
        wait_until(lambda: zk.exists("/sess/resume") is None, WAIT,
                   "ephemeral removed when the resumed session closed")
    finally:
        _kill(proc)


def test_client_stop_closes_session(kazoo_factory):
    a = kazoo_factory()
    obs = kazoo_factory()
    a.ensure_path("/stop")
    paths = [a.create("/stop/e-", ephemeral=True, sequence=True) for _ in range(3)]
    a.create("/stop/persistent", b"stays")
    gone: "queue.Queue[str]" = queue.Queue()
    _synced(obs)
    for p in paths:
        obs.exists(p, watch=lambda ev: gone.put(ev.path))
    states = []
    a.add_listener(states.append)
    a.stop()
    assert {_get(gone, "ephemeral deletion") for _ in paths} == set(paths)
    assert obs.get_children("/stop") == ["persistent"]
    assert KazooState.LOST in states


def test_server_four_letter_words_via_kazoo(zk):
    assert zk.command(b"ruok") == "imok"
