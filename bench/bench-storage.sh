#!/bin/bash
# bench/bench-storage.sh: launch and instance copy on btrfs (and launch on dir), lodged
# against LXD 5.0 in the same run when it is running here, both through the real `lxc`.
#
#   bench/bench-storage.sh [BUILD_DIR] [ROUNDS]
#
# Each daemon gets a btrfs pool "bpool" on a 2 GiB loop file (`lxc storage create bpool
# btrfs size=2GiB`), removed at the end (on LXD only when this script created it). Launch:
# create + start from a cached busybox image, until RUNNING. Copy: `lxc copy` of a stopped
# instance holding 64 MiB of data. Prints the median in ms of ROUNDS runs (default 10) and,
# with LXD, the ratio LXD/lodged. The issue's target: btrfs launch and copy at least 2x
# faster than LXD.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
rounds=${2:-10}
lxd_dir=/var/lib/lxd

dir=$(mktemp -d /tmp/lodge-bench.XXXXXX)
chmod 711 "$dir"
lxd_pool_made=
cleanup() {
	local n
	LXD_DIR=$dir lxc list --format csv -c n 2>/dev/null | xargs -r -n1 env LXD_DIR="$dir" lxc delete -f >/dev/null 2>&1 || true
	LXD_DIR=$dir lxc image delete sbench-busybox >/dev/null 2>&1 || true
	LXD_DIR=$dir lxc storage delete bpool >/dev/null 2>&1 || true
	if [ -n "${lxd_up:-}" ]; then
		for n in $(LXD_DIR=$lxd_dir lxc list --format csv -c n 2>/dev/null | grep '^sbench-' || true); do
			LXD_DIR=$lxd_dir lxc delete -f "$n" >/dev/null 2>&1 || true
		done
		LXD_DIR=$lxd_dir lxc image delete sbench-busybox >/dev/null 2>&1 || true
		[ -n "$lxd_pool_made" ] && LXD_DIR=$lxd_dir lxc storage delete bpool >/dev/null 2>&1 || true
	fi
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | xargs -r umount -l
	for n in $(losetup -a 2>/dev/null | grep -F "$dir/" | cut -d: -f1); do
		losetup -d "$n" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
LODGE_DIR=$dir "$build/lodged" --no-default-network >/dev/null 2>&1 &
pid=$!
LODGE_DIR=$dir "$build/lodged" waitready --timeout 10
"$top/images/build-busybox.sh" "$dir/busybox.tar.xz" >/dev/null

now_ms() { date +%s%N | awk '{printf "%.3f", $1 / 1e6}'; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
since() { awk -v a="$(now_ms)" -v b="$1" 'BEGIN{print a-b}'; }

# run_suite LXD_DIR: prints "launch-btrfs copy-btrfs launch-dir" medians in ms.
run_suite() {
	local d=$1 t0 i
	local -a launch=() copy=() dlaunch=()
	LXD_DIR=$d lxc image import "$dir/busybox.tar.xz" --alias sbench-busybox >/dev/null 2>&1 || true
	for pool in bpool default; do # each pool unpacks the image once
		LXD_DIR=$d lxc launch sbench-busybox sbench-warm -s "$pool" >/dev/null 2>&1
		LXD_DIR=$d lxc delete -f sbench-warm >/dev/null
	done
	for i in $(seq "$rounds"); do
		t0=$(now_ms)
		LXD_DIR=$d lxc launch sbench-busybox "sbench-b$i" -s bpool >/dev/null 2>&1
		launch+=("$(since "$t0")")
		t0=$(now_ms)
		LXD_DIR=$d lxc launch sbench-busybox "sbench-d$i" -s default >/dev/null 2>&1
		dlaunch+=("$(since "$t0")")
	done
	LXD_DIR=$d lxc exec sbench-b1 -- dd if=/dev/urandom of=/root/data bs=1M count=64 2>/dev/null
	LXD_DIR=$d lxc stop -f sbench-b1
	for i in $(seq "$rounds"); do
		t0=$(now_ms)
		LXD_DIR=$d lxc copy sbench-b1 "sbench-c$i" >/dev/null
		copy+=("$(since "$t0")")
	done
	for i in $(seq "$rounds"); do
		LXD_DIR=$d lxc delete -f "sbench-b$i" "sbench-d$i" "sbench-c$i" >/dev/null
	done
	LXD_DIR=$d lxc image delete sbench-busybox >/dev/null 2>&1 || true
	printf '%s %s %s\n' "$(printf '%s\n' "${launch[@]}" | median)" \
		"$(printf '%s\n' "${copy[@]}" | median)" "$(printf '%s\n' "${dlaunch[@]}" | median)"
}

LXD_DIR=$dir lxc storage create bpool btrfs size=2GiB >/dev/null
printf '%-8s %14s %14s %12s   (median ms of %d, through the lxc client)\n' "" launch-btrfs copy-btrfs launch-dir "$rounds"
read -r l c d <<<"$(run_suite "$dir")"
printf '%-8s %14s %14s %12s\n' lodged "$l" "$c" "$d"
if [ -S $lxd_dir/unix.socket ] && LXD_DIR=$lxd_dir lxc info >/dev/null 2>&1; then
	lxd_up=1
	if ! LXD_DIR=$lxd_dir lxc storage show default >/dev/null 2>&1; then
		LXD_DIR=$lxd_dir lxc storage create default dir >/dev/null
	fi
	if ! LXD_DIR=$lxd_dir lxc profile device get default root pool >/dev/null 2>&1; then
		LXD_DIR=$lxd_dir lxc profile device add default root disk path=/ pool=default >/dev/null
	fi
	if ! LXD_DIR=$lxd_dir lxc storage show bpool >/dev/null 2>&1; then
		LXD_DIR=$lxd_dir lxc storage create bpool btrfs size=2GiB >/dev/null
		lxd_pool_made=1
	fi
	read -r L C D <<<"$(run_suite $lxd_dir)"
	printf '%-8s %14s %14s %12s\n' lxd "$L" "$C" "$D"
	printf '%-8s %14.1f %14.1f %12.1f   (lxd / lodged; target >= 2 for btrfs)\n' ratio \
		"$(awk -v a="$L" -v b="$l" 'BEGIN{print a/b}')" "$(awk -v a="$C" -v b="$c" 'BEGIN{print a/b}')" \
		"$(awk -v a="$D" -v b="$d" 'BEGIN{print a/b}')"
else
	echo "LXD is not running here: no comparison (start it: setsid lxd --group root &; lxd waitready)"
fi
