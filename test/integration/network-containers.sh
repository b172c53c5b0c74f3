#!/bin/bash
# Containers on a managed bridge, with the real `lxc` client: the busybox image gets its
# DHCP lease at boot, containers resolve each other by name (c2.lodge), reach an "upstream"
# through NAT, a nic's ipv4.address is a static lease; a restart of lodged duplicates no
# nftables rule, and deleting the instances and the network leaves nothing behind.
#
# lodged runs in a network namespace of the test's own (lib.sh use_netns); the upstream is
# another namespace joined to it by a veth pair the test makes. The host's interfaces,
# routes and addresses are never touched.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox ip nft dnsmasq dhcp_release jq
[ -x "$PYTHON" ] || skip "needs $PYTHON"
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
use_netns
in_ns() {
	ip netns exec "$NETNS" "$@"
}
UPSTREAM_NS=$NETNS-u
ip netns add "$UPSTREAM_NS"
at_exit 'ip netns del "$UPSTREAM_NS" 2>/dev/null'

LODGE_DIR=$(mktemp -d /tmp/lodge-test.XXXXXX)
# As lodged makes /var/lib/lodge: dnsmasq, as nobody, re-reads static leases under it.
chmod 0711 "$LODGE_DIR"
export LODGE_DIR LXD_DIR=$LODGE_DIR
at_exit 'state_cleanup'
at_exit 'kill_dnsmasqs'
daemon_start --default-network

"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null ||
	fail "building the busybox image"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"

subnet=$(lxc network get lodgebr0 ipv4.address)
prefix=${subnet%.1/24}
assert_match "$subnet" '^10\.[0-9]+\.[0-9]+\.1/24$' "lodgebr0 subnet"

# wait_ipv4 NAME: the container's eth0 IPv4 address, once it has one (up to 5 s).
wait_ipv4() {
	local addr
	for _ in $(seq 50); do
		addr=$(lxc exec "$1" -- ip -4 -o addr show dev eth0 2>/dev/null |
			awk '{print $4}')
		[ -n "$addr" ] && echo "${addr%/*}" && return 0
		sleep 0.1
	done
	fail "$1 got no IPv4 address at boot: $(lxc exec "$1" -- ip addr 2>&1)"
}

# --- DHCP at boot, with nothing configured by hand.
lxc launch busybox c1 >/dev/null || fail "lxc launch c1"
lxc launch busybox c2 >/dev/null || fail "lxc launch c2"
start=$(date +%s)
ip1=$(wait_ipv4 c1)
ip2=$(wait_ipv4 c2)
[ $(($(date +%s) - start)) -le 4 ] || fail "leases took $(($(date +%s) - start)) s"
assert_match "$ip1" "^${prefix//./\\.}\.[0-9]+$" "c1 address in lodgebr0's subnet"
assert_match "$ip2" "^${prefix//./\\.}\.[0-9]+$" "c2 address in lodgebr0's subnet"
assert_match "$(lxc exec c1 -- ip route show default)" "via $prefix.1" "c1 default route"
assert_match "$(lxc exec c1 -- cat /etc/resolv.conf)" "nameserver $prefix.1" "c1 resolv.conf"
assert_match "$(lxc list c1 -c 4 --format csv)" "^$ip1 \(eth0\)$" "lxc list IPV4"
hw1=$(lxc config get c1 volatile.eth0.hwaddr)
# The instance's static lease names it, so its name resolves even before it asks.
leases=$(lxc network list-leases lodgebr0 --format csv)
assert_match "$leases" "c1,$hw1,$ip1,(STATIC|DYNAMIC)" "lxc network list-leases c1"
assert_match "$leases" "c2,$(lxc config get c2 volatile.eth0.hwaddr),$ip2" "list-leases c2"

# The instance's /state: eth0 with its MAC, host end and leased address.
state=$(api GET /1.0/instances/c1/state)
assert_eq "$(jq -r '.metadata.network.eth0.hwaddr' <<<"$state")" "$hw1" "state eth0 hwaddr"
assert_eq "$(jq -r '.metadata.network.eth0.host_name' <<<"$state")" \
	"$(lxc config get c1 volatile.eth0.host_name)" "state eth0 host_name"
assert_eq "$(jq -r '.metadata.network.eth0.addresses[] | select(.family == "inet") | [.address, .netmask, .scope] | join(" ")' <<<"$state")" \
	"$ip1 24 global" "state eth0 address"
assert_match "$(lxc info c1)" "inet:? +$ip1" "lxc info shows the address"

# --- DNS by name, both ways.
lxc exec c1 -- ping -c 1 -W 2 c2.lodge >/dev/null || fail "c1 cannot ping c2.lodge"
assert_match "$(lxc exec c1 -- nslookup c2.lodge 2>&1)" "$ip2" "c2.lodge resolves to c2"
lxc exec c2 -- ping -c 1 -W 2 c1.lodge >/dev/null || fail "c2 cannot ping c1.lodge"
# The bare name, through the search domain.
lxc exec c2 -- ping -c 1 -W 2 c1 >/dev/null || fail "c2 cannot ping c1"

# --- NAT to an upstream that has no route back to the bridge.
in_ns ip link add vu0 type veth peer name vu1
in_ns ip link set vu1 netns "$UPSTREAM_NS"
in_ns ip addr add 192.0.2.1/24 dev vu0
in_ns ip link set vu0 up
ip -n "$UPSTREAM_NS" addr add 192.0.2.2/24 dev vu1
ip -n "$UPSTREAM_NS" link set vu1 up
in_ns ip route add default via 192.0.2.2
# The upstream answers one TCP connection and records who it came from.
ip netns exec "$UPSTREAM_NS" "$PYTHON" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 9999)); s.listen(1); s.settimeout(20)
c, peer = s.accept(); c.sendall(b"hello\n"); c.close()
open(sys.argv[1], "w").write(peer[0])
' "$LODGE_DIR/peer" &
UP_PID=$!
at_exit 'kill $UP_PID 2>/dev/null'
for _ in $(seq 50); do
	ip netns exec "$UPSTREAM_NS" ss -ltn | grep -q 192.0.2.2:9999 && break
	sleep 0.1
done
lxc exec c1 -- ping -c 1 -W 2 192.0.2.2 >/dev/null || fail "NAT: c1 cannot ping upstream"
assert_eq "$(lxc exec c1 -- nc 192.0.2.2 9999 </dev/null)" hello "NAT: TCP to upstream"
wait "$UP_PID" || fail "upstream saw no connection"
assert_eq "$(cat "$LODGE_DIR/peer")" 192.0.2.1 "upstream sees the NAT'd source address"
# IPv6 too, when lodgebr0 has an IPv6 subnet (auto: NAT66 on): c1's SLAAC address is
# masqueraded behind the namespace's upstream address.
if [ "$(lxc network get lodgebr0 ipv6.address)" != none ] &&
	[ -n "$(lxc network get lodgebr0 ipv6.address)" ]; then
	assert_eq "$(lxc network get lodgebr0 ipv6.nat)" true "lodgebr0 ipv6.nat"
	in_ns ip -6 addr add 2001:db8:2::1/64 dev vu0 nodad
	ip -n "$UPSTREAM_NS" -6 addr add 2001:db8:2::2/64 dev vu1 nodad
	in_ns ip -6 route add default via 2001:db8:2::2
	for _ in $(seq 50); do
		lxc exec c1 -- ip -6 route show default | grep -q via && break
		sleep 0.1
	done
	lxc exec c1 -- ping -6 -c 1 -W 2 2001:db8:2::2 >/dev/null ||
		lxc exec c1 -- ping -6 -c 2 -W 2 2001:db8:2::2 >/dev/null ||
		fail "NAT66: c1 cannot ping upstream: $(lxc exec c1 -- ip -6 addr 2>&1; lxc exec c1 -- ip -6 route 2>&1)"
fi

# --- Static ipv4.address: refused outside the subnet, honoured inside it.
lxc stop -f c2 || fail "lxc stop c2"
out=$(lxc config device override c2 eth0 ipv4.address=192.0.2.50 2>&1) &&
	fail "an address outside the subnet was accepted"
assert_match "$out" "192.0.2.50 is not in $subnet" "static address outside the subnet"
out=$(lxc config device override c2 eth0 ipv4.address="$prefix.1" 2>&1) &&
	fail "the gateway's address was accepted"
# Bad nics are refused when they are added, not at the next start; nothing is stored.
devices=$(lxc config device list c2)
for bad in "nictype=p2p parent=lodgebr0|p2p nic takes no 'parent'" \
	"nictype=macvlan|needs a 'parent'" \
	"network=lodgebr0 hwaddr=ff:ff:ff:ff:ff:ff|expected a unicast MAC address" \
	"network=lodgebr0 mtu=20|expected 68 to 65535" \
	"network=lodgebr0 name=averyverylongname0|invalid interface name" \
	"nictype=macvlan parent=lodgebr0 host_name=v1|has no 'host_name'" \
	"nictype=macvlan parent=lodgebr0 ipv4.address=$prefix.7|nictype 'bridged' only" \
	"network=lodgebr0 ipv4.address=300.1.1.1|expected an IPv4 address" \
	"network=lodgebr0 ipv6.address=fd00::5|not stateful DHCPv6"; do
	# shellcheck disable=SC2086
	out=$(lxc config device add c2 e8 nic ${bad%%|*} 2>&1) && fail "nic accepted: ${bad%%|*}"
	assert_match "$out" "${bad#*|}" "nic refused: ${bad%%|*}"
done
assert_eq "$(lxc config device list c2)" "$devices" "refused nics stored nothing"
out=$(lxc config device add c2 e9 nic nictype=bridged parent=nobr0 ipv4.address="$prefix.9" 2>&1) &&
	fail "a static address on an unmanaged bridge was accepted"
assert_match "$out" "need a managed network: 'nobr0'" "static address on an unmanaged bridge"
lxc config device override c2 eth0 ipv4.address="$prefix.50" >/dev/null ||
	fail "lxc config device override ipv4.address"
assert_match "$(lxc network list-leases lodgebr0 --format csv)" "c2,.*,$prefix.50,STATIC" \
	"static lease listed"
lxc start c2 || fail "lxc start c2"
assert_eq "$(wait_ipv4 c2)" "$prefix.50" "static address handed out at boot"
lxc exec c1 -- ping -c 1 -W 2 c2.lodge >/dev/null || fail "c2.lodge after its static address"
assert_match "$(lxc exec c1 -- nslookup c2.lodge 2>&1)" "$prefix.50" "c2.lodge resolves anew"

# --- Rename: the name moves with the instance.
lxc stop -f c2 >/dev/null
lxc move c2 c3 || fail "lxc move c2 c3"
hosts=$LODGE_DIR/networks/lodgebr0/dnsmasq.hosts
[ -e "$hosts/c2" ] && fail "c2's lease left after the rename"
grep -q ",$prefix.50,c3\$" "$hosts/c3" || fail "no lease for c3: $(cat "$hosts"/* 2>&1)"

# --- macvlan, p2p and physical nics: hot-plugged, kept across a restart of the container,
# unplugged with nothing left.
# Parents: veth ends (the dummy module may be missing).
in_ns ip link add dum0 type veth peer name dum0p
in_ns ip link set dum0 up
in_ns ip link add dum1 type veth peer name dum1p
lxc config device add c1 mv nic nictype=macvlan parent=dum0 name=eth2 >/dev/null ||
	fail "hot-plug a macvlan nic"
lxc config device add c1 pp nic nictype=p2p name=eth3 >/dev/null || fail "hot-plug a p2p nic"
lxc config device add c1 ph nic nictype=physical parent=dum1 name=eth4 >/dev/null ||
	fail "hot-plug a physical nic"
check_nic_types() {
	assert_eq "$(lxc exec c1 -- cat /sys/class/net/eth2/address)" \
		"$(lxc config get c1 volatile.mv.hwaddr)" "macvlan eth2 $1"
	assert_eq "$(lxc exec c1 -- cat /sys/class/net/eth3/address)" \
		"$(lxc config get c1 volatile.pp.hwaddr)" "p2p eth3 $1"
	in_ns test -e "/sys/class/net/$(lxc config get c1 volatile.pp.host_name)" ||
		fail "p2p host end $1"
	in_ns test -e "/sys/class/net/$(lxc config get c1 volatile.pp.host_name)/master" &&
		fail "p2p host end on a bridge $1"
	lxc exec c1 -- test -e /sys/class/net/eth4 || fail "physical eth4 $1"
	in_ns test -e /sys/class/net/dum1 && fail "dum1 still on the host $1"
	true
}
check_nic_types "hot-plugged"
lxc restart -f c1 || fail "lxc restart c1 with macvlan, p2p and physical nics"
check_nic_types "after a restart"
wait_ipv4 c1 >/dev/null
pp_host=$(lxc config get c1 volatile.pp.host_name)
lxc config device remove c1 mv pp ph >/dev/null || fail "hot-unplug"
for i in eth2 eth3 eth4; do
	lxc exec c1 -- test -e "/sys/class/net/$i" && fail "$i still in c1"
done
in_ns test -e "/sys/class/net/$pp_host" && fail "p2p host end left"
in_ns test -e /sys/class/net/dum1 || fail "dum1 did not come back"
assert_eq "$(in_ns ip -o link show type macvlan)" "" "a macvlan left"
assert_eq "$(lxc config show c1 | grep -c 'volatile\.\(mv\|pp\|ph\)\.')" 0 \
	"volatile keys of unplugged nics"
in_ns ip link del dum0
in_ns ip link del dum1

# --- A restart of lodged re-creates nothing twice.
rules=$(in_ns nft list table inet lodge)
daemon_kill
daemon_start --default-network
assert_eq "$(in_ns nft list table inet lodge)" "$rules" "nftables ruleset after a restart"
assert_eq "$(in_ns nft list ruleset | grep -c "ip saddr ${prefix//./\\.}\.0/24 .*masquerade")" 1 \
	"one IPv4 masquerade rule"
lxc exec c1 -- ping -c 1 -W 2 192.0.2.2 >/dev/null || fail "NAT after a restart"

# --- A profile's nic changed: the static leases of the instances using it follow.
lxc profile copy default p5 >/dev/null || fail "lxc profile copy"
lxc init busybox c5 -p p5 >/dev/null || fail "lxc init c5"
out=$(lxc profile device set p5 eth0 ipv4.address 192.0.2.77 2>&1) &&
	fail "a profile gave c5 an address outside its network"
assert_match "$out" "Instance 'c5'.*192.0.2.77 is not in $subnet" "profile address checked"
lxc profile device set p5 eth0 ipv4.address "$prefix.70" || fail "profile nic ipv4.address"
for _ in $(seq 30); do
	grep -q ",$prefix.70,c5\$" "$hosts/c5" 2>/dev/null && break
	sleep 0.1
done
grep -q "^$(lxc config get c5 volatile.eth0.hwaddr),$prefix.70,c5\$" "$hosts/c5" ||
	fail "c5's lease did not follow its profile: $(cat "$hosts/c5" 2>&1)"
lxc delete c5 || fail "lxc delete c5"
lxc profile delete p5 || fail "lxc profile delete p5"

# --- A second network; deleting instances and networks leaves nothing behind.
lxc network create t1 ipv4.address=10.202.0.1/24 ipv4.nat=true ipv6.address=none >/dev/null ||
	fail "lxc network create t1"
lxc init busybox c4 --network t1 >/dev/null || fail "lxc init --network t1"
lxc start c4 || fail "lxc start c4"
assert_match "$(wait_ipv4 c4)" '^10\.202\.0\.[0-9]+$' "c4 leased on t1"
lxc exec c4 -- ping -c 1 -W 2 192.0.2.2 >/dev/null || fail "NAT from t1"

# --- Hot-plug: a nic on t1 into running c1, then out again.
lxc config device add c1 eth1 nic network=t1 >/dev/null || fail "hot-plug eth1 into c1"
hw=$(lxc config get c1 volatile.eth1.hwaddr)
host=$(lxc config get c1 volatile.eth1.host_name)
assert_match "$(lxc exec c1 -- ip link show eth1)" "link/ether $hw" "eth1 in c1, with its MAC"
assert_eq "$(in_ns cat "/sys/class/net/$host/master/uevent" | sed -n 's/^INTERFACE=//p')" t1 \
	"eth1's host end on t1"
lxc exec c1 -- ip link set eth1 up
timeout 20 lxc exec c1 -- udhcpc -i eth1 -n -q -t 5 -T 1 -s /etc/udhcpc/default.script \
	>/dev/null 2>&1 || fail "no lease on the hot-plugged nic"
addr=$(lxc exec c1 -- ip -4 -o addr show dev eth1 | awk '{print $4}')
assert_match "$addr" '^10\.202\.0\.[0-9]+/24$' "eth1 leased on t1"
assert_match "$(lxc network list-leases t1 --format csv)" "c1,$hw,${addr%/24}" "c1's lease on t1"
lxc exec c4 -- ping -c 1 -W 2 c1.lodge >/dev/null || fail "c4 cannot ping c1.lodge on t1"
links=$(in_ns ip -o link show | wc -l)
out=$(lxc config device add c1 eth2 nic network=t1 name=eth0 2>&1) &&
	fail "a second eth0 was plugged in"
assert_match "$out" "as 'eth0'" "name taken"
assert_eq "$(in_ns ip -o link show | wc -l)" "$links" "a refused nic left no veth"
assert_eq "$(lxc config get c1 volatile.eth2.hwaddr)" "" "a refused nic left no config"
lxc config device remove c1 eth1 >/dev/null || fail "hot-unplug eth1"
lxc exec c1 -- ip link show eth1 >/dev/null 2>&1 && fail "eth1 still in c1"
in_ns test -e "/sys/class/net/$host" && fail "eth1's host end left"
[ -e "$LODGE_DIR/networks/t1/dnsmasq.hosts/c1" ] && fail "c1's static lease on t1 left"
for _ in $(seq 30); do
	lxc network list-leases t1 --format csv | grep -q "^c1," || break
	sleep 0.1
done
lxc network list-leases t1 --format csv | grep -q "^c1," && fail "c1's lease on t1 not released"
# A static address given to a running nic: no re-plug, the lease changes, a renewal
# (SIGUSR1 to udhcpc) moves the container to it.
ifindex=$(lxc exec c1 -- cat /sys/class/net/eth0/ifindex)
lxc config device override c1 eth0 ipv4.address="$prefix.60" >/dev/null ||
	fail "static address on a running nic"
assert_eq "$(lxc exec c1 -- cat /sys/class/net/eth0/ifindex)" "$ifindex" "eth0 not re-plugged"
lxc exec c1 -- killall -USR1 udhcpc
for _ in $(seq 50); do
	[ "$(wait_ipv4 c1)" = "$prefix.60" ] && break
	sleep 0.1
done
assert_eq "$(wait_ipv4 c1)" "$prefix.60" "c1 renewed onto its static address"
# Devices other than nics and disks of a running container still cannot change.
out=$(lxc config device add c1 d1 unix-char path=/dev/null 2>&1) &&
	fail "a unix-char device was added to a running container"
assert_match "$out" "only nic and disk devices can" "unix-char hot-plug refused"

out=$(lxc network delete t1 2>&1) && fail "deleted t1 while c4 uses it"
assert_match "$out" "in use by /1.0/instances/c4" "t1 in use"
lxc delete -f c1 c3 c4 || fail "lxc delete"
[ -n "$(ls -A "$hosts")" ] && fail "leases left after delete: $(ls "$hosts")"
# Dynamic leases too: released (DHCPRELEASE), so dnsmasq drops them from its lease file.
for _ in $(seq 30); do
	[ -z "$(lxc network list-leases lodgebr0 --format csv)" ] && break
	sleep 0.1
done
assert_eq "$(lxc network list-leases lodgebr0 --format csv)" "" "no lease left on lodgebr0"
assert_eq "$(lxc network list-leases t1 --format csv)" "" "no lease left on t1"
lxc network delete t1 || fail "lxc network delete t1"
in_ns test -e /sys/class/net/t1 && fail "bridge t1 left"
in_ns nft list table inet lodge | grep -q '\.t1 ' && fail "nftables chains of t1 left"
pgrep -f -- "--interface=t1 " >/dev/null && fail "dnsmasq of t1 left"
# Only what the test made and lodgebr0 remain: no veth of a container.
links=$(in_ns ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
assert_eq "$links" "lo lodgebr0 vu0 " "links in the namespace after delete"

echo "PASS"
