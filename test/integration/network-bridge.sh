#!/bin/bash
# Managed bridge networks against a real lodged, driven by the real `lxc network` commands.
#
# lodged runs inside a network namespace this test creates (`ip netns exec`), so its bridges,
# nftables rules and dnsmasq live there and the host's interfaces, routes and addresses are
# never touched. Its unix socket is a file, reachable from outside the namespace. A "client"
# namespace plugs a veth into the bridge and asks for a DHCP lease with busybox udhcpc; an
# "upstream" namespace stands for the outside world that NAT reaches.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip nft dnsmasq lxc curl jq busybox

NS=lodge-test-$$
CLIENT_NS=lodge-test-$$-c
UPSTREAM_NS=lodge-test-$$-u
ip netns add "$NS" 2>/dev/null || skip "cannot create network namespaces"
at_exit 'ip netns del "$NS" 2>/dev/null'
ip netns add "$CLIENT_NS"
at_exit 'ip netns del "$CLIENT_NS" 2>/dev/null'
ip netns add "$UPSTREAM_NS"
at_exit 'ip netns del "$UPSTREAM_NS" 2>/dev/null'
in_ns() {
	ip netns exec "$NS" "$@"
}
in_ns ip link set lo up

LODGE_DIR=$(mktemp -d /tmp/lodge-test.XXXXXX)
# As lodged makes /var/lib/lodge: dnsmasq, as nobody, re-reads static leases under it.
chmod 0711 "$LODGE_DIR"
export LODGE_DIR LXD_DIR=$LODGE_DIR
SOCK="$LODGE_DIR/unix.socket"
at_exit 'rm -rf "$LODGE_DIR"'
# dnsmasq outlives lodged by design; the test's own ones go when it ends.
at_exit 'kill_dnsmasqs'

# Like lib.sh's daemon_start, inside the namespace, asking for the default network.
netns_daemon_start() {
	ip netns exec "$NS" "$LODGED" --debug --testing --default-network \
		>>"$LODGE_DIR/lodged.stderr" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		curl -s --unix-socket "$SOCK" http://lodge/1.0 >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$LODGE_DIR/lodged.stderr" >&2
	fail "lodged did not become ready"
}
at_exit 'daemon_kill'
netns_daemon_start

# expect CODE METHOD PATH [BODY]: the request must answer CODE; prints the body. (lib.sh's
# expect reads $STATUS after setting it in a $(...) subshell, where it is lost.)
expect() {
	local code=$1 method=$2 path=$3 body=${4-} out status reply
	out=$(mktemp)
	status=$(curl -s -o "$out" -w '%{http_code}' --unix-socket "$SOCK" -X "$method" \
		-H 'Content-Type: application/json' ${body:+--data-binary "$body"} "http://lodge$path")
	reply=$(cat "$out")
	rm -f "$out"
	[ "$status" = "$code" ] || fail "$method $path: expected HTTP $code, got $status: $reply"
	printf '%s' "$reply"
}

# dnsmasq_pid NETWORK: the pid of the network's running dnsmasq, or nothing.
dnsmasq_pid() {
	local f="$LODGE_DIR/networks/$1/dnsmasq.pid" pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--interface=$1 "; then
		echo "$pid"
	fi
}

# --- The default network: lodgebr0 with an IPv4 subnet and NAT, on the default profile.
reply=$(expect 200 GET /1.0/networks/lodgebr0)
assert_eq "$(jq -r .metadata.managed <<<"$reply")" true "lodgebr0 managed"
assert_eq "$(jq -r .metadata.type <<<"$reply")" bridge "lodgebr0 type"
assert_match "$(jq -r '.metadata.config["ipv4.address"]' <<<"$reply")" '^10\.[0-9]+\.[0-9]+\.1/24$' \
	"lodgebr0 ipv4.address"
assert_eq "$(jq -r '.metadata.config["ipv4.nat"]' <<<"$reply")" true "lodgebr0 ipv4.nat"
assert_eq "$(jq -c .metadata.used_by <<<"$reply")" '["/1.0/profiles/default"]' "lodgebr0 used_by"
assert_eq "$(jq -c .metadata.locations <<<"$reply")" '["none"]' "lodgebr0 locations"
[ -n "$(dnsmasq_pid lodgebr0)" ] || fail "no dnsmasq for lodgebr0"
out=$(lxc network delete lodgebr0 2>&1) && fail "deleted a network in use"
assert_match "$out" "in use by /1.0/profiles/default" "delete in use"

# --- Create, as `lxc network create` sends it (type "").
lxc network create t1 ipv4.address=10.201.0.1/24 ipv4.nat=true ipv6.address=none >/dev/null ||
	fail "lxc network create"
in_ns test -d /sys/class/net/t1/bridge || fail "no bridge t1 in the namespace"
in_ns ip -4 -br addr show dev t1 | grep -q '10\.201\.0\.1/24' || fail "t1 has no address"
test -d /sys/class/net/t1 && fail "bridge t1 leaked onto the host"
in_ns nft list chain inet lodge pstrt.t1 | grep -q 'ip saddr 10.201.0.0/24 ip daddr != 10.201.0.0/24 masquerade' ||
	fail "no masquerade rule for t1"
pid=$(dnsmasq_pid t1)
[ -n "$pid" ] || fail "no dnsmasq for t1"
tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- '--dhcp-range=10.201.0.2,10.201.0.254,1h' ||
	fail "dnsmasq for t1 lacks its DHCP range"

# --- List, show: LXD's objects, and the namespace's own interfaces as unmanaged.
lxc network list --format csv | grep -q '^t1,bridge,YES,10.201.0.1/24,none,,0,CREATED$' ||
	fail "lxc network list: $(lxc network list --format csv)"
reply=$(expect 200 GET "/1.0/networks?recursion=1")
assert_eq "$(jq -c '.metadata[] | select(.name == "lo") | [.managed, .type]' <<<"$reply")" \
	'[false,"loopback"]' "lo listed as unmanaged"
reply=$(expect 200 GET /1.0/networks)
jq -e '.metadata | index("/1.0/networks/t1")' <<<"$reply" >/dev/null || fail "t1 not in the list"
show=$(lxc network show t1)
assert_match "$show" 'ipv4.address: 10.201.0.1/24' "lxc network show"
assert_match "$show" 'managed: true' "lxc network show managed"

# --- Set (GET + PUT with If-Match): applied to the bridge and to dnsmasq.
lxc network set t1 bridge.mtu=1400 || fail "lxc network set"
assert_eq "$(in_ns cat /sys/class/net/t1/mtu)" 1400 "t1 MTU"
pid=$(dnsmasq_pid t1)
tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- '--dhcp-option-force=26,1400' ||
	fail "dnsmasq was not given the new MTU"
info=$(lxc network info t1)
assert_match "$info" 'MTU: 1400' "lxc network info MTU"
assert_match "$info" 'inet	10.201.0.1/24' "lxc network info address"
reply=$(expect 200 GET /1.0/networks/t1/state)
assert_eq "$(jq -r .metadata.bridge.stp <<<"$reply")" false "state bridge.stp"
assert_eq "$(jq -r .metadata.state <<<"$reply")" up "state up"

# --- Refusals, naming what is wrong; nothing changes.
out=$(lxc network create t2 ipv4.address=10.201.0.5/16 ipv6.address=none 2>&1) && fail "overlap accepted"
assert_match "$out" "overlaps network 't1'" "overlapping subnet"
out=$(lxc network create t2 bogus.key=1 2>&1) && fail "unknown key accepted"
assert_match "$out" "Unknown configuration key 'bogus.key'" "unknown key"
out=$(lxc network create t2 raw.dnsmasq=dhcp-script=/bin/sh 2>&1) && fail "raw.dnsmasq accepted"
assert_match "$out" "raw.dnsmasq" "raw.dnsmasq"
reply=$(expect 400 POST /1.0/networks \
	'{"name":"t2","type":"","config":{"ipv4.address":"none","dns.domain":"x\n--dhcp-script=/bin/sh"}}')
assert_match "$(jq -r .error <<<"$reply")" "dns.domain" "line break in a value"
expect 400 POST /1.0/networks '{"name":"../x","config":{}}' >/dev/null
expect 400 POST /1.0/networks '{"name":"t2","type":"ovn","config":{}}' >/dev/null
expect 409 POST /1.0/networks '{"name":"t1","config":{}}' >/dev/null
expect 404 GET /1.0/networks/nope >/dev/null
in_ns test -d /sys/class/net/t2 && fail "a refused network left a bridge"
expect 404 GET /1.0/networks/t2 >/dev/null

# --- DHCP and DNS: a client namespace on a veth plugged into the bridge.
in_ns ip link add vh0 type veth peer name vc0
in_ns ip link set vc0 netns "$CLIENT_NS"
in_ns ip link set vh0 master t1 up
ip netns exec "$CLIENT_NS" ip link set lo up
ip netns exec "$CLIENT_NS" ip link set vc0 address 00:16:3e:aa:bb:01 up
cat >"$LODGE_DIR/udhcpc.sh" <<'EOF'
#!/bin/sh
case "$1" in
bound|renew)
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	;;
esac
exit 0
EOF
chmod +x "$LODGE_DIR/udhcpc.sh"
timeout 30 ip netns exec "$CLIENT_NS" busybox udhcpc -i vc0 -n -q -t 10 -T 1 -x hostname:c1 \
	-s "$LODGE_DIR/udhcpc.sh" >/dev/null 2>&1 || fail "no DHCP lease from dnsmasq"
addr=$(ip netns exec "$CLIENT_NS" ip -4 -br addr show dev vc0 | awk '{print $3}')
assert_match "$addr" '^10\.201\.0\.[0-9]+/24$' "leased address"
reply=$(expect 200 GET /1.0/networks/t1/leases)
assert_eq "$(jq -r '.metadata[] | select(.hwaddr == "00:16:3e:aa:bb:01") | [.hostname, .address, .type] | join(" ")' <<<"$reply")" \
	"c1 ${addr%/24} dynamic" "dynamic lease listed"
ip netns exec "$CLIENT_NS" busybox nslookup c1.lodge 10.201.0.1 2>&1 | grep -q "${addr%/24}" ||
	fail "c1.lodge does not resolve"

# Static leases, as the instance driver registers them.
expect 200 PUT /internal/testing/networks/t1/leases/c2 \
	'{"hwaddr":"00:16:3e:aa:bb:02","ipv4.address":"10.201.0.50","hostname":"c2"}' >/dev/null
reply=$(expect 200 GET /1.0/networks/t1/leases)
assert_eq "$(jq -r '.metadata[] | select(.hwaddr == "00:16:3e:aa:bb:02") | [.hostname, .address, .type] | join(" ")' <<<"$reply")" \
	"c2 10.201.0.50 static" "static lease listed"
expect 400 PUT /internal/testing/networks/t1/leases/c3 \
	'{"hwaddr":"00:16:3e:aa:bb:03","hostname":"c3\n--x"}' >/dev/null
ip netns exec "$CLIENT_NS" ip link set vc0 address 00:16:3e:aa:bb:02
ip netns exec "$CLIENT_NS" ip addr flush dev vc0
timeout 30 ip netns exec "$CLIENT_NS" busybox udhcpc -i vc0 -n -q -t 10 -T 1 \
	-s "$LODGE_DIR/udhcpc.sh" >/dev/null 2>&1 || fail "no DHCP lease for the static MAC"
assert_eq "$(ip netns exec "$CLIENT_NS" ip -4 -br addr show dev vc0 | awk '{print $3}')" \
	10.201.0.50/24 "static address handed out"
expect 200 DELETE /internal/testing/networks/t1/leases/c2 >/dev/null

# --- NAT: the client reaches an "upstream" namespace that has no route back to t1.
in_ns ip link add vu0 type veth peer name vu1
in_ns ip link set vu1 netns "$UPSTREAM_NS"
in_ns ip addr add 192.0.2.1/24 dev vu0
in_ns ip link set vu0 up
ip netns exec "$UPSTREAM_NS" ip addr add 192.0.2.2/24 dev vu1
ip netns exec "$UPSTREAM_NS" ip link set vu1 up
ip netns exec "$CLIENT_NS" busybox ping -c 1 -W 2 192.0.2.2 >/dev/null 2>&1 ||
	ip netns exec "$CLIENT_NS" busybox ping -c 2 -W 2 192.0.2.2 >/dev/null 2>&1 ||
	fail "NAT: the client cannot reach upstream"
lxc network set t1 ipv4.nat=false || fail "lxc network set ipv4.nat=false"
ip netns exec "$CLIENT_NS" busybox ping -c 1 -W 1 192.0.2.2 >/dev/null 2>&1 && fail "reached upstream without NAT"
lxc network set t1 ipv4.nat=true || fail "lxc network set ipv4.nat=true"

# --- Restart: same rules (never duplicated), dnsmasq kept.
rules_before=$(in_ns nft list table inet lodge)
pid_before=$(dnsmasq_pid t1)
daemon_kill
netns_daemon_start
assert_eq "$(in_ns nft list table inet lodge)" "$rules_before" "ruleset after a restart"
assert_eq "$(dnsmasq_pid t1)" "$pid_before" "dnsmasq kept across a restart"
# A dnsmasq killed behind lodged's back comes back on the next start.
kill "$pid_before"
daemon_kill
netns_daemon_start
[ -n "$(dnsmasq_pid t1)" ] || fail "dnsmasq not restarted"
assert_eq "$(in_ns nft list table inet lodge)" "$rules_before" "ruleset after a second restart"

# --- Rename and delete: everything goes.
lxc network rename t1 t3 >/dev/null || fail "lxc network rename"
in_ns test -d /sys/class/net/t1 && fail "old bridge left after rename"
in_ns test -d /sys/class/net/t3/bridge || fail "no bridge after rename"
in_ns nft list chain inet lodge pstrt.t1 >/dev/null 2>&1 && fail "old chains left after rename"
[ -n "$(dnsmasq_pid t3)" ] || fail "no dnsmasq after rename"
lxc network delete t3 >/dev/null || fail "lxc network delete"
in_ns test -d /sys/class/net/t3 && fail "bridge left after delete"
in_ns nft list table inet lodge | grep -q '\.t3 ' && fail "chains left after delete"
[ -d "$LODGE_DIR/networks/t3" ] && fail "state directory left after delete"
pgrep -f -- "--interface=t3 " >/dev/null && fail "dnsmasq left after delete"
expect 404 GET /1.0/networks/t3 >/dev/null

echo "PASS"
