#!/bin/bash
# `lodged init --auto` and `lodged init --preseed`, as `lxd init`: against a running lodged
# (in a network namespace of the test's own) that started without a network.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc ip nft dnsmasq jq busybox
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
use_netns
in_ns() {
	ip netns exec "$NETNS" "$@"
}
LODGE_DIR=$(mktemp -d /tmp/lodge-test.XXXXXX)
chmod 0711 "$LODGE_DIR"
export LODGE_DIR LXD_DIR=$LODGE_DIR
at_exit 'state_cleanup'
at_exit 'kill_dnsmasqs'
daemon_start

assert_eq "$(lxc network list --format csv | grep -c ',YES,')" 0 "no managed network at first"
assert_eq "$(lxc profile device list default | grep -c eth0)" 0 "no nic in the default profile"

# --- --auto: the bridge and the default profile's nic; a second run changes nothing.
"$LODGED" init --auto || fail "lodged init --auto"
in_ns test -d /sys/class/net/lodgebr0/bridge || fail "no lodgebr0 after init --auto"
assert_eq "$(lxc network get lodgebr0 ipv4.nat)" true "lodgebr0 NAT"
assert_match "$(lxc network get lodgebr0 ipv4.address)" '^10\.[0-9]+\.[0-9]+\.1/24$' "lodgebr0 subnet"
profile=$(lxc profile show default)
assert_match "$profile" "network: lodgebr0" "eth0 on lodgebr0 in the default profile"
assert_match "$(lxc profile device get default root path)" "^/$" "root disk kept"
networks=$(lxc network list --format csv)
"$LODGED" init --auto || fail "second lodged init --auto"
assert_eq "$(lxc profile show default)" "$profile" "default profile after a second --auto"
assert_eq "$(lxc network list --format csv)" "$networks" "networks after a second --auto"

# --- --preseed: config, networks and profiles, created then merged.
cat >"$LODGE_DIR/preseed.yaml" <<'EOF'
config:
  images.auto_update_interval: "0"
storage_pools:
- name: p2
  driver: dir
  description: second pool
cluster: null
projects:
- name: default
networks:
- name: t1
  type: bridge
  project: default
  description: preseeded
  config:
    ipv4.address: 10.203.0.1/24
    ipv4.nat: "true"
    ipv6.address: none
profiles:
- name: p1
  description: on t1
  devices:
    eth0:
      type: nic
      network: t1
      name: eth0
    root:
      type: disk
      path: /
      pool: default
EOF
"$LODGED" init --preseed <"$LODGE_DIR/preseed.yaml" || fail "lodged init --preseed"
assert_eq "$(lxc config get images.auto_update_interval)" 0 "server config from the preseed"
assert_eq "$(lxc network get t1 ipv4.address)" 10.203.0.1/24 "t1 from the preseed"
assert_eq "$(lxc storage list --format csv | grep -c '^p2,dir,')" 1 "pool p2 from the preseed"
in_ns test -d /sys/class/net/t1/bridge || fail "no bridge t1"
assert_eq "$(lxc profile device get p1 eth0 network)" t1 "p1's nic"
# Applied again, with a change: updated in place, nothing duplicated.
sed -i 's/description: preseeded/description: again/' "$LODGE_DIR/preseed.yaml"
"$LODGED" init --preseed <"$LODGE_DIR/preseed.yaml" || fail "second lodged init --preseed"
assert_eq "$(lxc network show t1 | sed -n 's/^description: //p')" again "t1 updated"
assert_eq "$(lxc network list --format csv | grep -c '^t1,')" 1 "one t1"
assert_eq "$(lxc storage list --format csv | grep -c '^p2,')" 1 "one p2"
assert_eq "$(in_ns nft list table inet lodge | grep -c 'ip saddr 10.203.0.0/24')" 1 \
	"one NAT rule for t1"
# An empty preseed does nothing.
"$LODGED" init --preseed </dev/null || fail "empty preseed"

# --- Refusals: a clear message, nothing created.
# refused PRESEED MESSAGE: lodged init --preseed must fail, saying MESSAGE.
refused() {
	local out
	out=$(printf '%b' "$1" | "$LODGED" init --preseed 2>&1) && fail "preseed accepted: $1"
	assert_match "$out" "$2" "preseed refused: $1"
}
refused 'cluster:\n  enabled: true\n' "'cluster' is not supported"
refused 'networks:\n- name: t3\n  project: other\n' "only 'default' exists"
refused 'projects:\n- name: p9\n' "projects are not supported"
refused 'networks:\n- name: [x\n' "Invalid preseed"
refused 'networks:\n- name: "../x"\n' "without a valid name"
refused 'profiles:\n- name: p2\n  devices:\n    eth0: nic\n' "must be a map"
refused 'networks:\n- name: t2\n  config:\n    ipv4.address: 10.203.0.9/16\n' \
	"Failed to apply network 't2'.*overlaps network 't1'"
lxc network show t2 >/dev/null 2>&1 && fail "a refused network was created"
lxc profile show p2 >/dev/null 2>&1 && fail "a refused profile was created"
out=$("$LODGED" init 2>&1) && fail "lodged init without a mode"
assert_match "$out" "exactly one of --auto and --preseed" "no mode refused"

# --- A container on the preseeded profile gets its address on t1.
"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null ||
	fail "building the busybox image"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"
lxc launch busybox c1 -p p1 >/dev/null || fail "lxc launch -p p1"
for _ in $(seq 50); do
	addr=$(lxc list c1 -c 4 --format csv)
	[ -n "$addr" ] && break
	sleep 0.1
done
assert_match "$addr" '^10\.203\.0\.[0-9]+ \(eth0\)$' "c1 leased on t1"
lxc delete -f c1 || fail "lxc delete c1"

# --- pylxd drives networks the same way.
out=$("$PYTHON" - <<'PY' 2>&1
import pylxd
c = pylxd.Client()
n = c.networks.create("pn1", description="from pylxd", type="bridge",
                      config={"ipv4.address": "10.210.0.1/24", "ipv6.address": "none"})
assert n.managed, n
n = c.networks.get("pn1")
n.config["bridge.mtu"] = "1450"
n.description = "changed"
n.save(wait=True)
n = c.networks.get("pn1")
assert n.config["bridge.mtu"] == "1450" and n.description == "changed", n.config
assert "/1.0/profiles/p1" in c.networks.get("t1").used_by
# (pylxd 2.2's rename POSTs to /1.0/networks, creating a network, on LXD too: not used.)
n.delete()
assert not c.networks.exists("pn1")
try:
    c.networks.create("pn3", config={"bogus": "1"})
    raise SystemExit("bogus key accepted")
except pylxd.exceptions.LXDAPIException as e:
    assert "Unknown configuration key 'bogus'" in str(e), e
print("ok")
PY
) || fail "pylxd networks: $out"
assert_eq "$out" ok "pylxd networks"
in_ns test -e /sys/class/net/pn1 && fail "pn1 left"

echo "PASS"
