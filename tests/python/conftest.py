"""pytest fixtures: a real server process per test module, kazoo clients.

Select the server with ``ZKRS_TEST_SERVER=zkrs`` (default) or ``apache``, and with
``ZKRS_TEST_ENSEMBLE=3`` an ensemble of three members of that kind instead of a standalone
server (clients get a connect string naming every member).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from server import (  # noqa: E402
    Ensemble,
    ServerProcess,
    ServerStartError,
    ensemble_size,
    server_kind,
)


def pytest_report_header(config):
    try:
        kind = server_kind()
    except ValueError as e:
        return [f"zk server under test: INVALID ({e})"]
    extra = ""
    if kind == "zkrs":
        from server import zkrs_binary

        extra = f" ({zkrs_binary()})"
    try:
        n = ensemble_size()
    except ValueError as e:
        return [f"zk server under test: INVALID ({e})"]
    form = f"ensemble of {n} members" if n else "standalone"
    return [f"zk server under test: {kind}{extra}, {form}"]


def pytest_sessionstart(session):
    # Fail loudly (never skip) on a bad selection or a missing zkrs binary.
    try:
        kind = server_kind()
        ensemble_size()
    except ValueError as e:
        pytest.exit(str(e), returncode=4)
    if kind == "zkrs":
        from server import zkrs_binary

        binary = zkrs_binary()
        if not binary.exists():
            pytest.exit(
                f"zkrs-server binary not found at {binary}: build it with "
                "`cargo build -p zkrs-server` (or set ZKRS_SERVER_BIN), or run "
                "these tests against Apache ZooKeeper with ZKRS_TEST_SERVER=apache",
                returncode=1,
            )


@pytest.fixture(scope="module")
def zk_server(request, tmp_path_factory):
    """A freshly started server (clean data dir, its own address) for one module: a
    ServerProcess, or with ``ZKRS_TEST_ENSEMBLE=N`` an Ensemble of N members."""
    workdir = tmp_path_factory.mktemp("zkserver")
    n = ensemble_size()
    srv = Ensemble(n, workdir=workdir) if n else ServerProcess(workdir=workdir)
    try:
        srv.start()
    except ServerStartError as e:
        srv.stop()
        pytest.fail(str(e), pytrace=False)
    except BaseException:
        srv.stop()
        raise
    request.node._zk_server = srv
    try:
        yield srv
    finally:
        if isinstance(srv, Ensemble):
            srv.cleanup()  # also gives its three addresses back
        else:
            srv.stop()


@pytest.fixture
def zk_hosts(zk_server) -> str:
    """Connect string ``HOST:PORT`` of the running server (``H1:P,H2:P,H3:P`` for an
    ensemble)."""
    assert zk_server.is_running(), (
        "server process is gone\n" + zk_server.log_tail()
    )
    return zk_server.hosts


@pytest.fixture
def kazoo_factory(zk_server):
    """Create connected KazooClients; all are stopped at teardown."""
    from kazoo.client import KazooClient

    clients = []

    def make(start_timeout: float = 15.0, connect: bool = True, **kwargs):
        # ``timeout`` is kazoo's session timeout (seconds).
        kwargs.setdefault("timeout", 10.0)
        c = KazooClient(hosts=zk_server.hosts, **kwargs)
        clients.append(c)
        if connect:
            c.start(timeout=start_timeout)
        return c

    yield make
    for c in clients:
        try:
            c.stop()
        except Exception:
            pass
        try:
            c.close()
        except Exception:
            pass


@pytest.fixture
def zk(kazoo_factory):
    """One connected KazooClient."""
    return kazoo_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        srv = item.funcargs.get("zk_server") if hasattr(item, "funcargs") else None
        if srv is None:
            # The fixture may be used indirectly; find it on the module node.
            mod = item.getparent(pytest.Module)
            srv = getattr(mod, "_zk_server", None) if mod is not None else None
        if isinstance(srv, (ServerProcess, Ensemble)):
            rep.sections.append(
                (
                    f"server log tail ({srv.describe()}, "
                    f"running={srv.is_running()})",
                    srv.log_tail(80),
                )
            )
