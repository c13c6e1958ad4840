#!/usr/bin/env bash
# The real-cluster scenario, for people with Docker, kind, kubectl and helm: build the image,
# load it into a fresh kind cluster, install the operator with Helm, create a 3-member
# ZooKeeperCluster, write and read through a client, and print the status. Needs network
# access for kind's node image; CI cannot run it.
#
# usage: tests/e2e/kind.sh            (KEEP=1 keeps the cluster afterwards)
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER="${KIND_CLUSTER:-zkrs-e2e}"
IMAGE="zkrs:$(sed -n 's/^appVersion: *"\(.*\)"/\1/p' charts/zkrs-operator/Chart.yaml)"
NS=zkrs-e2e

for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

cleanup() { [ -n "${KEEP:-}" ] || kind delete cluster --name "$CLUSTER"; }
trap cleanup EXIT

docker build -t "$IMAGE" .
kind create cluster --name "$CLUSTER" --wait 120s
kind load docker-image "$IMAGE" --name "$CLUSTER"

helm install zkrs-operator charts/zkrs-operator --namespace zkrs-system --create-namespace \
    --set image.tag="${IMAGE#zkrs:}" --wait --timeout 180s

kubectl create namespace "$NS"
kubectl apply -n "$NS" -f manifests/examples/zookeepercluster.yaml
# Ready means serving in a quorum, so three ready pods are a formed ensemble.
kubectl rollout status -n "$NS" statefulset/zk --timeout=300s
kubectl wait -n "$NS" zkc/zk --for=condition=Available --timeout=120s

# Write on one member through the client Service, read it back from another member.
kubectl exec -n "$NS" zk-0 -- zkrs-cli -server zk:2181 create /e2e hello
kubectl exec -n "$NS" zk-2 -- zkrs-cli -server localhost:2181 get /e2e | grep -qx hello

# The status the operator wrote: the printer columns, then the members and the leader.
kubectl get zkc -n "$NS"
kubectl get zkc zk -n "$NS" -o jsonpath='{.status.leader}{"\n"}{.status.members[*].host}{"\n"}'
[ "$(kubectl get zkc zk -n "$NS" -o jsonpath='{.status.readyReplicas}')" = 3 ]

# The scale subresource is held to the CRD's CEL rules like a spec edit: 4 is refused...
if kubectl scale -n "$NS" zkc/zk --replicas=4 2>/dev/null; then
    echo "scaling to an even size was accepted" >&2; exit 1
fi
# ---- scale: 3 -> 5 -> 3 by rolling reconfiguration, writes surviving ----
# Waits until the committed /zookeeper/config has voters 1..N, the StatefulSet N pods, and
# the operator says Reconciled.
voters() {
    kubectl exec -n "$NS" zk-0 -- zkrs-cli -server localhost:2181 config |
        grep -c ':participant' || true
}
settle() {
    local n="$1" reason=
    for _ in $(seq 150); do
        reason="$(kubectl get -n "$NS" zkc/zk \
            -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')"
        if [ "$reason" = Reconciled ] &&
            [ "$(kubectl get -n "$NS" statefulset/zk -o jsonpath='{.spec.replicas}')" = "$n" ] &&
            [ "$(voters)" = "$n" ]; then
            return 0
        fi
        sleep 2
    done
    echo "not settled at $n members: Progressing reason $reason" >&2
    kubectl describe -n "$NS" zkc/zk >&2
    return 1
}
kubectl scale -n "$NS" zkc/zk --replicas=5
settle 5
kubectl exec -n "$NS" zk-4 -- zkrs-cli -server localhost:2181 get /e2e | grep -qx hello
kubectl scale -n "$NS" zkc/zk --replicas=3
settle 3
kubectl exec -n "$NS" zk-1 -- zkrs-cli -server localhost:2181 get /e2e | grep -qx hello
kubectl get events -n "$NS" --field-selector involvedObject.name=zk
# ---- end scale ----
# ---- registry (spec.registry) ----
# Turn the registry on, register a provider the course's way (an ephemeral sequential znode
# holding its address, kept by an open zkrs-cli session), see it in the gateway's API, in
# its EndpointSlice and in cluster DNS, then kill the provider's pod and see it go.
kubectl patch -n "$NS" zkc/zk --type merge -p '{"spec":{"registry":{"enabled":true}}}'
kubectl rollout status -n "$NS" deployment/zk-registry --timeout=180s
kubectl run -n "$NS" provider --image "$IMAGE" --image-pull-policy=Never --restart=Never \
    --command -- sh -c 'ip=$(hostname -i);
        { printf "create /registry \"\"\ncreate /registry/hello \"\"\n";
          printf "create -e -s /registry/hello/provider rmi://%s:1099/Hello\n" "$ip";
          exec sleep 3600; } | zkrs-cli -server zk:2181'
kubectl wait -n "$NS" pod/provider --for=condition=Ready --timeout=120s
kubectl port-forward -n "$NS" svc/zk-registry 18081:8081 >/dev/null & PF=$!
members=
for _ in $(seq 30); do
    members="$(curl -sf localhost:18081/services/hello | grep -c '"host"' || true)"
    [ "$members" = 1 ] && break
    sleep 2
done
[ "$members" = 1 ] || { echo "the gateway lists $members members of hello" >&2; exit 1; }
kubectl get endpointslices -n "$NS" -l kubernetes.io/service-name=zk-svc-hello
kubectl exec -n "$NS" zk-0 -- getent hosts "zk-svc-hello.$NS.svc.cluster.local"
# SIGKILL-like: the provider's session expires, and the long poll answers without it.
index="$(curl -sf localhost:18081/services/hello | sed -n 's/^  "index": \([0-9]*\).*/\1/p')"
kubectl delete -n "$NS" pod/provider --grace-period=0 --force
curl -sf "localhost:18081/services/hello?index=$index&wait=120" | grep -q '"members": \[\]'
kill "$PF"
# ---- end registry ----

echo "kind e2e: passed"
