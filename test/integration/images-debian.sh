#!/bin/bash
# The Debian image of images/build-debian.sh. Always (fast): its metadata.yaml and
# templates, put over the busybox root filesystem, import and give each container its
# /etc/hostname and /etc/hosts on create and copy. With LODGE_TEST_SLOW=1: the real build
# (debootstrap from the apt sources' mirror, minutes), imported as debian/12, launched,
# and systemd boots it.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc xz
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR
work=$LODGE_DIR/work
mkdir -p "$work/img"

# --- fast: metadata and templates -----------------------------------------------------------
"$LODGE_SRCDIR/images/build-debian.sh" --metadata-only "$work/img" || fail "build-debian.sh --metadata-only"
grep -qx 'architecture: x86_64' "$work/img/metadata.yaml" || fail "architecture: $(cat "$work/img/metadata.yaml")"
grep -qx '  os: debian' "$work/img/metadata.yaml" || fail "os property"
grep -qx '  release: bookworm' "$work/img/metadata.yaml" || fail "release property"
"$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.xz" >/dev/null || fail "build-busybox.sh"
tar -C "$work/img" -xJf "$work/busybox.tar.xz" rootfs
tar -C "$work/img" -cJf "$work/meta-test.tar.xz" metadata.yaml templates rootfs
out=$(lxc image import "$work/meta-test.tar.xz" --alias debian-meta 2>&1) || fail "import: $out"
img=$(expect_status 200 GET /1.0/images/aliases/debian-meta | jq -r .metadata.target)
props=$(expect_status 200 GET "/1.0/images/$img" | jq -c .metadata.properties)
assert_eq "$(jq -r .os <<<"$props")" debian "image property os"
assert_eq "$(jq -r .variant <<<"$props")" default "image property variant"
lxc init debian-meta web1 >/dev/null || fail "lxc init"
lxc file pull web1/etc/hostname "$work/hostname" || fail "pull hostname"
assert_eq "$(cat "$work/hostname")" web1 "hostname template"
lxc file pull web1/etc/hosts "$work/hosts" || fail "pull hosts"
assert_eq "$(head -n1 "$work/hosts")" "$(printf '127.0.1.1\tweb1')" "hosts template"
grep -q '^::1	localhost' "$work/hosts" || fail "hosts template body: $(cat "$work/hosts")"
lxc copy web1 web2 >/dev/null || fail "lxc copy"
lxc file pull web2/etc/hosts "$work/hosts2" || fail "pull hosts of the copy"
assert_eq "$(head -n1 "$work/hosts2")" "$(printf '127.0.1.1\tweb2')" "hosts template on copy"
lxc delete web1 web2 >/dev/null

# --- slow: the real build -------------------------------------------------------------------
if [ "${LODGE_TEST_SLOW:-0}" != 1 ]; then
	echo "# LODGE_TEST_SLOW=1 builds and boots the real Debian image"
	echo "images-debian: ok (fast part)"
	exit 0
fi
need_cmd debootstrap
deb=${LODGE_DEBIAN_IMAGE:-}
if [ -z "$deb" ]; then
	deb=$work/debian12.tar.xz
	"$LODGE_SRCDIR/images/build-debian.sh" "$deb" || fail "build-debian.sh"
fi
# LODGE_DEBIAN_IMAGE may name a split image as META,ROOTFS (build-debian.sh --split).
lxc image import ${deb//,/ } --alias debian/12 >/dev/null || fail "import debian/12"
lxc launch debian/12 d1 >/dev/null || fail "launch debian/12"
for _ in $(seq 60); do
	state=$(lxc exec d1 -- systemctl is-system-running 2>/dev/null || true)
	case $state in running | degraded) break ;; esac
	sleep 1
done
assert_match "$state" "running|degraded" "systemd boots the Debian image"
assert_match "$(lxc exec d1 -- cat /etc/os-release)" 'VERSION_ID="12"' "Debian 12 inside"
assert_eq "$(lxc exec d1 -- hostname)" d1 "hostname of the Debian container"
lxc delete -f d1 >/dev/null
echo "images-debian: ok"
