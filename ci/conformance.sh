#!/usr/bin/env bash
# The main job: the conformance suite against an implementation on this host
# (RUNTIME=reference by default), with a per-clause summary, JUnit XML and the
# clause report in reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
mkdir -p reports
runtime=${RUNTIME:-reference}
exec .venv/bin/pytest --pyargs libcontainer.spec.tests --runtime "$runtime" -n 2 \
  --junitxml "reports/junit-$runtime.xml" --clause-report "reports/clauses-$runtime.json" "$@"
