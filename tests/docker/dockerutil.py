"""What the Docker suites share: the image under test, bounded commands and waits.

IMAGE is a tag of this checkout's own (Docker's layer cache is shared, tags are cheap), so
that another checkout building zkrs:dev on the same daemon cannot swap the image mid-test;
conftest.py builds it once per run (scripts/build-image.sh) for every module.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

REPO = Path(__file__).resolve().parents[2]

IMAGE = os.environ.get(
    "ZKRS_IMAGE", "zkrs:test-" + hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
)

# Generous: two cores shared with other builds. A cold image build compiles the release
# binaries; everything after it is seconds when the machine is idle.
BUILD_TIMEOUT_S = 3600

T = TypeVar("T")


def run(
    cmd: list[str],
    timeout: float,
    env: dict | None = None,
    check: bool = True,
    input: bytes | None = None,
):
    """Runs a command to completion within `timeout`, output captured (stdout and stderr
    together); raises with the output on failure. `input` is written to its stdin."""
    try:
        p = subprocess.run(
            cmd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env=env,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        raise AssertionError(f"{cmd!r} did not finish within {timeout}s\n{out}") from None
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd!r} exited {p.returncode}\n{out}")
    return p.returncode, out


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """Polls `probe` until it returns something other than None (exceptions count as
    not yet) or `timeout` passes; the last exception is in the failure message."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            r = probe()
            if r is not None:
                return r
        except Exception as e:  # noqa: BLE001 - a probe's failure means "not yet"
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last error: {last!r}"
            )
        time.sleep(every)


def docker_reachable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return run(["docker", "info"], timeout=30, check=False)[0] == 0
    except AssertionError:
        return False
