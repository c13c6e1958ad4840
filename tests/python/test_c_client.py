"""Apache ZooKeeper's own C client (libzookeeper_mt 3.8, synchronous API) against the server
under test.

``tests/c/client_suite.c`` is compiled once per module with ``gcc ... -lzookeeper_mt`` and
run once against the module's server. It prints one line per check, ``ok <name>`` or
``FAIL <name>: <why>``; each check becomes one test here, and one more test asserts the
program's exit code and that every check ran.

Needs gcc and the Debian package ``libzookeeper-mt-dev`` (headers and library; it pulls in
``libzookeeper-mt2``). Without them the tests FAIL with a message saying so; they never skip.
Override the compiler with ``CC`` and add flags with ``ZK_C_CFLAGS`` / ``ZK_C_LDFLAGS``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "c" / "client_suite.c"

# The check names, in order, as the program will print them.
CHECK_NAMES = re.findall(r'^\s*check\("([a-z0-9_]+)"', SOURCE.read_text(), re.M)

COMPILE_TIMEOUT_S = 120.0
# The program's own waits are bounded (15 s each); this only stops a hung run (below
# pytest-timeout's 180 s, so this message is the one reported).
RUN_TIMEOUT_S = 150.0

INSTALL_HINT = (
    "the C client suite needs gcc and the ZooKeeper C client library with its headers: "
    "`apt-get install -y gcc libzookeeper-mt-dev` (Debian)"
)


def digest_id(user: str, password: str) -> str:
    """The id of a digest ACL for these credentials: ``user:base64(sha1(user:password))``."""
    sha = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(sha).decode()}"


@pytest.fixture(scope="module")
def c_suite_binary(tmp_path_factory) -> Path:
    """Compile client_suite.c once."""
    assert CHECK_NAMES, f"no check(...) calls found in {SOURCE}"
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        pytest.fail(f"C compiler `{cc}` not found: {INSTALL_HINT}", pytrace=False)
    out = tmp_path_factory.mktemp("c-suite") / "client_suite"
    cmd = (
        [cc, "-std=gnu11", "-O1", "-Wall", "-DTHREADED"]
        + shlex.split(os.environ.get("ZK_C_CFLAGS", ""))
        + ["-o", str(out), str(SOURCE)]
        + shlex.split(os.environ.get("ZK_C_LDFLAGS", ""))
        + ["-lzookeeper_mt", "-lpthread"]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        hint = ""
        if "zookeeper/zookeeper.h" in output or "-lzookeeper_mt" in output:
            hint = f"\n\nThe ZooKeeper C client is not installed: {INSTALL_HINT}."
        pytest.fail(
            f"compiling {SOURCE.name} failed ({proc.returncode}): {' '.join(cmd)}\n{output}{hint}",
            pytrace=False,
        )
    return out


class SuiteRun:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results: dict[str, str] = {}
        self.order: list[str] = []
        for line in proc.stdout.splitlines():
            m = re.match(r"^(ok|FAIL) ([a-z0-9_]+)(?:: (.*))?$", line)
            if m:
                self.results[m.group(2)] = line
                self.order.append(m.group(2))

    def fail_lines(self) -> list[str]:
        return [self.results[n] for n in self.order if self.results[n].startswith("FAIL")]

    def stderr_tail(self, lines: int = 60) -> str:
        return "\n".join(self.stderr.splitlines()[-lines:])


@pytest.fixture(scope="module")
def c_suite_run(c_suite_binary, zk_server) -> SuiteRun:
    try:
        proc = subprocess.run(
            [str(c_suite_binary), zk_server.hosts, digest_id("alice", "secret")],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(
            f"client_suite did not finish within {RUN_TIMEOUT_S}s; output so far:\n{out}",
            pytrace=False,
        )
    return SuiteRun(proc)


def test_digest_id_matches_apache():
    # Value printed by Apache's DigestAuthenticationProvider.generateDigest("super:test").
    assert digest_id("super", "test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU="


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_c_check(c_suite_run: SuiteRun, name: str):
    line = c_suite_run.results.get(name)
    assert line is not None, (
        f"check {name!r} printed no result (the program stopped early?)\n"
        f"exit code {c_suite_run.returncode}\n--- stdout ---\n{c_suite_run.stdout}"
        f"\n--- stderr tail ---\n{c_suite_run.stderr_tail()}"
    )
    assert line == f"ok {name}", line


def test_c_suite_exit_status(c_suite_run: SuiteRun):
    fails = c_suite_run.fail_lines()
    missing = [n for n in CHECK_NAMES if n not in c_suite_run.results]
    assert c_suite_run.returncode == 0 and not fails and not missing, (
        f"exit code {c_suite_run.returncode}; {len(fails)} FAIL line(s); "
        f"checks without a result: {missing}\n" + "\n".join(fails)
        + f"\n--- stderr tail ---\n{c_suite_run.stderr_tail()}"
    )
