#!/usr/bin/env bash
# The suite against the reference and the peer runtimes runc, crun and runsc (gVisor; through the OCI
# adapter, libcontainer.conformance.oci), then one clause matrix with them side by side:
# reports/clauses.json and reports/clauses.md. Known peer deviations (conformance/deviations.py,
# SPEC.md "Deviations of peer runtimes") are expected failures for that runtime only.
# Not part of ci/test.sh: on a loaded host runc's pause sometimes fails "unable to freeze" and crun's
# pause returns before the freezer is FROZEN (D-FREEZE-FLAKY, D-PAUSE-FREEZING), so a run can fail
# for the peers' sake. Exit status: non-zero if any runtime's run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
runtimes=${RUNTIMES:-reference runc crun runsc}
if [[ " $runtimes " == *" runsc "* ]] && ! command -v runsc >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >/dev/null
fi
status=0
for rt in $runtimes; do
  # runsc's container ids are host-wide (abstract socket runsc-sandbox.ID): one worker, or the
  # two workers' equal ids collide (SPEC.md, Deviations of peer runtimes, runsc)
  extra=(); [ "$rt" = runsc ] && extra=(-n 1)
  RUNTIME=$rt ./ci/conformance.sh "${extra[@]}" "$@" || status=1
done
reports=()
for rt in $runtimes; do
  [ -f "reports/clauses-$rt.json" ] && reports+=("reports/clauses-$rt.json")
done
.venv/bin/python -m libcontainer.conformance.report reports/clauses.json "${reports[@]}" >/dev/null
echo "matrix: reports/clauses.md and reports/clauses.html"
exit $status
