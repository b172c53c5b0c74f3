#!/bin/bash
# bench/bench-containers.sh: container workloads through the real `lxc` client, lodged
# against LXD 5.0 in the same run when it is running here.
#
#   bench/bench-containers.sh [BUILD_DIR] [ROUNDS]
#
# For each daemon: launch from a cached busybox image (create + start until RUNNING),
# non-interactive exec round trip, `lxc list` (recursion=2), and stop + delete. Prints the
# median in ms of ROUNDS runs (default 10) and, with LXD, the ratio LXD/lodged. lodged is
# measured a second time through lodge's own client (launch, exec, list, delete).
# LXD needs a storage pool and a root disk in its default profile; the script adds them
# (pool "default", dir) if missing. Neither daemon gets a network: nics are not measured.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
rounds=${2:-10}

. "$top/bench/lib.sh"
bench_lodged_start --no-default-network

# cli DIR CLIENT ARGS...: the lxc client, or lodge ("lodge") on the same daemon directory.
cli() {
	local d=$1 client=$2
	shift 2
	if [ "$client" = lodge ]; then
		LODGE_DIR=$d "$build/lodge" "$@"
	else
		LXD_DIR=$d lxc "$@"
	fi
}

# run_suite LXD_DIR [CLIENT]: prints "launch exec list delete" medians in ms, measured
# through CLIENT (lxc, or lodge).
run_suite() {
	local d=$1 client=${2:-lxc} t0 i
	local -a launch=() exec=() list=() del=()
	bench_busybox_import "$d" bench-busybox
	LXD_DIR=$d lxc launch bench-busybox bench-warm >/dev/null 2>&1 # unpacks the image once
	LXD_DIR=$d lxc delete -f bench-warm >/dev/null
	for i in $(seq "$rounds"); do
		t0=$(now_ms)
		cli "$d" "$client" launch bench-busybox "bench-$i" >/dev/null 2>&1
		launch+=("$(awk -v a="$(now_ms)" -v b="$t0" 'BEGIN{print a-b}')")
	done
	for i in $(seq "$rounds"); do
		t0=$(now_ms)
		cli "$d" "$client" exec "bench-$i" -- true
		exec+=("$(awk -v a="$(now_ms)" -v b="$t0" 'BEGIN{print a-b}')")
		t0=$(now_ms)
		cli "$d" "$client" list >/dev/null
		list+=("$(awk -v a="$(now_ms)" -v b="$t0" 'BEGIN{print a-b}')")
	done
	for i in $(seq "$rounds"); do
		t0=$(now_ms)
		cli "$d" "$client" delete -f "bench-$i" >/dev/null
		del+=("$(awk -v a="$(now_ms)" -v b="$t0" 'BEGIN{print a-b}')")
	done
	LXD_DIR=$d lxc image delete bench-busybox >/dev/null 2>&1 || true
	printf '%s %s %s %s\n' "$(printf '%s\n' "${launch[@]}" | median)" \
		"$(printf '%s\n' "${exec[@]}" | median)" "$(printf '%s\n' "${list[@]}" | median)" \
		"$(printf '%s\n' "${del[@]}" | median)"
}

printf '%-8s %10s %10s %10s %14s   (median ms of %d, through the lxc client)\n' "" launch exec list stop+delete "$rounds"
read -r l e s x <<<"$(run_suite "$dir")"
printf '%-8s %10s %10s %10s %14s\n' lodged "$l" "$e" "$s" "$x"
# The same workload through lodge's own client, on lodged.
read -r ql qe qs qx <<<"$(run_suite "$dir" lodge)"
printf '%-8s %10s %10s %10s %14s   (through lodge)\n' lodged "$ql" "$qe" "$qs" "$qx"
if bench_lxd_ready; then
	read -r L E S X <<<"$(run_suite "$LXD_REF_DIR")"
	printf '%-8s %10s %10s %10s %14s\n' lxd "$L" "$E" "$S" "$X"
	printf '%-8s %10s %10s %10s %14s   (lxd / lodged)\n' ratio "$(ratio "$L" "$l")" \
		"$(ratio "$E" "$e")" "$(ratio "$S" "$s")" "$(ratio "$X" "$x")"
else
	echo "(LXD not running: no comparison)"
fi
