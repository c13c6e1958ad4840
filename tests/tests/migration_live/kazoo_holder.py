"""Holds kazoo sessions through a live migration, driven line by line by
tests/tests/migration_live.rs over stdin/stdout.

Each session has an ephemeral znode ``<root>/held/<name>`` and a DataWatch on
``<root>/watched`` (kazoo re-arms it after each event and re-registers it after a
reconnect). Commands, one per line, each answered by one line:

  open NAME HOSTS      opens a session through HOSTS, tried in the given order (so it lands
                       on the first member that serves); answers ``opened NAME <session id>``
  check NAME VALUE     waits until the session is connected and its DataWatch has seen
                       VALUE, then checks that its ephemeral is still owned by it; answers
                       ``ok NAME <session id>``
  quit                 closes every session; answers ``bye``

Any failure (a session LOST, a changed session id, a missing ephemeral, a deadline) is
answered ``error NAME <why>``. Every wait is bounded by WAIT seconds.
"""

from __future__ import annotations

import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry

WAIT = 30.0
# Within the test ensemble's bounds (tickTime 500 ms: 1 to 10 s).
SESSION_TIMEOUT = 10.0


class Held:
    def __init__(self, name: str, hosts: str, root: str):
        self.name = name
        self.root = root
        self.lost = False
        self.seen: set[str] = set()
        self.changed = threading.Condition()
        # In order, not shuffled: the test chooses the member the session starts on. Retry
        # the connection without end (the test bounds every wait itself).
        self.client = KazooClient(
            hosts=hosts,
            timeout=SESSION_TIMEOUT,
            randomize_hosts=False,
            connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
        )
        self.client.add_listener(self._state)
        self.client.start(timeout=WAIT)
        self.session_id = self.client.client_id[0]
        self.client.create(
            f"{root}/held/{name}", name.encode(), ephemeral=True, makepath=True
        )
        self.client.DataWatch(f"{root}/watched", self._data)

    def _state(self, state):
        if state == KazooState.LOST:
            self.lost = True
        with self.changed:
            self.changed.notify_all()

    def _data(self, data, _stat):
        with self.changed:
            if data is not None:
                self.seen.add(data.decode())
            self.changed.notify_all()

    def check(self, value: str) -> str:
        deadline = time.monotonic() + WAIT
        with self.changed:
            while not (
                self.lost
                or (value in self.seen and self.client.state == KazooState.CONNECTED)
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return (
                        f"state {self.client.state}, watch saw {sorted(self.seen)}, "
                        f"not {value!r}, within {WAIT}s"
                    )
                self.changed.wait(left)
        if self.lost:
            return "the session was LOST (expired)"
        if self.client.client_id[0] != self.session_id:
            return f"session id changed from {self.session_id:#x}"
        stat = self.client.exists(f"{self.root}/held/{self.name}")
        if stat is None:
            return "its ephemeral is gone"
        if stat.ephemeralOwner != self.session_id:
            return f"its ephemeral is owned by {stat.ephemeralOwner:#x}"
        return ""


def main() -> None:
    root = sys.argv[1]
    sessions: dict[str, Held] = {}

    def answer(line: str) -> None:
        print(line, flush=True)

    answer("ready")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command, args = words[0], words[1:]
        try:
            if command == "open":
                name, hosts = args
                held = Held(name, hosts, root)
                sessions[name] = held
                answer(f"opened {name} {held.session_id:#x}")
            elif command == "check":
                name, value = args
                held = sessions[name]
                why = held.check(value)
                if why:
                    answer(f"error {name} {why}")
                else:
                    answer(f"ok {name} {held.session_id:#x}")
            elif command == "quit":
                for held in sessions.values():
                    held.client.stop()
                    held.client.close()
                answer("bye")
                return
            else:
                answer(f"error - unknown command {command!r}")
        except Exception as e:  # reported to the test, which fails with it
            answer(f"error {args[0] if args else '-'} {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
