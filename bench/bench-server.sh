#!/bin/bash
# bench/bench-server.sh: GET /1.0 over the unix socket and idle memory, lodged against LXD.
#
#   bench/bench-server.sh [BUILD_DIR]
#
# Starts a lodged on a temporary directory, measures: request rate and p50/p99 latency of
# GET /1.0 (keep-alive, 4 connections, bench/http-bench.c), and the daemon's idle RSS.
# When LXD answers on /var/lib/lxd/unix.socket (setsid lxd --group root &; lxd waitready),
# the same workload runs against it in this run and the ratios are printed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
duration=${BENCH_SECONDS:-5}

dir=$(mktemp -d /tmp/lodge-bench.XXXXXX)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
LODGE_DIR=$dir "$build/lodged" >/dev/null 2>&1 &
pid=$!
LODGE_DIR=$dir "$build/lodged" waitready --timeout 10
sleep 1

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "== idle RSS"
lodge_rss=$(rss_kib "$pid")
printf 'lodged  %6d KiB\n' "$lodge_rss"
lxd_sock=/var/lib/lxd/unix.socket
lxd_pid=$(pgrep -x lxd | head -n1 || true)
if [ -S "$lxd_sock" ] && [ -n "$lxd_pid" ]; then
	lxd_rss=$(rss_kib "$lxd_pid")
	printf 'lxd     %6d KiB   lxd/lodged = %.1fx\n' "$lxd_rss" "$(awk -v a="$lxd_rss" -v b="$lodge_rss" 'BEGIN{print a/b}')"
fi

echo "== GET /1.0, ${duration}s, 4 keep-alive connections"
lodge_out=$("$build/bench/http-bench" "$dir/unix.socket" /1.0 "$duration" 4)
echo "lodged  $lodge_out"
if [ -S "$lxd_sock" ]; then
	lxd_out=$("$build/bench/http-bench" "$lxd_sock" /1.0 "$duration" 4)
	echo "lxd     $lxd_out"
	l=$(awk '{print $2}' <<<"$lodge_out")
	x=$(awk '{print $2}' <<<"$lxd_out")
	printf 'rate lodged/lxd = %.1fx\n' "$(awk -v a="$l" -v b="$x" 'BEGIN{print a/b}')"
else
	echo "(LXD not running: no comparison)"
fi
