"""The operator's StatefulSet run for real: its pods as containers, probed as the kubelet
probes them.

`zkrs-operator render` (the image's own binary) prints every object of a 3-member cluster;
from the StatefulSet's pod template, the ConfigMap and the Services the test derives all
that each pod's container gets, and nothing by hand:

* image, command and args, env (values, the downward API's pod name and namespace, the
  rendered Secret's keys), container ports;
* the init containers, run to completion in order before the pod's container starts;
* the ConfigMaps' files (a configMap or projected volume), mounted read-only where the
  volumeMounts say;
* the volume claim template as one docker volume per pod (created and removed here, not
  seeded from the image, made group-writable for fsGroup as the kubelet does);
* the pod's and the container's securityContext (user, group, fsGroup, read-only root
  filesystem, dropped capabilities, no privilege escalation);
* hostname `NAME-i`, and on a network of the test's own the pod's DNS name
  `NAME-i.<serviceName>.NS.svc.<clusterDomain>` (plus any Service name zoo.cfg uses).

Anything in the rendered pod this emulation cannot provide fails the test, naming it.

`Kubelet` runs the startup, liveness and readiness probes as the kubelet's prober workers
do (exec through `docker exec`, tcpSocket and httpGet against the container's IP on the
test's network; initial delays, periods, timeouts and thresholds from the spec; readiness
and liveness wait for the startup probe; a liveness failure restarts the container). A pod
is Ready when its readiness probe passes.

The test checks that the three become Ready; that one leads and two follow; that myid is
the ordinal + 1; that `/zookeeper/config` holds the rendered `server.N` lines (the
members ConfigMap's); that a
write through one member is read through the others; that a killed leader's pod,
recreated as the StatefulSet controller would (same name, hostname, aliases and volume),
rejoins and becomes Ready again; and, readiness meaning "serving in a quorum", that a
member cut off from the others turns NotReady. Containers, volumes, the network and the
mounted files are removed in every case.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kazoo.client import KazooClient

from dockerutil import REPO, run, wait_for

sys.path.insert(0, str(REPO / "tests" / "python"))

from server import LoopbackAddr, four_letter_word  # noqa: E402

NAME = "zk"
NAMESPACE = "pods"
REPLICAS = 3
# The emulated cluster's DNS domain (the kubelet's clusterDomain), given to the operator in
# the spec so that the names it renders and the aliases given here come from one value.
CLUSTER_DOMAIN = "cluster.local"
# The client ports are published on a reserved loopback address, one per pod, for the
# test's own clients on the host (not part of the pod).
HOST_PORTS = (12281, 12282, 12283)

# Bounds, generous for two busy cores; an idle machine needs a fraction of each.
DOCKER_TIMEOUT_S = 120
READY_TIMEOUT_S = 150
NOT_READY_TIMEOUT_S = 150

# Pod spec fields that only steer scheduling among nodes or the API server's bookkeeping:
# on one Docker host they have nothing to do.
SCHEDULING_ONLY = {
    "affinity",
    "nodeSelector",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
    "terminationGracePeriodSeconds",
}
POD_FIELDS = SCHEDULING_ONLY | {"containers", "initContainers", "volumes", "securityContext"}
CONTAINER_FIELDS = {
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "ports",
    "volumeMounts",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "securityContext",
}
# An init container has no ports and no probes (it runs to completion).
INIT_CONTAINER_FIELDS = CONTAINER_FIELDS - {
    "ports",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
}
POD_SECURITY_FIELDS = {"runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot"}
CONTAINER_SECURITY_FIELDS = {
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "capabilities",
}
PROBE_TIMING = {
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
}


def cannot(what: str) -> None:
    pytest.fail(f"the rendered pod needs {what}, which this emulation cannot provide")


def only(obj: dict, allowed: set, where: str) -> None:
    for key in sorted(set(obj) - allowed):
        cannot(f"{where}.{key}")


# ---- the rendered objects ----


def render(image: str) -> dict:
    """The operator's objects for the cluster, by (kind, name)."""
    cluster = {
        "apiVersion": "zkrs.io/v1alpha1",
        "kind": "ZooKeeperCluster",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {"replicas": REPLICAS, "image": image, "clusterDomain": CLUSTER_DOMAIN},
    }
    _, out = run(
        ["docker", "run", "--rm", "-i", "--network", "none", image]
        + ["zkrs-operator", "render", "-f", "/dev/stdin"],
        timeout=DOCKER_TIMEOUT_S,
        input=yaml.safe_dump(cluster).encode(),
    )
    objects = {}
    for doc in yaml.safe_load_all(out):
        if doc:
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def zoo_cfg_servers(text: str) -> dict[int, tuple]:
    """`server.N` lines (zoo.cfg's or /zookeeper/config's) as N -> (host, peer port,
    election port, role, client host, client port), Apache's defaults filled in."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not key.strip().startswith("server."):
            continue
        addrs, _, client = value.strip().partition(";")
        parts = addrs.split(":")
        role = parts[3] if len(parts) > 3 else "participant"
        client_host, _, client_port = client.rpartition(":")
        out[int(key.strip()[len("server.") :])] = (
            parts[0],
            int(parts[1]),
            int(parts[2]),
            role,
            client_host or "0.0.0.0",
            int(client_port) if client_port else None,
        )
    return out


def zoo_cfg_value(text: str, key: str) -> str | None:
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


# ---- one pod as a container ----


@dataclass
class Pod:
    """What `docker run` needs for pod `name`, derived from the rendered objects."""

    name: str
    ordinal: int
    aliases: list[str]
    volume: str
    run_args: list[str]
    container: dict
    ports: dict[str, int]
    # `docker run` arguments of each init container, run to completion in order when the
    # pod is created (not when the kubelet restarts its container), as the kubelet does.
    init_args: list[list[str]] = field(default_factory=list)
    container_id: str | None = None


class Emulation:
    """The rendered StatefulSet's pods on a Docker network of the test's own."""

    def __init__(self, objects: dict, image: str, host: str, workdir: Path):
        self.objects = objects
        self.image = image
        self.host = host
        self.prefix = f"zkrspods{os.getpid()}"
        self.network = self.prefix
        self.network_id: str | None = None
        self.volumes: list[str] = []
        self.container_ids: list[str] = []
        # Short-lived root containers (--rm), named so that a timed-out one is removed too.
        self.helpers: list[str] = []
        self.kubelets: dict[str, Kubelet] = {}
        self.workdir = workdir
        self.sts = self._one("StatefulSet", NAME)
        spec = self.sts["spec"]
        # A pod's DNS name under the StatefulSet's (headless) Service.
        self.domain = f"{spec['serviceName']}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"
        self.pod_names = [f"{self.sts['metadata']['name']}-{i}" for i in range(spec["replicas"])]
        self.config_map_names: list[str] = []
        self.pods = [self._pod(i) for i in range(spec["replicas"])]

    def _one(self, kind: str, name: str) -> dict:
        obj = self.objects.get((kind, name))
        assert obj is not None, f"render printed no {kind} {name}: {sorted(self.objects)}"
        return obj

    # -- deriving the container from the pod template --

    def _pod(self, ordinal: int) -> Pod:
        template = self.sts["spec"]["template"]["spec"]
        only(template, POD_FIELDS, "spec")
        if len(template["containers"]) != 1:
            cannot(f"{len(template['containers'])} containers in one pod")
        c = template["containers"][0]
        only(c, CONTAINER_FIELDS, f"containers[{c['name']}]")
        name = self.pod_names[ordinal]
        volume = f"{self.prefix}-data-{name}"
        init_args = []
        for i, ic in enumerate(template.get("initContainers", [])):
            only(ic, INIT_CONTAINER_FIELDS, f"initContainers[{ic['name']}]")
            args = ["--name", f"{self.prefix}-{name}-init{i}", "--hostname", name]
            args += ["--network", self.network, "--label", f"zkrs-test-pods={self.prefix}"]
            args += self._container(template, ic, name, volume)
            init_args.append(args + self._command(ic))
        args = ["--name", f"{self.prefix}-{name}", "--hostname", name]
        args += ["--network", self.network, "--label", f"zkrs-test-pods={self.prefix}"]
        args += ["--restart", "no"]
        args += self._container(template, c, name, volume)
        aliases = [f"{name}.{self.domain}"] + self.service_aliases()
        args += [a for alias in aliases for a in ("--network-alias", alias)]
        ports = {}
        for p in c.get("ports", []):
            if p.get("protocol", "TCP") != "TCP" or "hostPort" in p:
                cannot(f"port {p}")
            ports[p.get("name", str(p["containerPort"]))] = p["containerPort"]
            args += ["--expose", str(p["containerPort"])]
        # The test's own way in from the host.
        assert "client" in ports, f"no port named client among {ports}"
        args += ["-p", f"{self.host}:{HOST_PORTS[ordinal]}:{ports['client']}"]
        args += self._command(c)
        return Pod(name, ordinal, aliases, volume, args, c, ports, init_args)

    def _container(self, template: dict, c: dict, pod: str, volume: str) -> list[str]:
        """What any container of the pod gets: image, user and security, mounts, env."""
        args = self._image(c)
        args += self._security(template.get("securityContext", {}), c)
        args += self._mounts(template.get("volumes", []), c, volume)
        args += self._env(c, pod)
        return args

    def _image(self, c: dict) -> list[str]:
        if c.get("imagePullPolicy") == "Always":
            cannot("imagePullPolicy Always (there is no registry)")
        assert c["image"] == self.image, f"rendered image {c['image']}, asked for {self.image}"
        return []

    def _security(self, pod_sc: dict, c: dict) -> list[str]:
        only(pod_sc, POD_SECURITY_FIELDS, "spec.securityContext")
        sc = c.get("securityContext", {})
        only(sc, CONTAINER_SECURITY_FIELDS, "securityContext")
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        group = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        if user is None:
            cannot("the image's own user (no runAsUser)")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) and user == 0:
            pytest.fail("runAsNonRoot with runAsUser 0: the kubelet refuses to start this pod")
        args = ["--user", f"{user}:{group if group is not None else user}"]
        if "fsGroup" in pod_sc:
            args += ["--group-add", str(pod_sc["fsGroup"])]
        if sc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        if sc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        caps = sc.get("capabilities", {})
        only(caps, {"drop", "add"}, "securityContext.capabilities")
        args += [a for cap in caps.get("drop", []) for a in ("--cap-drop", cap)]
        args += [a for cap in caps.get("add", []) for a in ("--cap-add", cap)]
        return args

    def fs_group(self) -> int | None:
        return self.sts["spec"]["template"]["spec"].get("securityContext", {}).get("fsGroup")

    def _mounts(self, volumes: list, c: dict, data_volume: str) -> list[str]:
        claims = {t["metadata"]["name"] for t in self.sts["spec"].get("volumeClaimTemplates", [])}
        by_name = {v["name"]: v for v in volumes}
        args = []
        for m in c.get("volumeMounts", []):
            only(m, {"name", "mountPath", "readOnly"}, f"volumeMounts[{m['name']}]")
            ro = ",readonly" if m.get("readOnly") else ""
            if m["name"] in claims:
                # A fresh PersistentVolume is empty: not seeded from the image.
                args += [
                    "--mount",
                    f"type=volume,src={data_volume},dst={m['mountPath']},volume-nocopy{ro}",
                ]
            elif "configMap" in by_name.get(m["name"], {}):
                # The kubelet mounts a ConfigMap volume read-only, whatever the mount says.
                src = self._config_map_dir([by_name[m["name"]]["configMap"]], m["name"])
                args += ["--mount", f"type=bind,src={src},dst={m['mountPath']},readonly"]
            elif "projected" in by_name.get(m["name"], {}):
                projected = by_name[m["name"]]["projected"]
                only(projected, {"sources", "defaultMode"}, "volumes.projected")
                sources = []
                for source in projected["sources"]:
                    if set(source) != {"configMap"}:
                        cannot(f"projected volume source {source}")
                    sources.append(source["configMap"])
                src = self._config_map_dir(sources, m["name"])
                args += ["--mount", f"type=bind,src={src},dst={m['mountPath']},readonly"]
            else:
                cannot(f"volume {by_name.get(m['name'], m['name'])}")
        return args

    def _config_map_dir(self, sources: list[dict], volume: str) -> Path:
        """The files of one or more ConfigMaps (a configMap or projected volume)."""
        d = self.workdir / f"volume-{volume}"
        for source in sources:
            only(source, {"name", "defaultMode"}, "volumes.configMap")
            if source["name"] not in self.config_map_names:
                self.config_map_names.append(source["name"])
            cm = self._one("ConfigMap", source["name"])
            d.mkdir(exist_ok=True)
            d.chmod(0o755)
            for key, text in cm.get("data", {}).items():
                (d / key).write_text(text)
                (d / key).chmod(source.get("defaultMode", 0o644))
        return d

    def _env(self, c: dict, pod: str) -> list[str]:
        args = []
        # The downward API's fields this emulation knows.
        fields = {"metadata.name": pod, "metadata.namespace": NAMESPACE}
        for e in c.get("env", []):
            field_path = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            secret_ref = e.get("valueFrom", {}).get("secretKeyRef")
            if "value" in e:
                value = e["value"]
            elif field_path in fields:
                value = fields[field_path]
            elif secret_ref is not None:
                secret = self._one("Secret", secret_ref["name"])
                value = base64.b64decode(secret["data"][secret_ref["key"]]).decode()
            else:
                cannot(f"env {e}")
            args += ["-e", f"{e['name']}={value}"]
        return args

    def _command(self, c: dict) -> list[str]:
        command, extra = c.get("command"), c.get("args", [])
        if command:
            return ["--entrypoint", command[0], self.image] + command[1:] + extra
        return [self.image] + extra

    def _mounted_files(self) -> dict[str, str]:
        assert self.config_map_names, "no ConfigMap is mounted"
        files = {}
        for name in self.config_map_names:
            files.update(self._one("ConfigMap", name).get("data", {}))
        return files

    def zoo_cfg(self) -> str:
        files = self._mounted_files()
        assert "zoo.cfg" in files, f"the mounted ConfigMaps hold {sorted(files)}"
        return files["zoo.cfg"]

    def membership(self) -> str:
        """The `server.N` lines of the ensemble the builders describe: zoo.cfg's, or those
        of a members file beside it, restricted to its `voters` when it names them (the
        members ConfigMap lists an address for every member the cluster may grow to)."""
        files = self._mounted_files()
        lines = [
            line.strip()
            for text in files.values()
            for line in text.splitlines()
            if line.strip().startswith("server.")
        ]
        if "voters" in files:
            voters = {int(v) for v in files["voters"].replace(",", " ").split()}
            lines = [l for l in lines if int(l.split("=", 1)[0][len("server.") :]) in voters]
        return "\n".join(lines)

    def service_aliases(self) -> list[str]:
        """Service DNS names zoo.cfg names as hosts; any other host it names that is no
        pod's name fails the test."""
        pod_names = {f"{name}.{self.domain}" for name in self.pod_names}
        services = {
            f"{name}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"
            for (kind, name) in self.objects
            if kind == "Service"
        }
        used = {s[0] for s in zoo_cfg_servers(self.membership()).values()}
        for host in sorted(used - pod_names - services):
            cannot(f"a DNS name for {host} (zoo.cfg names it; no pod or Service has it)")
        return sorted(used & services)

    # -- docker --

    def create(self) -> None:
        labels = ["--label", f"zkrs-test-pods={self.prefix}"]
        _, out = run(["docker", "network", "create", *labels, self.network], DOCKER_TIMEOUT_S)
        self.network_id = out.strip()
        for p in self.pods:
            run(["docker", "volume", "create", *labels, p.volume], DOCKER_TIMEOUT_S)
            self.volumes.append(p.volume)
        if self.fs_group() is not None:
            self._apply_fs_group()
        for p in self.pods:
            self.start(p)

    def _apply_fs_group(self) -> None:
        """What the kubelet does to a volume for fsGroup: group-owned, group-writable,
        setgid directories."""
        g = self.fs_group()
        mounts = [a for i, p in enumerate(self.pods) for a in ("-v", f"{p.volume}:/v/{i}")]
        script = (
            f"chgrp -R {g} /v/* && chmod -R g+rwX /v/* "
            "&& find /v/* -type d -exec chmod g+s {} +"
        )
        helper = ["--name", f"{self.prefix}-fsgroup", "--label", f"zkrs-test-pods={self.prefix}"]
        self.helpers.append(f"{self.prefix}-fsgroup")
        run(
            ["docker", "run", "--rm", *helper, "--network", "none", "--user", "0:0", *mounts]
            + ["--entrypoint", "/bin/sh", self.image, "-c", script],
            DOCKER_TIMEOUT_S,
        )

    def start(self, pod: Pod) -> None:
        for i, init in enumerate(pod.init_args):
            name = f"{self.prefix}-{pod.name}-init{i}"
            self.helpers.append(name)
            rc, out = run(["docker", "run", "--rm", *init], DOCKER_TIMEOUT_S, check=False)
            if rc != 0:
                pytest.fail(f"{pod.name}'s init container {i} failed ({rc}):\n{out}")
        _, out = run(["docker", "run", "-d", *pod.run_args], DOCKER_TIMEOUT_S)
        pod.container_id = out.strip().splitlines()[-1]
        self.container_ids.append(pod.container_id)
        k = Kubelet(self, pod)
        self.kubelets[pod.name] = k
        k.start()

    def lose_and_recreate(self, pod: Pod) -> None:
        """A pod lost with its node (the kubelet gone, the container killed), and the
        StatefulSet controller's answer: a new pod of the same name, hostname, aliases and
        volume."""
        self.kubelets.pop(pod.name).stop()
        run(["docker", "kill", pod.container_id], DOCKER_TIMEOUT_S)
        run(["docker", "rm", "-f", pod.container_id], DOCKER_TIMEOUT_S)
        self.start(pod)

    def inspect(self, pod: Pod) -> dict | None:
        """`docker inspect` of the pod's container (None when it is gone)."""
        rc, out = run(["docker", "inspect", pod.container_id], DOCKER_TIMEOUT_S, check=False)
        return json.loads(out)[0] if rc == 0 else None

    @staticmethod
    def running(inspected: dict | None) -> bool:
        return bool(inspected and inspected["State"]["Running"])

    def ip(self, inspected: dict | None) -> str | None:
        """The container's address on the test's network (None while it has none)."""
        networks = (inspected or {}).get("NetworkSettings", {}).get("Networks") or {}
        return networks.get(self.network, {}).get("IPAddress") or None

    def ready(self) -> dict[str, bool]:
        return {name: k.ready for name, k in self.kubelets.items()}

    def hostport(self, pod: Pod) -> str:
        return f"{self.host}:{HOST_PORTS[pod.ordinal]}"

    def mode(self, pod: Pod) -> str | None:
        reply = four_letter_word(self.host, HOST_PORTS[pod.ordinal], "srvr", timeout=3.0)
        for line in reply.splitlines():
            if line.startswith("Mode: "):
                return line.split(":", 1)[1].strip()
        return None

    def leader(self) -> Pod | None:
        """The one pod leading while the others follow, else None."""
        modes = {}
        for p in self.pods:
            try:
                modes[p.name] = self.mode(p)
            except OSError:
                modes[p.name] = None
        leaders = [p for p in self.pods if modes[p.name] == "leader"]
        followers = [p for p in self.pods if modes[p.name] == "follower"]
        if len(leaders) == 1 and len(followers) == len(self.pods) - 1:
            return leaders[0]
        return None

    def teardown(self) -> None:
        """Everything this emulation made, by id, also after a failure."""
        for k in self.kubelets.values():
            k.stop()
        for cid in self.container_ids:
            _, logs = run(["docker", "logs", "--tail", "40", cid], DOCKER_TIMEOUT_S, check=False)
            print(f"---- container {cid[:12]} ----\n{logs}")
        for k in self.kubelets.values():
            print(k.history())
        if self.container_ids or self.helpers:
            gone = [*self.container_ids, *self.helpers]
            run(["docker", "rm", "-f", *gone], DOCKER_TIMEOUT_S, check=False)
        if self.volumes:
            run(["docker", "volume", "rm", *self.volumes], DOCKER_TIMEOUT_S, check=False)
        if self.network_id:
            run(["docker", "network", "rm", self.network_id], DOCKER_TIMEOUT_S, check=False)


# ---- the kubelet's probes ----


# A probe's result before its first run, as the kubelet starts them: readiness failed,
# startup unknown, liveness passed.
INITIAL_RESULTS = {"startupProbe": None, "readinessProbe": False, "livenessProbe": True}


@dataclass
class ProbeState:
    """One prober worker's result, as the kubelet keeps it: the last result and how many
    probes in a row gave it (thresholds apply to that run)."""

    kind: str
    spec: dict
    result: bool | None
    last: bool | None = None
    run: int = 0
    log: list = field(default_factory=list)


class Kubelet:
    """The prober workers of one pod (the kubelet's `prober/worker.go`): one thread per
    probe, each probing every periodSeconds once initialDelaySeconds have passed since the
    container started; readiness and liveness skip while the startup probe has not passed;
    the startup probe stops once it has, and triggers a readiness probe at once; a result
    changes after failureThreshold failures (successThreshold successes) in a row; a failed
    liveness or startup probe restarts the container (INITIAL_RESULTS before the first
    run)."""

    def __init__(self, emulation: Emulation, pod: Pod):
        self.emulation = emulation
        self.pod = pod
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.started_at = time.monotonic()
        self.restarts = 0
        self.restarting = False
        self.probes = {}
        for kind, first in INITIAL_RESULTS.items():
            spec = pod.container.get(kind)
            if spec is not None:
                self._check(kind, spec)
                self.probes[kind] = ProbeState(kind, spec, first)
        self.readiness_now = threading.Event()
        self.threads: list[threading.Thread] = []

    def _check(self, kind: str, spec: dict) -> None:
        handlers = [h for h in ("exec", "tcpSocket", "httpGet") if h in spec]
        only(spec, PROBE_TIMING | {"exec", "tcpSocket", "httpGet"}, kind)
        if len(handlers) != 1:
            cannot(f"{kind} with handlers {handlers}")
        if spec.get("httpGet", {}).get("scheme", "HTTP") != "HTTP":
            cannot(f"{kind}.httpGet.scheme {spec['httpGet']['scheme']}")
        for handler in ("tcpSocket", "httpGet"):
            if handler in spec:
                # Here, not in a prober thread, where a failure would go unseen.
                self._port(spec[handler]["port"])

    @property
    def started(self) -> bool:
        s = self.probes.get("startupProbe")
        return s is None or s.result is True

    @property
    def ready(self) -> bool:
        r = self.probes.get("readinessProbe")
        # Without a readiness probe a started container is ready.
        return self.started and (r is None or r.result is True)

    def start(self) -> None:
        for kind in self.probes:
            t = threading.Thread(target=self._worker, args=(kind,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopped.set()
        self.readiness_now.set()
        for t in self.threads:
            t.join(timeout=30)

    def history(self) -> str:
        lines = [f"---- probes of {self.pod.name} (restarts: {self.restarts}) ----"]
        for p in self.probes.values():
            lines += [f"{p.kind} {entry}" for entry in p.log[-12:]]
        return "\n".join(lines)

    def _worker(self, kind: str) -> None:
        state = self.probes[kind]
        period = state.spec.get("periodSeconds", 10)
        while not self.stopped.is_set():
            self._probe_once(state)
            if kind == "readinessProbe":
                # A startup probe that passes wakes this worker (the kubelet's manual
                # trigger), so readiness is known without waiting a whole period.
                self.readiness_now.wait(period)
                self.readiness_now.clear()
            else:
                self.stopped.wait(period)

    def _probe_once(self, state: ProbeState) -> None:
        spec = state.spec
        with self.lock:
            if self.restarting:
                return
            since_start = time.monotonic() - self.started_at
            if since_start < spec.get("initialDelaySeconds", 0):
                return
            if state.kind == "startupProbe" and self.started:
                return
            if state.kind != "startupProbe" and not self.started:
                return
        try:
            inspected = self.emulation.inspect(self.pod)
            if not self.emulation.running(inspected):
                # The kubelet fails every probe of a container that does not run (so the
                # pod is NotReady at once) and starts it again (restartPolicy Always).
                with self.lock:
                    state.result = False if state.kind == "readinessProbe" else state.result
                    state.log.append(f"{time.strftime('%H:%M:%S')} the container is not running")
                self._restart()
                return
            ok, detail = self._execute(spec, inspected)
        except Exception as e:  # noqa: BLE001 - the worker thread must go on probing
            ok, detail = False, f"the probe itself failed: {e!r}"[:200]
        with self.lock:
            if self.stopped.is_set():
                return
            state.run = state.run + 1 if state.last == ok else 1
            state.last = ok
            threshold = spec.get("successThreshold", 1) if ok else spec.get("failureThreshold", 3)
            if state.run >= threshold:
                state.result = ok
            outcome = "ok" if ok else "failed"
            state.log.append(f"{time.strftime('%H:%M:%S')} {outcome} ({detail}) -> {state.result}")
            if state.kind == "startupProbe" and ok and state.result:
                self.readiness_now.set()
            restart = state.kind in ("livenessProbe", "startupProbe") and state.result is False
        if restart:
            self._restart()

    def _restart(self) -> None:
        """A failed liveness or startup probe, or a container that stopped: the kubelet
        kills it and starts it again (same pod, same volume); every probe starts over."""
        with self.lock:
            # One restart at a time, whichever worker asks first; none once stopped.
            if self.restarting or self.stopped.is_set():
                return
            self.restarting = True
        pod_spec = self.emulation.sts["spec"]["template"]["spec"]
        grace = str(pod_spec.get("terminationGracePeriodSeconds", 30))
        try:
            restart = ["docker", "restart", "-t", grace, self.pod.container_id]
            run(restart, DOCKER_TIMEOUT_S, check=False)
        finally:
            with self.lock:
                self.restarting = False
                self.restarts += 1
                self.started_at = time.monotonic()
                for kind, p in self.probes.items():
                    p.result, p.last, p.run = INITIAL_RESULTS[kind], None, 0

    def _port(self, port) -> int:
        if isinstance(port, int):
            return port
        if port not in self.pod.ports:
            pytest.fail(f"a probe names port {port!r}; the container has {self.pod.ports}")
        return self.pod.ports[port]

    def _execute(self, spec: dict, inspected: dict) -> tuple[bool, str]:
        timeout = spec.get("timeoutSeconds", 1)
        if "exec" in spec:
            try:
                rc, out = run(
                    ["docker", "exec", self.pod.container_id, *spec["exec"]["command"]],
                    timeout=timeout,
                    check=False,
                )
            except AssertionError:
                return False, f"no answer within {timeout}s"
            return rc == 0, f"exit {rc}: {out.strip()[-80:]}"
        ip = self.emulation.ip(inspected)
        if ip is None:
            return False, "the container has no address on the network"
        if "tcpSocket" in spec:
            port = self._port(spec["tcpSocket"]["port"])
            host = spec["tcpSocket"].get("host", ip)
            try:
                socket.create_connection((host, port), timeout=timeout).close()
                return True, f"{host}:{port} accepts"
            except OSError as e:
                return False, f"{host}:{port}: {e}"
        get = spec["httpGet"]
        port = self._port(get["port"])
        host = get.get("host", ip)
        try:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request("GET", get.get("path", "/"))
            status = conn.getresponse().status
            conn.close()
            return 200 <= status < 400, f"HTTP {status}"
        except OSError as e:
            return False, f"{host}:{port}: {e}"


# ---- the test ----


def kazoo(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=15.0, connection_retry={"max_tries": -1, "max_delay": 2})
    zk.start(timeout=60)
    return zk


@pytest.fixture
def pods(image: str):
    addr = LoopbackAddr()
    workdir = Path(tempfile.mkdtemp(prefix="zkrs-pods-"))
    workdir.chmod(0o755)
    emulation = None
    try:
        emulation = Emulation(render(image), image, addr.ip, workdir)
        emulation.create()
        yield emulation
    finally:
        if emulation is not None:
            emulation.teardown()
        shutil.rmtree(workdir, ignore_errors=True)
        addr.release()


def test_the_rendered_statefulsets_pods_form_the_ensemble_the_builders_described(pods: Emulation):
    em = pods
    zoo_cfg = em.zoo_cfg()
    rendered = zoo_cfg_servers(em.membership())
    assert sorted(rendered) == [p.ordinal + 1 for p in em.pods], rendered

    # 1. Every pod becomes Ready; one leads, the others follow.
    wait_for("every pod Ready", lambda: all(em.ready().values()) or None, READY_TIMEOUT_S)
    leader = wait_for("one leader and two followers", em.leader, READY_TIMEOUT_S)

    # 2. myid is the ordinal + 1, in the dataDir zoo.cfg names.
    data_dir = zoo_cfg_value(zoo_cfg, "dataDir")
    for p in em.pods:
        cat = ["docker", "exec", p.container_id, "cat", f"{data_dir}/myid"]
        _, myid = run(cat, DOCKER_TIMEOUT_S)
        assert myid.strip() == str(p.ordinal + 1), f"{p.name}: myid {myid!r}"

    # 3. The ensemble's configuration is the one rendered, on every member.
    for p in em.pods:
        zk = kazoo(em.hostport(p))
        try:
            committed, _ = zk.get("/zookeeper/config")
        finally:
            zk.stop()
            zk.close()
        assert zoo_cfg_servers(committed.decode()) == rendered, (
            f"{p.name}'s /zookeeper/config:\n{committed.decode()}\nrendered:\n{em.membership()}"
        )

    # 4. A write through one member is read through each of the others.
    zk = kazoo(em.hostport(em.pods[0]))
    try:
        zk.create("/pods/written", b"through pod 0", makepath=True)
    finally:
        zk.stop()
        zk.close()
    for p in em.pods[1:]:
        zk = kazoo(em.hostport(p))
        try:
            zk.sync("/pods/written")
            assert zk.get("/pods/written")[0] == b"through pod 0", p.name
        finally:
            zk.stop()
            zk.close()

    # 5. The leader's pod is lost and recreated: it rejoins, Ready again, with the data.
    restarted = {name: k.restarts for name, k in em.kubelets.items() if k.restarts}
    assert not restarted, f"the kubelet restarted containers: {restarted}"
    em.lose_and_recreate(leader)
    wait_for(
        f"{leader.name} Ready again",
        lambda: em.kubelets[leader.name].ready or None,
        READY_TIMEOUT_S,
    )
    wait_for("one leader and two followers again", em.leader, READY_TIMEOUT_S)
    zk = kazoo(em.hostport(leader))
    try:
        zk.sync("/pods/written")
        assert zk.get("/pods/written")[0] == b"through pod 0"
    finally:
        zk.stop()
        zk.close()

    # 6. Readiness means serving in a quorum: a member cut off from the others turns
    # NotReady.
    readiness = leader.container.get("readinessProbe", {})
    if readiness.get("exec", {}).get("command", [])[:2] != ["zkrs-server", "status"]:
        print(f"readiness is {readiness}, not 'serving in a quorum': no partition check")
        return
    now_leader = wait_for("the leader", em.leader, READY_TIMEOUT_S)
    cut = next(p for p in em.pods if p is not now_leader)
    run(["docker", "network", "disconnect", em.network, cut.container_id], DOCKER_TIMEOUT_S)
    wait_for(
        f"{cut.name} NotReady once cut off",
        lambda: (not em.kubelets[cut.name].ready) or None,
        NOT_READY_TIMEOUT_S,
    )
    others = [p for p in em.pods if p is not cut]
    assert all(em.kubelets[p.name].ready for p in others), em.ready()
