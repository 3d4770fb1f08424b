#!/usr/bin/env bash
# The project's tests: unit tests of each part, then the specification against the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
mkdir -p reports
.venv/bin/pytest -n 2 spec/units plumbing/tests reference/tests conformance/tests vm/tests cli/tests bench/tests \
  --ignore=cli/tests/test_podman.py --ignore=cli/tests/test_containerd.py --junitxml reports/junit-unit.xml "$@"
.venv/bin/pytest -n 2 --pyargs libcontainer.spec.tests --runtime reference \
  --junitxml reports/junit-spec.xml --clause-report reports/clauses-reference.json "$@"
