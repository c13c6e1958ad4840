"""Apache ZooKeeper's own Java client (3.8) and its recipes against the server under test.

``tests/java/ClientSuite.java`` is compiled once per module with ``javac`` against the
installed client jars (Debian ``libzookeeper-java``, pulled in by ``zookeeper``) and run once
against the module's server. It prints one line per check, ``ok <name>`` or
``FAIL <name>: <why>``; each check becomes one test here (so a report names the failing
behaviour), and one more test asserts the program's exit code and that every check ran.

Override the classpath with ``ZK_CLIENT_CLASSPATH`` (``os.pathsep``-separated jars).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server import JAVA_SHARE

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "java" / "ClientSuite.java"

# The check names, in order, as the program will print them.
CHECK_NAMES = re.findall(r'^\s*check\("([a-z0-9_]+)"', SOURCE.read_text(), re.M)

COMPILE_TIMEOUT_S = 120.0
# The suite's own waits are bounded (15 s each); this only stops a hung JVM (below
# pytest-timeout's 180 s, so this message is the one reported).
RUN_TIMEOUT_S = 150.0

# Debian (libzookeeper-java / libslf4j-java) jars: the client (its manifest's Class-Path pulls
# in jute, netty, slf4j-api, ...), the three recipe jars, and an SLF4J binding.
REQUIRED_JARS = (
    "zookeeper.jar",
    "zookeeper-recipes-lock.jar",
    "zookeeper-recipes-queue.jar",
    "zookeeper-recipes-election.jar",
)
LOG_BINDING_JAR = "slf4j-simple.jar"


def client_classpath() -> list[str]:
    env = os.environ.get("ZK_CLIENT_CLASSPATH")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    jars = [JAVA_SHARE / j for j in REQUIRED_JARS]
    missing = [str(j) for j in jars if not j.exists()]
    if missing:
        pytest.fail(
            "ZooKeeper Java client jars not found: "
            + ", ".join(missing)
            + ". Install the Debian package `zookeeper` (it brings libzookeeper-java), "
            "or set ZK_CLIENT_CLASSPATH.",
            pytrace=False,
        )
    binding = JAVA_SHARE / LOG_BINDING_JAR
    if binding.exists():
        jars.append(binding)
    return [str(j) for j in jars]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` not found on PATH: the Java client suite needs a JDK "
            "(Debian: default-jdk-headless)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def java_suite_classes(tmp_path_factory) -> list[str]:
    """Compile ClientSuite.java once; returns the run classpath."""
    assert CHECK_NAMES, f"no check(...) calls found in {SOURCE}"
    out = tmp_path_factory.mktemp("java-classes")
    cp = client_classpath()
    proc = subprocess.run(
        [
            _tool("javac"),
            "-nowarn",
            "-encoding",
            "UTF-8",
            "-cp",
            os.pathsep.join(cp),
            "-d",
            str(out),
            str(SOURCE),
        ],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"javac failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
    return [str(out)] + cp


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
def java_suite_run(java_suite_classes, zk_server) -> SuiteRun:
    """Run the whole suite once against the module's server."""
    env = dict(os.environ)
    try:
        proc = subprocess.run(
            [
                _tool("java"),
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dzookeeper.sasl.client=false",
                "-cp",
                os.pathsep.join(java_suite_classes),
                "ClientSuite",
                zk_server.hosts,
            ],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(
            f"ClientSuite did not finish within {RUN_TIMEOUT_S}s; output so far:\n{out}",
            pytrace=False,
        )
    return SuiteRun(proc)


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_java_check(java_suite_run: SuiteRun, name: str):
    line = java_suite_run.results.get(name)
    assert line is not None, (
        f"check {name!r} printed no result (the program stopped early?)\n"
        f"exit code {java_suite_run.returncode}\n--- stdout ---\n{java_suite_run.stdout}"
        f"\n--- stderr tail ---\n{java_suite_run.stderr_tail()}"
    )
    assert line == f"ok {name}", line


def test_java_suite_exit_status(java_suite_run: SuiteRun):
    fails = java_suite_run.fail_lines()
    missing = [n for n in CHECK_NAMES if n not in java_suite_run.results]
    assert java_suite_run.returncode == 0 and not fails and not missing, (
        f"exit code {java_suite_run.returncode}; {len(fails)} FAIL line(s); "
        f"checks without a result: {missing}\n" + "\n".join(fails)
        + f"\n--- stderr tail ---\n{java_suite_run.stderr_tail()}"
    )
