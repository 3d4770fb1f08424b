#!/usr/bin/env bash
# Build a Vagrant box for the libvirt provider from debootstrap and a Debian kernel .deb, with no box download:
#   vm/box.sh NAME KERNEL.deb OUTDIR
# makes OUTDIR/NAME.box (metadata.json + box.img, qcow2, ext4 root on /dev/vda, no bootloader) and, beside it,
# vmlinuz and initrd.img for the Vagrantfile's direct kernel boot (libvirt.kernel/initrd). The box has systemd,
# sshd with Vagrant's well-known key for user vagrant (sudo without password), systemd-networkd (DHCP),
# busybox-static (the tests' root filesystem), kmod (the 9p synced folders), python3 (Debian's 3.11: the guest runs it
# over the shared .venv when that is built on /usr/bin/python3) and the shared libraries a
# host-built Python (the project's .venv, shared over 9p) links to.
set -euo pipefail
name=$1 deb=$(readlink -f "$2") out=$(readlink -m "$3")
mirror=${LCVM_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/lcvm-box.XXXXXX)
root=$work/root
cleanup() {
  umount -l "$root/proc" 2>/dev/null || true
  # never rm -rf through a mount point that is still there
  if grep -q " $work" /proc/self/mounts; then echo "mounts left under $work: not removed" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
pub=$( (find /usr/share/rubygems-integration /usr/lib/ruby /usr/share/vagrant -name vagrant.pub -path "*keys*" 2>/dev/null || true) | head -1)
[ -n "$pub" ] || { echo "no vagrant.pub (apt-get install vagrant)" >&2; exit 1; }
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,openssh-server,sudo,kmod,busybox-static,iproute2,linux-base,initramfs-tools,zstd,python3,libffi8,libssl3,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libexpat1,libuuid1,libtirpc3 \
  bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log"; exit 1; }
mount -t proc proc "$root/proc"  # /dev: the nodes debootstrap made; no host /dev or /sys in the chroot
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n9pnet_virtio\n9p\n' > "$root/etc/initramfs-tools/modules"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
cp "$deb" "$root/tmp/kernel.deb"
chroot "$root" dpkg -i /tmp/kernel.deb > "$work/kernel.log" 2>&1 || { tail -30 "$work/kernel.log"; exit 1; }
rm "$root/tmp/kernel.deb"
echo lcvm > "$root/etc/hostname"
echo "/dev/vda / ext4 defaults 0 1" > "$root/etc/fstab"
cat > "$root/etc/systemd/network/80-dhcp.network" <<'NET'
[Match]
Name=en* eth*
[Network]
DHCP=yes
NET
chroot "$root" systemctl enable systemd-networkd >/dev/null 2>&1
chroot "$root" useradd -m -s /bin/bash vagrant
echo "vagrant ALL=(ALL) NOPASSWD: ALL" > "$root/etc/sudoers.d/vagrant"
install -d -m 700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 600 -o 1000 -g 1000 "$pub" "$root/home/vagrant/.ssh/authorized_keys"
echo "UseDNS no" > "$root/etc/ssh/sshd_config.d/vagrant.conf"
mkdir -p "$out"
cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$out/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$out/initrd.img"
umount "$root/proc"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
truncate -s 3G "$work/root.raw"
mkfs.ext4 -q -F -L root -d "$root" "$work/root.raw"
qemu-img convert -O qcow2 "$work/root.raw" "$work/box.img"
echo '{"provider": "libvirt", "format": "qcow2", "virtual_size": 3}' > "$work/metadata.json"
tar -C "$work" -cf "$out/$(basename "$name").box.part" metadata.json box.img
mv "$out/$(basename "$name").box.part" "$out/$(basename "$name").box"
echo "$out/$(basename "$name").box"
