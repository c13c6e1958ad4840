"""Validates YAML streams of Kubernetes objects.

Built-in kinds are checked against Kubernetes' OpenAPI schemas (kubernetes-validate,
strict: unknown fields are errors). ZooKeeperClusters are checked against the schema of
the CRD given with --crd. A ServiceMonitor (Prometheus Operator's CRD, whose schema is
not at hand) is only checked for its apiVersion and the fields the chart relies on.

usage: validate_manifests.py --crd manifests/crd.yaml FILE...
"""

import argparse
import sys

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.37.0"


def crd_schema(path):
    with open(path) as f:
        crd = yaml.safe_load(f)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def without_nullable(schema):
    """OpenAPI's `nullable` is not JSON Schema: allow null where it says so."""
    if isinstance(schema, dict):
        out = {k: without_nullable(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(schema, list):
        return [without_nullable(s) for s in schema]
    return schema


def check(doc, where, zkc_schema):
    kind = doc.get("kind")
    name = doc.get("metadata", {}).get("name")
    label = f"{where}: {kind}/{name}"
    if kind == "ZooKeeperCluster":
        jsonschema.validate(doc, zkc_schema, cls=jsonschema.Draft4Validator)
    elif kind == "ServiceMonitor":
        assert doc["apiVersion"] == "monitoring.coreos.com/v1", label
        assert doc["spec"]["endpoints"][0]["port"], label
        assert doc["spec"]["selector"]["matchLabels"], label
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    print(f"ok {label}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--crd", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    zkc_schema = without_nullable(crd_schema(args.crd))
    failures = 0
    count = 0
    for path in args.files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        if not docs:
            print(f"FAIL {path}: no objects", file=sys.stderr)
            failures += 1
        for doc in docs:
            count += 1
            try:
                check(doc, path, zkc_schema)
            except Exception as e:  # report every failure, not only the first
                failures += 1
                name = doc.get("metadata", {}).get("name")
                print(f"FAIL {path}: {doc.get('kind')}/{name}: {e}", file=sys.stderr)
    print(f"manifests: {count - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
