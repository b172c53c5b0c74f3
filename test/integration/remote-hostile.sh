#!/bin/bash
# Hostile network clients: idle TCP and TLS connections, slow headers, garbage TLS records
# and a handshake flood from one address, and trusted clients vanishing mid-websocket.
# Meanwhile the unix socket and a trusted TLS client on another address must be served
# promptly; afterwards lodged's descriptors return to their baseline.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd openssl python3
daemon_start

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d /tmp/lodge-remote.XXXXXX)
at_exit 'rm -rf "$WORK"'
expect_status 200 PATCH /1.0 "{\"config\": {\"core.https_address\": \"127.0.0.1:$PORT\"}}" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 30 -subj /CN=ok \
	-keyout "$WORK/ok.key" -out "$WORK/ok.crt" 2>/dev/null
der=$(openssl x509 -in "$WORK/ok.crt" -outform der | base64 -w0)
expect_status 201 POST /1.0/certificates "{\"type\": \"client\", \"certificate\": \"$der\"}" >/dev/null

fds() {
	ls "/proc/$DAEMON_PID/fd" | wc -l
}
rss_kb() {
	awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status"
}
trusted_get() {
	curl -sk --max-time 5 -o /dev/null -w '%{http_code}' --cert "$WORK/ok.crt" --key "$WORK/ok.key" \
		"https://127.0.0.1:$PORT/1.0"
}
# Warm up (first TLS handshake, lazily built state), then take the baseline.
assert_eq "$(trusted_get)" 200 "trusted client before the attack"
sleep 1
base_fds=$(fds)
base_rss=$(rss_kb)

# The attack comes from 127.0.0.2-4 (hundreds of connections); the trusted client and the
# unix socket are elsewhere.
ATTACKS=
for src in 127.0.0.2 127.0.0.3 127.0.0.4; do
	"$PYTHON" "$(dirname "$0")/remote-attack.py" "$src" 127.0.0.1 "$PORT" 20 >>"$WORK/attack.log" 2>&1 &
	ATTACKS="$ATTACKS $!"
done
at_exit 'kill $ATTACKS 2>/dev/null'
sleep 4
under_attack=$(fds)
echo "descriptors: $base_fds before, $under_attack under attack"
[ "$under_attack" -gt $((base_fds + 150)) ] || fail "the attack did not get through ($under_attack fds, baseline $base_fds)"
[ "$under_attack" -le $((base_fds + 3 * 64 + 10)) ] || fail "more than 64 unauthenticated connections per address: $under_attack fds"

# The unix socket: 100 requests, each timed.
for _ in $(seq 100); do
	curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$SOCK" http://lodge/1.0
done >"$WORK/unix.times"
max=$(sort -n "$WORK/unix.times" | tail -1)
median=$(sort -n "$WORK/unix.times" | sed -n 50p)
echo "unix socket under attack: median ${median}s, max ${max}s"
awk -v m="$max" 'BEGIN { exit !(m < 0.5) }' || fail "a unix socket request took ${max}s under attack"
# A trusted TLS client on another address is served too.
for _ in 1 2 3; do
	assert_eq "$(trusted_get)" 200 "trusted client during the attack"
done

# Trusted clients that vanish mid-websocket (events), with a reset instead of a close.
"$PYTHON" - "$PORT" "$WORK/ok.crt" "$WORK/ok.key" <<'EOF' || fail "websocket vanish client"
import socket, ssl, struct, sys
port, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(crt, key)
for i in range(20):
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw)
    s.send(b"GET /1.0/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    if i % 2:
        s.send(b"\x81\xfe\x10\x00" + b"\0" * 4 + b"x" * 100)  # half a frame, then gone
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
EOF
assert_eq "$(trusted_get)" 200 "trusted client after vanished websockets"

wait $ATTACKS || true
cat "$WORK/attack.log"
assert_match "$(cat "$WORK/attack.log")" "refused" "attack summary"

# Everything the attack opened is closed within the timeouts: back to the baseline.
for _ in $(seq 30); do
	[ "$(fds)" -le "$base_fds" ] && break
	sleep 1
done
assert_eq "$(fds)" "$base_fds" "lodged's descriptors after the attack"
rss=$(rss_kb)
echo "RSS: ${base_rss} kB before, ${rss} kB after"
# (Under ASan freed memory waits in its quarantine: the sanitizer judges leaks there.)
[ -n "${LODGE_SANITIZED:-}" ] || [ "$rss" -lt $((base_rss + 20480)) ] ||
	fail "RSS grew from ${base_rss} kB to ${rss} kB"
expect_status 200 GET /1.0 >/dev/null
assert_eq "$(trusted_get)" 200 "trusted client after the attack"
echo "remote-hostile: ok"
