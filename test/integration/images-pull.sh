#!/bin/bash
# Pulling images: from a second lodged over the LXD protocol (public by alias, private with
# a one-time secret, the certificate pinned), with the real `lxc image copy` both ways
# between the two lodgeds and `lxc init REMOTE:alias` (pulled, cached, then created),
# refresh when the server's alias moves (lxc image refresh and the periodic task), cached
# images expiring after images.remote_cache_expiry; from a simplestreams tree the test
# generates and serves over HTTPS on loopback (unified and split, sha256 checked); and from
# a URL (`lxc image import https://...`), with the server checked against the CA store. A wrong certificate, an unknown
# image or a file that does not match its hash fail with a clear error and store nothing.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc xz gzip sha256sum mksquashfs openssl python3
# The simplestreams server's certificate, which this lodged (only) also trusts as a CA
# (OpenSSL's SSL_CERT_FILE): pulls that pin no certificate are checked against it.
certs=$(mktemp -d /tmp/lodge-test-certs.XXXXXX)
at_exit "rm -rf '$certs'"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/ss.key" -out "$certs/ss.crt" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || fail "openssl"
SSL_CERT_FILE=$certs/ss.crt daemon_start
export LXD_DIR=$LODGE_DIR
work=$LODGE_DIR/work
mkdir -p "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- a second lodged, B, serving over HTTPS ---------------------------------------------------
B=$(mktemp -d /tmp/lodge-test-b.XXXXXX)
at_exit "rm -rf '$B'"
LODGE_DIR=$B "$LODGED" --testing >"$B.log" 2>&1 &
bpid=$!
at_exit "kill $bpid 2>/dev/null; wait $bpid 2>/dev/null; rm -f '$B.log'"
LODGE_DIR=$B "$LODGED" waitready --timeout 10 || fail "second lodged"
bport=$(free_port)
LXD_DIR=$B lxc config set core.https_address "127.0.0.1:$bport" || fail "B https"
bserver=https://127.0.0.1:$bport
for _ in $(seq 50); do curl -sk "$bserver/1.0" >/dev/null && break; sleep 0.1; done
bcert=$(jq -Rs . <"$B/server.crt")

"$LODGE_SRCDIR/images/build-busybox.sh" "$work/busybox.tar.xz" >/dev/null || fail "build-busybox.sh"
pub=$(sha256sum "$work/busybox.tar.xz" | cut -d' ' -f1)
xz -dc "$work/busybox.tar.xz" | gzip -n >"$work/private.tar.gz"
priv=$(sha256sum "$work/private.tar.gz" | cut -d' ' -f1)
LXD_DIR=$B lxc image import "$work/busybox.tar.xz" --alias busybox --public >/dev/null || fail "B import"
LXD_DIR=$B lxc image import "$work/private.tar.gz" --alias secret-bb >/dev/null || fail "B import private"

count_images() { expect_status 200 GET /1.0/images | jq '.metadata | length'; }
del_image() { wait_op "$(expect_status 202 DELETE "/1.0/images/$1" | jq -r .operation)" >/dev/null; }

# pull BODY: POSTs an ImagesPost to A, waits, prints the operation.
pull() {
	local op
	op=$(expect_status 202 POST /1.0/images "$1" | jq -r .operation)
	wait_op "$op" | jq -c .metadata
}

# --- LXD protocol: public by alias, certificate pinned ----------------------------------------
op=$(pull "{\"source\":{\"type\":\"image\",\"mode\":\"pull\",\"server\":\"$bserver\",\"protocol\":\"lxd\",\"alias\":\"busybox\",\"certificate\":$bcert},\"aliases\":[{\"name\":\"from-b\"}],\"auto_update\":true}")
assert_eq "$(jq -r .status <<<"$op")" Success "pull by alias: $op"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$pub" "pulled fingerprint"
img=$(expect_status 200 GET "/1.0/images/$pub")
assert_eq "$(jq -r .metadata.aliases[0].name <<<"$img")" from-b "alias of the pulled image"
assert_eq "$(jq -r .metadata.auto_update <<<"$img")" true "auto_update"
assert_eq "$(jq -r .metadata.update_source.server <<<"$img")" "$bserver" "update_source.server"
assert_eq "$(jq -r .metadata.update_source.alias <<<"$img")" busybox "update_source.alias"
cmp -s "$LODGE_DIR/images/$pub" "$work/busybox.tar.xz" || fail "pulled file differs"
# Pulling what is already here adds nothing.
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"alias\":\"busybox\",\"certificate\":$bcert}}")
assert_eq "$(jq -r .status <<<"$op")" Success "second pull"
assert_eq "$(count_images)" 1 "still one image"

# A private image needs a secret from its owner.
n=$(count_images)
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"fingerprint\":\"$priv\",\"certificate\":$bcert}}")
assert_eq "$(jq -r .status <<<"$op")" Failure "private image without a secret"
assert_match "$(jq -r .err <<<"$op")" "not found" "private image error"
secret=$(LXD_DIR=$B curl -s --unix-socket "$B/unix.socket" -X POST "http://b/1.0/images/$priv/secret" | jq -r .metadata.metadata.secret)
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"fingerprint\":\"$priv\",\"secret\":\"$secret\",\"certificate\":$bcert}}")
assert_eq "$(jq -r .status <<<"$op")" Success "private image with a secret: $op"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$priv" "private fingerprint"
del_image "$priv"

# A certificate that is not the server's is refused before anything is fetched.
othercert=$(jq -Rs . <"$LODGE_DIR/server.crt")
n=$(count_images)
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"alias\":\"busybox\",\"certificate\":$othercert}}")
assert_eq "$(jq -r .status <<<"$op")" Failure "wrong certificate"
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"alias\":\"nope\",\"certificate\":$bcert}}")
assert_match "$(jq -r .err <<<"$op")" "not found" "unknown alias"
assert_eq "$(count_images)" "$n" "failed pulls stored nothing"
assert_eq "$(ls -A "$LODGE_DIR/images" | grep -vc "^[0-9a-f]\{64\}")" 0 "no staging files left"

# --- refresh: the alias moves on the server, the copy follows ---------------------------------
b_alias() { curl -s --unix-socket "$B/unix.socket" -X PUT -d "{\"target\":\"$2\"}" "http://b/1.0/images/aliases/$1" >/dev/null; }
del_image "$pub"
LXD_DIR=$B lxc image alias create moving "$pub" || fail "B alias"
LXD_DIR=$B lxc image edit secret-bb <<<"public: true" || fail "B: make the second image public"
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"alias\":\"moving\",\"certificate\":$bcert},\"aliases\":[{\"name\":\"mine\"}],\"auto_update\":true}")
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$pub" "pulled through the moving alias"
assert_match "$(lxc image refresh mine)" "Image already up to date" "refresh, nothing new"
b_alias moving "$priv"
assert_match "$(lxc image refresh mine)" "Image refreshed successfully" "lxc image refresh"
assert_eq "$(expect_status 200 GET /1.0/images/aliases/mine | jq -r .metadata.target)" "$priv" "the alias follows the refresh"
assert_eq "$(expect_status 200 GET "/1.0/images/$priv" | jq -r .metadata.auto_update)" true "auto_update kept"
expect_status 404 GET "/1.0/images/$pub" >/dev/null
# The periodic task does the same for every auto-update image.
b_alias moving "$pub"
report=$(expect_status 200 POST /internal/testing/images/maintenance '{"update":true}')
assert_eq "$(jq -c .metadata.refreshed <<<"$report")" "[\"$priv\"]" "periodic refresh"
assert_eq "$(expect_status 200 GET /1.0/images/aliases/mine | jq -r .metadata.target)" "$pub" "alias after the periodic refresh"
report=$(expect_status 200 POST /internal/testing/images/maintenance '{"update":true}')
assert_eq "$(jq -c .metadata.refreshed <<<"$report")" "[]" "nothing more to refresh"

# --- the real client, both ways ---------------------------------------------------------------
del_image "$pub"
aport=$(free_port)
lxc config set core.https_address "127.0.0.1:$aport" || fail "A https"
export LXD_CONF=$work/lxc-conf
mkdir -p "$LXD_CONF"
lxc remote add lodgeb "$bserver" --public --accept-certificate >/dev/null || fail "remote add B"
lxc remote add lodgea "https://127.0.0.1:$aport" --public --accept-certificate >/dev/null || fail "remote add A"
lxc image copy lodgeb:busybox local: --alias copied >/dev/null || fail "lxc image copy lodgeb:busybox local:"
assert_eq "$(lxc image info copied | sed -n 's/^Fingerprint: //p')" "$pub" "copied into A"
lxc image edit copied <<<"public: true" || fail "make the copy public"
LXD_DIR=$B lxc image delete busybox || fail "delete from B"
LXD_DIR=$B lxc image copy lodgea:copied local: --alias back >/dev/null || fail "lxc image copy lodgea:copied local: (into B)"
assert_eq "$(LXD_DIR=$B lxc image info back | sed -n 's/^Fingerprint: //p')" "$pub" "copied back into B"
# `lxc init REMOTE:alias` pulls the image, cached, then creates the instance from it.
LXD_DIR=$B lxc image edit back <<<"public: true" || fail "make B's copy public"
lxc image delete copied || fail "delete A's copy"
lxc init lodgeb:back r1 >/dev/null || fail "lxc init lodgeb:back r1"
img=$(expect_status 200 GET "/1.0/images/$pub")
assert_eq "$(jq -r .metadata.cached <<<"$img")" true "image pulled for an instance is cached"
assert_eq "$(jq -r .metadata.auto_update <<<"$img")" true "cached images auto-update (images.auto_update_cached)"
assert_eq "$(jq -r .metadata.update_source.server <<<"$img")" "$bserver" "cached image's source"
assert_eq "$(lxc config get r1 volatile.base_image)" "$pub" "instance made from the pulled image"
assert_eq "$(lxc config get r1 image.os)" busybox "image properties on the instance"
lxc delete r1 >/dev/null || fail "delete r1"
# An unused cached image goes after images.remote_cache_expiry days (10 by default).
report=$(expect_status 200 POST /internal/testing/images/maintenance "{\"now\":$(($(date +%s) + 9 * 86400))}")
assert_eq "$(jq -c .metadata.expired <<<"$report")" "[]" "cached image kept within the expiry"
lxc config set images.remote_cache_expiry 2
report=$(expect_status 200 POST /internal/testing/images/maintenance "{\"now\":$(($(date +%s) + 3 * 86400))}")
assert_eq "$(jq -c .metadata.expired <<<"$report")" "[\"$pub\"]" "cached image expired"
expect_status 404 GET "/1.0/images/$pub" >/dev/null

# --- simplestreams: a tree this test makes, over HTTPS on loopback ----------------------------
ss=$work/ss
mkdir -p "$ss/streams/v1" "$ss/files"
cp "$work/busybox.tar.xz" "$ss/files/combined.tar.xz"
split=$(split_image_make "$work/busybox.tar.xz" "$ss/files/lxd.tar.xz" "$ss/files/root.squashfs" splitos)
printf 'corrupt' >"$ss/files/bad.tar.xz"
cp "$work/private.tar.gz" "$ss/files/liar.tar.gz"
cp "$work/private.tar.gz" "$ss/files/direct.tar.gz"
python3 - "$ss" "$pub" "$split" <<'PY'
import hashlib, json, os, sys
root, pub, split = sys.argv[1:]
def item(name, ftype, **extra):
    p = os.path.join(root, "files", name)
    d = {"ftype": ftype, "path": "files/" + name, "size": os.path.getsize(p),
         "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
    d.update(extra)
    return d
bad = item("bad.tar.xz", "lxd_combined.tar.gz")
bad["sha256"] = "0" * 64
products = {
  "busybox:1:amd64:default": {"aliases": "bb,bb/1", "arch": "amd64", "os": "BusyBox", "release": "1",
      "release_title": "1", "versions": {
          "20240101_0000": {"items": {"lxd_combined.tar.gz": item("combined.tar.xz", "lxd_combined.tar.gz")}}}},
  "busybox:1:arm64:default": {"aliases": "bb", "arch": "arm64", "os": "BusyBox", "release": "1",
      "release_title": "1", "versions": {"20250101_0000": {"items": {"lxd_combined.tar.gz": bad}}}},
  "splitos:1:amd64:default": {"aliases": "split", "arch": "amd64", "os": "splitos", "release": "1",
      "release_title": "1", "versions": {
          "20230101_0000": {"items": {"lxd_combined.tar.gz": bad}},
          "20240101_0000": {"items": {
              "lxd.tar.xz": item("lxd.tar.xz", "lxd.tar.xz", combined_squashfs_sha256=split),
              "squashfs": item("root.squashfs", "squashfs")}}}},
  "liar:1:amd64:default": {"aliases": "liar", "arch": "amd64", "os": "l", "release": "1",
      "release_title": "1", "versions": {"20240101_0000": {"items": {"lxd_combined.tar.gz":
          dict(item("liar.tar.gz", "lxd_combined.tar.gz"), size=1000)}}}},
  "corrupt:1:amd64:default": {"aliases": "corrupt", "arch": "amd64", "os": "c", "release": "1",
      "release_title": "1", "versions": {"20240101_0000": {"items": {"lxd_combined.tar.gz": bad}}}},
}
json.dump({"content_id": "images", "datatype": "image-downloads", "format": "products:1.0",
           "products": products}, open(os.path.join(root, "streams/v1/images.json"), "w"))
json.dump({"format": "index:1.0", "index": {"images": {"datatype": "image-downloads",
           "path": "streams/v1/images.json", "format": "products:1.0",
           "products": list(products)}}}, open(os.path.join(root, "streams/v1/index.json"), "w"))
PY
sport=$(free_port)
(cd "$ss" && exec python3 -c '
import http.server, ssl, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        # LXD "direct" URL protocol: headers name the image and where it is.
        if self.path == "/direct":
            self.send_response(200)
            self.send_header("LXD-Image-Hash", sys.argv[4])
            self.send_header("LXD-Image-URL", "https://127.0.0.1:%s/files/direct.tar.gz" % sys.argv[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        return super().do_GET()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True); srv.serve_forever()' "$sport" "$certs/ss.crt" "$certs/ss.key" "$priv" >/dev/null 2>&1) &
spid=$!
at_exit "kill $spid 2>/dev/null || true"
sserver=https://127.0.0.1:$sport
for _ in $(seq 50); do curl -sk "$sserver/streams/v1/index.json" >/dev/null && break; sleep 0.1; done
sscert=$(jq -Rs . <"$certs/ss.crt")

op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$sserver\",\"protocol\":\"simplestreams\",\"alias\":\"bb/1\",\"certificate\":$sscert}}")
assert_eq "$(jq -r .status <<<"$op")" Success "simplestreams unified: $op"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$pub" "simplestreams unified fingerprint (this host's arch)"
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$sserver\",\"protocol\":\"simplestreams\",\"alias\":\"split\",\"certificate\":$sscert}}")
assert_eq "$(jq -r .status <<<"$op")" Success "simplestreams split: $op"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$split" "newest version, split"
[ -f "$LODGE_DIR/images/$split.rootfs" ] || fail "split rootfs stored"
n=$(count_images)
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$sserver\",\"protocol\":\"simplestreams\",\"alias\":\"corrupt\",\"certificate\":$sscert}}")
assert_eq "$(jq -r .status <<<"$op")" Failure "corrupt item"
assert_match "$(jq -r .err <<<"$op")" "does not match its sha256" "hash mismatch message"
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$sserver\",\"protocol\":\"simplestreams\",\"alias\":\"liar\",\"certificate\":$sscert}}")
assert_match "$(jq -r .err <<<"$op")" "larger than 1000 bytes" "a file longer than announced is cut off"
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$sserver\",\"protocol\":\"simplestreams\",\"alias\":\"nope\",\"certificate\":$sscert}}")
assert_match "$(jq -r .err <<<"$op")" "has no image 'nope'" "unknown simplestreams alias"
# Without a pinned certificate the server must pass the CA check: B's self-signed one does
# not, the simplestreams server's (in this lodged's CA file) does.
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$bserver\",\"alias\":\"back\"}}")
assert_eq "$(jq -r .status <<<"$op")" Failure "self-signed server without a pinned certificate"
assert_eq "$(count_images)" "$n" "failed pulls stored nothing"
op=$(pull "{\"source\":{\"type\":\"image\",\"server\":\"$sserver\",\"protocol\":\"simplestreams\",\"alias\":\"bb\"}}")
assert_eq "$(jq -r .status <<<"$op")" Success "server checked against the CA store: $op"

# --- lxc image import https://... (the "direct" URL protocol) ---------------------------------
op=$(pull "{\"source\":{\"type\":\"url\",\"url\":\"$sserver/direct\"},\"aliases\":[{\"name\":\"direct\"}]}")
assert_eq "$(jq -r .status <<<"$op")" Success "URL import: $op"
assert_eq "$(jq -r .metadata.fingerprint <<<"$op")" "$priv" "URL import fingerprint"
assert_eq "$(expect_status 200 GET /1.0/images/aliases/direct | jq -r .metadata.target)" "$priv" "URL import alias"
del_image "$priv"
out=$(lxc image import "$sserver/direct" --alias direct2 2>&1) || fail "lxc image import URL: $out"
assert_eq "$(expect_status 200 GET /1.0/images/aliases/direct2 | jq -r .metadata.target)" "$priv" "lxc image import URL"
expect_status 400 POST /1.0/images '{"source":{"type":"url","url":"http://insecure/"}}' >/dev/null
assert_eq "$(ls -A "$LODGE_DIR/images" | grep -vc "^[0-9a-f]\{64\}\(\.rootfs\)\?$")" 0 "no staging files left"
echo "images-pull: ok"
