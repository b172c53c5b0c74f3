#!/bin/bash
# lodged as an image server: over HTTPS an untrusted client sees the public images and
# their aliases only; a private image is reachable with a one-time secret; refresh; the
# public images as a simplestreams tree (unified and split, every sha256 checked); and a
# real LXD 5.0 daemon (when one runs on this host) copies public images from lodged with
# `lxc image copy lodgehost:busybox local:`, over the LXD protocol and over simplestreams.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc xz gzip sha256sum mksquashfs
daemon_start
export LXD_DIR=$LODGE_DIR
work=$LODGE_DIR/work
mkdir -p "$work"

"$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.xz" >/dev/null || fail "build-busybox.sh"
xz -dc "$work/busybox.tar.xz" | gzip -n >"$work/private.tar.gz"
pub=$(sha256sum "$work/busybox.tar.xz" | cut -d' ' -f1)
priv=$(sha256sum "$work/private.tar.gz" | cut -d' ' -f1)
lxc image import "$work/busybox.tar.xz" --alias busybox --public >/dev/null || fail "import public"
lxc image import "$work/private.tar.gz" --alias hidden >/dev/null || fail "import private"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
lxc config set core.https_address "127.0.0.1:$port" || fail "core.https_address"
base=https://127.0.0.1:$port
for _ in $(seq 50); do curl -sk "$base/1.0" >/dev/null && break; sleep 0.1; done

# https GET PATH: prints the body, the status goes to $work/status.
https() {
	curl -sk -o "$work/body" -w '%{http_code}' "$base$1" >"$work/status"
	cat "$work/body"
}
status() { cat "$work/status"; }

# --- an untrusted client sees public images only --------------------------------------------
assert_eq "$(https /1.0/images | jq -c .metadata)" "[\"/1.0/images/$pub\"]" "untrusted image list"
assert_eq "$(https '/1.0/images?recursion=1' | jq -r '.metadata | length')" 1 "untrusted recursive list"
assert_eq "$(https "/1.0/images/$pub" | jq -r .metadata.fingerprint)" "$pub" "public image"
https "/1.0/images/$priv" >/dev/null
assert_eq "$(status)" 404 "private image hidden"
https "/1.0/images/$priv/export" >/dev/null
assert_eq "$(status)" 404 "private export hidden"
assert_eq "$(https /1.0/images/aliases | jq -c .metadata)" '["/1.0/images/aliases/busybox"]' "untrusted alias list"
https /1.0/images/aliases/hidden >/dev/null
assert_eq "$(status)" 404 "alias of a private image hidden"
https "/1.0/images/$pub/export" >"$work/export"
assert_eq "$(status)" 200 "public export"
cmp -s "$work/export" "$work/busybox.tar.xz" || fail "public export differs from the imported file"
# Changes and secrets stay for trusted clients.
curl -sk -o /dev/null -w '%{http_code}' -X DELETE "$base/1.0/images/$pub" >"$work/status"
assert_eq "$(status)" 403 "untrusted delete"
curl -sk -o /dev/null -w '%{http_code}' -X POST "$base/1.0/images/$priv/secret" >"$work/status"
assert_eq "$(status)" 403 "untrusted secret"
lxc image list -c f --format csv | grep -q "^${pub:0:12}" || fail "the public image is still there"

# --- a one-time secret for the private image ------------------------------------------------
op=$(expect_status 202 POST "/1.0/images/$priv/secret")
assert_eq "$(jq -r .metadata.class <<<"$op")" token "secret operation class"
secret=$(jq -r .metadata.metadata.secret <<<"$op")
assert_eq "${#secret}" 64 "secret length"
https "/1.0/images/$priv?secret=wrong" >/dev/null
assert_eq "$(status)" 404 "wrong secret"
assert_eq "$(https "/1.0/images/$priv?secret=$secret" | jq -r .metadata.fingerprint)" "$priv" "get with the secret"
https "/1.0/images/$pub/export?secret=$secret" >/dev/null
assert_eq "$(status)" 200 "a secret does not matter for public images"
https "/1.0/images/$priv/export?secret=$secret" >"$work/private-export"
assert_eq "$(status)" 200 "export with the secret"
cmp -s "$work/private-export" "$work/private.tar.gz" || fail "private export differs"
https "/1.0/images/$priv/export?secret=$secret" >/dev/null
assert_eq "$(status)" 404 "the secret is used up by the export"
# A cancelled secret is revoked.
op=$(expect_status 202 POST "/1.0/images/$priv/secret")
secret=$(jq -r .metadata.metadata.secret <<<"$op")
expect_status 200 DELETE "$(jq -r .operation <<<"$op")" >/dev/null
https "/1.0/images/$priv?secret=$secret" >/dev/null
assert_eq "$(status)" 404 "cancelled secret"
expect_status 404 POST /1.0/images/0000/secret >/dev/null

# --- refresh: a local image has no source to refresh from -----------------------------------
out=$(lxc image refresh busybox 2>&1) || fail "lxc image refresh: $out"
assert_match "$out" "already up to date" "lxc image refresh"
expect_status 404 POST /1.0/images/0000/refresh >/dev/null

# --- the simplestreams tree ------------------------------------------------------------------
split=$(split_image_make "$work/busybox.tar.xz" "$work/meta.tar.gz" "$work/rootfs.squashfs" splitos)
lxc image import "$work/meta.tar.gz" "$work/rootfs.squashfs" --alias splitbb --public >/dev/null ||
	fail "import the split image"

index=$(https /streams/v1/index.json)
assert_eq "$(status)" 200 "index.json"
assert_eq "$(jq -r .index.images.path <<<"$index")" streams/v1/images.json "index path"
assert_eq "$(jq -r .index.images.datatype <<<"$index")" image-downloads "index datatype"
assert_eq "$(jq -r '.index.images.products | length' <<<"$index")" 2 "two public products"
images=$(https /streams/v1/images.json)
assert_eq "$(jq -r '[.products[] | .aliases] | sort | join(" ")' <<<"$images")" "busybox splitbb" "product aliases"
grep -q "$priv" <<<"$images" && fail "the private image is in the simplestreams tree"
# Every item's file is served at its path, with its size and sha256.
jq -r '.products[].versions[].items[] | "\(.path) \(.sha256) \(.size)"' <<<"$images" >"$work/items"
assert_eq "$(wc -l <"$work/items")" 3 "items (one combined, metadata + squashfs)"
while read -r path sha size; do
	https "/$path" >"$work/item"
	assert_eq "$(status)" 200 "GET /$path"
	assert_eq "$(sha256sum <"$work/item" | cut -d' ' -f1)" "$sha" "sha256 of $path"
	assert_eq "$(stat -c %s "$work/item")" "$size" "size of $path"
done <"$work/items"
combined=$(jq -c ".products[].versions[].items[\"lxd.tar.xz\"] | select(. != null)" <<<"$images")
assert_eq "$(jq -r .combined_squashfs_sha256 <<<"$combined")" "$split" "split fingerprint in the metadata item"
assert_eq "$(jq -r '.products[].versions[].items["lxd_combined.tar.gz"] | select(. != null) | .sha256' <<<"$images")" "$pub" "unified item"
https "/streams/v1/images/$priv/lxd_combined.tar.gz" >/dev/null
assert_eq "$(status)" 404 "private image file"
https "/streams/v1/images/$pub/..%2f..%2fdatabase" >/dev/null
assert_eq "$(status)" 404 "unknown file name"

# --- a real LXD pulls from lodged -----------------------------------------------------------
if [ -S /var/lib/lxd/unix.socket ] && LXD_DIR=/var/lib/lxd timeout 10 lxc info >/dev/null 2>&1; then
	conf=$work/lxc-conf
	mkdir -p "$conf"
	at_exit "LXD_DIR=/var/lib/lxd LXD_CONF=$conf lxc image delete local:$pub >/dev/null 2>&1 || true"
	if LXD_DIR=/var/lib/lxd lxc image info "local:$pub" >/dev/null 2>&1; then
		echo "# LXD already holds the busybox image: not touching it, skipping the copy"
	else
		(
			export LXD_DIR=/var/lib/lxd LXD_CONF=$conf
			lxc remote add lodgehost "$base" --public --accept-certificate >/dev/null ||
				fail "lxc remote add"
			assert_eq "$(lxc image list lodgehost: -c f --format csv | sort | tr '\n' ' ')" \
				"$(printf '%s\n%s\n' "${pub:0:12}" "${split:0:12}" | sort | tr '\n' ' ')" "lxc image list lodgehost:"
			timeout 120 lxc image copy lodgehost:busybox local: >/dev/null || fail "lxc image copy lodgehost:busybox local:"
			assert_eq "$(lxc image info "local:$pub" | sed -n 's/^Fingerprint: //p')" "$pub" "image in LXD"
			lxc image delete "local:$pub" || fail "deleting the copy from LXD"
			# The same tree as a simplestreams remote (LXD checks the server against
			# the certificate kept for the remote).
			mkdir -p "$conf/servercerts"
			cp "$LODGE_DIR/server.crt" "$conf/servercerts/lodgess.crt"
			lxc remote add lodgess "$base" --protocol simplestreams >/dev/null ||
				fail "lxc remote add --protocol simplestreams"
			lxc image list lodgess: -c f --format csv | sort >"$work/ss-list"
			assert_eq "$(tr '\n' ' ' <"$work/ss-list")" \
				"$(printf '%s\n%s\n' "${pub:0:12}" "${split:0:12}" | sort | tr '\n' ' ')" "lxc image list lodgess:"
			timeout 120 lxc image copy lodgess:busybox local: >/dev/null || fail "simplestreams copy (unified)"
			lxc image info "local:$pub" >/dev/null || fail "unified image not in LXD"
			lxc image delete "local:$pub" || fail "deleting the unified copy from LXD"
			if ! lxc image info "local:$split" >/dev/null 2>&1; then
				at_exit "LXD_DIR=/var/lib/lxd LXD_CONF=$conf lxc image delete local:$split >/dev/null 2>&1 || true"
				timeout 120 lxc image copy lodgess:splitbb local: >/dev/null || fail "simplestreams copy (split)"
				lxc image info "local:$split" >/dev/null || fail "split image not in LXD"
				lxc image delete "local:$split" || fail "deleting the split copy from LXD"
			fi
		)
	fi
else
	echo "# no LXD daemon on this host: skipping the copy into LXD"
fi
echo "images-serve: ok"
