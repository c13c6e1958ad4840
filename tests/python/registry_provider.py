"""A provider registered with kazoo, in the course's layout or in Curator's.

usage: registry_provider.py CONNECT SERVICE (course ADDRESS | curator HOST PORT) TIMEOUT_S

It prints the znode's path, then stays registered until its stdin closes or it is killed.
"""

import json
import sys
import time
import uuid

from kazoo.client import KazooClient


def main() -> None:
    connect, service, layout = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[-1])
    zk = KazooClient(hosts=connect, timeout=timeout)
    zk.start(timeout=30)
    if layout == "course":
        path = zk.create(
            f"/registry/{service}/provider",
            sys.argv[4].encode(),
            ephemeral=True,
            sequence=True,
            makepath=True,
        )
    elif layout == "curator":
        # Curator's ServiceDiscoveryImpl: <basePath>/<name>/<id>, a JsonInstanceSerializer
        # ServiceInstance, ephemeral for a DYNAMIC instance.
        instance_id = str(uuid.uuid4())
        instance = {
            "name": service,
            "id": instance_id,
            "address": sys.argv[4],
            "port": int(sys.argv[5]),
            "sslPort": None,
            "payload": None,
            "registrationTimeUTC": int(time.time() * 1000),
            "serviceType": "DYNAMIC",
            "uriSpec": {
                "parts": [
                    {"value": "http://", "variable": False},
                    {"value": "address", "variable": True},
                ]
            },
            "enabled": True,
        }
        path = zk.create(
            f"/registry/{service}/{instance_id}",
            json.dumps(instance).encode(),
            ephemeral=True,
            makepath=True,
        )
    else:
        raise SystemExit(f"unknown layout {layout!r}")
    print("registered", path, flush=True)
    sys.stdin.read()
    zk.stop()


if __name__ == "__main__":
    main()
