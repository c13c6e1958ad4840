"""The containerised ensemble: deploy/compose/docker-compose.yml run for real.

Takes the image conftest.py builds (scripts/build-image.sh, cached; tagged per checkout),
starts the 3-member compose ensemble under a project name of its own with the client ports
published on a loopback address reserved like the other suites' (tests/python/server.py),
and then, from the host, with kazoo and Apache's zkCli.sh:

1. waits until a leader serves and every member answers ``srvr``;
2. writes with kazoo and with zkCli.sh;
3. ``docker kill``s the leader, checks that writes continue, ``docker start``s it again;
4. ``docker network disconnect``s a follower, writes, waits until it notices (it stops
   serving), reconnects it;
5. checks every znode's data and Stat, read through a client on each member, is the
   same on all three.

``docker-compose down -v`` always runs at the end, pass or fail. Every wait is bounded.
Without a reachable Docker daemon the module is skipped.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from kazoo.client import KazooClient

from dockerutil import REPO, run, wait_for

sys.path.insert(0, str(REPO / "tests" / "python"))

from server import LoopbackAddr, four_letter_word  # noqa: E402
from zkcli import run_oneshot  # noqa: E402

COMPOSE_FILE = REPO / "deploy" / "compose" / "docker-compose.yml"
SERVICES = ("zk-0", "zk-1", "zk-2")
# Client ports on the reserved loopback address, one per member.
PORTS = (12181, 12182, 12183)

COMPOSE_TIMEOUT_S = 300
SERVE_TIMEOUT_S = 180
WRITE_TIMEOUT_S = 120


def compose_command() -> list[str]:
    """`docker-compose` (v1, Debian's) or the `docker compose` plugin, whichever exists."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if run(["docker", "compose", "version"], timeout=30, check=False)[0] == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor the docker compose plugin is installed")


class Ensemble:
    """The compose project: its members' addresses and the docker commands on them."""

    def __init__(self, project: str, host: str, image: str):
        self.project = project
        self.host = host
        self.network = f"{project}_zkrs"
        self.env = dict(os.environ)
        self.env.update(
            ZKRS_IMAGE=image,
            ZKRS_COMPOSE_HOST=host,
            **{f"ZKRS_COMPOSE_PORT_{i}": str(p) for i, p in enumerate(PORTS)},
        )
        self._compose = compose_command() + ["-p", project, "-f", str(COMPOSE_FILE)]

    def compose(self, *args: str, timeout: float = COMPOSE_TIMEOUT_S, check: bool = True):
        return run(self._compose + list(args), timeout=timeout, env=self.env, check=check)

    def container(self, service: str) -> str:
        _, out = self.compose("ps", "-q", service, timeout=60)
        ids = out.split()
        assert len(ids) == 1, f"{service}: expected one container, got {out!r}"
        return ids[0]

    def hostport(self, service: str) -> str:
        return f"{self.host}:{PORTS[SERVICES.index(service)]}"

    def connect_string(self, services=SERVICES) -> str:
        return ",".join(self.hostport(s) for s in services)

    def mode(self, service: str) -> str | None:
        """The member's `Mode:` from srvr, or None when it does not serve."""
        host, port = self.hostport(service).split(":")
        reply = four_letter_word(host, int(port), "srvr", timeout=3.0)
        for line in reply.splitlines():
            if line.startswith("Mode: "):
                return line.split(":", 1)[1].strip()
        return None

    def modes(self) -> dict[str, str | None]:
        out = {}
        for s in SERVICES:
            try:
                out[s] = self.mode(s)
            except OSError:
                out[s] = None
        return out

    def leader(self) -> str | None:
        """The one member saying `Mode: leader` while the others follow, else None."""
        modes = self.modes()
        leaders = [s for s, m in modes.items() if m == "leader"]
        followers = [s for s, m in modes.items() if m == "follower"]
        if len(leaders) == 1 and len(followers) == len(SERVICES) - 1:
            return leaders[0]
        return None


def kazoo(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=15.0, connection_retry={"max_tries": -1, "max_delay": 2})
    zk.start(timeout=60)
    return zk


def write_through(ens: Ensemble, services, path: str, data: bytes) -> None:
    """Creates `path` through a fresh kazoo session on `services`, retrying until the
    ensemble accepts writes again (after a kill or a partition it elects first)."""

    def attempt():
        zk = kazoo(ens.connect_string(services))
        try:
            if zk.exists(path) is None:
                zk.create(path, data, makepath=True)
            zk.sync(path)
            got, _ = zk.get(path)
            assert got == data, f"{path}: wrote {data!r}, read back {got!r}"
            return True
        finally:
            zk.stop()
            zk.close()

    wait_for(f"a write of {path} through {services}", attempt, WRITE_TIMEOUT_S, every=1.0)


STAT_FIELDS = (
    "czxid",
    "mzxid",
    "ctime",
    "mtime",
    "version",
    "cversion",
    "aversion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
    "pzxid",
)


# Nodes whose ctime and mtime are each member's own: Apache writes /zookeeper/config locally
# at startup with the local clock, outside any transaction (tests/src/replica.rs agrees).
LOCAL_TIMES = ("/zookeeper/config",)


def snapshot_tree(ens: Ensemble, service: str) -> dict:
    """Every znode's data and Stat as the member `service` serves them (after a sync)."""
    zk = kazoo(ens.hostport(service))
    try:
        zk.sync("/")
        out = {}
        todo = ["/"]
        while todo:
            assert len(out) < 100_000, "tree walk does not end"
            path = todo.pop()
            data, stat = zk.get(path)
            fields = {f: getattr(stat, f) for f in STAT_FIELDS}
            if path in LOCAL_TIMES:
                fields["ctime"] = fields["mtime"] = 0
            out[path] = (data, tuple(fields.values()))
            for child in zk.get_children(path):
                todo.append(("" if path == "/" else path) + "/" + child)
        return out
    finally:
        zk.stop()
        zk.close()


def tree_differences(trees: dict) -> str:
    """The znodes whose data or Stat differ between members, one line per member."""
    paths = sorted(set().union(*(t.keys() for t in trees.values()))) if trees else []
    lines = []
    for p in paths:
        seen = {s: t.get(p) for s, t in trees.items()}
        if len({repr(v) for v in seen.values()}) > 1:
            lines.append(p)
            lines.extend(f"  {s}: {v!r}" for s, v in seen.items())
    return "\n".join(lines[:60]) or "(no snapshot of all three members was taken)"


@pytest.fixture(scope="module")
def ensemble(image: str):
    addr = LoopbackAddr()
    ens = Ensemble(f"zkrstest{os.getpid()}", addr.ip, image)
    try:
        ens.compose("up", "-d")
        yield ens
    finally:
        # Logs first (pytest shows them when something failed), then everything goes:
        # containers, the network and the volumes.
        _, logs = ens.compose("logs", "--no-color", "--tail", "80", check=False, timeout=60)
        print(logs)
        ens.compose("down", "-v", "--timeout", "5", check=False)
        addr.release()


def test_compose_ensemble_survives_a_leader_kill_and_a_partition(ensemble: Ensemble):
    ens = ensemble

    # 1. It elects, and every member derived its myid from its hostname.
    leader = wait_for("a leader and two followers", ens.leader, SERVE_TIMEOUT_S)
    for i, s in enumerate(SERVICES):
        c = ens.container(s)
        _, myid = run(["docker", "exec", c, "cat", "/data/myid"], timeout=60)
        assert myid.strip() == str(i + 1), f"{s}: myid {myid!r}"
        _, uid = run(["docker", "exec", c, "id", "-u"], timeout=60)
        assert uid.strip() == "1000", f"{s} runs as uid {uid!r}"

    # 2. Writes from the host with kazoo and with zkCli.sh.
    zk = kazoo(ens.connect_string())
    try:
        zk.create("/compose/kazoo", b"written with kazoo", makepath=True)
        for i in range(5):
            zk.create("/compose/seq-", f"item {i}".encode(), sequence=True)
        zk.set("/compose/kazoo", b"updated with kazoo")
    finally:
        zk.stop()
        zk.close()
    r = run_oneshot(
        ens.hostport(SERVICES[0]), "create", "/compose/zkcli", "written with zkCli.sh", timeout=120
    )
    assert "Created /compose/zkcli" in r.raw, r.raw
    r = run_oneshot(ens.hostport(SERVICES[2]), "get", "/compose/zkcli", timeout=120)
    assert "written with zkCli.sh" in r.raw, r.raw

    # 3. Kill the leader: the other two elect and keep taking writes; then it comes back.
    leader_id = ens.container(leader)
    run(["docker", "kill", leader_id], timeout=60)
    survivors = [s for s in SERVICES if s != leader]
    write_through(ens, survivors, "/compose/after-leader-kill", b"written without the old leader")
    run(["docker", "start", leader_id], timeout=120)
    new_leader = wait_for("the old leader back as a member", ens.leader, SERVE_TIMEOUT_S)

    # 4. Cut one follower off its network; the other two keep a quorum and take writes.
    follower = next(s for s in SERVICES if s != new_leader)
    follower_id = ens.container(follower)
    run(["docker", "network", "disconnect", ens.network, follower_id], timeout=60)
    try:
        others = [s for s in SERVICES if s != follower]
        write_through(
            ens, others, "/compose/during-partition", b"written while a follower was cut off"
        )

        # Cut off long enough to notice (syncLimit ticks without the leader), so that the
        # reconnect below makes it find the leader and sync again. Asked from inside the
        # container: its published port is unreachable while it has no network.
        def stopped_serving():
            rc, out = run(
                ["docker", "exec", follower_id, "zkrs-server", "status", "/conf/zoo.cfg"],
                timeout=60,
                check=False,
            )
            # zkServer.sh's words for a member that does not serve.
            return True if rc == 1 and "Error contacting service" in out else None

        wait_for(
            f"{follower} to stop serving without its network",
            stopped_serving,
            SERVE_TIMEOUT_S,
            every=1.0,
        )
    finally:
        # The alias is what the other members' zoo.cfg calls it.
        run(
            ["docker", "network", "connect", "--alias", follower, ens.network, follower_id],
            timeout=60,
        )
    wait_for("all three members serving after the reconnect", ens.leader, SERVE_TIMEOUT_S)

    # 5. The same tree, Stat for Stat, through each member.
    last: dict = {}

    def converged():
        last.clear()
        last.update({s: snapshot_tree(ens, s) for s in SERVICES})
        first = last[SERVICES[0]]
        if all(t == first for t in last.values()):
            return dict(last)
        return None

    try:
        trees = wait_for("identical trees on every member", converged, SERVE_TIMEOUT_S, every=2.0)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{tree_differences(last)}") from None
    tree = trees[SERVICES[0]]
    for path in (
        "/compose/kazoo",
        "/compose/zkcli",
        "/compose/after-leader-kill",
        "/compose/during-partition",
    ):
        assert path in tree, f"{path} is missing: {sorted(tree)}"
    assert tree["/compose/kazoo"][0] == b"updated with kazoo"
    assert sum(1 for p in tree if p.startswith("/compose/seq-")) == 5

    # Nothing was written outside the /data volume (the root filesystem is read-only too).
    for s in SERVICES:
        _, diff = run(["docker", "diff", ens.container(s)], timeout=60)
        assert diff.strip() == "", f"{s} changed its filesystem outside /data:\n{diff}"
