#!/usr/bin/env bash
# The project's tests: unit tests of each part, then the specification against the reference, runc and crun.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
mkdir -p reports
.venv/bin/pytest -n 2 reference/tests conformance/tests --junitxml reports/junit-unit.xml "$@"
.venv/bin/pytest -n 2 --pyargs libcontainer.spec.tests --runtime reference \
  --junitxml reports/junit-spec.xml --clause-report reports/clauses-reference.json "$@"
# The same suite against the peer runtimes through the OCI adapter; their known deviations
# (conformance/deviations.py, SPEC.md "Deviations of peer runtimes") are expected failures for them only.
for rt in runc crun; do
  .venv/bin/pytest -n 2 --pyargs libcontainer.spec.tests --runtime "$rt" \
    --junitxml "reports/junit-spec-$rt.xml" --clause-report "reports/clauses-$rt.json" "$@"
done
# one matrix: reference, runc and crun side by side (reports/clauses.md)
.venv/bin/python -m libcontainer.conformance.report reports/clauses.json \
  reports/clauses-reference.json reports/clauses-runc.json reports/clauses-crun.json >/dev/null
