#!/bin/bash
# bench/bench-images.sh: image work through the real `lxc` client, lodged against LXD 5.0
# in the same run when it is running here.
#
#   bench/bench-images.sh [BUILD_DIR] [ROUNDS] [DEBIAN_TARBALL | DEBIAN_META,DEBIAN_ROOTFS]
#
# For each daemon: `lxc image import` of the busybox image (ROUNDS times, each import
# deleted before the next), of a Debian image (DEBIAN_TARBALL, e.g. made by
# images/build-debian.sh, or a split image as META,ROOTFS; at most 3 rounds; skipped when
# not given), and `lxc launch` from
# the cached image (create + start until RUNNING, after one warm-up launch that unpacks it)
# for busybox and, when given, Debian: a launch clones the unpacked image, so its time
# should not grow with the image's size. Prints medians in ms and the ratio LXD/lodged.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
rounds=${2:-5}
debian=${3:-}
for f in ${debian//,/ }; do
	[ -f "$f" ] || { echo "no such file: $f" >&2; exit 1; }
done

. "$top/bench/lib.sh"
bench_lodged_start --no-default-network

elapsed() { awk -v a="$(now_ms)" -v b="$1" 'BEGIN{print a-b}'; }

# fingerprint FILE[,ROOTFS]: the image's fingerprint (of both files for a split image).
fingerprint() { cat ${1//,/ } | sha256sum | cut -d' ' -f1; }

# import_median LXD_DIR FILE[,ROOTFS] N: median ms of N imports (deleted after each).
import_median() {
	local d=$1 file=$2 n=$3 t0 i fp
	local -a t=()
	fp=$(fingerprint "$file")
	if LXD_DIR=$d lxc image info "$fp" >/dev/null 2>&1; then
		echo "-" # the daemon already holds it (someone else's): not ours to delete
		return
	fi
	for i in $(seq "$n"); do
		t0=$(now_ms)
		LXD_DIR=$d lxc image import ${file//,/ } --alias bench-import >/dev/null
		t+=("$(elapsed "$t0")")
		LXD_DIR=$d lxc image delete "$fp" >/dev/null
	done
	printf '%s\n' "${t[@]}" | median
}

# launch_median LXD_DIR FILE[,ROOTFS] N: median ms of N launches from the image, cached.
launch_median() {
	local d=$1 file=$2 n=$3 t0 i fp
	local -a t=()
	fp=$(fingerprint "$file")
	if LXD_DIR=$d lxc image info "$fp" >/dev/null 2>&1; then
		echo "-"
		return
	fi
	LXD_DIR=$d lxc image import ${file//,/ } --alias bench-launch >/dev/null
	LXD_DIR=$d lxc launch bench-launch bench-warm >/dev/null 2>&1 # unpacks the image once
	LXD_DIR=$d lxc delete -f bench-warm >/dev/null
	for i in $(seq "$n"); do
		t0=$(now_ms)
		LXD_DIR=$d lxc launch bench-launch "bench-img-$i" >/dev/null 2>&1
		t+=("$(elapsed "$t0")")
	done
	for i in $(seq "$n"); do
		LXD_DIR=$d lxc delete -f "bench-img-$i" >/dev/null
	done
	LXD_DIR=$d lxc image delete "$fp" >/dev/null
	printf '%s\n' "${t[@]}" | median
}

# run_suite LXD_DIR: "import-busybox import-debian launch-busybox launch-debian".
run_suite() {
	local d=$1 ib id="-" lb ld="-" dn
	dn=$((rounds < 3 ? rounds : 3))
	ib=$(import_median "$d" "$dir/busybox.tar.xz" "$rounds")
	[ -z "$debian" ] || id=$(import_median "$d" "$debian" "$dn")
	lb=$(launch_median "$d" "$dir/busybox.tar.xz" "$rounds")
	[ -z "$debian" ] || ld=$(launch_median "$d" "$debian" "$dn")
	echo "$ib $id $lb $ld"
}

ratio_or_dash() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else ratio "$1" "$2"; fi; }

printf '%-8s %16s %16s %16s %16s   (median ms, through the lxc client)\n' "" \
	import-busybox import-debian launch-busybox launch-debian
read -r a b c e <<<"$(run_suite "$dir")"
printf '%-8s %16s %16s %16s %16s\n' lodged "$a" "$b" "$c" "$e"
if bench_lxd_ready; then
	read -r A B C E <<<"$(run_suite "$LXD_REF_DIR")"
	printf '%-8s %16s %16s %16s %16s\n' lxd "$A" "$B" "$C" "$E"
	printf '%-8s %16s %16s %16s %16s   (lxd / lodged)\n' ratio "$(ratio_or_dash "$A" "$a")" \
		"$(ratio_or_dash "$B" "$b")" "$(ratio_or_dash "$C" "$c")" "$(ratio_or_dash "$E" "$e")"
else
	echo "(LXD not running: no comparison)"
fi
