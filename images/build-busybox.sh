#!/bin/bash
# images/build-busybox.sh OUTPUT: builds a tiny LXD-format unified image from the static
# busybox (Debian's busybox-static) and writes it to OUTPUT, compressed by its suffix:
# .tar.xz (default), .tar.gz, .tar.zst, .tar.bz2 or .tar.
#
# The image holds metadata.yaml (architecture, creation date, properties os=busybox and a
# description, an /etc/hostname template), templates/hostname.tpl, and rootfs/ with
# /bin/busybox, a symlink per applet (/sbin/init among them), an /etc/inittab that mounts
# /proc, /sys and a tmpfs on /tmp and /run, brings lo up, runs udhcpc on eth0 (in the
# foreground, so it keeps renewing; its hook /etc/udhcpc/default.script sets the
# address, default route and resolv.conf) and keeps a shell on the console, /etc/passwd
# and /etc/group with root, /root, /tmp and an empty /dev.
#
# The output is reproducible: fixed owners, sorted entries and every time set to
# SOURCE_DATE_EPOCH (default: 2024-01-01), so the same busybox gives the same fingerprint.
set -euo pipefail

out=${1:?usage: $0 OUTPUT.tar.xz}
busybox=${BUSYBOX:-$(command -v busybox || true)}
[ -x "$busybox" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
	echo "$busybox is dynamically linked: install busybox-static" >&2
	exit 1
fi

case "$(uname -m)" in
x86_64 | amd64) arch=x86_64 ;;
aarch64 | arm64) arch=aarch64 ;;
*) arch=$(uname -m) ;;
esac
epoch=${SOURCE_DATE_EPOCH:-1704067200}
version=$("$busybox" 2>&1 | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,dev,proc,sys,run,var/log,home}
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
install -m 0755 "$busybox" "$root/bin/busybox"

# One symlink per applet, where busybox says it belongs (bin/ls, sbin/init, usr/bin/env).
"$busybox" --list-full | while read -r applet; do
	case "$applet" in
	bin/busybox | linuxrc | "") continue ;;
	esac
	mkdir -p "$root/$(dirname "$applet")"
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
[ -L "$root/sbin/init" ] || ln -s /bin/busybox "$root/sbin/init"

cat >"$root/etc/inittab" <<'EOF'
::sysinit:/bin/mount -t proc proc /proc
::sysinit:/bin/mount -t sysfs sysfs /sys
::sysinit:/bin/mount -t tmpfs -o mode=1777 tmpfs /tmp
::sysinit:/bin/mount -t tmpfs -o mode=0755 tmpfs /run
::sysinit:/bin/hostname -F /etc/hostname
::sysinit:/sbin/ip link set lo up
::once:/bin/sh -c 'exec /sbin/udhcpc -i eth0 -f -S -T 1 -A 2 -s /etc/udhcpc/default.script -x hostname:$(hostname)'
::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo busybox >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo 'export PATH=/bin:/sbin:/usr/bin:/usr/sbin' >"$root/etc/profile"

# udhcpc's hook: configures eth0 from the lease (address, default route, DNS). Its default
# path differs between builds (Debian's busybox: /etc/udhcpc, upstream: /usr/share/udhcpc);
# inittab names it, and both paths lead to it for a udhcpc run by hand.
mkdir -p "$root/etc/udhcpc" "$root/usr/share/udhcpc"
cat >"$root/etc/udhcpc/default.script" <<'SCRIPT'
#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
case "$1" in
deconfig)
	# IPv4 only: the IPv6 addresses (link-local, SLAAC) are not DHCP's.
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	# A renewal of the same address changes nothing.
	if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/${mask:-24} "; then
		ip -4 addr flush dev "$interface"
		ip addr add "$ip/${mask:-24}" dev "$interface"
	fi
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	: >/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	[ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
	;;
esac
exit 0
SCRIPT
chmod 0755 "$root/etc/udhcpc/default.script"
ln -s /etc/udhcpc/default.script "$root/usr/share/udhcpc/default.script"

mkdir -p "$work/templates"
echo '{{ container.name }}' >"$work/templates/hostname.tpl"
cat >"$work/metadata.yaml" <<EOF
architecture: $arch
creation_date: $epoch
properties:
  architecture: $arch
  description: BusyBox $version $arch
  name: busybox-$arch
  os: busybox
  release: "$version"
templates:
  /etc/hostname:
    when:
      - create
      - copy
      - rename
    create_only: false
    template: hostname.tpl
    properties: {}
EOF

case "$out" in
*.tar.gz | *.tgz) compress=(gzip -n -9) ;;
*.tar.zst) compress=(zstd -q -19 -c) ;;
*.tar.bz2) compress=(bzip2 -9 -c) ;;
*.tar) compress=(cat) ;;
*) compress=(xz -T1 -6 -c) ;;
esac

tmp="$out.tmp.$$"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
	--format=gnu -C "$work" -cf - metadata.yaml templates rootfs | "${compress[@]}" >"$tmp"
mv -f "$tmp" "$out"
