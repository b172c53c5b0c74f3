#!/bin/bash
# Publishing: `lxc publish` of a stopped container (aliases, properties, compression) and of
# a snapshot, the image launches with the container's files and ids; every compression round-trips through
# export byte for byte; bad requests fail with a clear error and store nothing.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox sha256sum
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR
work=$LODGE_DIR/work
mkdir -p "$work"

"$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.xz" >/dev/null || fail "build-busybox.sh"
lxc image import "$work/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"
lxc init busybox c1 >/dev/null || fail "lxc init"
printf 'published\n' >"$work/marker"
lxc file push --uid 1000 --gid 1001 --mode 0640 "$work/marker" c1/root/marker || fail "file push"

count_images() {
	expect_status 200 GET /1.0/images | jq ".metadata | length"
}

# --- lxc publish ----------------------------------------------------------------------------
out=$(lxc publish c1 --alias pub1 --alias pub/two os=Custom release=1 2>&1) || fail "lxc publish: $out"
fp=$(sed -n 's/.*fingerprint: \([0-9a-f]*\).*/\1/p' <<<"$out")
[ ${#fp} = 64 ] || fail "lxc publish printed no fingerprint: $out"
img=$(expect_status 200 GET "/1.0/images/$fp")
assert_eq "$(jq -r .metadata.properties.os <<<"$img")" Custom "published properties"
assert_eq "$(jq -r .metadata.properties.release <<<"$img")" 1 "published properties"
assert_eq "$(jq -r '[.metadata.aliases[].name] | sort | join(",")' <<<"$img")" pub/two,pub1 "aliases"
assert_eq "$(jq -r .metadata.type <<<"$img")" container "type"
assert_eq "$(jq -r .metadata.architecture <<<"$img")" x86_64 "architecture"
# The stored file is a gzip tarball whose fingerprint is its sha256, with metadata.yaml
# (the busybox image's templates kept), templates/ and rootfs/.
assert_eq "$(sha256sum "$LODGE_DIR/images/$fp" | cut -d' ' -f1)" "$fp" "fingerprint is the sha256"
assert_eq "$(head -c2 "$LODGE_DIR/images/$fp" | od -An -tx1 | tr -d ' ')" 1f8b "gzip by default"
tar -tzf "$LODGE_DIR/images/$fp" >"$work/list"
grep -qx metadata.yaml "$work/list" || fail "no metadata.yaml in the published image"
grep -q '^templates/' "$work/list" || fail "no templates/ in the published image"
grep -qx rootfs/root/marker "$work/list" || fail "no rootfs/root/marker in the published image"
tar -xzf "$LODGE_DIR/images/$fp" -O metadata.yaml >"$work/metadata.yaml"
grep -q '^  os: Custom' "$work/metadata.yaml" || fail "metadata.yaml properties: $(cat "$work/metadata.yaml")"
grep -q '^templates:' "$work/metadata.yaml" || fail "metadata.yaml lost its templates"
# Ids are the container's own, not the host ids of its idmapped mount.
assert_eq "$(tar -tvzf "$LODGE_DIR/images/$fp" --numeric-owner rootfs/root/marker | awk '{print $1, $2}')" \
	"-rw-r----- 1000/1001" "owner and mode of a published file"

# An alias with a slash ("debian/12" style) resolves through the real client.
assert_eq "$(lxc image info pub/two | sed -n 's/^Fingerprint: //p')" "$fp" "alias with a slash"
lxc image alias rename pub/two pub/three/x || fail "rename an alias with slashes"
assert_eq "$(expect_status 200 GET /1.0/images/aliases/pub%2Fthree%2Fx | jq -r .metadata.target)" "$fp" "alias path with %2F"
assert_eq "$(expect_status 200 GET /1.0/images/aliases/pub/three/x | jq -r .metadata.target)" "$fp" "alias path with slashes"

# The image launches, with the file and a fresh hostname from the kept templates.
lxc launch pub1 c2 >/dev/null || fail "launch from the published image"
assert_eq "$(lxc exec c2 -- cat /root/marker)" published "file in the published image"
assert_eq "$(lxc exec c2 -- stat -c %u:%g /root/marker)" 1000:1001 "owner inside the new container"
assert_eq "$(lxc exec c2 -- cat /etc/hostname)" c2 "templates applied to the new container"

# --- compressions, through the API; export returns the stored bytes -------------------------
for comp in none xz zstd bzip2; do
	n=$(count_images)
	op=$(expect_status 202 POST /1.0/images \
		"{\"source\":{\"type\":\"instance\",\"name\":\"c1\"},\"compression_algorithm\":\"$comp\",\"public\":true}" | jq -r .operation)
	reply=$(wait_op "$op")
	assert_eq "$(jq -r .metadata.status <<<"$reply")" Success "publish with $comp: $reply"
	f=$(jq -r .metadata.metadata.fingerprint <<<"$reply")
	assert_eq "$(expect_status 200 GET "/1.0/images/$f" | jq -r .metadata.public)" true "public ($comp)"
	assert_eq "$(count_images)" $((n + 1)) "one more image ($comp)"
	curl -s --unix-socket "$SOCK" -o "$work/export" "http://lodge/1.0/images/$f/export"
	cmp -s "$work/export" "$LODGE_DIR/images/$f" || fail "export of the $comp image differs"
	case $comp in
	none) tar -tf "$work/export" >/dev/null ;;
	xz) xz -dc "$work/export" | tar -t >/dev/null ;;
	zstd) zstd -qdc "$work/export" | tar -t >/dev/null ;;
	bzip2) bzip2 -dc "$work/export" | tar -t >/dev/null ;;
	esac || fail "the $comp export is not a $comp tarball"
done

# The server's images.compression_algorithm is the default.
lxc config set images.compression_algorithm xz || fail "images.compression_algorithm"
op=$(expect_status 202 POST /1.0/images '{"source":{"type":"instance","name":"c1"}}' | jq -r .operation)
f=$(wait_op "$op" | jq -r .metadata.metadata.fingerprint)
assert_eq "$(head -c6 "$LODGE_DIR/images/$f" | od -An -tx1 | tr -d ' ')" fd377a585a00 "xz from images.compression_algorithm"
lxc config unset images.compression_algorithm

# --- a snapshot: what the container held when it was taken ----------------------------------
lxc snapshot c1 snap0 || fail "lxc snapshot"
printf 'changed\n' >"$work/marker2"
lxc file push "$work/marker2" c1/root/marker || fail "change the file after the snapshot"
out=$(lxc publish c1/snap0 --alias fromsnap 2>&1) || fail "lxc publish c1/snap0: $out"
sfp=$(sed -n 's/.*fingerprint: \([0-9a-f]*\).*/\1/p' <<<"$out")
assert_eq "$(tar -xzf "$LODGE_DIR/images/$sfp" -O rootfs/root/marker)" published "the snapshot's content"
assert_eq "$(tar -tvzf "$LODGE_DIR/images/$sfp" --numeric-owner rootfs/root/marker | awk '{print $2}')" 1000/1001 "snapshot ids"
assert_eq "$(ls "$LODGE_DIR/storage-pools/default/containers" | grep -c '^lodge-publish' || true)" 0 "no temporary volume left"
op=$(expect_status 202 POST /1.0/images '{"source":{"type":"snapshot","name":"c1/nope"}}' | jq -r .operation)
assert_eq "$(wait_op "$op" | jq -r .metadata.status)" Failure "publishing a missing snapshot"
assert_eq "$(ls "$LODGE_DIR/storage-pools/default/containers" | grep -c '^lodge-publish' || true)" 0 "no temporary volume after a failure"
expect_status 400 POST /1.0/images '{"source":{"type":"snapshot","name":"c1"}}' >/dev/null

# --- refused: nothing stored ----------------------------------------------------------------
n=$(count_images)
reply=$(expect_status 400 POST /1.0/images '{"source":{"type":"instance","name":"c1"},"compression_algorithm":"sh -c reboot"}')
assert_match "$(jq -r .error <<<"$reply")" "Unsupported compression algorithm" "bad compression"
reply=$(expect_status 400 POST /1.0/images '{"source":{"type":"instance","name":"../c1"}}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid instance name" "bad instance name"
reply=$(expect_status 400 POST /1.0/images '{"source":{"type":"instance","name":"c1"},"aliases":[{"name":"a/../b"}]}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid alias name" "bad alias"
reply=$(expect_status 400 POST /1.0/images '{"source":{"type":"instance","name":"c1"},"properties":{"a":1}}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid property 'a'" "non-string property"
op=$(expect_status 202 POST /1.0/images '{"source":{"type":"instance","name":"nope"}}' | jq -r .operation)
reply=$(wait_op "$op")
assert_eq "$(jq -r .metadata.status <<<"$reply")" Failure "publishing a missing instance"
assert_match "$(jq -r .metadata.err <<<"$reply")" "not found" "missing instance error"
# A running container is refused (the client's --force stops it first).
op=$(expect_status 202 POST /1.0/images '{"source":{"type":"instance","name":"c2"}}' | jq -r .operation)
reply=$(wait_op "$op")
assert_match "$(jq -r .metadata.err <<<"$reply")" "is running" "publishing a running container"
assert_eq "$(count_images)" "$n" "refused publishes stored nothing"
assert_eq "$(ls -A "$LODGE_DIR/images" | grep -c '^\.')" 0 "no staging files left in images/"

lxc delete -f c2 >/dev/null
lxc delete c1 >/dev/null
echo "images-publish: ok"
