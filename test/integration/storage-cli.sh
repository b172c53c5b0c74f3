#!/bin/bash
# `lodge storage ...` and `lodge storage volume ...`: the same commands as lxc's, through
# the REST API, on dir and btrfs pools; refusals come back as the server's messages.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mkfs.btrfs btrfs losetup
grep -qw btrfs /proc/filesystems || skip "no btrfs in this kernel"
daemon_start
L() { LODGE_DIR=$LODGE_DIR "$LODGE" "$@"; }
at_exit loops_cleanup

assert_eq "$(L storage create p1 dir)" "Storage pool p1 created" "create dir"
assert_eq "$(L storage create b1 btrfs size=300MiB)" "Storage pool b1 created" "create btrfs"
# Without a size the loop file gets LXD's default (5 to 30 GiB, sparse), recorded in the config.
L storage create b2 btrfs source="$LODGE_DIR/b2.img" >/dev/null
assert_match "$(L storage show b2 --format json | jq -r '.config.size')" "^([5-9]|[12][0-9]|30)GiB$" "default size"
assert_eq "$(stat -c %s "$LODGE_DIR/b2.img")" \
	$(($(L storage show b2 --format json | jq -r '.config.size' | tr -d 'GiB') << 30)) "default size of the file"
L storage delete b2 >/dev/null
[ ! -e "$LODGE_DIR/b2.img" ] || fail "b2's loop file left"
L storage list --format csv | grep -q "^b1,btrfs,$LODGE_DIR/disks/b1.img,,0,CREATED$" ||
	fail "storage list: $(L storage list --format csv)"
L storage info b1 | grep -q "total space: 300.00MiB" || fail "storage info: $(L storage info b1)"
L storage set b1 user.x=1
L storage set b1 user.y 2
assert_eq "$(L storage show b1 --format json | jq -c '.config | [.["user.x"], .["user.y"]]')" '["1","2"]' "storage set"
L storage unset b1 user.x
assert_eq "$(L storage show b1 --format json | jq -r '.config["user.x"]')" null "storage unset"
out=$(L storage set b1 nope=1 2>&1) && fail "set an unknown key"
assert_match "$out" "Unknown configuration key 'nope'" "unknown key"
out=$(L storage create bad zfs 2>&1) && fail "created a zfs pool"
assert_match "$out" "'zfs' is not supported" "unknown driver"
assert_eq "$(L storage show local:b1 --format json | jq -r .driver)" btrfs "local: remote prefix"
out=$(L storage show elsewhere:b1 2>&1) && fail "accepted an unknown remote"
assert_match "$out" "remote \"elsewhere\" doesn't exist" "unknown remote"
out=$(L storage show ../x 2>&1) && fail "accepted a bad name"
assert_match "$out" "Invalid storage pool name" "bad name"

# Volumes: create, list, set, snapshot, restore, copy and move between pools.
assert_eq "$(L storage volume create b1 v1 size=10MiB)" "Storage volume v1 created" "volume create"
L storage volume list b1 --format csv | grep -q "^custom,v1,,filesystem,0$" ||
	fail "volume list: $(L storage volume list b1 --format csv)"
L storage volume set b1 v1 user.a b
assert_eq "$(L storage volume show b1 v1 --format json | jq -r '.config["user.a"]')" b "volume set"
L storage volume unset b1 v1 user.a
L storage volume snapshot b1 v1 s0
L storage volume snapshot b1 v1
assert_eq "$(api GET /1.0/storage-pools/b1/volumes/custom/v1/snapshots | jq -r '.metadata | map(split("/") | last) | join(",")')" \
	"s0,snap0" "volume snapshots"
L storage volume restore b1 v1 s0 || fail "volume restore"
out=$(L storage volume restore b1 v1 nope 2>&1) && fail "restored a missing snapshot"
assert_match "$out" "not found" "missing snapshot"
assert_eq "$(L storage volume copy b1/v1 p1/v2)" "Storage volume b1/v1 copied to p1/v2" "volume copy"
assert_eq "$(api GET /1.0/storage-pools/p1/volumes/custom/v2/snapshots | jq -r '.metadata | length')" 2 "copy has the snapshots"
L storage volume copy b1/v1 p1/v4 --volume-only
assert_eq "$(api GET /1.0/storage-pools/p1/volumes/custom/v4/snapshots | jq -r '.metadata | length')" 0 "--volume-only"
assert_eq "$(L storage volume move b1/v1 p1/v3)" "Storage volume b1/v1 moved to p1/v3" "volume move"
expect_status 404 GET /1.0/storage-pools/b1/volumes/custom/v1 >/dev/null
L storage volume move p1/v3 p1/v5
expect_status 200 GET /1.0/storage-pools/p1/volumes/custom/v5 >/dev/null

# Attach and detach edit the instance's devices; the volume is then in use.
op=$(api POST /1.0/instances '{"name":"c1","source":{"type":"none"}}' | jq -r .operation)
wait_op "$op" >/dev/null
L storage volume attach p1 v5 c1 /mnt/data
assert_eq "$(api GET /1.0/instances/c1 | jq -cS '.metadata.devices.v5')" \
	'{"path":"/mnt/data","pool":"p1","source":"v5","type":"disk"}' "attach"
out=$(L storage volume delete p1 v5 2>&1) && fail "deleted an attached volume"
assert_match "$out" "in use by: /1.0/instances/c1" "in use"
out=$(L storage volume attach p1 v5 c1 /mnt/other 2>&1) && fail "attached twice under one name"
assert_match "$out" "already exists" "duplicate device"
L storage volume detach p1 v5 c1
assert_eq "$(api GET /1.0/instances/c1 | jq -c '.metadata.devices.v5')" null "detach"
op=$(api DELETE /1.0/instances/c1 | jq -r .operation)
wait_op "$op" >/dev/null

for v in v2 v4 v5; do L storage volume delete p1 "$v" >/dev/null; done
# Debris of an unpack interrupted by a crash (a subvolume) does not keep the pool.
btrfs -q subvolume create "$LODGE_DIR/storage-pools/b1/images/.unpack-debris" >/dev/null ||
	fail "making debris"
assert_eq "$(L storage delete b1)" "Storage pool b1 deleted" "delete btrfs"
L storage delete p1 >/dev/null
[ ! -e "$LODGE_DIR/disks/b1.img" ] || fail "loop file left"
[ -z "$(losetup -a | grep -F "$LODGE_DIR/")" ] || fail "loop device left"
echo OK
