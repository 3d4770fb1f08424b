#!/usr/bin/env bash
# Start or stop a private libvirtd for the Vagrant backend, inside a network namespace of its own
# (lcvm-libvirt) so that its bridge (virbr0) and dnsmasq never touch the host's network.
#   vm/libvirtd.sh start   # dbus (if no system bus runs), virtlogd, libvirtd; the default network
#   vm/libvirtd.sh stop    # kills exactly what start started (pid files in /run/lcvm-libvirt), removes the netns
#   vm/libvirtd.sh exec CMD...   # runs CMD inside the namespace (vagrant must: it reaches the guest over virbr0)
set -euo pipefail
NS=${LCVM_NETNS:-lcvm-libvirt}
RUN=/run/lcvm-libvirt
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$RUN"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  ip netns list | grep -qw "$NS" || ip netns add "$NS"
  ip -n "$NS" link set lo up
  if [ ! -S /run/dbus/system_bus_socket ]; then
    mkdir -p /run/dbus
    dbus-daemon --system --fork --print-pid > "$RUN/dbus.pid"
  fi
  alive "$RUN/virtlogd.pid" || ip netns exec "$NS" virtlogd -d -p "$RUN/virtlogd.pid"
  # ip netns exec gives libvirtd a mount namespace of its own (slave): our qemu.conf is bound there only
  alive "$RUN/libvirtd.pid" || ip netns exec "$NS" sh -c \
    'mount --bind "$1" /etc/libvirt/qemu.conf && exec libvirtd -d -p "$2"' sh "$HERE/libvirt-qemu.conf" "$RUN/libvirtd.pid"
  for _ in $(seq 100); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
  virsh -c qemu:///system version >/dev/null
  if ! virsh -c qemu:///system net-info default >/dev/null 2>&1; then
    virsh -c qemu:///system net-define /usr/share/libvirt/networks/default.xml >/dev/null
  fi
  info=$(virsh -c qemu:///system net-info default)
  case "$info" in *Active:*yes*) ;; *) virsh -c qemu:///system net-start default >/dev/null;; esac
  echo "libvirtd running in network namespace $NS"
}

stop() {
  if alive "$RUN/libvirtd.pid"; then
    virsh -c qemu:///system net-destroy default >/dev/null 2>&1 || true
  fi
  for f in libvirtd virtlogd dbus; do
    if alive "$RUN/$f.pid"; then kill "$(cat "$RUN/$f.pid")"; fi
    rm -f "$RUN/$f.pid"
  done
  # dnsmasq of the default network, started by libvirtd (it survives libvirtd)
  if alive /run/libvirt/network/default.pid; then kill "$(cat /run/libvirt/network/default.pid)"; fi
  ip netns list | grep -qw "$NS" && ip netns del "$NS"
  echo "libvirtd stopped, namespace $NS removed"
}

case "${1:-}" in
  start) start;;
  stop) stop;;
  exec) shift; exec ip netns exec "$NS" "$@";;
  *) echo "usage: $0 start|stop|exec CMD..." >&2; exit 2;;
esac
