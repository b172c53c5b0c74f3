#!/bin/bash
# images/build-debian.sh [--suite SUITE] [--split] [--import] OUTPUT.tar.xz
# images/build-debian.sh --metadata-only DIR
#
# Builds a Debian container image in the LXD unified format (metadata.yaml, templates/,
# rootfs/) with debootstrap, from the archive this machine's apt sources name (MIRROR=...
# overrides; with no usable source, debootstrap's own default), and writes it to OUTPUT,
# compressed by its suffix: .tar.xz (default), .tar.gz, .tar.zst or .tar. With --split it
# writes the split format LXD's image servers use instead: OUTPUT holds metadata.yaml and
# templates/, OUTPUT's name with .squashfs for .tar.xz the root filesystem (imports check a
# squashfs listing, not every byte, so this imports in a fraction of the time). With --import
# it is then imported into lodged (lodge image import, $LODGE_DIR) with the alias
# debian/<version> ("debian/12" for bookworm).
#
# The root filesystem is minbase plus systemd as init, iproute2 and systemd-networkd
# configured for DHCP on eth0; machine-id is emptied so every instance gets its own. The
# metadata's templates give each instance its /etc/hostname and /etc/hosts on create and
# copy, as LXD's images do.
#
# --metadata-only DIR writes just metadata.yaml and templates/ into DIR (what the fast test
# checks, with any root filesystem beside them). Needs root (debootstrap, chroot).
set -euo pipefail

suite=bookworm
import=false
split=false
rootfs_out=
metadata_only=

while [ $# -gt 0 ]; do
	case "$1" in
	--suite) suite=${2:?--suite needs a value}; shift 2 ;;
	--import) import=true; shift ;;
	--split) split=true; shift ;;
	--metadata-only) metadata_only=${2:?--metadata-only needs a directory}; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

case "$suite" in
bookworm) version=12 ;;
trixie) version=13 ;;
bullseye) version=11 ;;
*) echo "unknown Debian suite '$suite'" >&2; exit 2 ;;
esac

case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
amd64 | x86_64) arch=x86_64 debarch=amd64 ;;
arm64 | aarch64) arch=aarch64 debarch=arm64 ;;
*) arch=$(uname -m) debarch=$(dpkg --print-architecture) ;;
esac
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
serial=$(date -u -d "@$epoch" +%Y%m%d_%H%M)

# metadata.yaml and templates/ into $1.
write_metadata() {
	local dir=$1
	mkdir -p "$dir/templates"
	echo '{{ container.name }}' >"$dir/templates/hostname.tpl"
	cat >"$dir/templates/hosts.tpl" <<'EOF'
127.0.1.1	{{ container.name }}
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
	cat >"$dir/metadata.yaml" <<EOF
architecture: $arch
creation_date: $epoch
properties:
  architecture: $debarch
  description: Debian $suite $debarch ($serial)
  os: debian
  release: $suite
  serial: "$serial"
  variant: default
templates:
  /etc/hostname:
    when:
      - create
      - copy
    create_only: false
    template: hostname.tpl
    properties: {}
  /etc/hosts:
    when:
      - create
      - copy
    create_only: false
    template: hosts.tpl
    properties: {}
EOF
}

if [ -n "$metadata_only" ]; then
	write_metadata "$metadata_only"
	exit 0
fi

out=${1:?usage: $0 [--suite SUITE] [--import] OUTPUT.tar.xz}
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap" >&2; exit 1; }

# The first Debian archive (not security, not updates) the apt sources name, one-line
# (sources.list) or deb822 (*.sources) style; empty when there is none.
apt_mirror() {
	{
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" { u = $2; if ($2 ~ /^\[/) u = $3; print u }'
		# deb822: stanzas separated by blank lines; a "deb" stanza's first URI.
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk 'BEGIN { RS = ""; FS = "\n" }
			     {
				deb = 0; off = 0; uri = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
					if ($i ~ /^Enabled:[ \t]*no/) off = 1
					if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, " "); uri = u[1] }
				}
				if (deb && !off && uri != "") print uri
			     }' "$f"
		done
	} | grep -v -e security -e '^cdrom:' | grep -E '/debian/?$' | head -n1
}
mirror=${MIRROR:-$(apt_mirror || true)}

work=$(mktemp -d /var/tmp/build-debian.XXXXXX)
cleanup() {
	for m in proc sys dev/pts dev; do
		mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m" || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
root=$work/rootfs

echo "debootstrap $suite ($debarch) from ${mirror:-the default mirror of debootstrap}" >&2
debootstrap --variant=minbase --arch="$debarch" \
	--include=systemd-sysv,iproute2,netbase,ca-certificates \
	"$suite" "$root" ${mirror:+"$mirror"} >&2

# Instance identity comes from the templates and from systemd at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo debian >"$root/etc/hostname"
mkdir -p "$root/etc/systemd/network"
cat >"$root/etc/systemd/network/eth0.network" <<'EOF'
[Match]
Name=eth0

[Network]
DHCP=yes
EOF
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1 ||
	ln -sf /lib/systemd/system/systemd-networkd.service \
		"$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# /dev comes from the container manager: debootstrap's device nodes stay out of the image
# (lodged refuses device nodes in images).
for m in dev/pts dev; do
	if mountpoint -q "$root/$m"; then umount -l "$root/$m"; fi
done
find "$root/dev" -mindepth 1 -delete
# The apt lists and caches are rebuilt by `apt update` in the instance.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log

write_metadata "$work"

case "$out" in
*.tar.gz | *.tgz) compress=(gzip -n -6) ;;
*.tar.zst) compress=(zstd -q -T0 -10 -c) ;;
*.tar) compress=(cat) ;;
*) compress=(xz -T0 -6 -c) ;;
esac
tmp="$out.tmp.$$"
files=(metadata.yaml templates rootfs)
if $split; then
	files=(metadata.yaml templates)
	rootfs_out="${out%.tar*}.squashfs"
	command -v mksquashfs >/dev/null || { echo "mksquashfs not found: apt-get install squashfs-tools" >&2; exit 1; }
	mksquashfs "$root" "$rootfs_out.tmp.$$" -noappend -quiet -xattrs >/dev/null
	mv -f "$rootfs_out.tmp.$$" "$rootfs_out"
	echo "wrote $rootfs_out" >&2
fi
tar --numeric-owner --xattrs --xattrs-include='security.capability' --xattrs-include='user.*' \
	-C "$work" -cf - "${files[@]}" | "${compress[@]}" >"$tmp"
mv -f "$tmp" "$out"
echo "wrote $out" >&2

if $import; then
	lodge=${LODGE:-$(command -v lodge || echo "$(dirname "$0")/../build/lodge")}
	"$lodge" image import "$out" ${rootfs_out:+"$rootfs_out"} --alias "debian/$version"
fi
