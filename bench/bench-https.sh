#!/bin/bash
# bench/bench-https.sh: the remote API over HTTPS, lodged against LXD in the same run.
#
#   bench/bench-https.sh [BUILD_DIR]
#
# A trusted client (an ECDSA P-384 certificate, as lxc makes) runs bench/https-bench:
#  - GET /1.0 with connection reuse: 4 keep-alive connections for BENCH_SECONDS (req/s);
#  - a fresh connection per request: TCP connect + TLS handshake + GET /1.0 + close,
#    BENCH_FRESH times in a row (median and p90 ms).
# When LXD 5.0 answers on /var/lib/lxd/unix.socket, the same runs go against it: its
# core.https_address is set to a loopback port if it has none, and the bench certificate
# is trusted for the run; both are undone at exit. Targets: reuse rate >= 2x LXD's, fresh
# median no slower than LXD's.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
duration=${BENCH_SECONDS:-5}
fresh=${BENCH_FRESH:-200}
. "$top/bench/lib.sh"

bench_lodged_start --no-default-network
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 30 \
	-subj /CN=lodge-bench -keyout "$dir/bench.key" -out "$dir/bench.crt" 2>/dev/null
port=$(free_port)
LXD_DIR=$dir lxc config set core.https_address "127.0.0.1:$port"
LXD_DIR=$dir lxc config trust add "$dir/bench.crt" --name lodge-bench >/dev/null
lodge_url=https://127.0.0.1:$port
lodge_fp=$(fingerprint "$dir/server.crt")

lxd_url=
lxd_restore() {
	[ -n "${lxd_set_address:-}" ] && LXD_DIR=$LXD_REF_DIR lxc config unset core.https_address || true
	[ -n "${lxd_trusted:-}" ] && LXD_DIR=$LXD_REF_DIR lxc config trust remove "$(fingerprint "$dir/bench.crt")" >/dev/null 2>&1 || true
	bench_cleanup
}
if bench_lxd_ready; then
	trap lxd_restore EXIT
	lxd_addr=$(LXD_DIR=$LXD_REF_DIR lxc config get core.https_address)
	if [ -z "$lxd_addr" ]; then
		lxd_addr=127.0.0.1:$(free_port)
		LXD_DIR=$LXD_REF_DIR lxc config set core.https_address "$lxd_addr"
		lxd_set_address=1
	fi
	case $lxd_addr in
	:* | 0.0.0.0:* | "[::]:"*) lxd_addr=127.0.0.1:${lxd_addr##*:} ;;
	esac
	if LXD_DIR=$LXD_REF_DIR lxc config trust add "$dir/bench.crt" --name lodge-bench >/dev/null 2>&1; then
		lxd_trusted=1
	fi
	lxd_url=https://$lxd_addr
	lxd_fp=$(LXD_DIR=$LXD_REF_DIR lxc info | awk '/certificate_fingerprint:/ {print $2}')
fi

bench() {
	"$build/bench/https-bench" "$1" "$2" /1.0 "$dir/bench.crt" "$dir/bench.key" "$3" "${@:4}"
}

echo "== GET /1.0 over HTTPS, connection reuse, ${duration}s, 4 connections"
lodge_reuse=$(bench reuse "$lodge_url" "$lodge_fp" "$duration" 4)
echo "lodged  $lodge_reuse"
if [ -n "$lxd_url" ]; then
	lxd_reuse=$(bench reuse "$lxd_url" "$lxd_fp" "$duration" 4)
	echo "lxd     $lxd_reuse"
	echo "rate lodged/lxd = $(ratio "$(awk '{print $2}' <<<"$lodge_reuse")" "$(awk '{print $2}' <<<"$lxd_reuse")")x (target >= 2x)"
fi

echo "== fresh connection per request (connect + handshake + GET /1.0), $fresh in a row"
lodge_fresh=$(bench fresh "$lodge_url" "$lodge_fp" "$fresh")
echo "lodged  $lodge_fresh"
if [ -n "$lxd_url" ]; then
	lxd_fresh=$(bench fresh "$lxd_url" "$lxd_fp" "$fresh")
	echo "lxd     $lxd_fresh"
	echo "median lxd/lodged = $(ratio "$(awk '{print $2}' <<<"$lxd_fresh")" "$(awk '{print $2}' <<<"$lodge_fresh")")x (target >= 1x)"
else
	echo "(LXD not running: no comparison)"
fi
