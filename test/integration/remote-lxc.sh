#!/bin/bash
# Two lodged on loopback ports, joined with trust tokens: the real lxc client and lodge
# add the second one as a remote, then image import, launch, list, exec (websockets over
# TLS), file transfer and delete run across; revoking the certificate ends it.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox python3
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
daemon_start --no-default-network

free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
WORK=$(mktemp -d /tmp/lodge-remote.XXXXXX)
at_exit 'rm -rf "$WORK"'

# The second daemon, "b".
B_DIR=$(mktemp -d /tmp/lodge-test.XXXXXX)
at_exit 'LODGE_DIR=$B_DIR state_cleanup'
LODGE_DIR=$B_DIR "$LODGED" --debug --testing --no-default-network >>"$B_DIR/lodged.stderr" 2>&1 &
B_PID=$!
at_exit 'kill $B_PID 2>/dev/null; wait $B_PID 2>/dev/null'
LODGE_DIR=$B_DIR "$LODGED" waitready --timeout 10 || fail "second lodged did not become ready"
B_PORT=$(free_port)
curl -sf --unix-socket "$B_DIR/unix.socket" -X PATCH -H 'Content-Type: application/json' \
	--data-binary "{\"config\": {\"core.https_address\": \"127.0.0.1:$B_PORT\"}}" http://lodge/1.0 >/dev/null ||
	fail "core.https_address on b"
b_fp=$(openssl x509 -in "$B_DIR/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)

# lxc: local is the first daemon (unix socket), b joins with a token.
export LXD_DIR=$LODGE_DIR LXD_CONF=$WORK/lxc
token=$(LXD_DIR=$B_DIR lxc config trust add --name lxc-client -q) || fail "token on b"
lxc remote add b "$token" >/dev/null || fail "lxc remote add b TOKEN"
assert_match "$(lxc info b:)" "certificate_fingerprint: $b_fp" "lxc info b: shows b's certificate"

"$LODGE_SRCDIR/images/build-busybox.sh" "$WORK/busybox.tar.xz" >/dev/null || fail "building the busybox image"
lxc image import "$WORK/busybox.tar.xz" b: --alias busybox >/dev/null || fail "image import over TLS"
assert_eq "$(lxc image list b: -c l --format csv)" busybox "image on b"
[ -z "$(lxc image list -c l --format csv)" ] || fail "the image landed on local"

lxc launch b:busybox b:c1 >/dev/null || fail "lxc launch on b"
assert_eq "$(lxc list b: -c ns --format csv)" "c1,RUNNING" "lxc list b:"
[ -z "$(lxc list -c n --format csv)" ] || fail "c1 appears on local"
assert_eq "$(lxc exec b:c1 -- cat /etc/hostname)" c1 "exec over TLS"
assert_eq "$(echo piped | lxc exec b:c1 -- cat)" piped "exec stdin over TLS"
set +e
lxc exec b:c1 -- sh -c 'exit 5'
rc=$?
set -e
assert_eq "$rc" 5 "exec exit code over TLS"
echo remote-data >"$WORK/f.txt"
lxc file push "$WORK/f.txt" b:c1/root/f.txt || fail "file push over TLS"
assert_eq "$(lxc exec b:c1 -- cat /root/f.txt)" remote-data "pushed file"
lxc file pull b:c1/root/f.txt "$WORK/back.txt" || fail "file pull over TLS"
assert_eq "$(cat "$WORK/back.txt")" remote-data "pulled file"

# lodge joins b with a token of its own, and talks to it as its default remote.
export LODGE_CONF=$WORK/lodge
token=$(LXD_DIR=$B_DIR lxc config trust add --name lodge-client -q)
"$LODGE" remote add b "$token" >/dev/null || fail "lodge remote add b TOKEN"
[ -f "$LODGE_CONF/client.crt" ] && [ -f "$LODGE_CONF/servercerts/b.crt" ] || fail "lodge client files"
assert_match "$("$LODGE" remote list --format csv)" "^b,https://127.0.0.1:$B_PORT,lxd,tls" "lodge remote list"
# Events over TLS through "b:" (cli_target), and an unknown remote.
out=$("$LODGE" monitor nope: 2>&1) && fail "monitor of an unknown remote worked"
assert_match "$out" 'The remote "nope" doesn.t exist' "unknown remote"
"$LODGE" monitor b: --type=lifecycle --format json >"$WORK/events.json" 2>&1 &
MON=$!
at_exit 'kill $MON 2>/dev/null'
sleep 1
lxc config set b:c1 user.seen=yes || fail "lxc config set over TLS"
for _ in $(seq 50); do
	grep -q instance-updated "$WORK/events.json" && break
	sleep 0.1
done
kill $MON
grep -q '"action":"instance-updated"' "$WORK/events.json" || fail "no lifecycle event through lodge monitor b: ($(cat "$WORK/events.json"))"
"$LODGE" remote switch b
assert_eq "$("$LODGE" remote get-default)" b "get-default"
assert_match "$("$LODGE" info)" "certificate_fingerprint: $b_fp" "lodge info through the default remote"
assert_match "$("$LODGE" operation list --format csv; echo end)" "end" "lodge operation list over TLS"
# A different server at the remote's address is refused (pinned certificate).
cp "$LODGE_DIR/server.crt" "$LODGE_CONF/servercerts/b.crt"
out=$("$LODGE" info 2>&1) || true
assert_match "$out" "expected" "a changed server certificate is refused"
"$LODGE" remote switch local
assert_match "$("$LODGE" info)" "certificate_fingerprint: $(openssl x509 -in "$LODGE_DIR/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)" "local again"
"$LODGE" remote rename b bb
"$LODGE" remote remove bb
[ ! -f "$LODGE_CONF/servercerts/bb.crt" ] || fail "remove leaves the server certificate"

lxc delete -f b:c1 || fail "delete over TLS"
assert_eq "$(lxc list b: -c n --format csv)" "" "c1 gone"

# Revoked: the lxc client is refused from now on.
fp=$(curl -sf --unix-socket "$B_DIR/unix.socket" "http://lodge/1.0/certificates?recursion=1" | jq -r '.metadata[] | select(.name == "lxc-client") | .fingerprint')
curl -sf --unix-socket "$B_DIR/unix.socket" -X DELETE "http://lodge/1.0/certificates/$fp" >/dev/null
out=$(lxc list b: 2>&1) && fail "lxc list works after revocation"
assert_match "$out" "not authorized" "revoked"
echo "remote-lxc: ok"
