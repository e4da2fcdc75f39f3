"""What the Seldon operator (v1) does with a SeldonDeployment, as far as a model container sees it:
schema validation against the CRD, the operator's own admission rules, and the Pod it creates
for each componentSpec (env, ports, probes, preStop hook, grace period, podinfo volume).

The Seldon executor (the operator's second container in each pod) is not rendered: cserve does
not depend on it, and the model container it talks to is the same either way."""
import copy
import json
import os
import re

import yaml

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
# shared/ beside the checkout (CI), or beside the folder of worktrees.
_CRDS = [os.path.join(_ROOT, up, "shared/testdata/seldon-crd/seldondeployments.crd.yaml")
         for up in ("..", "../..")]
CRD = os.environ.get("SELDON_CRD") or next((c for c in _CRDS if os.path.exists(c)), _CRDS[0])

HTTP_PORT, GRPC_PORT, METRICS_PORT = 9000, 9500, 6000
PRESTOP = ["/bin/sh", "-c", "/bin/sleep 10"]
DEFAULT_GRACE = 20
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _strict(schema):
    """The schema with unknown fields rejected wherever Kubernetes prunes them (every object
    with declared properties that does not preserve unknown fields)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_schema():
    with open(CRD) as f:
        crd = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") ==
                   "CustomResourceDefinition")
    v1 = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return _strict(v1["schema"]["openAPIV3Schema"])


def schema_errors(doc, schema):
    import jsonschema

    v = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def _nodes(node):
    yield node
    for child in node.get("children") or []:
        yield from _nodes(child)


def operator_errors(sdep):
    """The operator's admission rules that a schema cannot express."""
    errs = []
    if sdep.get("apiVersion") != "machinelearning.seldon.io/v1":
        errs.append(f"apiVersion {sdep.get('apiVersion')}")
    if sdep.get("kind") != "SeldonDeployment":
        errs.append(f"kind {sdep.get('kind')}")
    name = sdep.get("metadata", {}).get("name", "")
    if not DNS_LABEL.match(name):
        errs.append(f"metadata.name '{name}' is not a DNS label")
    predictors = sdep.get("spec", {}).get("predictors") or []
    if not predictors:
        errs.append("no predictors")
    seen = set()
    for p in predictors:
        pname = p.get("name", "")
        if pname in seen or not DNS_LABEL.match(pname):
            errs.append(f"predictor name '{pname}' duplicate or not a DNS label")
        seen.add(pname)
        containers = {}
        for cs in p.get("componentSpecs") or []:
            for c in cs.get("spec", {}).get("containers", []):
                if c["name"] in containers:
                    errs.append(f"{pname}: container name '{c['name']}' used twice")
                containers[c["name"]] = c
            hpa = cs.get("hpaSpec")
            if hpa and hpa.get("minReplicas", 1) > hpa["maxReplicas"]:
                errs.append(f"{pname}: hpaSpec minReplicas > maxReplicas")
            pdb = cs.get("pdbSpec")
            if pdb and "minAvailable" in pdb and "maxUnavailable" in pdb:
                errs.append(f"{pname}: pdbSpec minAvailable and maxUnavailable are exclusive")
        for node in _nodes(p["graph"]):
            etype = (node.get("endpoint") or {}).get("type", "REST")
            if etype not in ("REST", "GRPC"):
                errs.append(f"{pname}: node '{node['name']}' endpoint type {etype}")
            # A node runs in the container of its name unless it is a prepackaged server.
            if node["name"] not in containers and not node.get("implementation"):
                errs.append(f"{pname}: graph node '{node['name']}' has no container of its name")
    return errs


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def render_pods(sdep):
    """One Pod per componentSpec of each predictor, as the operator's Deployment template has it.
    Returns [(predictor, componentSpec, pod)]."""
    out = []
    meta = sdep["metadata"]
    for p in sdep["spec"]["predictors"]:
        units = {n["name"]: n for n in _nodes(p["graph"])}
        for i, cs in enumerate(p.get("componentSpecs") or []):
            spec = copy.deepcopy(cs["spec"])
            spec.setdefault("terminationGracePeriodSeconds", DEFAULT_GRACE)
            annotations = {**(sdep["spec"].get("annotations") or {}),
                           **(p.get("annotations") or {})}
            for j, c in enumerate(spec["containers"]):
                if c["name"] not in units:
                    continue
                _inject(c, units[c["name"]], j, sdep, p)
                c.setdefault("volumeMounts", []).append(
                    {"name": "podinfo", "mountPath": "/etc/podinfo"})
            spec.setdefault("volumes", []).append({"name": "podinfo", "downwardAPI": {"items": [
                {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}})
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{meta['name']}-{p['name']}-{i}",
                                "labels": {"seldon-deployment-id": meta["name"],
                                           "seldon-app": f"{meta['name']}-{p['name']}",
                                           **(p.get("labels") or {})},
                                "annotations": annotations},
                   "spec": spec}
            out.append((p, cs, pod))
    return out


def _inject(c, unit, j, sdep, p):
    http, grpc, metrics = HTTP_PORT + j, GRPC_PORT + j, METRICS_PORT + j
    env = {
        "PREDICTIVE_UNIT_SERVICE_PORT": str(http),
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http),
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics),
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
        "PREDICTIVE_UNIT_ID": c["name"],
        "PREDICTIVE_UNIT_IMAGE": c.get("image", ""),
        "PREDICTOR_ID": p["name"],
        "PREDICTOR_LABELS": json.dumps(p.get("labels") or {}, separators=(",", ":")),
        "SELDON_DEPLOYMENT_ID": sdep["metadata"]["name"],
        "SELDON_EXECUTOR_ENABLED": "true",
    }
    if unit.get("parameters"):
        env["PREDICTIVE_UNIT_PARAMETERS"] = json.dumps(unit["parameters"])
    have = {e["name"] for e in c.get("env", [])}
    c.setdefault("env", []).extend({"name": k, "value": v} for k, v in env.items()
                                   if k not in have)
    proto = (unit.get("endpoint") or {}).get("type", "REST")
    port = "http" if proto == "REST" else "grpc"
    c.setdefault("ports", []).extend([
        {"name": port, "containerPort": http if proto == "REST" else grpc, "protocol": "TCP"},
        {"name": "metrics", "containerPort": metrics, "protocol": "TCP"}])
    c.setdefault("readinessProbe", {"tcpSocket": {"port": port}, "initialDelaySeconds": 20,
                                    "periodSeconds": 5, "successThreshold": 1,
                                    "failureThreshold": 3, "timeoutSeconds": 60})
    c.setdefault("livenessProbe", {"tcpSocket": {"port": port}, "initialDelaySeconds": 60,
                                   "periodSeconds": 5, "successThreshold": 1,
                                   "failureThreshold": 3, "timeoutSeconds": 60})
    c.setdefault("lifecycle", {"preStop": {"exec": {"command": PRESTOP}}})
