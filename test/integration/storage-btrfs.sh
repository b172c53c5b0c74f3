#!/bin/bash
# btrfs pools on loop files lodge creates, end to end with the real `lxc` client: pool
# create/list/info/delete, launch, copy, snapshot/restore, quotas enforced inside an
# unprivileged container, a custom volume attached and written from inside, refusals that
# change nothing, and the pool mounted again after lodged restarts.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox mkfs.btrfs losetup
grep -qw btrfs /proc/filesystems || skip "no btrfs in this kernel"
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR LXD_CONF="$LODGE_DIR/lxc-conf"

# Loop devices backed by this test's files (none may be left at the end).
test_loops() {
	losetup -a 2>/dev/null | grep -F "$LODGE_DIR/" || true
}
# lodged runs in its own mount namespace (ip netns exec): look at its mounts.
lodged_mounts() {
	nsenter -t "$DAEMON_PID" -m cat /proc/self/mounts
}
at_exit loops_cleanup

"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null ||
	fail "building the busybox image"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"

# The driver is advertised; a pool on a loop file lodge creates and sizes.
reply=$(expect_status 200 GET /1.0)
jq -e '.metadata.environment.storage_supported_drivers | map(.Name) | index("btrfs")' \
	<<<"$reply" >/dev/null || fail "btrfs not in storage_supported_drivers"
assert_eq "$(lxc storage create bp btrfs size=1GiB)" "Storage pool bp created" "lxc storage create"
[ -f "$LODGE_DIR/disks/bp.img" ] || fail "no loop file"
assert_eq "$(stat -c %s "$LODGE_DIR/disks/bp.img")" $((1 << 30)) "loop file size"
lodged_mounts | grep -q " $LODGE_DIR/storage-pools/bp btrfs " || fail "pool not mounted"
lxc storage list --format csv | grep -q "^bp,btrfs,$LODGE_DIR/disks/bp.img,,0,CREATED$" ||
	fail "lxc storage list: $(lxc storage list --format csv)"
lxc storage show bp | grep -q "^  size: 1GiB$" || fail "lxc storage show: $(lxc storage show bp)"
lxc storage info bp | grep -q "total space: 1.00GiB" || fail "lxc storage info: $(lxc storage info bp)"
out=$(lxc storage set bp size=2GiB 2>&1) && fail "resized the pool"
assert_match "$out" "cannot be changed yet" "pool resize refused"
lxc storage set bp user.note=x || fail "lxc storage set"
lxc storage unset bp user.note || fail "lxc storage unset"
reply=$(expect_status 200 GET /1.0/storage-pools/bp/resources)
[ "$(jq '.metadata.space.total > 900000000' <<<"$reply")" = true ] || fail "resources: $reply"

# Bad configs are refused and leave nothing: no file, no loop device, no mount.
loops_before=$(test_loops)
out=$(lxc storage create bad btrfs size=1MiB 2>&1) && fail "created a 1MiB btrfs pool"
assert_match "$out" "at least 128MiB" "tiny pool"
out=$(lxc storage create bad btrfs nope=1 2>&1) && fail "accepted an unknown key"
assert_match "$out" "Unknown configuration key 'nope'" "unknown key"
out=$(lxc storage create bad btrfs btrfs.mount_options='ro;x' 2>&1) && fail "accepted bad mount options"
assert_match "$out" "btrfs.mount_options" "bad mount options"
# The kernel refuses the mount option: mkfs ran, the mount failed, everything is undone.
out=$(lxc storage create bad btrfs size=200MiB btrfs.mount_options=nosuchoption 2>&1) &&
	fail "created a pool with a mount option the kernel refuses"
assert_match "$out" "Failed to mount" "failed mount message"
[ ! -e "$LODGE_DIR/disks/bad.img" ] || fail "failed create left its loop file"
[ ! -e "$LODGE_DIR/storage-pools/bad" ] || fail "failed create left its mount point"
assert_eq "$(test_loops)" "$loops_before" "failed create left a loop device"
expect_status 404 GET /1.0/storage-pools/bad >/dev/null
# The same source twice.
out=$(lxc storage create bad btrfs source="$LODGE_DIR/disks/bp.img" 2>&1) && fail "reused a source"
assert_match "$out" "already used by storage pool 'bp'" "source reuse"

# Launch on btrfs: the root is a subvolume snapshot of the image's.
lxc launch busybox c1 -s bp >/dev/null || fail "lxc launch on btrfs"
assert_eq "$(lxc list c1 -c s --format csv)" RUNNING "status after launch"
assert_eq "$(lxc exec c1 -- cat /etc/hostname)" c1 "hostname in the btrfs container"
btrfs subvolume show "$LODGE_DIR/storage-pools/bp/containers/c1" >/dev/null 2>&1 ||
	nsenter -t "$DAEMON_PID" -m btrfs subvolume show "$LODGE_DIR/storage-pools/bp/containers/c1" >/dev/null ||
	fail "c1 is not a subvolume"
lxc exec c1 -- sh -c 'echo one > /root/data' || fail "write in c1"

# In use: the pool cannot go.
out=$(lxc storage delete bp 2>&1) && fail "deleted a pool in use"
assert_match "$out" "in use by: /1.0/instances/c1" "in-use pool message"

# Snapshot and restore.
lxc snapshot c1 s0 || fail "lxc snapshot"
lxc exec c1 -- sh -c 'echo two > /root/data'
lxc stop c1 --force
lxc restore c1 s0 || fail "lxc restore"
lxc start c1
assert_eq "$(lxc exec c1 -- cat /root/data)" one "restored data"

# Copy (with its snapshot), in the same pool: subvolume snapshots.
lxc copy c1 c2 || fail "lxc copy"
lxc start c2
assert_eq "$(lxc exec c2 -- cat /root/data)" one "data in the copy"
assert_eq "$(lxc info c2 | grep -c s0)" 1 "copy has the snapshot"

# Root disk size: a qgroup limit; writing past it fails inside, the host is unaffected.
lxc launch busybox q1 -s bp -d root,size=20MiB >/dev/null || fail "launch with a root size"
if lxc exec q1 -- dd if=/dev/zero of=/root/big bs=1M count=60 2>/dev/null; then
	fail "wrote 60MiB into a 20MiB root"
fi
lxc exec q1 -- rm -f /root/big
sync
lxc exec q1 -- sh -c 'echo small > /root/ok' || fail "small write once space was freed"
lxc exec c1 -- dd if=/dev/zero of=/root/big bs=1M count=60 2>/dev/null || fail "c1 limited by q1's quota"
lxc exec c1 -- rm -f /root/big
# Growing the root disk of the stopped instance lifts the limit to the new size.
lxc stop q1 --force
lxc config device set q1 root size=100MiB || fail "root size change"
lxc start q1
lxc exec q1 -- dd if=/dev/zero of=/root/big bs=1M count=60 2>/dev/null || fail "60MiB into a root grown to 100MiB"
lxc exec q1 -- rm -f /root/big

# Custom volume: create with a size, attach, write from inside the unprivileged container.
lxc storage volume create bp v1 size=30MiB || fail "lxc storage volume create"
lxc storage volume show bp v1 | grep -q "^  size: 30MiB$" || fail "lxc storage volume show: $(lxc storage volume show bp v1)"
out=$(lxc storage volume create bp v1 2>&1) && fail "created v1 twice"
assert_match "$out" "already exists" "duplicate volume"
out=$(lxc storage volume create bp v9 size=lots 2>&1) && fail "accepted a bad size"
assert_match "$out" "size" "bad volume size"
expect_status 404 GET /1.0/storage-pools/bp/volumes/custom/v9 >/dev/null
lxc storage volume list bp --format csv | grep -q "^custom,v1,,filesystem,0$" ||
	fail "lxc storage volume list: $(lxc storage volume list bp --format csv)"
# Devices of a running container are not hot-plugged yet: attach while stopped.
lxc stop c1 c2 --force
lxc storage volume attach bp v1 c1 /mnt/v1 || fail "lxc storage volume attach"
lxc start c1
lxc exec c1 -- sh -c 'echo vol > /mnt/v1/file' || fail "write to the volume inside c1"
assert_eq "$(lxc exec c1 -- stat -c %u /mnt/v1/file)" 0 "owner inside"
# ... and c1 is unprivileged: its root is a high host uid, so the write went through a shift.
assert_match "$(lxc exec c1 -- cat /proc/self/uid_map)" "^ *0 +[1-9][0-9]+ " "c1 is unprivileged"
[ "$(nsenter -t "$DAEMON_PID" -m stat -c %u "$LODGE_DIR/storage-pools/bp/custom/v1/file")" = 0 ] ||
	fail "the volume's file is not stored with unshifted ids"
if lxc exec c1 -- dd if=/dev/zero of=/mnt/v1/big bs=1M count=60 2>/dev/null; then
	fail "wrote 60MiB into a 30MiB volume"
fi
lxc exec c1 -- rm -f /mnt/v1/big
# Exclusive: a second instance cannot start with it while c1 runs.
lxc storage volume attach bp v1 c2 /mnt/v1 || fail "attach to stopped c2"
out=$(lxc start c2 2>&1) && fail "started c2 with v1 while c1 uses it"
assert_match "$out" "in use by running instance 'c1'.*security.shared=true" "exclusive volume message"
assert_eq "$(lxc list c2 -c s --format csv)" STOPPED "c2 after the refused start"
lxc storage volume set bp v1 security.shared=true
lxc start c2 || fail "start with a shared volume"
assert_eq "$(lxc exec c2 -- cat /mnt/v1/file)" vol "shared volume seen by c2"
lxc stop c2 --force
lxc storage volume detach bp v1 c2
# Volume snapshots, restore, copy and move between pools.
lxc storage volume snapshot bp v1 vs0 || fail "volume snapshot"
# Snapshot rename and delete are operations, as the clients expect.
V=/1.0/storage-pools/bp/volumes/custom/v1/snapshots
wait_op "$(api POST $V/vs0 '{"name":"vsx"}' | jq -r .operation)" >/dev/null
assert_eq "$(expect_status 200 GET $V/vsx | jq -r .metadata.name)" vsx "renamed snapshot"
wait_op "$(api POST $V/vsx '{"name":"vs0"}' | jq -r .operation)" >/dev/null
lxc storage volume snapshot bp v1 vs1
wait_op "$(api DELETE $V/vs1 | jq -r .operation)" >/dev/null
expect_status 404 GET $V/vs1 >/dev/null
reply=$(expect_status 400 POST $V '{"name":"../x"}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid snapshot name" "bad snapshot name"
assert_eq "$(api GET "$V?recursion=1" | jq -r '[.metadata[].name] | join(",")')" vs0 "snapshot list"
lxc exec c1 -- sh -c 'echo changed > /mnt/v1/file'
out=$(lxc storage volume restore bp v1 vs0 2>&1) && fail "restored a volume a running instance uses"
assert_match "$out" "in use by running instance 'c1'" "restore refused while running"
assert_eq "$(lxc exec c1 -- cat /mnt/v1/file)" changed "refused restore changed nothing"
lxc stop c1 --force
lxc storage volume restore bp v1 vs0 || fail "volume restore"
lxc start c1
assert_eq "$(lxc exec c1 -- cat /mnt/v1/file)" vol "restored volume"
out=$(lxc storage volume delete bp v1 2>&1) && fail "deleted an attached volume"
assert_match "$out" "in use by: /1.0/instances/c1" "in-use volume message"
lxc stop c1 --force
lxc storage volume detach bp v1 c1
reply=$(expect_status 400 POST /1.0/storage-pools/default/volumes/custom '{"name":"x","source":{"type":"copy","pool":"bp","name":"../v1"}}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid storage volume name" "bad copy source"
reply=$(expect_status 400 POST /1.0/storage-pools/bp/volumes/custom/v1 '{"name":"v1","pool":"../p"}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid storage pool name" "bad move target"
lxc storage volume copy bp/v1 default/v1c || fail "volume copy to dir"
lxc storage volume move bp/v1 default/v1m || fail "volume move to dir"
expect_status 404 GET /1.0/storage-pools/bp/volumes/custom/v1 >/dev/null
lxc storage volume attach default v1m c1 /mnt/m
lxc start c1
assert_eq "$(lxc exec c1 -- cat /mnt/m/file)" vol "moved volume content"
lxc stop c1 --force
lxc storage volume detach default v1m c1

# lodged restarts after the pool was unmounted (as after a reboot): mounted again.
lxc stop q1 --force
daemon_kill
sleep 0.5
assert_eq "$(test_loops)" "" "loop device kept after lodged and its namespace went"
daemon_start
lodged_mounts | grep -q " $LODGE_DIR/storage-pools/bp btrfs " || fail "pool not mounted again"
lxc start c1 || fail "start after restart"
assert_eq "$(lxc exec c1 -- cat /root/data)" one "data after restart"

# Delete everything: the pool's loop device and file go with it.
lxc delete -f c1 c2 q1
lxc storage volume delete default v1c
lxc storage volume delete default v1m
lxc image delete busybox
lxc storage delete bp || fail "lxc storage delete"
[ ! -e "$LODGE_DIR/disks/bp.img" ] || fail "loop file left"
assert_eq "$(test_loops)" "" "loop device left after delete"
lodged_mounts | grep -q "storage-pools/bp" && fail "pool still mounted"
echo OK
