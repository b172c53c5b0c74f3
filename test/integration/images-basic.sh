#!/bin/bash
# Images: build the busybox image, import it raw, chunked, split and with the real `lxc`
# client; list, filter, alias, show, edit, export (byte-compared) and delete; hostile
# uploads fail with a clear error and leave nothing in images/ or the database.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc python3 xz sha256sum
daemon_start

LODGE_SRCDIR=${LODGE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export LXD_DIR=$LODGE_DIR
work=$LODGE_DIR/work
mkdir -p "$work"

"$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.xz" || fail "build-busybox.sh failed"
fp=$(sha256sum "$work/busybox.tar.xz" | cut -d' ' -f1)
size=$(stat -c %s "$work/busybox.tar.xz")

# call METHOD PATH [BODY]: prints the reply body; the HTTP status goes to $work/status
# (a file, not a variable: callers run this in command substitutions).
call() {
	local method=$1 path=$2 body=${3-}
	local args=(-s -o "$work/reply" -w '%{http_code}' --unix-socket "$SOCK" -X "$method")
	[ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl "${args[@]}" "http://lodge$path" >"$work/status"
	cat "$work/reply"
}

# expect CODE METHOD PATH [BODY]: the request must answer CODE; prints the body.
expect() {
	local code=$1 reply
	shift
	reply=$(call "$@")
	[ "$(cat "$work/status")" = "$code" ] ||
		fail "$1 $2: expected HTTP $code, got $(cat "$work/status"): $reply"
	printf '%s' "$reply"
}

op_wait() {
	expect 200 GET "$1/wait?timeout=30"
}

# upload FILE [curl options...]: POSTs FILE to /1.0/images, waits, prints the operation.
upload() {
	local file=$1 reply op
	shift
	reply=$(curl -s --unix-socket "$SOCK" -X POST "$@" --data-binary @"$file" http://lodge/1.0/images)
	op=$(jq -r .operation <<<"$reply")
	[ -n "$op" ] && [ "$op" != null ] || fail "upload of $file did not start an operation: $reply"
	op_wait "$op" | jq -c .metadata
}

images_left() {
	ls -A "$LODGE_DIR/images" 2>/dev/null | wc -l
}

# --- raw upload with the optional headers ---------------------------------------------------
op=$(upload "$work/busybox.tar.xz" -H 'Content-Type: application/octet-stream' \
	-H 'X-LXD-filename: busybox.tar.xz' -H 'X-LXD-public: true' \
	-H 'X-LXD-properties: extra=a+b&os=override%21')
assert_eq "$(jq -r .status <<<"$op")" Success "raw upload: $op"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$fp" "upload fingerprint"
assert_eq "$(jq -r .metadata.size <<<"$op")" "$size" "upload size"
img=$(expect 200 GET "/1.0/images/$fp")
assert_eq "$(jq -r .metadata.filename <<<"$img")" busybox.tar.xz "filename"
assert_eq "$(jq -r .metadata.public <<<"$img")" true "public"
assert_eq "$(jq -r .metadata.architecture <<<"$img")" x86_64 "architecture"
assert_eq "$(jq -r .metadata.type <<<"$img")" container "type"
assert_eq "$(jq -r .metadata.size <<<"$img")" "$size" "size"
assert_eq "$(jq -r .metadata.properties.extra <<<"$img")" "a b" "X-LXD-properties decoded"
assert_eq "$(jq -r .metadata.properties.os <<<"$img")" "override!" "X-LXD-properties override"
assert_eq "$(jq -r .metadata.created_at <<<"$img")" 2024-01-01T00:00:00Z "created_at"
assert_eq "$(jq -c .metadata.profiles <<<"$img")" '["default"]' "profiles"
[ -f "$LODGE_DIR/images/$fp" ] || fail "the image file is not stored under its fingerprint"
cmp -s "$LODGE_DIR/images/$fp" "$work/busybox.tar.xz" || fail "stored file differs"

# Prefixes resolve; unknown fingerprints are 404.
assert_eq "$(expect 200 GET "/1.0/images/${fp:0:12}" | jq -r .metadata.fingerprint)" "$fp" "prefix lookup"
expect 404 GET /1.0/images/0000000000 >/dev/null
expect 404 GET /1.0/images/not-hex >/dev/null

# Lists, recursion and filters (api_filtering).
assert_eq "$(expect 200 GET /1.0/images | jq -c .metadata)" "[\"/1.0/images/$fp\"]" "list"
assert_eq "$(expect 200 GET '/1.0/images?filter=&recursion=1' | jq -r '.metadata[0].fingerprint')" "$fp" "list with empty filter"
assert_eq "$(expect 200 GET '/1.0/images?recursion=1&filter=architecture%20eq%20aarch64' | jq -c .metadata)" '[]' "filter out"
assert_eq "$(expect 200 GET '/1.0/images?recursion=1&filter=properties.os%20eq%20override!%20and%20public%20eq%20true' | jq '.metadata | length')" 1 "filter in"
reply=$(expect 400 GET '/1.0/images?filter=architecture%20is%20x')
assert_match "$(jq -r .error <<<"$reply")" "Invalid filter" "bad filter message"
jq -e '.metadata.api_extensions | index("api_filtering")' <<<"$(call GET /1.0)" >/dev/null || fail "api_filtering not advertised"

# PATCH merges properties, PUT replaces them and checks If-Match.
expect 200 PATCH "/1.0/images/$fp" '{"properties":{"patched":"yes"}}' >/dev/null
assert_eq "$(call GET "/1.0/images/$fp" | jq -r .metadata.properties.extra)" "a b" "PATCH kept old properties"
expect 200 PUT "/1.0/images/$fp" '{"properties":{"only":"this"},"public":false,"auto_update":false,"profiles":["default"],"expires_at":"2031-01-01T00:00:00Z"}' >/dev/null
img=$(call GET "/1.0/images/$fp")
assert_eq "$(jq -c .metadata.properties <<<"$img")" '{"only":"this"}' "PUT replaced properties"
assert_eq "$(jq -r .metadata.expires_at <<<"$img")" 2031-01-01T00:00:00Z "PUT expires_at"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X PUT -H 'If-Match: "nope"' \
	--data-binary '{"properties":{}}' "http://lodge/1.0/images/$fp")
assert_eq "$code" 412 "PUT with a stale ETag"
reply=$(expect 400 PUT "/1.0/images/$fp" '{"profiles":["missing"]}')
assert_match "$(jq -r .error <<<"$reply")" "Profile 'missing' doesn't exist" "unknown profile"
reply=$(expect 400 PATCH "/1.0/images/$fp" '{"properties":{"n":1}}')
assert_match "$(jq -r .error <<<"$reply")" "'n'" "non-string property"

# A second upload of the same bytes (chunked this time) fails, naming the problem, and
# still reports the fingerprint as LXD does.
op=$(upload "$work/busybox.tar.xz" -H 'Transfer-Encoding: chunked')
assert_eq "$(jq -r .status <<<"$op")" Failure "duplicate upload"
assert_match "$(jq -r .err <<<"$op")" "already exists" "duplicate message"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$fp" "duplicate still reports the fingerprint"

# Aliases over the API.
expect 201 POST /1.0/images/aliases "{\"name\":\"bb\",\"target\":\"${fp:0:10}\",\"description\":\"d\",\"type\":\"\"}" >/dev/null
alias=$(expect 200 GET /1.0/images/aliases/bb)
assert_eq "$(jq -c .metadata <<<"$alias")" "{\"description\":\"d\",\"target\":\"$fp\",\"name\":\"bb\",\"type\":\"container\"}" "alias object"
expect 409 POST /1.0/images/aliases "{\"name\":\"bb\",\"target\":\"$fp\"}" >/dev/null
expect 404 POST /1.0/images/aliases '{"name":"x","target":"abcdef"}' >/dev/null
for bad in a//b /a a/ a/../b; do
	expect 400 POST /1.0/images/aliases "{\"name\":\"$bad\",\"target\":\"$fp\"}" >/dev/null
done
expect 201 POST /1.0/images/aliases/bb '{"name":"bb2"}' >/dev/null
expect 404 GET /1.0/images/aliases/bb >/dev/null
expect 200 PATCH /1.0/images/aliases/bb2 '{"description":"new"}' >/dev/null
assert_eq "$(call GET '/1.0/images/aliases?recursion=1' | jq -r '.metadata[0].description')" new "alias PATCH"
assert_eq "$(call GET "/1.0/images/$fp" | jq -c .metadata.aliases)" '[{"name":"bb2","description":"new"}]' "image lists its aliases"
expect 200 DELETE /1.0/images/aliases/bb2 >/dev/null
assert_eq "$(call GET /1.0/images/aliases | jq -c .metadata)" '[]' "alias deleted"

# A URL import needs https (pulls and URL imports are tested in images-pull.sh).
reply=$(expect 400 POST /1.0/images '{"source":{"type":"url","url":"ftp://x/"}}')
assert_match "$(jq -r .error <<<"$reply")" "https:// url" "url import message"
reply=$(expect 400 POST /1.0/images '{"source":{"type":"image","mode":"pull","server":"https://x"}}')
assert_match "$(jq -r .error <<<"$reply")" "alias or a fingerprint" "pull without an image"

# DELETE is an operation and removes the files.
reply=$(expect 202 DELETE "/1.0/images/$fp")
assert_eq "$(jq -c .metadata.resources.images <<<"$reply")" "[\"/1.0/images/$fp\"]" "delete resources"
assert_eq "$(op_wait "$(jq -r .operation <<<"$reply")" | jq -r .metadata.status)" Success "delete op"
assert_eq "$(images_left)" 0 "files left after delete"
expect 404 GET "/1.0/images/$fp" >/dev/null

# --- the real lxc client ----------------------------------------------------------------
SOURCE_DATE_EPOCH=1704067201 "$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.gz"
gzfp=$(sha256sum "$work/busybox.tar.gz" | cut -d' ' -f1)
out=$(lxc image import "$work/busybox.tar.gz" --alias busybox 2>&1) || fail "lxc image import: $out"
assert_match "$out" "$gzfp" "lxc image import prints the fingerprint"
out=$(lxc image list --format csv -c lfpdat 2>&1) || fail "lxc image list: $out"
assert_match "$out" "^busybox,${gzfp:0:12},no,BusyBox .* x86_64,x86_64,CONTAINER" "lxc image list"
out=$(lxc image list os=busybox --format csv -c f) || fail "lxc image list with a filter"
assert_eq "$out" "${gzfp:0:12}" "lxc image list os=busybox"
out=$(lxc image list architecture=aarch64 --format csv -c f) || fail "lxc image list with a filter"
assert_eq "$out" "" "lxc image list architecture=aarch64"
lxc image alias create bb2 "${gzfp:0:8}" || fail "lxc image alias create"
out=$(lxc image show bb2) || fail "lxc image show"
assert_match "$out" "os: busybox" "lxc image show"
out=$(lxc image info busybox) || fail "lxc image info"
assert_match "$out" "Fingerprint: $gzfp" "lxc image info"
lxc image export busybox "$work/exported" >/dev/null || fail "lxc image export"
cmp "$work/exported.tar.gz" "$work/busybox.tar.gz" || fail "exported image differs from the original"

# A split image (metadata tarball + squashfs) through lxc, exported back part by part.
if command -v mksquashfs >/dev/null; then
	mkdir -p "$work/split"
	tar -C "$work/split" -xJf "$work/busybox.tar.xz"
	tar -C "$work/split" -czf "$work/meta.tar.gz" metadata.yaml templates
	mksquashfs "$work/split/rootfs" "$work/rootfs.squashfs" -noappend -quiet -all-root >/dev/null
	splitfp=$(cat "$work/meta.tar.gz" "$work/rootfs.squashfs" | sha256sum | cut -d' ' -f1)
	out=$(lxc image import "$work/meta.tar.gz" "$work/rootfs.squashfs" --alias split 2>&1) ||
		fail "lxc image import (split): $out"
	assert_match "$out" "$splitfp" "split fingerprint"
	[ -f "$LODGE_DIR/images/$splitfp.rootfs" ] || fail "split rootfs not stored"
	lxc image export split "$work/split-export" >/dev/null || fail "lxc image export (split)"
	cmp "$work/split-export" "$work/meta.tar.gz" || fail "exported metadata differs"
	cmp "$work/split-export.root" "$work/rootfs.squashfs" || fail "exported rootfs differs"
	lxc image delete split || fail "lxc image delete (split)"
	[ ! -e "$LODGE_DIR/images/$splitfp.rootfs" ] || fail "split rootfs left behind"
fi

lxc image delete bb2 || fail "lxc image delete"
out=$(lxc image list --format csv -c f)
assert_eq "$out" "" "image list after delete"
assert_eq "$(images_left)" 0 "files left after lxc image delete"

# --- hostile uploads --------------------------------------------------------------------
"$PYTHON" - "$work" <<'PY'
import io, sys, tarfile
work = sys.argv[1]
meta = b"architecture: x86_64\ncreation_date: 1704067200\n"

def build(name, entries):
    with tarfile.open(f"{work}/{name}", "w:gz") as t:
        info = tarfile.TarInfo("metadata.yaml"); info.size = len(meta)
        t.addfile(info, io.BytesIO(meta))
        for e in entries:
            data = e.pop("data", b"")
            info = tarfile.TarInfo(e.pop("name"))
            for k, v in e.items():
                setattr(info, k, v)
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data))

d = dict(type=tarfile.DIRTYPE, mode=0o755)
build("dotdot.tar.gz", [dict(name="rootfs", **d), dict(name="rootfs/../../escaped", data=b"x")])
build("device.tar.gz", [dict(name="rootfs", **d), dict(name="rootfs/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)])
build("through-symlink.tar.gz", [dict(name="rootfs", **d),
      dict(name="rootfs/evil", type=tarfile.SYMTYPE, linkname="/tmp"),
      dict(name="rootfs/evil/lodge-pwned", data=b"x")])
with open(f"{work}/garbage.tar.gz", "wb") as f:
    f.write(b"\x1f\x8b" + b"not really gzip" * 100)
PY
for bad in dotdot:"contains '..'" device:"device node" through-symlink:"through a symlink" garbage:"Invalid image archive"; do
	name=${bad%%:*}
	want=${bad#*:}
	op=$(upload "$work/$name.tar.gz" -H 'Transfer-Encoding: chunked')
	assert_eq "$(jq -r .status <<<"$op")" Failure "hostile $name accepted"
	assert_match "$(jq -r .err <<<"$op")" "$want" "hostile $name message"
	assert_eq "$(images_left)" 0 "hostile $name left files in images/"
done
[ ! -e /tmp/lodge-pwned ] || fail "a hostile image wrote through a symlink"
[ ! -e "$LODGE_DIR/escaped" ] || fail "a hostile image escaped"
assert_eq "$(call GET /1.0/images | jq -c .metadata)" '[]' "hostile uploads left database rows"
reply=$(expect 400 POST /1.0/images/aliases '{"name":"x"}')
assert_match "$(jq -r .error <<<"$reply")" "target" "alias without target"

echo "PASS: images-basic"
