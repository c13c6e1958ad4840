"""Four-letter words, live: Apache ZooKeeper and zkrs-server side by side, key by key.

This module starts two servers itself: Apache ZooKeeper, the reference, and the candidate:
the kind ``ZKRS_TEST_SERVER`` selects (zkrs by default), or ``ZKRS_FLW_CANDIDATE`` if set. It
gives each the same two kazoo sessions with the same watches, then sends each word to both and
compares what monitoring tools parse:

* ``mntr``: the same key set, and the same value type per key (integer / float / text);
* ``srvr`` / ``stat``: the same line labels in the same order, values of the same shape, and
  the same list of connections in ``stat``;
* ``conf`` and ``envi``: the same keys;
* ``cons``: every line of the long (session) or short (no session) form, the same number of
  each, the same field names in the same order;
* ``wchs`` / ``wchc`` / ``wchp``: the same shape, and the same watches once session ids are
  replaced by the names of the sessions that own them;
* ``isro``, ``ruok``: the same answer;
* with a restricted ``4lw.commands.whitelist``: the same refusal text, and ``srvr`` still
  answered.

With ``ZKRS_TEST_ENSEMBLE=N`` each side is an ensemble of N members instead (an Apache
ensemble and a candidate ensemble): the two sessions connect to the leader, and the words
above are compared leader with leader. Then also: every member's ``srvr`` mode (one leader,
the rest followers), the leader's ``mntr`` follower counts, and a follower's ``mntr``, ``srvr``
and ``conf`` against an Apache follower's. The whitelist tests are skipped then: the
whitelist is a per-process setting that the standalone run covers.

A failure prints the differing keys or lines of both servers. Needs Java + the Debian
``zookeeper`` package (Apache) and the zkrs-server binary (``ZKRS_SERVER_BIN`` or
``target/debug/zkrs-server``).

With ``ZKRS_TEST_SERVER=apache`` (or ``ZKRS_FLW_CANDIDATE=apache``) Apache is compared with a
second Apache: every test must pass then, which validates the comparisons themselves (nothing
in them depends on timing or on values that legitimately differ between two runs).
"""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

from server import (
    Ensemble,
    ServerProcess,
    ServerStartError,
    ensemble_size,
    server_kind,
    zkrs_binary,
)

WAIT_S = 15.0
# Roles: the reference is always Apache; the candidate is zkrs (or Apache, to validate).
# The dict keys and messages call the candidate "zkrs" whatever its kind.
ROLES = ("apache", "zkrs")


def candidate_kind() -> str:
    kind = os.environ.get("ZKRS_FLW_CANDIDATE") or server_kind()
    if kind not in ("zkrs", "apache"):
        raise ValueError(f"ZKRS_FLW_CANDIDATE must be 'zkrs' or 'apache', not {kind!r}")
    return kind


def kind_of(role: str) -> str:
    return "apache" if role == "apache" else candidate_kind()


# ---------------------------------------------------------------------------
# servers and sessions


class WhitelistServer(ServerProcess):
    """A ServerProcess whose zoo.cfg has another ``4lw.commands.whitelist``."""

    def __init__(self, whitelist: str, **kwargs):
        super().__init__(**kwargs)
        self.whitelist = whitelist

    def _write_config(self) -> None:
        super()._write_config()
        text = self.config_path.read_text()
        new = text.replace(
            "4lw.commands.whitelist=*\n", f"4lw.commands.whitelist={self.whitelist}\n"
        )
        assert new != text, "zoo.cfg written by server.py has no '4lw.commands.whitelist=*' line"
        self.config_path.write_text(new)


def _start(srv: ServerProcess) -> ServerProcess:
    if srv.kind == "zkrs" and not zkrs_binary().exists():
        pytest.fail(
            f"this comparison needs both servers, and the zkrs-server binary is not at "
            f"{zkrs_binary()}: build it with `cargo build -p zkrs-server` or set "
            "ZKRS_SERVER_BIN",
            pytrace=False,
        )
    try:
        srv.start()
    except ServerStartError as e:
        srv.stop()
        pytest.fail(str(e), pytrace=False)
    return srv


def _start_ensemble(ens: Ensemble) -> Ensemble:
    if ens.kind == "zkrs" and not zkrs_binary().exists():
        _start(ServerProcess(kind="zkrs"))  # fails with the message saying how to build it
    try:
        ens.start()
    except ServerStartError as e:
        ens.cleanup()
        pytest.fail(str(e), pytrace=False)
    return ens


class Side:
    """One server with its two sessions, named A and B."""

    def __init__(self, srv: ServerProcess, ensemble: Ensemble | None = None):
        self.srv = srv  # in ensemble mode: the leader
        self.ensemble = ensemble
        self.clients: dict[str, object] = {}
        self.names: dict[str, str] = {}  # "0x<session id>" -> "A" / "B"

    @property
    def kind(self) -> str:
        return self.srv.kind

    def word(self, w: str) -> str:
        return self.srv.flw(w)


def _setup_sessions(side: Side) -> None:
    """The same sessions, nodes and watches on every server."""
    from kazoo.client import KazooClient

    for name in ("A", "B"):
        c = KazooClient(hosts=side.srv.hosts, timeout=10.0)
        c.start(timeout=WAIT_S)
        side.clients[name] = c
        side.names[f"0x{c.client_id[0]:x}"] = name
    a, b = side.clients["A"], side.clients["B"]

    def noop(_event):
        return None

    a.create("/flw", b"root")
    a.create("/flw/a", b"a")
    a.create("/flw/b", b"bb")
    a.create("/flw/eph-a", b"", ephemeral=True)
    b.create("/flw/eph-b", b"", ephemeral=True)
    # Data watches (getData / exists, also on a missing node) and child watches.
    a.get("/flw/a", watch=noop)
    a.get_children("/flw", watch=noop)
    b.exists("/flw/missing", watch=noop)
    b.get("/flw/a", watch=noop)
    b.get("/flw/b", watch=noop)
    b.get_children("/flw/a", watch=noop)
    # A synchronous round trip after the last watch: everything above is registered.
    a.sync("/flw")
    b.sync("/flw")


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    """Apache and zkrs, each with sessions A and B and the same watches."""
    started: list[Side] = []
    ensembles: list[Ensemble] = []
    n = ensemble_size()
    try:
        for role in ROLES:
            workdir = tmp_path_factory.mktemp(f"flw-{role}")
            if n:
                ens = _start_ensemble(Ensemble(n, kind=kind_of(role), workdir=workdir))
                ensembles.append(ens)
                side = Side(ens.leader(), ens)
            else:
                side = Side(_start(ServerProcess(kind=kind_of(role), workdir=workdir)))
            started.append(side)
            _setup_sessions(side)
        yield dict(zip(ROLES, started))
    finally:
        for side in started:
            for c in side.clients.values():
                try:
                    c.stop()
                    c.close()
                except Exception:
                    pass
            side.srv.stop()
        for ens in ensembles:
            ens.cleanup()


@pytest.fixture(scope="module")
def restricted(tmp_path_factory):
    """Both servers with ``4lw.commands.whitelist=ruok`` (srvr is always allowed)."""
    if ensemble_size():
        pytest.skip(
            "4lw.commands.whitelist is a per-process setting, the same in an ensemble member; "
            "the standalone run covers it"
        )
    started: list[ServerProcess] = []
    try:
        for role in ROLES:
            srv = WhitelistServer(
                "ruok", kind=kind_of(role), workdir=tmp_path_factory.mktemp(f"flw-wl-{role}")
            )
            started.append(_start(srv))
        yield dict(zip(ROLES, started))
    finally:
        for srv in started:
            srv.stop()


# ---------------------------------------------------------------------------
# parsing helpers


def value_type(v: str) -> str:
    if re.fullmatch(r"-?\d+", v):
        return "int"
    if re.fullmatch(r"-?\d+\.\d+(E-?\d+)?|NaN|-?Infinity", v):
        return "float"
    return "text"


def shape(v: str) -> str:
    """A value with its numbers abstracted: ``1/2.1/7`` -> ``N/N.N/N``, ``0x5f`` -> ``0xH``."""
    v = re.sub(r"0x[0-9a-fA-F]+", "0xH", v)
    return re.sub(r"\d+", "N", v)


def parse_mntr(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if not line:
            continue
        key, sep, value = line.partition("\t")
        assert sep, f"mntr line without a tab: {line!r}"
        out[key] = value
    return out


def parse_kv(text: str, sep: str = "=") -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if sep in line:
            k, _, v = line.partition(sep)
            out[k] = v
    return out


CLIENT_LINE = re.compile(r"^ /[0-9.]+:\d+\[\d+\]\(.*\)$")


def srvr_labels(text: str) -> list[tuple[str, str]]:
    """(label, value shape) per line; the client list of ``stat`` becomes one entry."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        if CLIENT_LINE.match(line):
            if not out or out[-1][0] != "<client lines>":
                out.append(("<client lines>", ""))
            continue
        if not line:
            out.append(("<blank>", ""))
            continue
        label, sep, value = line.partition(":")
        assert sep, f"srvr/stat line without a label: {line!r}"
        out.append((label, "" if label == "Zookeeper version" else shape(value.strip())))
    return out


CONS_LONG = re.compile(
    r"^ /(?P<ip>[0-9.]+):(?P<port>\d+)\[(?P<ops>\d+)\]\("
    r"queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,lop=[A-Z]+,est=\d+,to=\d+,"
    r"lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)$"
)
CONS_SHORT = re.compile(
    r"^ /(?P<ip>[0-9.]+):(?P<port>\d+)\[(?P<ops>\d+)\]\(queued=\d+,recved=\d+,sent=\d+\)$"
)
STAT_CLIENT = CONS_SHORT


def cons_fields(line: str) -> list[str]:
    inner = line[line.index("(") + 1 : -1]
    return [kv.partition("=")[0] for kv in inner.split(",")]


def classify_cons(text: str) -> tuple[list[str], list[str]]:
    """(kinds of the lines: 'session' / 'no-session', lines matching neither form)."""
    kinds, bad = [], []
    for line in text.splitlines():
        if not line:
            continue
        if CONS_LONG.match(line):
            kinds.append("session")
        elif CONS_SHORT.match(line):
            kinds.append("no-session")
        else:
            bad.append(line)
    return sorted(kinds), bad


def parse_wchc(text: str, names: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur = None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("\t"):
            assert cur is not None, f"wchc: path before any session: {text!r}"
            out[cur].append(line[1:])
        else:
            assert re.fullmatch(r"0x[0-9a-f]+", line), f"wchc: bad session line {line!r}"
            cur = names.get(line, f"unknown session {line}")
            out[cur] = []
    return {k: sorted(v) for k, v in out.items()}


def parse_wchp(text: str, names: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur = None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("\t"):
            assert cur is not None, f"wchp: session before any path: {text!r}"
            sid = line[1:]
            assert re.fullmatch(r"0x[0-9a-f]+", sid), f"wchp: bad session line {line!r}"
            out[cur].append(names.get(sid, f"unknown session {sid}"))
        else:
            assert line.startswith("/"), f"wchp: bad path line {line!r}"
            cur = line
            out[cur] = []
    return {k: sorted(v) for k, v in out.items()}


def both(sides, word: str) -> tuple[str, str]:
    return sides["apache"].word(word), sides["zkrs"].word(word)


def show(word: str, apache: str, zkrs: str) -> str:
    return f"\n--- apache {word} ---\n{apache}\n--- {kind_of('zkrs')} {word} ---\n{zkrs}"


# ---------------------------------------------------------------------------
# the comparisons


def test_ruok(sides):
    apache, zkrs = both(sides, "ruok")
    assert apache == "imok"
    assert zkrs == apache, show("ruok", apache, zkrs)


def test_isro(sides):
    apache, zkrs = both(sides, "isro")
    assert apache == "rw"
    assert zkrs == apache, show("isro", apache, zkrs)


def test_mntr_keys(sides):
    apache_text, zkrs_text = both(sides, "mntr")
    apache, zkrs = parse_mntr(apache_text), parse_mntr(zkrs_text)
    assert len(apache) > 50, f"Apache mntr looks wrong:\n{apache_text}"
    missing = sorted(set(apache) - set(zkrs))
    extra = sorted(set(zkrs) - set(apache))
    assert not missing and not extra, (
        f"mntr keys differ: {len(missing)} only in Apache, {len(extra)} only in zkrs\n"
        f"only in Apache: {missing}\nonly in zkrs: {extra}"
    )


def test_mntr_value_types(sides):
    apache_text, zkrs_text = both(sides, "mntr")
    apache, zkrs = parse_mntr(apache_text), parse_mntr(zkrs_text)
    diffs = [
        f"{k}: apache {apache[k]!r} ({value_type(apache[k])}) vs zkrs {zkrs[k]!r} ({value_type(zkrs[k])})"
        for k in apache
        if k in zkrs and value_type(apache[k]) != value_type(zkrs[k])
    ]
    assert not diffs, "mntr value types differ:\n" + "\n".join(diffs)


def test_mntr_values_that_must_agree(sides):
    """Values fixed by the identical setup of both servers."""
    apache, zkrs = (parse_mntr(t) for t in both(sides, "mntr"))
    keys = [
        "zk_server_state",
        "zk_znode_count",
        "zk_ephemerals_count",
        "zk_global_sessions",
        "zk_watch_count",
        "zk_outstanding_requests",
        "zk_num_alive_connections",
    ]
    diffs = [f"{k}: apache {apache.get(k)!r} vs zkrs {zkrs.get(k)!r}" for k in keys if apache.get(k) != zkrs.get(k)]
    assert not diffs, "mntr values differ for the same state:\n" + "\n".join(diffs)


@pytest.mark.parametrize("word", ["srvr", "stat"])
def test_srvr_stat_labels(sides, word):
    apache_text, zkrs_text = both(sides, word)
    apache, zkrs = srvr_labels(apache_text), srvr_labels(zkrs_text)
    assert [l for l, _ in zkrs] == [l for l, _ in apache], (
        f"{word}: line labels differ\napache: {[l for l, _ in apache]}\n"
        f"zkrs:   {[l for l, _ in zkrs]}" + show(word, apache_text, zkrs_text)
    )
    diffs = [f"{la}: apache {sa!r} vs zkrs {sz!r}" for (la, sa), (_, sz) in zip(apache, zkrs) if sa != sz]
    assert not diffs, f"{word}: value shapes differ:\n" + "\n".join(diffs) + show(word, apache_text, zkrs_text)
    for text in (apache_text, zkrs_text):
        assert re.match(r"Zookeeper version: \d+\.\d+\.\d+[^,\n]*, built on .+\n", text), text


def test_srvr_values_that_must_agree(sides):
    apache, zkrs = (parse_kv(t, ": ") for t in both(sides, "srvr"))
    keys = ["Mode", "Node count", "Outstanding", "Connections"]
    diffs = [f"{k}: apache {apache.get(k)!r} vs zkrs {zkrs.get(k)!r}" for k in keys if apache.get(k) != zkrs.get(k)]
    assert not diffs, "srvr values differ for the same state:\n" + "\n".join(diffs)


def test_stat_client_list(sides):
    """``stat`` lists every connection in the short form, including the asking one."""
    apache_text, zkrs_text = both(sides, "stat")
    result = {}
    for kind, text in (("apache", apache_text), ("zkrs", zkrs_text)):
        lines = [l for l in text.splitlines() if CLIENT_LINE.match(l)]
        bad = [l for l in lines if not STAT_CLIENT.match(l)]
        assert not bad, f"{kind} stat: client lines of an unexpected form: {bad}"
        # Interest ops 0: the 4lw connection asking; anything else: a session's connection.
        result[kind] = sorted(
            "4lw" if STAT_CLIENT.match(l).group("ops") == "0" else "session" for l in lines
        )
    assert result["zkrs"] == result["apache"], (
        "stat client lists differ (Apache lists the asking 4lw connection itself as "
        f"'[0](queued=0,recved=1,sent=0)')\napache: {result['apache']}\nzkrs:   {result['zkrs']}"
        + show("stat", apache_text, zkrs_text)
    )


@pytest.mark.parametrize("word", ["conf", "envi"])
def test_conf_envi_keys(sides, word):
    apache_text, zkrs_text = both(sides, word)
    apache, zkrs = parse_kv(apache_text), parse_kv(zkrs_text)
    assert apache, f"Apache {word} has no key=value lines:\n{apache_text}"
    ak, zk = list(apache), list(zkrs)
    missing = [k for k in ak if k not in zkrs]
    extra = [k for k in zk if k not in apache]
    assert not missing and not extra, (
        f"{word} keys differ\nonly in Apache: {missing}\nonly in zkrs: {extra}"
        + show(word, apache_text, zkrs_text)
    )
    assert zk == ak, f"{word}: same keys in another order\napache: {ak}\nzkrs:   {zk}"
    if word == "envi":
        assert zkrs_text.startswith("Environment:\n"), zkrs_text


def test_conf_values_that_must_agree(sides):
    apache, zkrs = (parse_kv(t) for t in both(sides, "conf"))
    keys = ["secureClientPort", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
            "clientPortListenBacklog", "serverId"]
    diffs = [f"{k}: apache {apache.get(k)!r} vs zkrs {zkrs.get(k)!r}" for k in keys if apache.get(k) != zkrs.get(k)]
    assert not diffs, "conf values differ for the same zoo.cfg:\n" + "\n".join(diffs)
    for kind, conf in (("apache", apache), ("zkrs", zkrs)):
        assert conf["clientPort"] == str(sides[kind].srv.port), f"{kind} conf clientPort {conf['clientPort']}"
        mismatched = {k: v for k, v in conf.items() if k.endswith(("Size", "Port")) and value_type(v) != "int"}
        assert not mismatched, f"{kind} conf: non-integer values {mismatched}"


def test_cons_shape(sides):
    apache_text, zkrs_text = both(sides, "cons")
    a_kinds, a_bad = classify_cons(apache_text)
    z_kinds, z_bad = classify_cons(zkrs_text)
    assert not a_bad, f"Apache cons lines of neither form (fix the regex): {a_bad}"
    assert not z_bad, "zkrs cons lines of neither form:\n" + "\n".join(z_bad) + show("cons", apache_text, zkrs_text)
    assert z_kinds == a_kinds, (
        f"cons: kinds of lines differ\napache: {a_kinds}\nzkrs:   {z_kinds}"
        + show("cons", apache_text, zkrs_text)
    )
    a_fields = {tuple(cons_fields(l)) for l in apache_text.splitlines() if CONS_LONG.match(l)}
    z_fields = {tuple(cons_fields(l)) for l in zkrs_text.splitlines() if CONS_LONG.match(l)}
    assert z_fields == a_fields
    assert apache_text.endswith("\n\n") and zkrs_text.endswith("\n\n"), show("cons", apache_text, zkrs_text)


def test_cons_session_ids(sides):
    """The long lines name exactly the two sessions."""
    for kind, side in sides.items():
        text = side.word("cons")
        sids = sorted(re.findall(r",sid=(0x[0-9a-f]+),", text))
        assert sids == sorted(side.names), f"{kind} cons sessions {sids}, expected {sorted(side.names)}\n{text}"


def test_wchs(sides):
    apache_text, zkrs_text = both(sides, "wchs")
    pattern = r"\d+ connections watching \d+ paths\nTotal watches:\d+\n"
    assert re.fullmatch(pattern, apache_text), apache_text
    assert re.fullmatch(pattern, zkrs_text), show("wchs", apache_text, zkrs_text)
    assert zkrs_text == apache_text, "wchs numbers differ for the same watches" + show("wchs", apache_text, zkrs_text)


def test_wchc(sides):
    apache_text, zkrs_text = both(sides, "wchc")
    apache = parse_wchc(apache_text, sides["apache"].names)
    zkrs = parse_wchc(zkrs_text, sides["zkrs"].names)
    assert apache_text.endswith("\n\n") and zkrs_text.endswith("\n\n"), show("wchc", apache_text, zkrs_text)
    assert zkrs == apache, f"wchc differs\napache: {apache}\nzkrs:   {zkrs}" + show("wchc", apache_text, zkrs_text)


def test_wchp(sides):
    apache_text, zkrs_text = both(sides, "wchp")
    apache = parse_wchp(apache_text, sides["apache"].names)
    zkrs = parse_wchp(zkrs_text, sides["zkrs"].names)
    assert apache_text.endswith("\n\n") and zkrs_text.endswith("\n\n"), show("wchp", apache_text, zkrs_text)
    assert zkrs == apache, f"wchp differs\napache: {apache}\nzkrs:   {zkrs}" + show("wchp", apache_text, zkrs_text)


REFUSED = ["mntr", "conf", "cons", "envi", "stat", "wchs", "wchc", "wchp", "dirs", "isro", "dump", "crst", "srst"]


@pytest.mark.parametrize("word", REFUSED)
def test_whitelist_refusal(restricted, word):
    apache = restricted["apache"].flw(word)
    zkrs = restricted["zkrs"].flw(word)
    assert apache == f"{word} is not executed because it is not in the whitelist.\n", apache
    assert zkrs == apache, show(word, apache, zkrs)


def test_whitelist_allows_listed_and_srvr(restricted):
    for kind, srv in restricted.items():
        assert srv.flw("ruok") == "imok", kind
        srvr = srv.flw("srvr")
        assert srvr.startswith("Zookeeper version: ") and "Mode: standalone" in srvr, f"{kind}: {srvr!r}"


def _raw_exchange(host: str, port: int, payload: bytes, timeout: float = WAIT_S) -> tuple[bytes, bool]:
    """Send payload; return (reply, closed_by_server) once the server closes or timeout."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = []
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                b = s.recv(65536)
            except socket.timeout:
                return b"".join(chunks), False
            if not b:
                return b"".join(chunks), True
            chunks.append(b)


def test_unknown_word_closes_silently(sides):
    """Four bytes that are no word are read as a frame length: no reply, connection closed."""
    result = {}
    for kind, side in sides.items():
        result[kind] = _raw_exchange(side.srv.host, side.srv.port, b"xyzw")
    assert result["apache"] == (b"", True), result
    assert result["zkrs"] == result["apache"], result


# ---------------------------------------------------------------------------
# an ensemble's form (ZKRS_TEST_ENSEMBLE=N only)


def _ensembles(sides) -> dict[str, Ensemble]:
    if not ensemble_size():
        pytest.skip("standalone run: ZKRS_TEST_ENSEMBLE is not set")
    return {kind: side.ensemble for kind, side in sides.items()}


def test_ensemble_member_modes(sides):
    """``srvr`` of every member: exactly one leader, every other member a follower."""
    for kind, ens in _ensembles(sides).items():
        modes = ens.modes()
        assert sorted(modes) == ["follower"] * (len(modes) - 1) + ["leader"], (
            f"{kind} ensemble: modes by myid {modes}"
        )
        assert sides[kind].srv.mode() == "leader", f"{kind}: the sessions' member is no longer the leader"


def test_ensemble_leader_mntr_followers(sides):
    """The leader's ``mntr`` counts its followers, all in sync."""
    _ensembles(sides)
    n = ensemble_size()
    apache, zkrs = (parse_mntr(t) for t in both(sides, "mntr"))
    keys = ["zk_server_state", "zk_learners", "zk_followers", "zk_synced_followers",
            "zk_synced_non_voting_followers", "zk_synced_observers", "zk_pending_syncs"]
    assert apache.get("zk_synced_followers") == str(n - 1), apache
    diffs = [f"{k}: apache {apache.get(k)!r} vs zkrs {zkrs.get(k)!r}" for k in keys if apache.get(k) != zkrs.get(k)]
    assert not diffs, "leader mntr differs:\n" + "\n".join(diffs)


def _follower_words(sides, word: str) -> tuple[str, str]:
    ens = _ensembles(sides)
    return ens["apache"].followers()[0].flw(word), ens["zkrs"].followers()[0].flw(word)


def test_ensemble_follower_mntr(sides):
    """A follower's ``mntr``: the key set, the value types, and its state."""
    apache_text, zkrs_text = _follower_words(sides, "mntr")
    apache, zkrs = parse_mntr(apache_text), parse_mntr(zkrs_text)
    missing = sorted(set(apache) - set(zkrs))
    extra = sorted(set(zkrs) - set(apache))
    assert not missing and not extra, (
        f"follower mntr keys differ\nonly in Apache: {missing}\nonly in zkrs: {extra}"
    )
    diffs = [
        f"{k}: apache {apache[k]!r} vs zkrs {zkrs[k]!r}"
        for k in apache
        if value_type(apache[k]) != value_type(zkrs[k])
    ]
    assert not diffs, "follower mntr value types differ:\n" + "\n".join(diffs)
    assert apache["zk_server_state"] == zkrs["zk_server_state"] == "follower", (apache, zkrs)


def test_ensemble_follower_srvr(sides):
    apache_text, zkrs_text = _follower_words(sides, "srvr")
    apache, zkrs = srvr_labels(apache_text), srvr_labels(zkrs_text)
    assert [l for l, _ in zkrs] == [l for l, _ in apache], show("srvr", apache_text, zkrs_text)
    assert "Mode: follower" in apache_text and "Mode: follower" in zkrs_text, show(
        "srvr", apache_text, zkrs_text
    )


def test_ensemble_follower_conf_keys(sides):
    apache_text, zkrs_text = _follower_words(sides, "conf")
    ak, zk = list(parse_kv(apache_text)), list(parse_kv(zkrs_text))
    assert zk == ak, f"follower conf keys differ\napache: {ak}\nzkrs:   {zk}" + show(
        "conf", apache_text, zkrs_text
    )
