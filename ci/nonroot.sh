#!/usr/bin/env bash
# The unit tests that need no root (pytest -m "not root"), run as the user nobody (65534) with no groups:
# the validators, the converters, the transition table and every other test not marked `root`.
# The project's .venv may use an interpreter only root can read, so this makes .venv-nonroot from
# Debian's /usr/bin/python3 (world-readable), installs the project (editable, test extras) and drops
# privileges with setpriv(1). Usage: ci/nonroot.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-nonroot/bin/python ] || /usr/bin/python3 -m venv .venv-nonroot
.venv-nonroot/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
.venv-nonroot/bin/python -m compileall -q spec plumbing reference conformance libcontainer vm >/dev/null
exec setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
  .venv-nonroot/bin/pytest -p no:cacheprovider -m "not root" \
  spec/units plumbing/tests reference/tests conformance/tests vm/tests "$@"
