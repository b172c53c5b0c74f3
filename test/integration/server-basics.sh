#!/bin/bash
# The server endpoints, envelopes and error handling, against a real lodged.
. "$(dirname "$0")/lib.sh"
need_root
daemon_start

# GET / and GET /1.0: the envelope and the fields clients read.
reply=$(expect_status 200 GET /)
assert_eq "$(jq -c .metadata <<<"$reply")" '["/1.0"]' "GET /"
reply=$(expect_status 200 GET /1.0)
assert_eq "$(jq -r .type <<<"$reply")" sync "envelope type"
assert_eq "$(jq -r .status_code <<<"$reply")" 200 "envelope status_code"
assert_eq "$(jq -r .metadata.auth <<<"$reply")" trusted "auth on the unix socket"
assert_eq "$(jq -r .metadata.api_version <<<"$reply")" 1.0 "api_version"
assert_eq "$(jq -r '.metadata.auth_methods[0]' <<<"$reply")" tls "auth_methods"
assert_eq "$(jq -r .metadata.environment.server <<<"$reply")" lodge "environment.server"
assert_eq "$(jq -r .metadata.environment.kernel_version <<<"$reply")" "$(uname -r)" "kernel_version"
fp=$(openssl x509 -in "$LODGE_DIR/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
assert_eq "$(jq -r .metadata.environment.certificate_fingerprint <<<"$reply")" "$fp" "certificate fingerprint"
jq -e '.metadata.api_extensions | index("etag")' <<<"$reply" >/dev/null || fail "api_extensions lacks etag"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode is $(stat -c %a "$SOCK"), expected 660"

# ?project=default is accepted everywhere, any other project is 404.
expect_status 200 GET "/1.0?project=default" >/dev/null
reply=$(expect_status 404 GET "/1.0/operations?project=nope")
assert_eq "$(jq -r .error <<<"$reply")" "Project 'nope' not found" "unknown project"
expect_status 400 GET "/1.0/operations?recursion=7" >/dev/null

# Unknown paths 404, wrong methods 405, both in the error envelope.
reply=$(expect_status 404 GET /1.0/nothing-here)
assert_eq "$(jq -r .type <<<"$reply")" error "404 envelope type"
assert_eq "$(jq -r .error_code <<<"$reply")" 404 "404 error_code"
reply=$(expect_status 405 DELETE /1.0)
assert_eq "$(jq -r .error_code <<<"$reply")" 405 "405 error_code"

# Malformed JSON: 400 naming the problem.
reply=$(expect_status 400 PUT /1.0 '{"config": ')
assert_match "$(jq -r .error <<<"$reply")" "Invalid JSON" "malformed JSON message"
reply=$(expect_status 400 PUT /1.0 '{"config": "x"}')
assert_match "$(jq -r .error <<<"$reply")" "config" "wrong type names the field"

# A 64 MiB garbage body is refused (413) and the daemon keeps serving.
head -c 67108864 /dev/urandom >"$LODGE_DIR/garbage"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X PUT \
	--data-binary @"$LODGE_DIR/garbage" http://lodge/1.0)
assert_eq "$code" 413 "64 MiB body"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST \
	-H 'Transfer-Encoding: chunked' --data-binary @"$LODGE_DIR/garbage" http://lodge/1.0/nope)
assert_eq "$code" 404 "64 MiB chunked body to an unknown path"
rm -f "$LODGE_DIR/garbage"

# A chunked JSON body (the real lxc client sends uploads that way) is decoded.
reply=$(curl -s --unix-socket "$SOCK" -X PATCH -H 'Transfer-Encoding: chunked' \
	--data-binary '{"config":{"user.chunked":"yes"}}' http://lodge/1.0)
assert_eq "$(jq -r .type <<<"$reply")" sync "chunked PATCH"
assert_eq "$(api GET /1.0 | jq -r '.metadata.config["user.chunked"]')" yes "chunked PATCH applied"

# A client that disconnects mid-request, and one that sends a bad chunk, leave the daemon serving.
"$PYTHON" - "$SOCK" <<'PY'
import socket, sys
for payload in (b"PUT /1.0 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{\"config\":",
                b"POST /1.0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"GET /1.0 HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 100000):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(payload)
    s.close()
PY
expect_status 200 GET /1.0 >/dev/null

# Server config: unknown keys, bad values and injected newlines are refused and change nothing.
reply=$(expect_status 400 PATCH /1.0 '{"config":{"no.such.key":"1"}}')
assert_match "$(jq -r .error <<<"$reply")" "no.such.key" "unknown key named"
reply=$(expect_status 400 PATCH /1.0 '{"config":{"images.auto_update_interval":"soon"}}')
assert_match "$(jq -r .error <<<"$reply")" "images.auto_update_interval" "bad value named"
expect_status 400 PATCH /1.0 '{"config":{"user.x":"a\nb"}}' >/dev/null
expect_status 200 PUT /1.0 '{"config":{"user.a":"1","images.auto_update_interval":"12"}}' >/dev/null
reply=$(expect_status 200 GET /1.0)
assert_eq "$(jq -c .metadata.config <<<"$reply")" '{"images.auto_update_interval":"12","user.a":"1"}' "PUT replaced the config"
expect_status 200 PATCH /1.0 '{"config":{"user.a":null,"user.b":"2"}}' >/dev/null
assert_eq "$(api GET /1.0 | jq -c .metadata.config)" '{"images.auto_update_interval":"12","user.b":"2"}' "PATCH merged"

# ETag: a stale If-Match is refused with 412.
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X PUT -H 'If-Match: "stale"' \
	--data-binary '{"config":{}}' http://lodge/1.0)
assert_eq "$code" 412 "stale If-Match"

# The config survives a restart (it lives in the database).
daemon_kill
"$LODGED" --debug --testing >>"$LODGE_DIR/lodged.stderr" 2>&1 &
DAEMON_PID=$!
"$LODGED" waitready --timeout 10 || fail "restart"
assert_eq "$(api GET /1.0 | jq -r '.metadata.config["user.b"]')" 2 "config after restart"

# A second daemon on the same directory refuses to start and leaves the first one serving.
if "$LODGED" >/dev/null 2>&1; then fail "a second lodged started on the same directory"; fi
expect_status 200 GET /1.0 >/dev/null

# lodged shutdown stops it cleanly and removes the socket.
"$LODGED" shutdown --timeout 10 || fail "lodged shutdown"
for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "lodged still running after shutdown"
[ -e "$SOCK" ] && fail "socket left behind"
echo "PASS: server basics"
