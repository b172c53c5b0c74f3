#!/bin/bash
# Daily container work with the real `lxc` client (Debian's lxd-client 5.0.2), unchanged:
# launch, list, info, exec, file push/pull, snapshot/restore, config, profiles, stop,
# start, restart, delete; plus re-attaching after lodged is killed.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR

"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null ||
	fail "building the busybox image"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"

# launch, list, info
lxc launch busybox c1 >/dev/null || fail "lxc launch"
assert_eq "$(lxc list c1 -c s --format csv)" RUNNING "status after launch"
assert_eq "$(lxc list --format json | jq -r '.[0].name')" c1 "lxc list --format json"
lxc info c1 | grep -q "^Status: RUNNING" || fail "lxc info: $(lxc info c1)"

# exec: output, exit code, environment, stdin
assert_eq "$(lxc exec c1 -- cat /etc/hostname)" c1 "hostname template on create"
assert_eq "$(lxc exec c1 -- sh -c 'echo hi; echo err >&2; exit 3' 2>/dev/null)" hi "exec stdout"
set +e
lxc exec c1 -- sh -c 'exit 7'
rc=$?
set -e
assert_eq "$rc" 7 "exec exit code"
assert_eq "$(lxc exec c1 --env FOO=bar -- sh -c 'echo $FOO')" bar "exec --env"
assert_eq "$(echo piped | lxc exec c1 -- cat)" piped "exec stdin"
# More stdin than lodged buffers, to a reader slower than the client: nothing is lost
# (the client's stream is paused, not cut).
assert_eq "$(head -c 50M /dev/zero | lxc exec c1 -- sh -c 'sleep 1; wc -c' | tr -d ' ')" 52428800 "exec stdin with back pressure"
assert_eq "$(lxc exec c1 -- id -u)" 0 "exec as root"
assert_eq "$(lxc exec c1 --user 1000 -- id -u)" 1000 "exec --user"
assert_eq "$(lxc exec c1 --cwd /tmp -- pwd)" /tmp "exec --cwd"
# The process starts with no signal blocked or ignored (lodged ignores SIGPIPE; its
# attach helper blocks SIGCHLD).
assert_eq "$(lxc exec c1 -- grep -E '^Sig(Blk|Ign):' /proc/self/status | tr -d '\t')" \
	"$(printf 'SigBlk:0000000000000000\nSigIgn:0000000000000000')" "exec signal defaults"
# A pty, as `lxc exec -t` gives: the command sees a terminal.
out=$(script -qec "lxc exec c1 -t -- sh -c 'test -t 0 && echo tty'" /dev/null | tr -d '\r')
assert_match "$out" tty "exec -t"

# 50 simultaneous execs into one container all return with their output.
pids=()
for i in $(seq 50); do
	(lxc exec c1 -- sh -c "echo out-$i" >"$LODGE_DIR/exec-$i.out" 2>&1) &
	pids+=($!)
done
wait "${pids[@]}"
for i in $(seq 50); do
	assert_eq "$(cat "$LODGE_DIR/exec-$i.out")" "out-$i" "concurrent exec $i"
done

# exec without websockets, recording the output under /logs (container_exec_recording)
op=$(api POST /1.0/instances/c1/exec '{"command":["sh","-c","echo rec-out; echo rec-err >&2; exit 4"],"wait-for-websocket":false,"record-output":true,"interactive":false}' | jq -r .operation)
reply=$(wait_op "$op")
assert_eq "$(jq -r .metadata.metadata.return <<<"$reply")" 4 "recorded exec exit code"
log=$(jq -r '.metadata.metadata.output["1"]' <<<"$reply")
assert_eq "$(api GET "$log")" rec-out "recorded stdout"
assert_eq "$(api GET "$(jq -r '.metadata.metadata.output["2"]' <<<"$reply")")" rec-err "recorded stderr"
expect_status 200 DELETE "$log" >/dev/null
expect_status 404 GET "$log" >/dev/null
expect_status 400 DELETE /1.0/instances/c1/logs/lxc.log >/dev/null
lxc info c1 --show-log >/dev/null || fail "info --show-log"

# console: the log, and an attach through the console websockets (as `lxc console` does:
# control first, then the terminal stream; keystrokes in, the shell's output back).
lxc console c1 --show-log >/dev/null || fail "console --show-log"
"$PYTHON" - "$SOCK" c1 <<'PY' || fail "console attach"
import asyncio, http.client, json, socket, sys, websockets
class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("lodge")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)
c = Unix(sys.argv[1])
c.request("POST", "/1.0/instances/%s/console" % sys.argv[2],
          json.dumps({"width": 80, "height": 24, "type": "console"}))
reply = json.loads(c.getresponse().read())
op, fds = reply["operation"], reply["metadata"]["metadata"]["fds"]
async def main():
    url = "ws://lodge%s/websocket?secret=%s"
    async with websockets.unix_connect(sys.argv[1], url % (op, fds["control"])):
        async with websockets.unix_connect(sys.argv[1], url % (op, fds["0"])) as term:
            await term.send(b"echo con''sole-ok\n")
            out = b""
            while b"console-ok\r" not in out:
                out += await asyncio.wait_for(term.recv(), 10)
asyncio.run(main())
PY

# files
printf 'hello\n' >"$LODGE_DIR/hello.txt"
lxc file push "$LODGE_DIR/hello.txt" c1/root/hello.txt --mode 0640 || fail "file push"
assert_eq "$(lxc exec c1 -- cat /root/hello.txt)" hello "pushed content"
assert_eq "$(lxc exec c1 -- stat -c %a /root/hello.txt)" 640 "pushed mode"
lxc file pull c1/root/hello.txt "$LODGE_DIR/pulled.txt" || fail "file pull"
cmp "$LODGE_DIR/hello.txt" "$LODGE_DIR/pulled.txt" || fail "pulled content differs"
mkdir -p "$LODGE_DIR/tree/sub" && echo a >"$LODGE_DIR/tree/a" && echo b >"$LODGE_DIR/tree/sub/b"
ln -s a "$LODGE_DIR/tree/lnk"
lxc file push -r "$LODGE_DIR/tree" c1/root/ || fail "file push -r"
assert_eq "$(lxc exec c1 -- cat /root/tree/sub/b)" b "recursive push"
assert_eq "$(lxc exec c1 -- readlink /root/tree/lnk)" a "pushed symlink"
mkdir "$LODGE_DIR/back"
lxc file pull -r c1/root/tree "$LODGE_DIR/back/" || fail "file pull -r"
assert_eq "$(cat "$LODGE_DIR/back/tree/sub/b")" b "recursive pull"
lxc file delete c1/root/hello.txt || fail "file delete"
lxc exec c1 -- test ! -e /root/hello.txt || fail "deleted file still there"
# A symlink inside the container that points at the host's /etc stays inside.
lxc exec c1 -- ln -s /etc /root/escape
lxc file push "$LODGE_DIR/hello.txt" c1/root/escape/lodge-escape-test || true
[ -e /etc/lodge-escape-test ] && fail "file push escaped the container"

# config: live limits, refusal of bad keys and injected lines
lxc config set c1 limits.memory 64MiB || fail "config set limits.memory"
assert_eq "$(lxc config get c1 limits.memory)" 64MiB "config get"
if lxc config set c1 limits.memory "$(printf '1\nlxc.init.cmd=/bin/evil')" 2>/dev/null; then
	fail "a newline was accepted into limits.memory"
fi
if lxc config set c1 raw.lxc "lxc.init.cmd=/bin/evil" 2>/dev/null; then
	fail "raw.lxc accepted"
fi
# Live CPU and process limits reach the container's cgroup on the host (v1 controllers
# here; the unified files elsewhere).
cg_read() { # CONTROLLER V1FILE V2FILE: c1's cgroup file for CONTROLLER
	local pid rel
	pid=$(lxc info c1 | awk '/^PID:/ {print $2}')
	rel=$(awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $2 $3; exit } }' "/proc/$pid/cgroup")
	if [ -n "$rel" ]; then
		cat "/sys/fs/cgroup/${rel%%/*}/${rel#*/}/$2"
	else
		cat "/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")/$3"
	fi
}
lxc config set c1 limits.processes 50 || fail "config set limits.processes"
assert_eq "$(cg_read pids pids.max pids.max)" 50 "limits.processes applied live"
lxc config set c1 limits.cpu 1 || fail "config set limits.cpu"
cpus=$(cg_read cpuset cpuset.cpus cpuset.cpus)
assert_match "$cpus" '^[0-9]+$' "limits.cpu=1 pins one CPU"
lxc config set c1 limits.cpu.allowance 25ms/100ms || fail "config set limits.cpu.allowance"
assert_match "$(cg_read cpu cpu.cfs_quota_us cpu.max)" '^25000( 100000)?$' "limits.cpu.allowance applied live"
lxc config unset c1 limits.processes || fail "config unset limits.processes"
assert_eq "$(cg_read pids pids.max pids.max)" max "limits.processes lifted live"
lxc config unset c1 limits.cpu.allowance
lxc config unset c1 limits.cpu

# config edit (YAML on stdin, a PUT with the ETag): a description and a user key.
lxc config show c1 | sed 's/^description: .*/description: edited/; s/^config:$/config:\n  user.edited: "yes"/' |
	lxc config edit c1 || fail "config edit"
assert_eq "$(lxc config get c1 user.edited)" yes "config edit: key"
assert_eq "$(lxc list c1 --format json | jq -r '.[0].description')" edited "config edit: description"
assert_eq "$(lxc config get c1 limits.memory)" 64MiB "config edit kept the other keys"
printf 'config:\n  limits.memory: lots\n' | lxc config edit c1 2>/dev/null && fail "config edit with a bad value"
assert_eq "$(lxc config get c1 limits.memory)" 64MiB "a refused edit changed nothing"

# disks hot-plugged into the running container: a host directory (read-only too), a custom
# volume (idmapped: root inside writes, the file is 0-owned on disk), and out again. The
# target's path resolves inside the container, symlinks included.
mkdir -p "$LODGE_DIR/share" && echo shared >"$LODGE_DIR/share/f"
lxc config device add c1 share disk source="$LODGE_DIR/share" path=/mnt/share >/dev/null ||
	fail "hot-plug a host directory"
assert_eq "$(lxc exec c1 -- cat /mnt/share/f)" shared "hot-plugged directory content"
lxc config device add c1 ro disk source="$LODGE_DIR/share" path=/mnt/ro readonly=true >/dev/null ||
	fail "hot-plug read-only"
lxc exec c1 -- sh -c 'echo x > /mnt/ro/g' 2>/dev/null && fail "wrote through a read-only disk"
lxc storage volume create default hv >/dev/null || fail "volume create"
lxc storage volume attach default hv c1 /mnt/hv || fail "hot-plug a custom volume"
lxc exec c1 -- sh -c 'echo vol > /mnt/hv/f' || fail "root in the container writes to the volume"
hvf=$(find "$LODGE_DIR/storage-pools/default" -path '*hv*' -name f -type f | head -n1)
[ -n "$hvf" ] || fail "the volume's file is not on the pool"
assert_eq "$(stat -c %u "$hvf")" 0 "volume files are stored unshifted"
lxc exec c1 -- ln -s /etc /root/escape
lxc config device add c1 esc disk source="$LODGE_DIR/share" path=/root/escape/lodge-esc >/dev/null ||
	fail "hot-plug through a symlink"
[ -e /etc/lodge-esc ] && fail "a hot-plug target resolved on the host"
assert_eq "$(lxc exec c1 -- cat /etc/lodge-esc/f)" shared "target resolved in the container"
for d in share ro esc; do lxc config device remove c1 "$d" >/dev/null || fail "unplug $d"; done
lxc storage volume detach default hv c1 || fail "detach the volume"
lxc exec c1 -- grep -q ' /mnt/share \| /mnt/hv \| /etc/lodge-esc ' /proc/mounts && fail "a disk is still mounted after unplug"
lxc storage volume delete default hv || fail "volume delete"
lxc exec c1 -- rm /root/escape

# snapshots
lxc exec c1 -- sh -c 'echo before > /root/state'
lxc snapshot c1 s0 || fail "snapshot"
out=$(lxc snapshot c1 s0 2>&1) && fail "a second snapshot s0 was accepted"
assert_match "$out" "Snapshot 'c1/s0' already exists" "duplicate snapshot message"
lxc exec c1 -- sh -c 'echo after > /root/state'
assert_eq "$(lxc info c1 | grep -c 's0')" 1 "snapshot listed"
lxc restore c1 s0 || fail "restore"
assert_eq "$(lxc exec c1 -- cat /root/state)" before "restored content"
lxc delete c1/s0 || fail "snapshot delete"

# copy: of the running c1 (its snapshots too) and of a snapshot; volatile keys are the copy's own
lxc snapshot c1 s1 || fail "snapshot for copy"
lxc exec c1 -- sh -c 'echo copied > /root/state'
lxc copy c1 c1copy || fail "lxc copy"
assert_eq "$(lxc list c1copy -c s --format csv)" STOPPED "status of a fresh copy"
assert_eq "$(lxc info c1copy | grep -c 's1')" 1 "snapshot copied along"
lxc start c1copy || fail "start the copy"
assert_eq "$(lxc exec c1copy -- cat /root/state)" copied "file in the copy"
assert_eq "$(lxc exec c1copy -- cat /etc/hostname)" c1copy "hostname template on copy"
[ "$(lxc config get c1copy volatile.uuid)" != "$(lxc config get c1 volatile.uuid)" ] ||
	fail "the copy kept the source's volatile.uuid"
lxc copy c1/s1 c1snap || fail "lxc copy from a snapshot"
lxc start c1snap || fail "start the snapshot copy"
assert_eq "$(lxc exec c1snap -- cat /root/state)" before "file in the snapshot copy"
lxc copy c1 c1copy 2>/dev/null && fail "copy over an existing instance"
lxc copy nosuch c2 2>/dev/null && fail "copy of a missing instance"
lxc copy c1/nosuch c2 2>/dev/null && fail "copy of a missing snapshot"
lxc stop -f c1snap || fail "stop the snapshot copy"
lxc move c1snap c1moved || fail "rename"
lxc start c1moved || fail "start after a rename"
assert_eq "$(lxc exec c1moved -- cat /etc/hostname)" c1moved "hostname template on rename"
lxc delete -f c1copy c1moved || fail "delete the copies"
lxc delete c1/s1 || fail "snapshot delete after copy"

# profiles
lxc profile create p1 >/dev/null || fail "profile create"
lxc profile set p1 environment.GREETING hello || fail "profile set"
lxc profile add c1 p1 >/dev/null || fail "profile add"
assert_eq "$(lxc exec c1 -- sh -c 'echo $GREETING')" hello "profile environment"
lxc profile delete p1 2>/dev/null && fail "deleted a profile in use"
# A profile change reaches the running container at once: a limit and a disk.
lxc profile set p1 limits.processes 77 || fail "profile set limits.processes"
for _ in $(seq 50); do [ "$(cg_read pids pids.max pids.max)" = 77 ] && break; sleep 0.1; done
assert_eq "$(cg_read pids pids.max pids.max)" 77 "a profile's limit applied live"
lxc profile device add p1 pshare disk source="$LODGE_DIR/share" path=/mnt/pshare >/dev/null ||
	fail "profile device add"
for _ in $(seq 50); do lxc exec c1 -- test -f /mnt/pshare/f && break; sleep 0.1; done
assert_eq "$(lxc exec c1 -- cat /mnt/pshare/f)" shared "a profile's disk hot-plugged"
lxc profile device remove p1 pshare >/dev/null || fail "profile device remove"
lxc profile unset p1 limits.processes || fail "profile unset"
for _ in $(seq 50); do [ "$(cg_read pids pids.max pids.max)" = max ] && break; sleep 0.1; done
assert_eq "$(cg_read pids pids.max pids.max)" max "a profile's limit lifted live"
lxc profile remove c1 p1 >/dev/null || fail "profile remove"
lxc profile delete p1 || fail "profile delete"

# stop, start, restart
lxc stop c1 -f || fail "stop"
assert_eq "$(lxc list c1 -c s --format csv)" STOPPED "status after stop"
lxc start c1 || fail "start"
lxc restart c1 -f || fail "restart"
assert_eq "$(lxc list c1 -c s --format csv)" RUNNING "status after restart"
# A reboot or a poweroff from inside: lodged's idea of the status follows (it remembers a
# running container's init and notices when that exits).
pid_before=$(lxc info c1 | awk '/^PID:/ {print $2}')
lxc exec c1 -- reboot || fail "reboot inside"
for _ in $(seq 300); do
	pid_now=$(lxc info c1 | awk '/^PID:/ {print $2}')
	[ -n "$pid_now" ] && [ "$pid_now" != "$pid_before" ] && [ "$(lxc list c1 -c s --format csv)" = RUNNING ] && break
	sleep 0.1
done
if [ -z "$pid_now" ] || [ "$pid_now" = "$pid_before" ]; then
	tail -n 20 "$LODGE_DIR/logs/c1/lxc.log" >&2
	fail "no new init after a reboot inside ($pid_before, ${pid_now:-none}, $(lxc list c1 -c s --format csv))"
fi
assert_eq "$(lxc exec c1 -- echo back)" back "exec after a reboot inside"
lxc exec c1 -- poweroff || fail "poweroff inside"
for _ in $(seq 300); do # busybox init takes ~3 s to halt
	[ "$(lxc list c1 -c s --format csv)" = STOPPED ] && break
	sleep 0.1
done
assert_eq "$(lxc list c1 -c s --format csv)" STOPPED "status after a poweroff inside"
lxc start c1 || fail "start after a poweroff inside"

# lodged killed: the container keeps running and lodged re-attaches to it.
pid_before=$(lxc info c1 | awk '/^PID:/ {print $2}')
kill -KILL "$DAEMON_PID"
DAEMON_PID=
kill -0 "$pid_before" || fail "the container died with lodged"
daemon_start
assert_eq "$(lxc list c1 -c s --format csv)" RUNNING "status after lodged restart"
assert_eq "$(lxc exec c1 -- echo back)" back "exec after lodged restart"

# delete removes every trace
lxc delete -f c1 || fail "delete"
lxc list --format csv | grep -q c1 && fail "c1 still listed"
[ -e "$LODGE_DIR/containers/c1" ] && fail "container config left behind"
ls "$LODGE_DIR"/storage-pools/default/containers 2>/dev/null | grep -q c1 && fail "storage left behind"

# A create whose database row never committed (lodged killed mid-create) leaves volume and
# driver state with no owner: the next start sweeps them.
lxc init busybox orphan >/dev/null || fail "init orphan"
daemon_kill
"$PYTHON" - "$LODGE_DIR/database/local.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM instances WHERE name = 'orphan'")
db.commit()
PY
[ -d "$LODGE_DIR/storage-pools/default/containers/orphan" ] || fail "test setup: no orphan volume"
daemon_start
[ -e "$LODGE_DIR/storage-pools/default/containers/orphan" ] && fail "orphan volume not swept"
[ -e "$LODGE_DIR/containers/orphan" ] && fail "orphan driver state not swept"
lxc init busybox orphan >/dev/null || fail "the name is usable again"
lxc delete orphan || fail "delete orphan"

# a failed create leaves nothing
lxc launch busybox "bad_name" 2>/dev/null && fail "invalid name accepted"
lxc launch nosuchimage c2 2>/dev/null && fail "unknown image accepted"
lxc list --format csv | grep -q . && fail "something was left by failed creates"
# Deleting the image also drops the pool's unpacked copy once no instance clones it.
[ -n "$(ls "$LODGE_DIR/storage-pools/default/images")" ] || fail "no unpacked image in the pool"
lxc image delete busybox || fail "image delete"
[ -z "$(ls "$LODGE_DIR/storage-pools/default/images")" ] ||
	fail "unpacked image left in the pool: $(ls -la "$LODGE_DIR/storage-pools/default/images" "$LODGE_DIR/storage-pools/default/containers"; lxc list --format csv)"
echo "PASS: containers with the lxc client"
