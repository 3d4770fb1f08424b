#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root) for this project: Debian packages,
# a virtualenv in .venv, the project installed (editable) with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "run as root: containers need it" >&2; exit 1; fi
need=()
for pkg in busybox-static python3-venv runc crun libseccomp2 gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian's /usr/bin/python3 (3.11) by default: built with PGO and LTO, it ran the reference's Python-bound work
# 1.7-2x faster than an unoptimised build such as pyenv's (vm/README.md). $PYTHON overrides. The Vagrant
# backend shares no interpreter with its guest for it: the box has its own python3 (vm/vagrant.py python_share).
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON; elif [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
# a .venv built on another interpreter (an older clone's pyenv Python) is built again on this one
want=$("$PY" -c 'import os, sys; print(os.path.realpath(sys.executable))')
if [ -x .venv/bin/python ] && [ "$(readlink -f .venv/bin/python)" != "$want" ]; then rm -rf .venv; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
# byte-compile the project once: a supervisor or adapter monitor started as `python -I -m` is a fresh interpreter, and with
# PYTHONDONTWRITEBYTECODE set it would otherwise compile every module on each container start
.venv/bin/python -m compileall -q spec plumbing reference conformance libcontainer cli >/dev/null
.venv/bin/python -c "import libcontainer.spec, libcontainer.plumbing, libcontainer.reference, libcontainer.conformance, libcontainer.cli"
