# test/integration/lib.sh: sourced by every integration test.
#
# Starts a real lodged on a fresh state directory and socket, offers helpers to talk to it
# (curl over the unix socket, jq on the replies) and always tears everything down on exit.
# A test that needs root or a missing tool exits 77 (skip), as automake expects.

set -eu

LODGE_BUILDDIR=${LODGE_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
LODGED="$LODGE_BUILDDIR/lodged"
LODGE="$LODGE_BUILDDIR/lodge"
# Debian's python, which has python3-websockets and python3-pylxd (a pyenv one may not).
PYTHON=${PYTHON:-/usr/bin/python3}

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	[ -n "${LODGE_DIR:-}" ] && [ -f "$LODGE_DIR/logs/lodged.log" ] && tail -n 30 "$LODGE_DIR/logs/lodged.log" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

need_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs '$c'"
	done
}

cleanup_hooks=""
at_exit() {
	cleanup_hooks="$1; $cleanup_hooks"
}

run_cleanup() {
	rc=$?
	set +e
	eval "$cleanup_hooks"
	# A sanitizer report from lodged (a leak at exit, say) fails the test.
	[ $rc -eq 0 ] && [ -n "${SANITIZER_REPORT:-}" ] && rc=1
	exit $rc
}
trap run_cleanup EXIT
trap 'exit 130' INT TERM

# Runs lodged (and so its bridges, dnsmasq and nftables) in a network namespace of the
# test's own, so that nothing touches the host's interfaces. Call before daemon_start.
use_netns() {
	need_cmd ip
	NETNS=lodge-test-$$
	ip netns add "$NETNS" || skip "cannot create a network namespace"
	at_exit 'ip netns del "$NETNS" 2>/dev/null'
	ip -n "$NETNS" link set lo up
}

# dnsmasq outlives lodged by design: stops the ones of the test's networks (found by their
# pid files in $LODGE_DIR). Register with at_exit after the state directory's cleanup, so
# it runs first.
kill_dnsmasqs() {
	local f
	for f in "$LODGE_DIR"/networks/*/dnsmasq.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	true
}

# Shell commands that mount the host's cgroup hierarchies again under /sys/fs/cgroup, read
# from this mount namespace's table (v1, v2 or hybrid, as found).
cgroup_remount_script() {
	awk '$2 == "/sys/fs/cgroup" && $3 == "tmpfs" { printf "mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup && " }
	     $2 == "/sys/fs/cgroup" && $3 == "cgroup2" { printf "mount -t cgroup2 cgroup2 /sys/fs/cgroup && " }
	     index($2, "/sys/fs/cgroup/") == 1 && ($3 == "cgroup" || $3 == "cgroup2") {
		opts = $4; sub(/^rw,(relatime,)?/, "", opts); if (opts == "rw" || opts == "relatime") opts = ""
		printf "mkdir -p %s && mount -t %s %s %s %s && ", $2, $3, (opts == "" ? "" : "-o " opts), $3, $2 }
	     END { printf "true" }' /proc/self/mounts
}

# Starts lodged (extra arguments are passed on) and waits until it answers.
daemon_start() {
	need_cmd curl jq
	[ -x "$LODGED" ] || fail "no lodged binary at $LODGED"
	if [ -z "${LODGE_DIR:-}" ]; then
		LODGE_DIR=$(mktemp -d /tmp/lodge-test.XXXXXX)
		export LODGE_DIR
		at_exit 'state_cleanup'
	fi
	SOCK="$LODGE_DIR/unix.socket"
	if [ -n "${NETNS:-}" ]; then
		# `ip netns exec` mounts a sysfs of the namespace over /sys, which hides the
		# cgroup hierarchies: mount them again (the same hierarchies) for liblxc.
		ip netns exec "$NETNS" sh -c "$(cgroup_remount_script) && exec \"\$0\" \"\$@\"" \
			"$LODGED" --debug --testing "$@" >>"$LODGE_DIR/lodged.stderr" 2>&1 &
	else
		"$LODGED" --debug --testing "$@" >>"$LODGE_DIR/lodged.stderr" 2>&1 &
	fi
	DAEMON_PID=$!
	at_exit 'daemon_kill'
	"$LODGED" waitready --timeout 10 || fail "lodged did not become ready"
}

# Containers outlive lodged by design: stop any the test left, unmount what its storage
# mounted, then remove the state directory.
state_cleanup() {
	local c m
	if [ -d "$LODGE_DIR/containers" ] && command -v lxc-stop >/dev/null; then
		for c in "$LODGE_DIR"/containers/*/; do
			[ -d "$c" ] || continue
			# liblxc's command socket is abstract: reach it from lodged's netns.
			${NETNS:+ip netns exec "$NETNS"} lxc-stop -P "$LODGE_DIR/containers" \
				-n "$(basename "$c")" -k >/dev/null 2>&1 || true
		done
	fi
	for m in $(awk -v d="$LODGE_DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$LODGE_DIR"
}

# Detaches the loop devices whose backing files are in $LODGE_DIR (btrfs pools' loop files
# a test left attached); storage tests register it with at_exit.
loops_cleanup() {
	local l
	for l in $(losetup -a 2>/dev/null | grep -F "$LODGE_DIR/" | cut -d: -f1); do
		losetup -d "$l" 2>/dev/null || true
	done
}

daemon_kill() {
	if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		for _ in $(seq 50); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
	fi
	DAEMON_PID=
	if [ -n "${LODGE_DIR:-}" ] && grep -qE '^(SUMMARY: |==[0-9]+==ERROR: )(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$LODGE_DIR/lodged.stderr" 2>/dev/null; then
		SANITIZER_REPORT=1
		echo "FAIL: lodged's sanitizer report:" >&2
		grep -E -A40 '==ERROR|runtime error:' "$LODGE_DIR/lodged.stderr" | head -n 200 >&2
	fi
}

# api METHOD PATH [BODY]: prints the reply body. The HTTP status goes to
# $LODGE_DIR/.status (callers run api in a $(...) subshell, where a variable would be lost);
# last_status prints it.
api() {
	local method=$1 path=$2 body=${3-}
	local args=(-s -o - -w '\n%{http_code}' --unix-socket "$SOCK" -X "$method")
	local out
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(curl "${args[@]}" "http://lodge$path")
	printf '%s' "${out##*$'\n'}" >"$LODGE_DIR/.status"
	printf '%s' "${out%$'\n'*}"
}

last_status() {
	cat "$LODGE_DIR/.status"
}

# expect_status CODE METHOD PATH [BODY]: the request must answer CODE; prints the body.
expect_status() {
	local code=$1
	shift
	local reply status
	reply=$(api "$@")
	status=$(last_status)
	[ "$status" = "$code" ] || fail "$1 $2: expected HTTP $code, got $status: $reply"
	printf '%s' "$reply"
}

# assert_eq ACTUAL EXPECTED MESSAGE
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# assert_match ACTUAL REGEX MESSAGE
assert_match() {
	printf '%s' "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match '$2'"
}

# wait_op URL: waits for an operation through /wait and prints it.
wait_op() {
	expect_status 200 GET "$1/wait?timeout=30"
}

# split_image_make UNIFIED.tar.xz META_OUT ROOTFS_OUT [OS]: splits a unified image into a
# metadata tarball (compressed by META_OUT's suffix) and a squashfs root filesystem, with
# properties.os replaced by OS when given (a different fingerprint); prints the split
# fingerprint.
split_image_make() {
	local src=$1 meta=$2 rootfs=$3 os=${4:-} tmp
	tmp=$(mktemp -d)
	tar -C "$tmp" -xJf "$src"
	[ -z "$os" ] || sed -i "s/^  os: .*/  os: $os/" "$tmp/metadata.yaml"
	tar -C "$tmp" -caf "$meta" metadata.yaml templates
	mksquashfs "$tmp/rootfs" "$rootfs" -noappend -quiet -all-root >/dev/null
	rm -rf "$tmp"
	cat "$meta" "$rootfs" | sha256sum | cut -d' ' -f1
}
