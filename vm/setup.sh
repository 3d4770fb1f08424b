#!/usr/bin/env bash
# Set up this machine (Debian 12, root) for the kernel matrix's qemu backend: qemu under TCG,
# then the kernels (apt-get download + dpkg-deb -x into /var/cache/libcontainer-vm, shared by every clone)
# and the initramfs of each VM (vm/setup.sh --full: of every VM of the full matrix).
# Run after ci/setup.sh (it needs .venv). Idempotent.
#   vm/setup.sh            the qemu backend
#   vm/setup.sh --vagrant  also the Vagrant backend: vagrant, vagrant-libvirt, libvirt, debootstrap, python-vagrant
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "run as root" >&2; exit 1; fi
pkgs=(qemu-system-x86 qemu-utils busybox-static)
backend=qemu
if [ "${1:-}" = --vagrant ]; then
  shift
  backend=vagrant
  pkgs+=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients debootstrap
         dnsmasq-base dbus iproute2 e2fsprogs)
fi
need=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# apt-cache needs package lists to resolve linux-image-amd64 and linux-image-6.12-amd64
apt-cache show linux-image-6.12-amd64 >/dev/null 2>&1 || apt-get update -qq
if [ "$backend" = vagrant ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test,vm]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m libcontainer.vm prepare --backend vagrant --vm "${LCVM_SMOKE_VM:-deb12-6.12-v2}" "$@"
else
  .venv/bin/python -m libcontainer.vm prepare "$@"
fi
