"""Drive Apache ZooKeeper's official ``zkCli.sh`` shell from the tests.

Three ways are offered:

* :func:`run_batch` feeds a list of commands on stdin to one zkCli process
  (JLine is not used when stdin is not a terminal, so the shell reads plain
  lines) and splits the combined stdout+stderr into one chunk per command.
  Between commands it issues ``printwatches`` (no argument), a client-local
  command that prints exactly ``printwatches is on`` and sends nothing to the
  server, and uses those lines as separators.  Every command in zkCli runs
  synchronously on the main thread, so a command's output always lies between
  its two separators; the only asynchronous output is watch notifications
  (``WATCHER::`` / ``WatchedEvent ...``), which are pulled out into
  :attr:`BatchResult.events`.
* :func:`run_oneshot` runs ``zkCli.sh -server H:P cmd args...``.
* :class:`InteractiveCli` keeps a zkCli process alive on an open stdin pipe and
  lets a test wait (with a deadline) for a line to appear, e.g. a watch event.

Note that zkCli 3.8 writes some results to *stderr* (``Created /x`` and every
error message), so stderr is always merged into stdout here.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

from server import zkcli_path

MARKER_CMD = "printwatches"
MARKER_LINE = "printwatches is on"

DEFAULT_TIMEOUT_S = 60.0

WATCHER_RE = re.compile(r"^WatchedEvent state:(\S+) type:(\S+) path:(.*)$")


def _env() -> dict:
    env = dict(os.environ)
    # Faster JVM start for a short-lived shell; deterministic Date.toString().
    env.setdefault(
        "CLIENT_JVMFLAGS",
        "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto",
    )
    env["TZ"] = "UTC"
    return env


def _base_cmd(hosts: str, wait_for_connection: bool = True) -> list[str]:
    cli = zkcli_path()
    if not cli.exists():
        raise FileNotFoundError(
            f"zkCli.sh not found at {cli} (install Debian's 'zookeeper' package or set "
            "ZOOKEEPER_HOME)"
        )
    cmd = [str(cli)]
    if wait_for_connection:
        cmd.append("-waitforconnection")
    cmd += ["-timeout", "30000", "-server", hosts]
    return cmd


def _clean_lines(text: str) -> list[str]:
    # SLF4J "no binder" warnings are printed by the client JVM itself.
    return [ln for ln in text.splitlines() if not ln.startswith("SLF4J:")]


def _split_events(lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove asynchronous watch notifications from ``lines``.

    zkCli prints an event as ``println("\\nWATCHER::")`` and
    ``println("\\n" + event)``, i.e. the lines ``""``, ``"WATCHER::"``, ``""``,
    ``"WatchedEvent state:... type:... path:..."``.
    Returns (remaining lines, event lines).
    """
    out: list[str] = []
    events: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        ln = lines[i]
        nxt = lines[i + 1] if i + 1 < n else None
        if ln == "" and nxt is not None and (nxt == "WATCHER::" or WATCHER_RE.match(nxt)):
            i += 1
            continue
        if ln == "WATCHER::":
            i += 1
            continue
        if WATCHER_RE.match(ln):
            events.append(ln)
            i += 1
            continue
        out.append(ln)
        i += 1
    return out, events


@dataclass
class BatchResult:
    commands: list[str]
    raw: str
    returncode: int
    preamble: list[str]
    outputs: list[list[str]]
    events: list[str] = field(default_factory=list)

    def out(self, index: int) -> list[str]:
        return self.outputs[index]

    def text(self, index: int) -> str:
        return "\n".join(self.outputs[index])

    def for_command(self, command: str) -> list[str]:
        """Output of the only command equal to ``command``."""
        idx = [i for i, c in enumerate(self.commands) if c == command]
        assert len(idx) == 1, f"command {command!r} occurs {len(idx)} times"
        return self.outputs[idx[0]]

    def describe(self) -> str:
        parts = [f"zkCli exit code {self.returncode}"]
        for c, o in zip(self.commands, self.outputs):
            parts.append(f"> {c}")
            parts.extend(f"  {ln}" for ln in o)
        parts.append("--- raw output ---")
        parts.append(self.raw)
        return "\n".join(parts)


def run_batch(hosts: str, commands: list[str], timeout: float = DEFAULT_TIMEOUT_S) -> BatchResult:
    """Run ``commands`` in one zkCli session and return per-command output."""
    for c in commands:
        assert "\n" not in c, c
    script_lines = [MARKER_CMD]
    for c in commands:
        script_lines.append(c)
        script_lines.append(MARKER_CMD)
    script_lines.append("quit")
    script = "\n".join(script_lines) + "\n"
    try:
        proc = subprocess.run(
            _base_cmd(hosts),
            input=script.encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env=_env(),
        )
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        raise AssertionError(
            f"zkCli batch did not finish within {timeout}s; commands={commands!r}\n"
            f"--- output so far ---\n{out}"
        ) from None
    raw = proc.stdout.decode("utf-8", "replace")
    lines, events = _split_events(_clean_lines(raw))
    chunks: list[list[str]] = [[]]
    for ln in lines:
        if ln == MARKER_LINE:
            chunks.append([])
        else:
            chunks[-1].append(ln)
    preamble = chunks[0]
    outputs = chunks[1:-1]
    result = BatchResult(
        commands=list(commands),
        raw=raw,
        returncode=proc.returncode,
        preamble=preamble,
        outputs=outputs,
        events=events,
    )
    if len(outputs) != len(commands):
        raise AssertionError(
            f"expected {len(commands)} command outputs, found {len(outputs)} "
            f"(did zkCli stop early?)\n{result.describe()}"
        )
    # Whatever follows the last separator is printed by `quit` (client-local).
    result.postamble = chunks[-1]  # type: ignore[attr-defined]
    return result


@dataclass
class OneShotResult:
    args: list[str]
    returncode: int
    lines: list[str]
    events: list[str]
    raw: str

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def run_oneshot(hosts: str, *args: str, timeout: float = DEFAULT_TIMEOUT_S) -> OneShotResult:
    """``zkCli.sh -server H:P cmd args...``: runs one command and exits."""
    cmd = _base_cmd(hosts, wait_for_connection=False) + list(args)
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env=_env(),
        )
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        raise AssertionError(
            f"zkCli one-shot {args!r} did not finish within {timeout}s\n{out}"
        ) from None
    raw = proc.stdout.decode("utf-8", "replace")
    lines, events = _split_events(_clean_lines(raw))
    return OneShotResult(list(args), proc.returncode, lines, events, raw)


class InteractiveCli:
    """A long-lived zkCli process fed through an open stdin pipe."""

    def __init__(self, hosts: str):
        self.proc = subprocess.Popen(
            _base_cmd(hosts),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
        self._lines: "queue.Queue[str | None]" = queue.Queue()
        self.seen: list[str] = []
        self._marker_count = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            self._lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 20.0) -> str:
        """Read output lines until one matches ``pattern`` (regex, full line)."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        # Already seen?  (Lines are consumed in order; search the backlog.)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"zkCli did not print a line matching {rx.pattern!r} within "
                    f"{timeout}s\n--- output so far ---\n" + "\n".join(self.seen)
                )
            try:
                ln = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if ln is None:
                # EOF: put it back so that later waits fail fast too.
                self._lines.put(None)
                raise AssertionError(
                    f"zkCli exited (code {self.proc.poll()}) before printing "
                    f"{rx.pattern!r}\n--- output ---\n" + "\n".join(self.seen)
                )
            self.seen.append(ln)
            if rx.fullmatch(ln):
                return ln

    def sync_point(self, timeout: float = 20.0) -> None:
        """Wait until every command sent so far has finished executing."""
        self.send(MARKER_CMD)
        self.wait_for(re.escape(MARKER_LINE), timeout)

    def run(self, command: str, timeout: float = 20.0) -> list[str]:
        """Send one command and return its output lines (events excluded)."""
        start = len(self.seen)
        self.send(command)
        self.sync_point(timeout)
        out, _ = _split_events(self.seen[start:-1])
        return out

    def close(self, timeout: float = 15.0) -> int:
        """Send ``quit``, close stdin and wait; kill by PID if it hangs."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (BrokenPipeError, OSError):
                pass
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        # Drain what is left for diagnostics.
        while True:
            try:
                ln = self._lines.get_nowait()
            except queue.Empty:
                break
            if ln is None:
                break
            self.seen.append(ln)
        return self.proc.returncode

    def __enter__(self) -> "InteractiveCli":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
