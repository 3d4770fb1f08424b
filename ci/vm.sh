#!/usr/bin/env bash
# The kernel matrix in CI: the conformance suite against the reference inside qemu VMs (Debian 6.1 with
# cgroup v1, Debian 6.12 with cgroup v2), merged with the host's report from ci/test.sh into
# reports/matrix.json and .md. Per VM: reports/vm/<name>/ (JUnit XML, clause report, console log).
# Only the kernel-dependent tests run in the VMs (vm/selection.py); the other clauses are "host-only" cells in
# the VMs' columns, judged by the host's report. Extra arguments go to `python -m libcontainer.vm run`
# (e.g. --vm deb12-6.12-v2, or -- -k pause).
# This is the default matrix; the full one (runc, crun, the reference in every cgroup mode) runs as shards:
# `run --full --shard I/N` then `merge` (vm/README.md; .github/workflows/kernel-matrix.yml runs it on CI; a
# runtime's guest suite is split into the parts of matrix.toml, one shard each).
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
./vm/setup.sh
host=()
[ -f reports/clauses-reference.json ] && host=(--host-report reports/clauses-reference.json)
start=$(date +%s)
rc=0
# each VM has one vCPU: on two cores both VMs run at once
.venv/bin/python -m libcontainer.vm run --out reports --parallel 2 "${host[@]}" "$@" || rc=$?
echo "kernel matrix: $(( $(date +%s) - start )) s, status $rc"
exit $rc
