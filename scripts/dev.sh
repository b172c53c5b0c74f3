#!/bin/bash
# scripts/dev.sh: set up a fresh Debian 12 machine (as root), build, and run or test lodge.
#
#   scripts/dev.sh run    install what is missing, build, run lodged in the foreground
#   scripts/dev.sh test   install what is missing, build (gcc, clang, ASan+UBSan), run every test
#   scripts/dev.sh deps   only install the packages
#
# Builds go to build/ (and build-asan/, build-clang/) beside the sources.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Build and run dependencies; README.md says why each is there.
PACKAGES=(
	build-essential autoconf automake libtool pkg-config clang
	libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libsqlite3-dev libssl-dev
	lxc-dev lxc libjansson-dev libyaml-dev libarchive-dev check
	busybox-static squashfs-tools uidmap curl jq openssl python3 python3-websockets
	lxd-client python3-pylxd
	iproute2 nftables dnsmasq-base dnsmasq-utils util-linux
	btrfs-progs
)

deps() {
	local missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [configure args...]
build() {
	local dir=$1
	shift
	[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
		autoreconf -fi >/dev/null
	mkdir -p "$dir"
	(cd "$dir" && { [ -f Makefile ] && [ config.status -nt "$top/configure" ] ||
		"$top/configure" -q "$@"; } && make -j"$(nproc)" >/dev/null)
}

# check DIR: runs the whole suite; prints the automake summary.
check() {
	local dir=$1 rc=0
	shift
	(cd "$dir" && make -j"$(nproc)" check "$@" >/dev/null 2>&1) || rc=$?
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$dir/test-suite.log" | sed "s|^|[$dir] |"
	if [ $rc -ne 0 ]; then
		# Show what failed, with its log.
		grep -E '^(FAIL|ERROR)' "$dir/test-suite.log" || true
		for log in $(cd "$dir" && grep -l -E '^(FAIL|ERROR)' test/unit/*.log test/integration/*.log 2>/dev/null); do
			echo "----- $dir/$log"
			tail -n 40 "$dir/$log"
		done
	fi
	return $rc
}

summary() {
	local pass=0 fail=0 skip=0 n
	for dir in "$@"; do
		[ -f "$dir/test-suite.log" ] || continue
		n=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log"); pass=$((pass + ${n:-0}))
		n=$(sed -n 's/^# FAIL: *//p' "$dir/test-suite.log"); fail=$((fail + ${n:-0}))
		n=$(sed -n 's/^# ERROR: *//p' "$dir/test-suite.log"); fail=$((fail + ${n:-0}))
		n=$(sed -n 's/^# SKIP: *//p' "$dir/test-suite.log"); skip=$((skip + ${n:-0}))
	done
	echo "$pass passed, $fail failed, $skip skipped"
}

case "${1:-}" in
deps)
	deps
	;;
run)
	deps
	build build
	export LODGE_DIR=${LODGE_DIR:-/var/lib/lodge}
	build/lodged --verbose &
	pid=$!
	trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
	build/lodged waitready --timeout 30
	# A local busybox image, so that `lxc launch busybox c1` works at once.
	if ! LXD_DIR=$LODGE_DIR lxc image info busybox >/dev/null 2>&1; then
		images/build-busybox.sh "$LODGE_DIR/tmp/busybox.tar.xz" >/dev/null
		LXD_DIR=$LODGE_DIR lxc image import "$LODGE_DIR/tmp/busybox.tar.xz" --alias busybox
		rm -f "$LODGE_DIR/tmp/busybox.tar.xz"
	fi
	echo "lodged: state in $LODGE_DIR; try: LXD_DIR=$LODGE_DIR lxc launch busybox c1"
	wait $pid
	;;
test)
	deps
	rc=0
	build build
	check build || rc=1
	build build-clang CC=clang
	build build-asan --enable-sanitizers
	LODGE_SANITIZED=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
		check build-asan || rc=1
	summary build build-asan
	exit $rc
	;;
*)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
