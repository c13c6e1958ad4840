"""Start and stop a real ZooKeeper-compatible server process for the tests.

Two kinds of server are supported, chosen by the environment variable
``ZKRS_TEST_SERVER``:

* ``zkrs`` (default): the zkrs-server binary, taken from ``ZKRS_SERVER_BIN`` or
  ``<repo>/target/debug/zkrs-server``; started as ``zkrs-server <zoo.cfg>``.
* ``apache``: Apache ZooKeeper's standalone ``ZooKeeperServerMain`` run on the
  JVM, with the classpath of the installed distribution (Debian's
  ``/usr/share/zookeeper``, or ``ZOOKEEPER_HOME`` / ``ZK_CLASSPATH``).

Both get the same generated ``zoo.cfg`` in a fresh temporary directory, listen
on port 2181 of a loopback address of their own (``127.1.a.b``, reserved with an
``flock`` on a lock file shared with the Rust harness, ``tests/src/addr.rs``), and
are considered up once they answer the ``ruok`` four-letter word with ``imok``.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

ZK_HOME_DEFAULT = Path("/usr/share/zookeeper")
JAVA_SHARE = Path("/usr/share/java")

START_DEADLINE_S = float(os.environ.get("ZKRS_TEST_START_TIMEOUT", "30"))
STOP_DEADLINE_S = 10.0

# Every server process started by this module, so that an interpreter exit
# that skips fixture teardown still kills them (by PID).
_LIVE: "set[ServerProcess]" = set()


def ensemble_size() -> int:
    """``ZKRS_TEST_ENSEMBLE``: unset (or empty) for a standalone server, else the number of
    ensemble members (at least 2) the fixture starts."""
    raw = os.environ.get("ZKRS_TEST_ENSEMBLE", "").strip()
    if not raw:
        return 0
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 2:
        raise ValueError(
            f"ZKRS_TEST_ENSEMBLE must be unset (standalone) or a member count >= 2, not {raw!r}"
        )
    return n


def server_kind() -> str:
    kind = os.environ.get("ZKRS_TEST_SERVER", "zkrs").strip().lower() or "zkrs"
    if kind not in ("zkrs", "apache"):
        raise ValueError(
            f"ZKRS_TEST_SERVER must be 'zkrs' or 'apache', not {kind!r}"
        )
    return kind


def zkrs_binary() -> Path:
    env = os.environ.get("ZKRS_SERVER_BIN")
    if env:
        return Path(env)
    return REPO_ROOT / "target" / "debug" / "zkrs-server"


def zookeeper_home() -> Path:
    return Path(os.environ.get("ZOOKEEPER_HOME", str(ZK_HOME_DEFAULT)))


def zkcli_path() -> Path:
    return zookeeper_home() / "bin" / "zkCli.sh"


def apache_classpath() -> str:
    """Classpath for ZooKeeperServerMain.

    Mirrors zkEnv.sh (``/etc/zookeeper/conf:/usr/share/java/zookeeper.jar`` on
    Debian, whose jar manifest pulls in its dependencies) and adds an SLF4J
    binding (log4j 1.2) when one is installed, so the server log is not empty.
    """
    env = os.environ.get("ZK_CLASSPATH")
    if env:
        return env
    parts: list[str] = []
    # Put our own log4j.properties directory first (added by the caller).
    for cand in (
        JAVA_SHARE / "zookeeper.jar",
        zookeeper_home() / "lib" / "zookeeper.jar",
    ):
        if cand.exists():
            parts.append(str(cand))
            break
    else:
        # A tarball layout: every jar in lib/.
        lib = zookeeper_home() / "lib"
        parts.extend(str(p) for p in sorted(lib.glob("*.jar")))
    for jar in ("slf4j-log4j12.jar", "log4j-1.2.jar"):
        p = JAVA_SHARE / jar
        if p.exists():
            parts.append(str(p))
    return os.pathsep.join(parts)


CLIENT_PORT = 2181
# The ports an address must have free (client, and an ensemble's quorum and election).
_RESERVED_PORTS = (2181, 2888, 3888)
_CANDIDATES = 16 * 254


def _lock_dir() -> Path:
    d = os.environ.get("ZKRS_TEST_ADDR_LOCKS")
    return Path(d) if d else Path(tempfile.gettempdir()) / "zkrs-test-addrs"


def _ports_free(ip: str) -> bool:
    for port in _RESERVED_PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, port))
            except OSError:
                return False
    return True


class LoopbackAddr:
    """A loopback address reserved for this process until ``release()``: an
    exclusive ``flock`` on ``<lock dir>/<ip>.lock``, which the kernel drops when
    the process exits.  The same scheme as the Rust harness, so the two never
    hand out the same address at the same time."""

    def __init__(self) -> None:
        d = _lock_dir()
        d.mkdir(parents=True, exist_ok=True)
        for n in range(_CANDIDATES):
            ip = f"127.1.{n // 254}.{n % 254 + 1}"
            f = open(d / f"{ip}.lock", "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            # A server left running by a killed test process may still hold it.
            if _ports_free(ip):
                self.ip = ip
                self._lock = f
                return
            f.close()
        raise RuntimeError(f"no free test address in 127.1.0.0/16 (lock files in {d})")

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def four_letter_word(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter word and return the whole reply (server closes)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode("utf-8", "replace")


LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.ConsoleAppender
log4j.appender.FILE.Target=System.out
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
"""


class ServerStartError(RuntimeError):
    pass


class ServerProcess:
    """One server process with its own data dir, config and log file."""

    # The Apache class run for this kind of process (a member runs QuorumPeerMain).
    APACHE_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"

    def __init__(self, kind: str | None = None, workdir: str | os.PathLike | None = None):
        self.kind = kind or server_kind()
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="zkrs-pytest-")
            self._own_workdir = True
        else:
            self._own_workdir = False
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "zoo.cfg"
        self.log_path = self.workdir / "server.log"
        self.port: int | None = None
        self._addr: LoopbackAddr | None = None
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        # zoo.cfg lines appended to the defaults (e.g. reconfigEnabled=true); Apache also
        # gets the `zookeeper.`-prefixed system properties some of them need at start.
        self.extra_config: list[str] = []

    # -- public -----------------------------------------------------------
    @property
    def host(self) -> str:
        assert self._addr is not None, "the server has not been started"
        return self._addr.ip

    @property
    def hosts(self) -> str:
        """Connect string for clients: ``HOST:PORT``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> "ServerProcess":
        """Starts the server (again: on the same address) and waits until it serves."""
        try:
            self._start_once()
        except ServerStartError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=STOP_DEADLINE_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        _LIVE.discard(self)

    def cleanup(self) -> None:
        """Stop, give the address back and delete the work dir if we created it."""
        self.stop()
        if self._addr is not None:
            self._addr.release()
            self._addr = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def flw(self, word: str) -> str:
        assert self.port is not None
        return four_letter_word(self.host, self.port, word)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError as e:
            return f"<no server log: {e}>"
        tail = text.splitlines()[-lines:]
        return "\n".join(tail)

    def describe(self) -> str:
        return (
            f"{self.kind} server pid={self.pid} port={self.port} "
            f"workdir={self.workdir}"
        )

    # -- internals --------------------------------------------------------
    def _write_config(self) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        cfg = "\n".join(
            [
                "tickTime=2000",
                f"dataDir={self.data_dir}",
                f"clientPort={self.port}",
                f"clientPortAddress={self.host}",
                "4lw.commands.whitelist=*",
                "extendedTypesEnabled=true",
                "admin.enableServer=false",
                "znode.container.checkIntervalMs=100",
                *self.extra_config,
                "",
            ]
        )
        self.config_path.write_text(cfg)

    def _command(self) -> list[str]:
        if self.kind == "zkrs":
            binary = zkrs_binary()
            if not binary.exists():
                raise ServerStartError(
                    f"zkrs-server binary not found at {binary}. Build it with "
                    "`cargo build -p zkrs-server` (or set ZKRS_SERVER_BIN), or run "
                    "against Apache ZooKeeper with ZKRS_TEST_SERVER=apache."
                )
            if not os.access(binary, os.X_OK):
                raise ServerStartError(f"zkrs-server at {binary} is not executable")
            return [str(binary), str(self.config_path)]
        java = shutil.which("java") or "/usr/bin/java"
        log4j_dir = self.workdir / "log4j"
        log4j_dir.mkdir(exist_ok=True)
        (log4j_dir / "log4j.properties").write_text(LOG4J_PROPERTIES)
        classpath = os.pathsep.join([str(log4j_dir), apache_classpath()])
        return [
            java,
            "-Xms64m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j.configuration=file:{log4j_dir / 'log4j.properties'}",
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dznode.container.checkIntervalMs=100",
            "-Dzookeeper.admin.enableServer=false",
            *(
                f"-Dzookeeper.{line}"
                for line in self.extra_config
                if line.startswith("DigestAuthenticationProvider.")
            ),
            "-cp",
            classpath,
            self.APACHE_MAIN,
            str(self.config_path),
        ]

    def _serving(self) -> bool:
        """Apache answers ruok as soon as it listens, before it can take
        sessions; its ``srvr`` says so explicitly until then.  A server that
        does not implement ``srvr`` (empty reply) is taken at its ruok."""
        try:
            reply = four_letter_word(self.host, self.port, "srvr", timeout=1.0)
        except OSError:
            return False
        return "not currently serving requests" not in reply

    def _start_once(self) -> None:
        self._spawn()
        deadline = time.monotonic() + START_DEADLINE_S
        last = ""
        while True:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.kind} server exited with code {self.proc.returncode} "
                    f"before answering ruok (port {self.port}).\n"
                    f"--- server log tail ---\n{self.log_tail()}"
                )
            try:
                last = four_letter_word(self.host, self.port, "ruok", timeout=1.0)
                if last.strip() == "imok" and self._serving():
                    return
            except OSError as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.kind} server did not answer ruok with imok within "
                    f"{START_DEADLINE_S}s (last reply: {last!r}).\n"
                    f"--- server log tail ---\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _spawn(self) -> None:
        """Writes the config and starts the process; does not wait for it."""
        if self._addr is None:
            self._addr = LoopbackAddr()
        self.port = CLIENT_PORT
        self._write_config()
        cmd = self._command()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"=== starting: {' '.join(cmd)}\n".encode())
        self._log_file.flush()
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
            env=env,
        )
        _LIVE.add(self)


QUORUM_PORT = 2888
ELECTION_PORT = 3888


class EnsembleMember(ServerProcess):
    """One member of an ensemble: the standalone zoo.cfg plus ``initLimit``/``syncLimit``, the
    ensemble's ``server.N`` lines and ``dataDir/myid``; Apache runs ``QuorumPeerMain``. It
    listens on its own loopback address (client 2181, quorum 2888, election 3888)."""

    APACHE_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

    def __init__(self, myid: int, addr: LoopbackAddr, **kwargs):
        super().__init__(**kwargs)
        self.myid = myid
        self._addr = addr
        self.port = CLIENT_PORT
        self.server_lines: list[str] = []

    def _write_config(self) -> None:
        super()._write_config()
        (self.data_dir / "myid").write_text(f"{self.myid}\n")
        with self.config_path.open("a") as f:
            # Generous limits in ticks: a JVM on a busy 2-core machine is slow to sync.
            f.write("initLimit=20\nsyncLimit=10\n")
            f.write("".join(line + "\n" for line in self.server_lines))

    def mode(self) -> str:
        """``Mode:`` of ``srvr`` (leader / follower / ...), or ``not serving`` / ``down``."""
        try:
            reply = self.flw("srvr")
        except OSError:
            return "down"
        for line in reply.splitlines():
            if line.startswith("Mode: "):
                return line[len("Mode: "):].strip()
        return "not serving"

    def describe(self) -> str:
        return f"member {self.myid}: {super().describe()} host={self.host}"


class Ensemble:
    """``n`` members of one kind, started together; up once exactly one member says
    ``Mode: leader`` in ``srvr`` and every other one ``Mode: follower``.

    Offers what the tests use of a ServerProcess: ``hosts`` (every member's
    ``HOST:2181``, comma-separated), ``is_running``, ``log_tail``, ``describe``, ``stop``."""

    def __init__(
        self,
        n: int,
        kind: str | None = None,
        workdir: str | os.PathLike | None = None,
        extra_config: list[str] | None = None,
    ):
        self.kind = kind or server_kind()
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="zkrs-pytest-ensemble-")
        self.workdir = Path(workdir)
        addrs: list[LoopbackAddr] = []
        try:
            for _ in range(n):
                addrs.append(LoopbackAddr())
        except BaseException:
            for a in addrs:
                a.release()
            raise
        lines = [
            f"server.{i + 1}={a.ip}:{QUORUM_PORT}:{ELECTION_PORT}" for i, a in enumerate(addrs)
        ]
        self.members: list[EnsembleMember] = []
        for i, a in enumerate(addrs):
            m = EnsembleMember(
                i + 1, a, kind=self.kind, workdir=self.workdir / f"member-{i + 1}"
            )
            m.server_lines = lines
            m.extra_config = list(extra_config or [])
            self.members.append(m)

    @property
    def hosts(self) -> str:
        return ",".join(m.hosts for m in self.members)

    def start(self) -> "Ensemble":
        try:
            for m in self.members:
                m._spawn()
            self.wait_formed(START_DEADLINE_S)
        except BaseException:
            self.stop()
            raise
        return self

    def modes(self) -> list[str]:
        return [m.mode() for m in self.members]

    def wait_formed(self, timeout: float) -> None:
        """Until exactly one leader and every other member a follower (each serving)."""
        deadline = time.monotonic() + timeout
        modes: list[str] = []
        while True:
            for m in self.members:
                if not m.is_running():
                    raise ServerStartError(
                        f"{m.describe()} exited with code {m.proc.returncode} before the "
                        f"ensemble formed.\n{self.log_tail()}"
                    )
            modes = self.modes()
            if modes.count("leader") == 1 and modes.count("follower") == len(modes) - 1:
                return
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.kind} ensemble did not form (one leader, the rest followers) "
                    f"within {timeout}s; modes by myid: {modes}\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def leader(self) -> EnsembleMember:
        leaders = [m for m in self.members if m.mode() == "leader"]
        assert len(leaders) == 1, f"leaders: {[m.myid for m in leaders]}; modes {self.modes()}"
        return leaders[0]

    def followers(self) -> list[EnsembleMember]:
        return [m for m in self.members if m.mode() == "follower"]

    def stop(self) -> None:
        for m in self.members:
            m.stop()

    def cleanup(self) -> None:
        for m in self.members:
            m.cleanup()

    def is_running(self) -> bool:
        return all(m.is_running() for m in self.members)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(
            f"--- log tail of {m.describe()} (running={m.is_running()}) ---\n"
            + m.log_tail(lines)
            for m in self.members
        )

    def describe(self) -> str:
        return f"{self.kind} ensemble of {len(self.members)} at {self.hosts} workdir={self.workdir}"


@atexit.register
def _kill_leftovers() -> None:
    for srv in list(_LIVE):
        try:
            srv.stop()
        except Exception:
            pass
