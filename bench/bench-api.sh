#!/bin/bash
# bench/bench-api.sh: container workloads through the REST API (bench/api-bench.c), as
# pylxd or Go's client library drive it, lodged against LXD 5.0 in the same run.
#
#   bench/bench-api.sh [BUILD_DIR] [ROUNDS] [FILL]
#
# Launch (create + start until RUNNING) from a cached busybox image, exec of `true` with
# its websockets, GET /1.0/instances?recursion=1 and =2, stop + delete: the median and p90
# in ms of ROUNDS runs (default 10). With FILL (default 100) containers running, launch,
# exec and both lists again. Then the ratio LXD/lodged of each median. Neither daemon gets
# a network (nics are not measured); LXD gets a dir pool, as lodged's default.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
rounds=${2:-10}
fill=${3:-100}
. "$top/bench/lib.sh"

bench_lodged_start --no-default-network
bench_busybox_import "$dir" bench-busybox
echo "== lodged (median p90 n, ms; FILL=$fill)"
"$build/bench/api-bench" "$dir/unix.socket" bench-busybox "$rounds" "$fill" | tee "$dir/lodged.out"
if bench_lxd_ready; then
	bench_busybox_import "$LXD_REF_DIR" bench-busybox
	echo "== lxd"
	"$build/bench/api-bench" "$LXD_REF_DIR/unix.socket" bench-busybox "$rounds" "$fill" | tee "$dir/lxd.out"
	LXD_DIR=$LXD_REF_DIR lxc image delete bench-busybox >/dev/null 2>&1 || true
	echo "== lxd / lodged (medians)"
	join <(sort "$dir/lodged.out") <(sort "$dir/lxd.out") |
		while read -r name l _ _ x _ _; do
			printf '%-18s %8s ms %8s ms %6sx\n' "$name" "$l" "$x" "$(ratio "$x" "$l")"
		done
else
	echo "(LXD not running: no comparison)"
fi
