#!/usr/bin/env bash
# The Vagrant backend's smoke test, driven through python-vagrant: the project's libvirtd in a network
# namespace of its own, the box built locally (debootstrap + Debian 6.12), one VM up with cgroup v2, the
# lifecycle clauses run inside against the reference, the VM destroyed and libvirtd stopped again.
# Reports in reports/smoke/ (JUnit XML, clause report, console and vagrant logs).
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
start=$(date +%s)
./vm/setup.sh --vagrant
echo "vagrant set-up (packages, box): $(( $(date +%s) - start )) s"
rc=0
.venv/bin/python -m libcontainer.vm smoke --out reports/smoke "$@" || rc=$?
echo "vagrant smoke: $(( $(date +%s) - start )) s in all, status $rc"
exit $rc
