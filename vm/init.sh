#!/bin/sh
# /init of the libcontainer.vm initramfs (busybox sh, PID 1).
# Mounts the host's / read-only over virtio-9p (tag lcvmroot), the project (lcvmproj) and the
# output folder (lcvmout) read-write at their host paths, tmpfs on /tmp /var/tmp /run, an
# overlay on /root, fresh proc/sys/dev, the cgroups of the mode named by lcvm.cgroup (v1: a
# tmpfs at /sys/fs/cgroup and one cgroup mount per controller of /proc/cgroups; hybrid: v1 and
# cgroup2 at /sys/fs/cgroup/unified, as systemd's hybrid setting; v2: cgroup2),
# then switch_root's to the guest agent (python -m libcontainer.vm.guest), which runs the
# command, reaps orphans, writes the exit status into the output folder and powers off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1"=*) echo "${w#*=}";; esac; done; }
say() { echo "lcvm-init: $*" > /dev/console; }
fail() {
  say "FAILED: $*"
  if mountpoint -q /newroot"$out" 2>/dev/null; then echo "init: $*" > /newroot"$out"/init-failed; fi
  poweroff -f
}
out=$(arg lcvm.out); project=$(arg lcvm.project); mode=$(arg lcvm.cgroup)
python=$(arg lcvm.python); modules=$(arg lcvm.modules); name=$(arg lcvm.name)
say "kernel $(cat /proc/sys/kernel/osrelease), cgroup $mode, loading modules"
for m in $(cat /modules); do insmod /mod/"$m".ko || fail "insmod $m"; done
p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$p9,ro,cache=loose" lcvmroot /newroot || fail "mount host root over 9p"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || fail "tmpfs /tmp"
mount -t tmpfs -o mode=1777 tmpfs /newroot/var/tmp || fail "tmpfs /var/tmp"
mount -t tmpfs -o mode=755 tmpfs /newroot/run || fail "tmpfs /run"
# the shares last: they may lie under the tmpfs folders (mkdir -p works there, and finds the rest)
mkdir -p /newroot"$project" /newroot"$out" 2>/dev/null
mount -t 9p -o "$p9,rw,cache=loose" lcvmproj /newroot"$project" || fail "mount project $project"
mount -t 9p -o "$p9,rw,cache=none" lcvmout /newroot"$out" || fail "mount output folder $out"
mkdir -p /newroot/run/lcvm/root-upper /newroot/run/lcvm/root-work
mount -t overlay -o lowerdir=/newroot/root,upperdir=/newroot/run/lcvm/root-upper,workdir=/newroot/run/lcvm/root-work \
  overlay /newroot/root 2>/dev/null || say "no overlay on /root (read-only): HOME is /tmp"
mount -t proc proc /newroot/proc || fail "proc"
mount -t sysfs sysfs /newroot/sys || fail "sysfs"
mount -t devtmpfs devtmpfs /newroot/dev || fail "devtmpfs"
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t mqueue mqueue /newroot/dev/mqueue
if [ -n "$modules" ] && [ -d /newroot/lib/modules ]; then mount --bind /newroot"$modules" /newroot/lib/modules; fi
case "$mode" in
  v2)
    mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup || fail "mount cgroup2";;
  v1|hybrid)
    mount -t tmpfs -o mode=755 cgroup /newroot/sys/fs/cgroup || fail "tmpfs /sys/fs/cgroup"
    while read -r ctrl hier num enabled; do
      case "$ctrl" in \#*) continue;; esac
      [ "$enabled" = 1 ] || continue
      mkdir -p /newroot/sys/fs/cgroup/"$ctrl"
      mount -t cgroup -o "$ctrl" cgroup /newroot/sys/fs/cgroup/"$ctrl" || say "no v1 hierarchy for $ctrl"
    done < /proc/cgroups
    if [ "$mode" = hybrid ]; then  # systemd's hybrid layout: cgroup2 beside the v1 hierarchies, no controllers
      mkdir -p /newroot/sys/fs/cgroup/unified
      mount -t cgroup2 -o nsdelegate cgroup2 /newroot/sys/fs/cgroup/unified || fail "mount cgroup2 (hybrid)"
    fi;;
  *) fail "lcvm.cgroup must be v1, hybrid or v2, not '$mode'";;
esac
[ -n "$name" ] && hostname "$name"
say "root ready, starting the guest agent"
exec switch_root /newroot "$python" -m libcontainer.vm.guest "$out"
