#!/bin/bash
# pylxd 2.2 (Debian's python3-pylxd), unchanged: it speaks /1.0/containers, waits through
# /1.0/operations/<id>/wait, and never opens exec's control stream.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd busybox
"$PYTHON" -c 'import pylxd' 2>/dev/null || skip "needs python3-pylxd"
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR

"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null || fail "image build"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"

"$PYTHON" - <<'PY' || fail "pylxd scenario"
import sys
import pylxd

def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)

client = pylxd.Client()
check(client.trusted, "client trusted on the unix socket")
c = client.containers.create({"name": "py1", "source": {"type": "image", "alias": "busybox"}},
                             wait=True)
check(c.name == "py1", "created name")
c.start(wait=True)
c = client.containers.get("py1")
check(c.status == "Running", "status after start: %s" % c.status)
check([x.name for x in client.containers.all()] == ["py1"], "containers.all")

res = c.execute(["sh", "-c", "echo out; echo err >&2; exit 3"])
check(tuple(res)[:3] == (3, "out\n", "err\n"), "execute: %r" % (tuple(res),))

c.files.put("/root/py.txt", b"from pylxd\n")
check(c.files.get("/root/py.txt") == b"from pylxd\n", "files.get")

c.stop(wait=True)
c = client.containers.get("py1")
check(c.status == "Stopped", "status after stop: %s" % c.status)
c.delete(wait=True)
check(client.containers.all() == [], "deleted")
PY
echo "PASS: containers with pylxd"
