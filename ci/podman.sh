#!/usr/bin/env bash
# Integration test: Debian's podman (with conmon) drives lcrun, the reference's OCI command line, as its
# runtime (issue 14, item 5): cli/tests/test_podman.py. Installs podman when missing; prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
if ! command -v podman >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
fi
mkdir -p reports
start=$(date +%s)
.venv/bin/pytest -p no:cacheprovider cli/tests/test_podman.py --junitxml reports/junit-podman.xml -rs "$@"
echo "ci/podman.sh: podman $(podman --version | awk '{print $3}'), conmon $(conmon --version | awk 'NR==1{print $3}'): $(( $(date +%s) - start )) s"
