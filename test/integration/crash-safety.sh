#!/bin/bash
# lodged SIGKILLed in the middle of a create, a copy and a delete, at several moments each:
# after every restart each instance the API lists is whole (its volume and driver state
# exist and it starts), every volume and driver directory belongs to a listed instance,
# and the interrupted name can be used again. Then a host reboot (lodged and every container
# killed at once): boot.autostart and the last power state decide what comes back.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR
pool=$LODGE_DIR/storage-pools/default/containers

"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null ||
	fail "building the busybox image"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"
lxc profile device remove default eth0 >/dev/null 2>&1 || true

# A source big enough that copying it takes a while.
lxc launch busybox src >/dev/null || fail "launch src"
lxc exec src -- dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null || fail "fill src"
lxc stop -f src || fail "stop src"

# Every listed instance is whole and starts; nothing on disk is unowned.
check_whole() {
	local what=$1 names n d
	names=$(lxc list --format csv -c n) || fail "$what: list after restart"
	for n in $names; do
		[ -d "$pool/$n" ] || fail "$what: '$n' is listed but has no volume"
		[ -d "$LODGE_DIR/containers/$n" ] || fail "$what: '$n' has no driver state"
		lxc start "$n" || fail "$what: '$n' does not start"
		assert_eq "$(lxc exec "$n" -- cat /etc/hostname)" "$n" "$what: '$n' runs"
		lxc stop -f "$n" || fail "$what: '$n' does not stop"
	done
	for d in "$pool"/* "$LODGE_DIR"/containers/*; do
		[ -d "$d" ] || continue
		n=$(basename "$d")
		printf '%s\n' $names | grep -qx "$n" || fail "$what: '$d' belongs to no instance"
	done
}

# crash_during WHAT DELAY CMD...: runs CMD in the background, kills lodged after DELAY
# seconds, restarts it and checks.
crash_during() {
	local what=$1 delay=$2
	shift 2
	("$@" >/dev/null 2>&1 &)
	sleep "$delay"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	daemon_start
	check_whole "$what after ${delay}s"
}

for delay in 0.05 0.2 0.5 1; do
	crash_during copy "$delay" lxc copy src dst
	lxc delete -f dst >/dev/null 2>&1 || true
	crash_during create "$delay" lxc init busybox new
	lxc delete -f new >/dev/null 2>&1 || true
	lxc copy src victim >/dev/null || fail "copy for the delete case"
	crash_during delete "$delay" lxc delete victim
	lxc delete -f victim >/dev/null 2>&1 || true
done

# A host reboot: lodged and every container go down at once. On the next start, what ran
# comes back (volatile.last_state.power), boot.autostart=false stays down, and
# boot.autostart=true comes back even though it was stopped.
lxc launch busybox ran >/dev/null || fail "launch ran"
lxc launch busybox pinned-off >/dev/null || fail "launch pinned-off"
lxc config set pinned-off boot.autostart false || fail "set boot.autostart false"
lxc init busybox pinned-on >/dev/null || fail "init pinned-on"
lxc config set pinned-on boot.autostart true || fail "set boot.autostart true"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
for c in ran pinned-off; do
	ip netns exec "$NETNS" lxc-stop -P "$LODGE_DIR/containers" -n "$c" -k || fail "power cut of $c"
done
daemon_start
for _ in $(seq 100); do
	[ "$(lxc list ran -c s --format csv)" = RUNNING ] &&
		[ "$(lxc list pinned-on -c s --format csv)" = RUNNING ] && break
	sleep 0.1
done
assert_eq "$(lxc list ran -c s --format csv)" RUNNING "what ran before the reboot"
assert_eq "$(lxc list pinned-on -c s --format csv)" RUNNING "boot.autostart=true"
assert_eq "$(lxc list pinned-off -c s --format csv)" STOPPED "boot.autostart=false"
assert_eq "$(lxc exec ran -- cat /etc/hostname)" ran "exec after the reboot"
lxc delete -f ran pinned-on pinned-off || fail "delete the reboot set"

# The source survived all of it, data included.
assert_eq "$(lxc start src && lxc exec src -- stat -c %s /big)" 67108864 "src after the crashes"
lxc delete -f src || fail "delete src"
check_whole "the end"
# Some crash must have landed mid-operation, or this proved nothing.
swept=$(cat "$LODGE_DIR"/logs/lodged.log* 2>/dev/null | grep -c "no instance owns it" || true)
[ "$swept" -gt 0 ] || fail "no crash interrupted an operation"
echo "leftovers swept after the crashes: $swept"
echo "PASS: crash-safety"
