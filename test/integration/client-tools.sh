#!/bin/bash
# The lodge CLI, and the real lxc client's server commands, against a running lodged.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc
daemon_start

# lxc info prints lodge's server info (the issue's acceptance scenario).
out=$(LXD_DIR=$LODGE_DIR lxc info) || fail "lxc info"
assert_match "$out" "server: lodge" "lxc info server"
assert_match "$out" "auth: trusted" "lxc info auth"
assert_match "$(LXD_DIR=$LODGE_DIR lxc version)" "Server version: " "lxc version"
LXD_DIR=$LODGE_DIR lxc info --resources | grep -q "^CPU" || fail "lxc info --resources"

# lodge version / info / operation / monitor
assert_match "$("$LODGE" version)" "Server version: " "lodge version"
assert_eq "$("$LODGE" info --format json | jq -r .environment.server)" lodge "lodge info json"
"$LODGE" info | grep -q "^environment:" || fail "lodge info yaml"
"$LODGE" info --resources | grep -qi "cpu" || fail "lodge info --resources"

"$LODGE" monitor --type operation --format json >"$LODGE_DIR/monitor.out" 2>&1 &
mon=$!
sleep 0.5
op=$(api POST /internal/testing/operations '{"duration_ms":200}' | jq -r .operation)
id=${op##*/}
"$LODGE" operation list | grep -q "$id" || fail "lodge operation list"
"$LODGE" operation show "$id" | grep -q "Testing operation" || fail "lodge operation show"
wait_op "$op" >/dev/null
sleep 0.3
kill -INT "$mon" 2>/dev/null || true
wait "$mon" 2>/dev/null || true
grep -q "$id" "$LODGE_DIR/monitor.out" || fail "lodge monitor saw no event: $(cat "$LODGE_DIR/monitor.out")"
"$LODGE" operation show 00000000-0000-0000-0000-000000000000 2>/dev/null && fail "unknown operation shown"
echo "PASS: client tools"
