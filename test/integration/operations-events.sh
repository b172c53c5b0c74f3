#!/bin/bash
# Operations (list, get, wait, cancel, reaping of none too early) and the events websocket.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd "$PYTHON"
daemon_start

# Listen to events from before the operation starts, as the lxc client does.
"$PYTHON" - "$SOCK" >"$LODGE_DIR/events.json" <<'PY' &
import asyncio, json, sys, websockets
async def main():
    async with websockets.unix_connect(sys.argv[1], "ws://lodge/1.0/events?type=operation") as ws:
        print("ready", flush=True)
        while True:
            ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
            print(json.dumps(ev), flush=True)
            if ev["metadata"]["status_code"] >= 200:
                return
asyncio.run(main())
PY
listener=$!
for _ in $(seq 50); do grep -q ready "$LODGE_DIR/events.json" 2>/dev/null && break; sleep 0.1; done

reply=$(expect_status 202 POST /internal/testing/operations '{"duration_ms":2000}')
op=$(jq -r .operation <<<"$reply")
assert_match "$op" '^/1.0/operations/[0-9a-f-]{36}$' "operation URL"
assert_eq "$(jq -r .type <<<"$reply")" async "async envelope"
assert_eq "$(jq -r .metadata.class <<<"$reply")" task "operation class"
id=${op##*/}

# Listed while running, with recursion as objects.
assert_eq "$(api GET /1.0/operations | jq -r '.metadata.running[0]')" "$op" "running list"
assert_eq "$(api GET '/1.0/operations?recursion=1' | jq -r '.metadata.running[0].id')" "$id" "recursive list"

reply=$(wait_op "$op")
assert_eq "$(jq -r .metadata.status <<<"$reply")" Success "waited status"
assert_eq "$(jq -r .metadata.status_code <<<"$reply")" 200 "waited status_code"
wait $listener || fail "events listener did not see the operation finish"
grep -q '"status_code": 103' "$LODGE_DIR/events.json" || fail "no Running event"
tail -n1 "$LODGE_DIR/events.json" | jq -e --arg id "$id" '.type == "operation" and .metadata.id == $id and .metadata.status == "Success"' >/dev/null ||
	fail "final event wrong: $(tail -n1 "$LODGE_DIR/events.json")"

# Finished operations stay readable for a while.
assert_eq "$(api GET "$op" | jq -r .metadata.status)" Success "finished op readable"

# /wait with a timeout returns the operation still running.
op=$(api POST /internal/testing/operations '{"duration_ms":5000}' | jq -r .operation)
reply=$(expect_status 200 GET "$op/wait?timeout=0.2")
assert_eq "$(jq -r .metadata.status <<<"$reply")" Running "wait timeout"

# Cancel: DELETE, then the operation ends Cancelled.
expect_status 200 DELETE "$op" >/dev/null
reply=$(wait_op "$op")
assert_eq "$(jq -r .metadata.status <<<"$reply")" Cancelled "cancelled status"
expect_status 400 DELETE "$op" >/dev/null

# A failing operation carries its error.
op=$(api POST /internal/testing/operations '{"fail":true}' | jq -r .operation)
reply=$(wait_op "$op")
assert_eq "$(jq -r .metadata.status <<<"$reply")" Failure "failure status"
assert_eq "$(jq -r .metadata.err <<<"$reply")" "Failed as asked" "failure message"

expect_status 404 GET /1.0/operations/00000000-0000-0000-0000-000000000000 >/dev/null

# A client waiting on /wait that goes away does not disturb the daemon.
op=$(api POST /internal/testing/operations '{"duration_ms":300}' | jq -r .operation)
timeout 0.1 curl -s --unix-socket "$SOCK" "http://lodge$op/wait" >/dev/null || true
wait_op "$op" >/dev/null

# An events listener on a bad type is refused; the daemon keeps serving.
"$PYTHON" - "$SOCK" <<'PY' && fail "bad event type accepted"
import asyncio, sys, websockets
async def main():
    async with websockets.unix_connect(sys.argv[1], "ws://lodge/1.0/events?type=bogus") as ws:
        await ws.recv()
try:
    asyncio.run(main())
except Exception:
    sys.exit(1)
PY
expect_status 200 GET /1.0 >/dev/null
echo "PASS: operations and events"
