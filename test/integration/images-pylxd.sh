#!/bin/bash
# pylxd 2.2 on images: upload (public), alias add/get/delete, list, property save, export
# (the same bytes), delete.
. "$(dirname "$0")/lib.sh"
need_root
"$PYTHON" -c 'import pylxd' 2>/dev/null || skip "no python3-pylxd"
daemon_start
"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/bb.tar.xz" >/dev/null || fail "build-busybox.sh"
out=$(LXD_DIR=$LODGE_DIR "$PYTHON" -W ignore - "$LODGE_DIR/bb.tar.xz" <<'PY'
import sys, pylxd
c = pylxd.Client()
data = open(sys.argv[1], "rb").read()
img = c.images.create(data, public=True, wait=True)
assert img.public, "public"
img.add_alias("pyalias", "desc")
assert c.images.get_by_alias("pyalias").fingerprint == img.fingerprint, "get_by_alias"
assert [i.fingerprint for i in c.images.all()] == [img.fingerprint], "all"
img.properties["x"] = "y"
img.save(wait=True)
assert c.images.get(img.fingerprint).properties.get("x") == "y", "save"
assert img.export().read() == data, "export"
img.delete_alias("pyalias")
img.delete(wait=True)
assert c.images.all() == [], "delete"
print("ok")
PY
) || fail "pylxd: $out"
assert_eq "$out" ok "pylxd images"
echo "images-pylxd: ok"
