#!/usr/bin/env bash
# Integration tests: Debian's podman (with conmon) and containerd (its runc shim, driven with ctr) drive lcrun,
# the reference's OCI command line, as their runtime (issue 14, item 5): cli/tests/test_podman.py,
# cli/tests/test_containerd.py (a containerd of its own, stopped after). Installs both when missing; prints the wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
if ! command -v podman >/dev/null || ! command -v containerd >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman containerd >/dev/null
fi
mkdir -p reports
start=$(date +%s)
.venv/bin/pytest -p no:cacheprovider cli/tests/test_podman.py cli/tests/test_containerd.py --junitxml reports/junit-podman.xml -rs "$@"
echo "ci/podman.sh: podman $(podman --version | awk '{print $3}'), conmon $(conmon --version | awk 'NR==1{print $3}'), containerd $(containerd --version | awk '{print $3}'): $(( $(date +%s) - start )) s"
