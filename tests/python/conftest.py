"""pytest fixtures: a real server process per test module, kazoo clients.

Select the server with ``ZKRS_TEST_SERVER=zkrs`` (default) or ``apache``.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from server import ServerProcess, ServerStartError, server_kind  # noqa: E402


def pytest_report_header(config):
    try:
        kind = server_kind()
    except ValueError as e:
        return [f"zk server under test: INVALID ({e})"]
    extra = ""
    if kind == "zkrs":
        from server import zkrs_binary

        extra = f" ({zkrs_binary()})"
    return [f"zk server under test: {kind}{extra}"]


def pytest_sessionstart(session):
    # Fail loudly (never skip) on a bad selection or a missing zkrs binary.
    try:
        kind = server_kind()
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
    """A freshly started server (clean data dir, free port) for one module."""
    workdir = tmp_path_factory.mktemp("zkserver")
    srv = ServerProcess(workdir=workdir)
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
        srv.stop()


@pytest.fixture
def zk_hosts(zk_server) -> str:
    """Connect string ``127.0.0.1:PORT`` of the running server."""
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
        if isinstance(srv, ServerProcess):
            rep.sections.append(
                (
                    f"server log tail ({srv.describe()}, "
                    f"running={srv.is_running()})",
                    srv.log_tail(80),
                )
            )
