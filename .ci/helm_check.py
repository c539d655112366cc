"""Renders the Helm chart (deploy/helm/qos-booking-gateway) offline with the Helm SDK and checks it.

Variants: the chart's defaults, examples/all-features.yaml (every optional part on) and
examples/redis-cluster.yaml, examples/redis-sentinel.yaml. For each: `helm lint` with those values (errors fail), render,
and write every manifest to OUT/<variant>/ for `kubernetes-validate --strict` and checkov,
and the gateway configuration the ConfigMap mounts to OUT/<variant>/gateway-config.yaml for
`gateway --check`. Prometheus Operator kinds (ServiceMonitor, PrometheusRule) have no schema
in kubernetes-validate: they are checked here (kind, apiVersion, shape) and written to
OUT-crds/<variant>/ instead. Also checks that values.schema.json refuses a bad value.

Usage: helm_check.py [OUT]   (default target/helm-out). Exits non-zero on any failure.
"""
import pathlib
import shutil
import sys

import helm_python as helm
import yaml

CHART = pathlib.Path("deploy/helm/qos-booking-gateway")
RELEASE, NAMESPACE = "ci", "qos"
VARIANTS = {
    "defaults": None,
    "all-features": CHART / "examples/all-features.yaml",
    "redis-cluster": CHART / "examples/redis-cluster.yaml",
    "redis-sentinel": CHART / "examples/redis-sentinel.yaml",
}
# Custom resources: kind -> apiVersion they must have.
CRD_KINDS = {"ServiceMonitor": "monitoring.coreos.com/v1", "PrometheusRule": "monitoring.coreos.com/v1"}
SEVERITIES = {"critical", "warning", "info"}
TLS_DIR = "/etc/qos-booking-gateway/tls"

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/helm-out")
crd_out = out.with_name(out.name + "-crds")
for d in (out, crd_out):
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr)


def lint(values: dict, label: str) -> None:
    report = helm.lint(str(CHART), values)
    for m in report.get("messages") or []:
        if m.get("severity", 0) >= 2:  # warnings and errors
            fail(f"helm lint ({label}): {m.get('path')}: {m.get('error')}")
    for e in report.get("errors") or []:
        fail(f"helm lint ({label}): {e}")


def check_prometheus_rule(doc: dict, variant: str) -> None:
    groups = (doc.get("spec") or {}).get("groups") or []
    if not groups:
        fail(f"{variant}: PrometheusRule without groups")
    for g in groups:
        if not g.get("name") or not g.get("interval") or not g.get("rules"):
            fail(f"{variant}: PrometheusRule group without name, interval or rules: {g.get('name')}")
        for r in g.get("rules") or []:
            name = r.get("alert", "?")
            if not r.get("alert") or not str(r.get("expr", "")).strip():
                fail(f"{variant}: rule {name}: needs alert and expr")
            if (r.get("labels") or {}).get("severity") not in SEVERITIES:
                fail(f"{variant}: rule {name}: severity label not one of {sorted(SEVERITIES)}")
            ann = r.get("annotations") or {}
            if not ann.get("summary") or not ann.get("description"):
                fail(f"{variant}: rule {name}: needs summary and description annotations")
            expr = str(r.get("expr", ""))
            if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
                fail(f"{variant}: rule {name}: unbalanced brackets in expr")


def check_variant(variant: str, values: dict, docs: list[dict]) -> None:
    """Invariants across manifests that the schemas cannot see."""
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        fail(f"{variant}: expected one Deployment, got {len(deployments)}")
        return
    dep = deployments[0]
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    hpa = values.get("autoscaling", {}).get("enabled", False)
    if hpa != ("HorizontalPodAutoscaler" in by_kind):
        fail(f"{variant}: HorizontalPodAutoscaler rendered {'HorizontalPodAutoscaler' in by_kind}, wanted {hpa}")
    if hpa and "replicas" in dep["spec"]:
        fail(f"{variant}: the Deployment sets replicas although the HPA owns them")
    if not hpa and "replicas" not in dep["spec"]:
        fail(f"{variant}: the Deployment has no replicas")
    sc = container.get("securityContext") or {}
    if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]):
        fail(f"{variant}: container hardening missing")
    if pod.get("automountServiceAccountToken") is not False:
        fail(f"{variant}: the service account token is mounted")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = (container.get(probe) or {}).get("httpGet") or {}
        if get.get("port") != "admin" or get.get("scheme", "HTTP") != "HTTP":
            fail(f"{variant}: {probe} must be plain HTTP on the admin port")
    config_maps = by_kind.get("ConfigMap", [])
    config = yaml.safe_load(config_maps[0]["data"]["config.yaml"]) if config_maps else {}
    tls = values.get("tls", {})
    server_tls = (config.get("server") or {}).get("tls")
    if tls.get("enabled"):
        want = {"cert_file": f"{TLS_DIR}/tls.crt", "key_file": f"{TLS_DIR}/tls.key"}
        if tls.get("clientAuth"):
            want["client_ca_file"] = f"{TLS_DIR}/ca.crt"
        if server_tls != want:
            fail(f"{variant}: server.tls is {server_tls}, wanted {want}")
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        if not mounts.get(TLS_DIR, {}).get("readOnly"):
            fail(f"{variant}: the TLS Secret is not mounted read-only at {TLS_DIR}")
    elif server_tls is not None:
        fail(f"{variant}: server.tls rendered although tls.enabled is off")
    env = {e["name"]: e for e in container.get("env", [])}
    if values.get("otel", {}).get("endpoint"):
        if "OTEL_EXPORTER_OTLP_ENDPOINT" not in env or "OTEL_SERVICE_NAME" not in env:
            fail(f"{variant}: OTEL_* environment missing")
    elif "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
        fail(f"{variant}: OTEL_EXPORTER_OTLP_ENDPOINT set without otel.endpoint")


chart = helm.Chart.load(str(CHART))
defaults = chart.values

# The schema is enforced: a bad value is refused by both render and lint.
for bad in ({"replicaCount": "two"}, {"unknownKey": True}, {"tls": {"clientAuth": "yes"}}):
    try:
        chart.render(bad, name=RELEASE, namespace=NAMESPACE)
        fail(f"values.schema.json accepted {bad}")
    except helm.HelmValuesError:
        pass
    if not (helm.lint(str(CHART), bad).get("errors")):
        fail(f"helm lint accepted {bad}")

written = 0
for variant, values_file in VARIANTS.items():
    values = yaml.safe_load(values_file.read_text()) if values_file else {}
    lint(values, variant)
    merged = chart.merge_values(values)
    try:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    except helm.HelmError as e:
        fail(f"{variant}: render: {e}")
        continue
    docs: list[dict] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        name = pathlib.Path(path).name
        try:
            parsed = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as e:
            fail(f"{variant}/{name}: not YAML: {e}")
            continue
        if not parsed:
            continue
        kinds = {d.get("kind") for d in parsed}
        for d in parsed:
            if not d.get("apiVersion") or not d.get("kind") or not (d.get("metadata") or {}).get("name"):
                fail(f"{variant}/{name}: a document without apiVersion, kind or metadata.name")
            if (d.get("metadata") or {}).get("namespace") != NAMESPACE:
                fail(f"{variant}/{name}: {d.get('kind')} not in the release namespace")
            docs.append(d)
        if kinds & CRD_KINDS.keys():
            for d in parsed:
                want = CRD_KINDS.get(d.get("kind"))
                if d.get("apiVersion") != want:
                    fail(f"{variant}/{name}: {d.get('kind')} has apiVersion {d.get('apiVersion')}, wanted {want}")
                if d.get("kind") == "PrometheusRule":
                    check_prometheus_rule(d, variant)
            target = crd_out / variant / name
        else:
            target = out / variant / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written += 1
        for d in parsed:
            if d.get("kind") == "ConfigMap":
                (out / variant / "gateway-config.yaml").write_text(d["data"]["config.yaml"])
    check_variant(variant, merged, docs)
    print(f"{variant}: {', '.join(sorted(d['kind'] for d in docs))}")

if written == 0:
    fail("the chart rendered nothing")
if failures:
    sys.exit(f"{len(failures)} chart check(s) failed")
print(f"rendered {written} manifests into {out} (custom resources into {crd_out})")
