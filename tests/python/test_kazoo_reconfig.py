"""kazoo's ``TestReconfig`` (kazoo/tests/test_client.py) against a 3-member ensemble of the
server under test with ``reconfigEnabled=true`` and kazoo's super digest (``super:test``),
plus the same client removing a real participant and adding it back.

kazoo's own harness starts Apache ZooKeeper with these settings; here the ensemble is zkrs
(or Apache with ``ZKRS_TEST_SERVER=apache``, which is how this file is checked). The test
bodies follow kazoo's, with one change: the phantom observer's addresses are a loopback
address instead of ``0.0.0.0``, so no test traffic leaves loopback.

The module starts its own ensemble, so it runs once, in the standalone pass of the test
command, and is skipped when ``ZKRS_TEST_ENSEMBLE`` is set.
"""

from __future__ import annotations

import socket
import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NewConfigNoQuorumError,
    NoAuthError,
)

from server import Ensemble, ServerStartError, ensemble_size

# kazoo's harness: super:test, digest base64(sha1("super:test")).
SUPER_AUTH = ("digest", "super:test")
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="

pytestmark = pytest.mark.skipif(
    ensemble_size() != 0,
    reason="starts its own ensemble: runs in the standalone pass only",
)


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    ens = Ensemble(
        3,
        workdir=tmp_path_factory.mktemp("reconfig"),
        extra_config=[
            "reconfigEnabled=true",
            f"DigestAuthenticationProvider.superDigest={SUPER_DIGEST}",
        ],
    )
    try:
        ens.start()
    except ServerStartError as e:
        ens.cleanup()
        pytest.fail(str(e), pytrace=False)
    try:
        yield ens
    finally:
        ens.cleanup()


def connect(ensemble: Ensemble, auth: bool = False) -> KazooClient:
    client = KazooClient(
        hosts=ensemble.hosts,
        timeout=10.0,
        auth_data=[SUPER_AUTH] if auth else None,
    )
    client.start(timeout=15)
    return client


@pytest.fixture
def client(ensemble):
    c = connect(ensemble)
    yield c
    c.stop()
    c.close()


@pytest.fixture
def super_client(ensemble):
    c = connect(ensemble, auth=True)
    yield c
    c.stop()
    c.close()


def version_of(config: bytes) -> int:
    """The ``version=`` line of a config (hex), as kazoo's test reads it."""
    return int(config.decode().split("\n")[-1].split("=")[1], base=16)


def test_no_super_auth(client):
    with pytest.raises(NoAuthError):
        client.reconfig(
            joining="server.999=127.0.0.1:1234:2345:observer;3456",
            leaving=None,
            new_members=None,
        )


def test_add_remove_observer(ensemble, client, super_client):
    # Ports that answer connect() with a reset at once (bound, never listening), as kazoo
    # chooses them: the ensemble tries to reach the phantom observer.
    ip = ensemble.members[0].host
    sockets = []
    for _ in range(3):
        s = socket.socket()
        s.bind((ip, 0))
        sockets.append(s)
    try:
        port1, port2, port3 = (s.getsockname()[1] for s in sockets)
        joining = f"server.100={ip}:{port1}:{port2}:observer;{ip}:{port3}"
        data, _ = super_client.reconfig(joining=joining, leaving=None, new_members=None)
        assert joining.encode("utf8") in data

        data, _ = super_client.reconfig(joining=None, leaving="100", new_members=None)
        assert joining.encode("utf8") not in data

        # Try to add it again, but from a config version in the future.
        curver = version_of(data)
        with pytest.raises(BadVersionError):
            client.reconfig(
                joining=joining,
                leaving=None,
                new_members=None,
                from_config=curver + 1,
            )
    finally:
        for s in sockets:
            s.close()


def test_bad_input(client):
    with pytest.raises(BadArgumentsError):
        client.reconfig(joining="some thing", leaving=None, new_members=None)


def test_remove_a_participant_and_add_it_back(ensemble, super_client):
    """Beyond kazoo's suite: a real follower leaves the voters (it keeps following without
    a vote, as Apache's do) and comes back; the config watch fires for each change, the
    version grows, and writes go on through both changes."""
    leader = ensemble.leader()
    follower = next(m for m in ensemble.members if m is not leader)
    data, _ = super_client.get("/zookeeper/config")
    # Its client address as it listens (the config shows 0.0.0.0:2181 for members whose
    # lines have none, and a wildcard client address would duplicate the others').
    line = (
        f"server.{follower.myid}={follower.host}:2888:3888:participant;"
        f"{follower.host}:{follower.port}"
    )

    fired = threading.Event()
    super_client.get("/zookeeper/config", watch=lambda event: fired.set())
    removed, _ = super_client.reconfig(
        joining=None, leaving=str(follower.myid), new_members=None
    )
    assert f"server.{follower.myid}=".encode() not in removed
    assert version_of(removed) > version_of(data)
    assert fired.wait(15), "the config watch did not fire after the removal"
    super_client.create("/reconfig-kazoo-a", b"after removal")

    # Two voters left: adding a member that is not synced would have no quorum; this one
    # still follows, so its addition commits.
    fired.clear()
    super_client.get("/zookeeper/config", watch=lambda event: fired.set())
    added, _ = super_client.reconfig(joining=line, leaving=None, new_members=None)
    assert f"server.{follower.myid}={follower.host}:2888:3888:participant".encode() in added
    assert version_of(added) > version_of(removed)
    assert fired.wait(15), "the config watch did not fire after the addition"
    super_client.create("/reconfig-kazoo-b", b"after addition")

    # Every member serves the same config and the writes.
    for m in ensemble.members:
        c = KazooClient(hosts=m.hosts, timeout=10.0)
        c.start(timeout=15)
        try:
            c.sync("/")
            assert c.get("/zookeeper/config")[0] == added
            assert c.get("/reconfig-kazoo-b")[0] == b"after addition"
        finally:
            c.stop()
            c.close()


def test_a_new_config_without_a_synced_quorum_is_refused(ensemble, super_client):
    """A bulk config of one real member and two phantoms: one of its three voters is
    synced, so the leader refuses it with NewConfigNoQuorum and nothing changes."""
    members = ensemble.members
    ip = members[0].host
    data, _ = super_client.get("/zookeeper/config")
    keep = [
        l
        for l in data.decode().splitlines()
        if l.startswith(f"server.{members[0].myid}=")
    ]
    phantoms = [
        f"server.{200 + i}={ip}:{29000 + i}:{29100 + i}:participant;{ip}:{29200 + i}"
        for i in range(2)
    ]
    with pytest.raises(NewConfigNoQuorumError):
        super_client.reconfig(
            joining=None, leaving=None, new_members=",".join(keep + phantoms)
        )
    assert super_client.get("/zookeeper/config")[0] == data
