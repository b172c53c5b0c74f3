#!/bin/bash
# `lodge image`: import (aliases, public), list, info, show, edit, alias create/list/
# rename/delete, export (byte-identical, split as two files), refresh, delete; errors name
# the problem and change nothing.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd sha256sum
daemon_start
work=$LODGE_DIR/work
mkdir -p "$work"
export LODGE_DIR

"$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.xz" >/dev/null || fail "build-busybox.sh"
fp=$(sha256sum "$work/busybox.tar.xz" | cut -d' ' -f1)

out=$("$LODGE" image import "$work/busybox.tar.xz" --alias bb --alias bb2 --public) ||
	fail "lodge image import: $out"
assert_eq "$out" "Image imported with fingerprint: $fp" "import output"
img=$(expect_status 200 GET "/1.0/images/$fp")
assert_eq "$(jq -r .metadata.public <<<"$img")" true "--public"
assert_eq "$(jq -r .metadata.filename <<<"$img")" busybox.tar.xz "filename"

assert_eq "$("$LODGE" image list --format csv)" \
	"bb (1 more),${fp:0:12},yes,BusyBox 1.35.0 x86_64,x86_64,CONTAINER,0.88MB,$("$LODGE" image list --format csv | cut -d, -f8)" "image list"
assert_eq "$("$LODGE" image list --format json | jq -r '.[0].fingerprint')" "$fp" "image list --format json"
"$LODGE" image info bb >"$work/info" || fail "image info"
grep -qx "Fingerprint: $fp" "$work/info" || fail "image info: $(cat "$work/info")"
grep -qx "    - bb2" "$work/info" || fail "image info aliases: $(cat "$work/info")"
grep -qx "Public: yes" "$work/info" || fail "image info public"
assert_eq "$("$LODGE" image show "${fp:0:8}" --format json | jq -r .properties.os)" busybox "image show by prefix"
"$LODGE" image show bb | grep -qx "public: true" || fail "image show yaml"

printf 'public: false\nproperties:\n  os: edited\nprofiles:\n- default\n' | "$LODGE" image edit bb ||
	fail "image edit"
img=$(expect_status 200 GET "/1.0/images/$fp")
assert_eq "$(jq -c '[.metadata.public, .metadata.properties]' <<<"$img")" '[false,{"os":"edited"}]' "image edit"
set +e
out=$(printf 'public: maybe\n' | "$LODGE" image edit bb 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "a bad edit fails"
assert_match "$out" "not a boolean" "bad edit message"
assert_eq "$(expect_status 200 GET "/1.0/images/$fp" | jq -c .metadata.properties)" '{"os":"edited"}' "a bad edit changes nothing"
printf 'public: true\nproperties:\n  os: busybox\n  description: BusyBox 1.35.0 x86_64\n' | "$LODGE" image edit bb || fail "edit back"
"$LODGE" image alias create bb3 "${fp:0:12}" || fail "alias create"
"$LODGE" image alias rename bb3 bb4 || fail "alias rename"
assert_eq "$("$LODGE" image alias list --format csv | cut -d, -f1 | tr '\n' ' ')" "bb bb2 bb4 " "alias list"
"$LODGE" image alias delete bb4 || fail "alias delete"
assert_eq "$("$LODGE" image alias list --format csv | wc -l)" 2 "alias deleted"

"$LODGE" image export bb "$work/out.tar.xz" >/dev/null || fail "image export"
cmp -s "$work/out.tar.xz" "$work/busybox.tar.xz" || fail "exported file differs"
assert_eq "$("$LODGE" image refresh bb)" "Image already up to date." "image refresh"
# A split image imports from and exports as its two files.
if command -v mksquashfs >/dev/null; then
	split=$(split_image_make "$work/busybox.tar.xz" "$work/meta.tar.gz" "$work/rootfs.squashfs" splitos)
	out=$("$LODGE" image import "$work/meta.tar.gz" "$work/rootfs.squashfs" --alias split) ||
		fail "lodge image import META ROOTFS: $out"
	assert_eq "$out" "Image imported with fingerprint: $split" "split import"
	"$LODGE" image export "$split" "$work/split-out" >/dev/null || fail "export of a split image"
	cmp -s "$work/split-out" "$work/meta.tar.gz" || fail "exported metadata differs"
	cmp -s "$work/split-out.root" "$work/rootfs.squashfs" || fail "exported rootfs differs"
	"$LODGE" image delete "$split" || fail "delete the split image"
fi

# Errors: a message, exit 1, nothing changed.
set +e
out=$("$LODGE" image info nope 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "info of a missing image fails"
assert_match "$out" "^Error: .*not found" "missing image message"
set +e
out=$("$LODGE" image import "$work/none.tar.xz" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "import of a missing file fails"
assert_match "$out" "Failed to open" "missing file message"
printf 'not a tarball' >"$work/junk"
set +e
out=$("$LODGE" image import "$work/junk" --alias junk 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "import of junk fails"
assert_eq "$(expect_status 200 GET /1.0/images | jq '.metadata | length')" 1 "junk stored nothing"

"$LODGE" image delete bb || fail "image delete"
assert_eq "$(expect_status 200 GET /1.0/images | jq '.metadata | length')" 0 "image deleted"
echo "images-cli: ok"
