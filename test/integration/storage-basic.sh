#!/bin/bash
# Storage pools and custom volumes through the real `lxc` client (LXD 5.0.2) and curl.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc
daemon_start

export LXD_DIR="$LODGE_DIR" LXD_CONF="$LODGE_DIR/lxc-conf"

# GET /1.0 advertises storage and the dir driver.
reply=$(expect_status 200 GET /1.0)
jq -e '.metadata.api_extensions | index("storage")' <<<"$reply" >/dev/null || fail "api_extensions lacks storage"
assert_eq "$(jq -c '.metadata.environment.storage_supported_drivers' <<<"$reply")" \
	'[{"Name":"dir","Version":"1","Remote":false},{"Name":"btrfs","Version":"6.2","Remote":false}]' "storage_supported_drivers"

# First start made the pool "default", used by the default profile's root disk.
assert_eq "$(lxc storage list --format csv | cut -d, -f1,2)" "default,dir" "default pool"
reply=$(expect_status 200 GET /1.0/storage-pools/default)
assert_eq "$(jq -r '.metadata.config.source' <<<"$reply")" "$LODGE_DIR/storage-pools/default" "default source"
assert_eq "$(jq -c '.metadata.used_by' <<<"$reply")" '["/1.0/profiles/default"]' "default used_by"
assert_eq "$(jq -c '.metadata.locations' <<<"$reply")" '["none"]' "locations"

# lxc storage create: 201 with Location; a source the user names must exist.
out=$(lxc storage create p1 dir source="$LODGE_DIR/nowhere" 2>&1) && fail "created a pool on a missing source"
assert_match "$out" "doesn't exist" "missing source message"
mkdir "$LODGE_DIR/pool1"
assert_eq "$(lxc storage create p1 dir source="$LODGE_DIR/pool1")" "Storage pool p1 created" "lxc storage create"
[ -d "$LODGE_DIR/pool1/custom" ] || fail "pool layout not created"
code=$(curl -s -o /dev/null -D "$LODGE_DIR/headers" -w '%{http_code}' --unix-socket "$SOCK" -X POST \
	--data-binary '{"name":"p2","driver":"dir","config":{}}' http://lodge/1.0/storage-pools)
assert_eq "$code" 201 "POST /1.0/storage-pools"
grep -qi '^location: /1.0/storage-pools/p2' "$LODGE_DIR/headers" || fail "no Location header"
[ -d "$LODGE_DIR/storage-pools/p2/containers" ] || fail "default source of p2"
out=$(lxc storage create p1 dir 2>&1) && fail "created p1 twice"
assert_match "$out" "already exists" "duplicate pool"
out=$(lxc storage create p3 zfs 2>&1) && fail "created a zfs pool"
assert_match "$out" "'zfs' is not supported" "unknown driver"
reply=$(expect_status 400 POST /1.0/storage-pools '{"name":"../x","driver":"dir"}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid storage pool name" "bad pool name"
reply=$(expect_status 400 POST /1.0/storage-pools '{"name":"p4","driver":"dir","config":{"nope":"1"}}')
assert_eq "$(jq -r .error <<<"$reply")" "Unknown configuration key 'nope'" "unknown pool key"

# list / show / info.
lxc storage list --format csv | grep -q "^p1,dir,$LODGE_DIR/pool1,,0,CREATED$" || fail "lxc storage list: $(lxc storage list --format csv)"
lxc storage show p1 | grep -q "^  source: $LODGE_DIR/pool1$" || fail "lxc storage show"
lxc storage info p1 | grep -q "total space:" || fail "lxc storage info"
reply=$(expect_status 200 GET /1.0/storage-pools/p1/resources)
[ "$(jq '.metadata.space.total > 0 and .metadata.inodes.total > 0' <<<"$reply")" = true ] || fail "resources: $reply"
reply=$(expect_status 200 GET "/1.0/storage-pools?recursion=1")
assert_eq "$(jq -r '[.metadata[].name] | join(",")' <<<"$reply")" "default,p1,p2" "recursion=1"
assert_eq "$(api GET /1.0/storage-pools | jq -c .metadata)" \
	'["/1.0/storage-pools/default","/1.0/storage-pools/p1","/1.0/storage-pools/p2"]' "pool URLs"
expect_status 404 GET /1.0/storage-pools/nope >/dev/null

# lxc storage set (GET, then PUT with If-Match); bad keys and a new source are refused.
lxc storage set p1 user.foo=bar || fail "lxc storage set"
assert_eq "$(lxc storage get p1 user.foo)" bar "lxc storage get"
out=$(lxc storage set p1 bogus=1 2>&1) && fail "set an unknown key"
assert_match "$out" "bogus" "unknown key named"
out=$(lxc storage set p1 source=/tmp 2>&1) && fail "changed the source"
assert_match "$out" "cannot be changed" "source change refused"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X PUT -H 'If-Match: "stale"' \
	--data-binary '{"config":{}}' http://lodge/1.0/storage-pools/p1)
assert_eq "$code" 412 "stale If-Match"
expect_status 200 PATCH /1.0/storage-pools/p1 '{"description":"first pool"}' >/dev/null
reply=$(expect_status 200 GET /1.0/storage-pools/p1)
assert_eq "$(jq -r .metadata.description <<<"$reply")" "first pool" "PATCH description"
assert_eq "$(jq -r '.metadata.config["user.foo"]' <<<"$reply")" bar "PATCH kept the config"

# Custom volumes.
assert_eq "$(lxc storage volume create p1 vol1)" "Storage volume vol1 created" "volume create"
[ -d "$LODGE_DIR/pool1/custom/vol1" ] || fail "volume directory"
out=$(lxc storage volume create p1 vol1 2>&1) && fail "created vol1 twice"
assert_match "$out" "already exists" "duplicate volume"
reply=$(expect_status 400 POST /1.0/storage-pools/p1/volumes/custom '{"name":"../../escape","type":"custom"}')
assert_match "$(jq -r .error <<<"$reply")" "Invalid storage volume name" "volume name with a path"
[ -e "$LODGE_DIR/escape" ] && fail "a volume escaped the pool"
reply=$(expect_status 400 POST /1.0/storage-pools/p1/volumes/custom '{"name":"v","config":{"bad.key":"1"}}')
assert_eq "$(jq -r .error <<<"$reply")" "Unknown configuration key 'bad.key'" "unknown volume key"
expect_status 400 POST /1.0/storage-pools/p1/volumes/container '{"name":"c"}' >/dev/null
expect_status 400 GET /1.0/storage-pools/p1/volumes/nonsense >/dev/null
lxc storage volume list p1 --format csv | grep -q '^custom,vol1,,filesystem,0$' || fail "volume list: $(lxc storage volume list p1 --format csv)"
lxc storage volume show p1 vol1 | grep -q '^name: vol1$' || fail "volume show"
reply=$(expect_status 200 GET "/1.0/storage-pools/p1/volumes?filter=name%20eq%20vol1&recursion=1")
assert_eq "$(jq -r '.metadata | length' <<<"$reply")" 1 "filter matches"
reply=$(expect_status 200 GET "/1.0/storage-pools/p1/volumes/custom?filter=name%20eq%20other")
assert_eq "$(jq -c .metadata <<<"$reply")" "[]" "filter excludes"
assert_eq "$(api GET /1.0/storage-pools/p1/volumes/custom | jq -c .metadata)" \
	'["/1.0/storage-pools/p1/volumes/custom/vol1"]' "volume URLs"
lxc storage volume set p1 vol1 user.a=b || fail "volume set"
assert_eq "$(lxc storage volume get p1 vol1 user.a)" b "volume get"
out=$(lxc storage volume set p1 vol1 nope=1 2>&1) && fail "volume set unknown key"
assert_match "$out" "nope" "unknown volume key named"
reply=$(expect_status 200 GET /1.0/storage-pools/p1/volumes/custom/vol1/state)
[ "$(jq '.metadata.usage.used >= 0' <<<"$reply")" = true ] || fail "volume state: $reply"
lxc storage volume rename p1 vol1 vol2 || fail "volume rename"
[ -d "$LODGE_DIR/pool1/custom/vol2" ] && [ ! -e "$LODGE_DIR/pool1/custom/vol1" ] || fail "rename on disk"
assert_eq "$(lxc storage volume get p1 vol2 user.a)" b "config follows the rename"

# A pool in use is not deleted; the message names the user.
out=$(lxc storage delete p1 2>&1) && fail "deleted a pool in use"
assert_match "$out" "/1.0/storage-pools/p1/volumes/custom/vol2" "pool users named"
assert_eq "$(lxc storage volume delete p1 vol2)" "Storage volume vol2 deleted" "volume delete"
[ -e "$LODGE_DIR/pool1/custom/vol2" ] && fail "volume directory left behind"
expect_status 404 GET /1.0/storage-pools/p1/volumes/custom/vol2 >/dev/null
assert_eq "$(lxc storage delete p1)" "Storage pool p1 deleted" "pool delete"
[ -d "$LODGE_DIR/pool1" ] || fail "the user's source directory was removed"
[ -z "$(ls -A "$LODGE_DIR/pool1")" ] || fail "pool files left behind: $(ls -A "$LODGE_DIR/pool1")"
expect_status 404 GET /1.0/storage-pools/p1 >/dev/null
lxc storage delete p2 >/dev/null || fail "delete p2"
[ -e "$LODGE_DIR/storage-pools/p2" ] && fail "default source of p2 left behind"

# The default pool survives a restart, and no second one appears.
daemon_kill
"$LODGED" --debug --testing >>"$LODGE_DIR/lodged.stderr" 2>&1 &
DAEMON_PID=$!
"$LODGED" waitready --timeout 10 || fail "restart"
assert_eq "$(lxc storage list --format csv | cut -d, -f1)" "default" "pools after restart"
out=$(lxc storage delete default 2>&1) && fail "deleted the default pool in use"
assert_match "$out" "/1.0/profiles/default" "profile named as a user"
echo "PASS: storage basics"
