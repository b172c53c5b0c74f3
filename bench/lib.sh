# bench/lib.sh: what the bench scripts share. Source it after setting `top` and `build`.
#
#   bench_lodged_start [ARGS]   a lodged on a fresh temporary $dir (removed on exit, with
#                               every container and mount it made); $pid is the daemon
#   bench_busybox_import D A    imports the busybox image into the daemon of LXD_DIR D as A
#   bench_lxd_ready             true when LXD 5.0 answers here; gives it a dir pool
#                               "default" and a root disk in its default profile if missing
#   now_ms                      the clock in ms
#   median                      the median of the numbers on stdin
#   ratio A B                   A / B with one decimal

LXD_REF_DIR=/var/lib/lxd

bench_cleanup() {
	LXD_DIR=$dir lxc list --format csv -c n 2>/dev/null | xargs -r -n1 env LXD_DIR="$dir" lxc delete -f >/dev/null 2>&1 || true
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | xargs -r umount -l
	rm -rf "$dir"
}

bench_lodged_start() {
	dir=$(mktemp -d /tmp/lodge-bench.XXXXXX)
	chmod 711 "$dir"
	trap bench_cleanup EXIT
	LODGE_DIR=$dir "$build/lodged" "$@" >/dev/null 2>&1 &
	pid=$!
	LODGE_DIR=$dir "$build/lodged" waitready --timeout 10
	[ -f "$dir/busybox.tar.xz" ] || "$top/images/build-busybox.sh" "$dir/busybox.tar.xz" >/dev/null
}

bench_busybox_import() {
	LXD_DIR=$1 lxc image import "$dir/busybox.tar.xz" --alias "$2" >/dev/null 2>&1 || true
}

bench_lxd_ready() {
	[ -S "$LXD_REF_DIR/unix.socket" ] && LXD_DIR=$LXD_REF_DIR lxc info >/dev/null 2>&1 || return 1
	if ! LXD_DIR=$LXD_REF_DIR lxc storage show default >/dev/null 2>&1; then
		LXD_DIR=$LXD_REF_DIR lxc storage create default dir >/dev/null
	fi
	if ! LXD_DIR=$LXD_REF_DIR lxc profile device get default root pool >/dev/null 2>&1; then
		LXD_DIR=$LXD_REF_DIR lxc profile device add default root disk path=/ pool=default >/dev/null
	fi
}

now_ms() { date +%s%N | awk '{printf "%.3f", $1 / 1e6}'; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (b > 0) ? a / b : 0}'; }
