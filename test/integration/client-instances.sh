#!/bin/bash
# The lodge CLI's instance commands against a running lodged, each checked through the API
# (or the real lxc client) and not only by its exit code: launch, init, list, info, exec
# (piped and with a pty), console, file push/pull/delete, snapshot, restore, copy, rename,
# config, devices, profiles, edit, stop/start/restart/pause/resume, delete; and errors.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd lxc busybox script cmp
[ -x "${LODGE_SRCDIR:-.}/images/build-busybox.sh" ] || skip "no images/build-busybox.sh"
use_netns
daemon_start
export LXD_DIR=$LODGE_DIR
L=$LODGE

"$LODGE_SRCDIR/images/build-busybox.sh" "$LODGE_DIR/busybox.tar.xz" >/dev/null ||
	fail "building the busybox image"
lxc image import "$LODGE_DIR/busybox.tar.xz" --alias busybox >/dev/null || fail "image import"

# status NAME: the instance's status as the API reports it.
status() {
	api GET "/1.0/instances/$1" | jq -r .metadata.status
}

# expect_error EXPECTED_MESSAGE_REGEX CMD...: exit code 1 and "Error: ..." on stderr.
expect_error() {
	local want=$1 out rc
	shift
	set +e
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 1 "exit code of '$*'"
	assert_match "$out" "^Error: $want" "error of '$*'"
}

# pty_python ARGS...: runs the python script on stdin with helpers to drive `lodge ARGS` on
# a terminal: fd (the pty master), pid, and read_until(token).
cat >"$LODGE_DIR/ptyrun.py" <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
def read_until(token, t=10):
    out, end = b"", time.time() + t
    while token not in out and time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out
exec(sys.stdin.read())
PY
pty_python() {
	"$PYTHON" "$LODGE_DIR/ptyrun.py" "$L" "$@"
}

# --- launch, init, list, info -------------------------------------------------------------
out=$("$L" launch busybox c1 2>/dev/null) || fail "lodge launch"
assert_eq "$out" $'Creating c1\nStarting c1' "launch output"
assert_eq "$(status c1)" Running "status after launch"
assert_eq "$("$L" list --format csv)" "c1,RUNNING,,,CONTAINER,0" "lodge list csv"
assert_eq "$("$L" list --format csv)" "$(lxc list --format csv)" "list csv like lxc"
assert_eq "$("$L" list)" "$(lxc list)" "list table like lxc"
assert_eq "$("$L" list -c ns,image.os:OS --format csv)" "c1,RUNNING,busybox" "list -c"
assert_eq "$("$L" list --format json | jq -r '.[0].name')" c1 "list json"
# The same bytes as lxc (but the live counters of the state, which move between the calls).
assert_eq "$("$L" list --format json | jq -c 'del(.[].state)')" \
	"$(lxc list --format json | jq -c 'del(.[].state)')" "list json like lxc"
"$L" list --format yaml | grep -q "^  name: c1$" || fail "list yaml"

"$L" init busybox c2 -c user.made=by-lodge -c limits.memory=96MiB --ephemeral >/dev/null 2>&1 ||
	fail "lodge init"
reply=$(api GET /1.0/instances/c2)
assert_eq "$(jq -r .metadata.status <<<"$reply")" Stopped "init leaves it stopped"
assert_eq "$(jq -r '.metadata.config["user.made"]' <<<"$reply")" by-lodge "init -c"
assert_eq "$(jq -r .metadata.ephemeral <<<"$reply")" true "init --ephemeral"
assert_eq "$("$L" list c2 -c t --format csv)" "CONTAINER (EPHEMERAL)" "type column"
# filters: a name prefix and a shorthand
assert_eq "$("$L" list c -c n --format csv | tr '\n' ' ')" "c1 c2 " "list filter by prefix"
assert_eq "$("$L" list status=running -c n --format csv)" c1 "list status=running"
assert_eq "$("$L" list user.made=by-lodge -c n --format csv)" c2 "list config filter"
out=$("$L" init busybox 2>/dev/null) || fail "init without a name"
gen=$(sed -n 's/^Instance name is: //p' <<<"$out")
[ -n "$gen" ] || fail "no generated name in '$out'"
assert_eq "$(status "$gen")" Stopped "generated instance exists"
"$L" delete "$gen" || fail "delete the generated instance"
"$L" init --empty empty1 >/dev/null 2>&1 || fail "init --empty"
assert_eq "$(status empty1)" Stopped "empty instance"
"$L" delete empty1 || fail "delete empty1"

# -n: a nic on a managed network; the IPV4 column once the instance has a lease.
lxc network create lt0 ipv4.address=10.213.7.1/24 ipv6.address=none >/dev/null || fail "network create"
"$L" launch busybox n1 -n lt0 >/dev/null 2>&1 || fail "launch -n"
assert_eq "$(api GET /1.0/instances/n1 | jq -c .metadata.devices.eth0)" \
	'{"type":"nic","network":"lt0","name":"eth0"}' "nic from -n"
# Debian's busybox runs /etc/udhcpc/default.script by default; the image has its hook elsewhere.
"$L" exec n1 -- udhcpc -i eth0 -q -n -s /usr/share/udhcpc/default.script >/dev/null 2>&1 || fail "dhcp in n1"
assert_match "$("$L" list n1 -c 4 --format csv)" '^10\.213\.7\.[0-9]+ \(eth0\)$' "IPV4 column"
assert_eq "$("$L" list n1)" "$(lxc list n1)" "list with addresses like lxc"
expect_error 'Failed loading network "nosuchnet"' "$L" init busybox n2 -n nosuchnet
"$L" delete -f n1 || fail "delete n1"
lxc network delete lt0 || fail "network delete"

assert_eq "$("$L" info c1)" "$(lxc info c1)" "info like lxc"
"$L" info c1 | grep -q "^Status: RUNNING$" || fail "info status"
"$L" info c1 --show-log | grep -q "^Log:" || fail "info --show-log"
"$L" info | grep -q "^api_extensions:" || fail "info without a name shows the server"

# --- exec ---------------------------------------------------------------------------------
assert_eq "$("$L" exec c1 -- cat /etc/hostname)" c1 "exec output"
out=$("$L" exec c1 -- sh -c 'echo out; echo err >&2; exit 3' 2>"$LODGE_DIR/err") && rc=0 || rc=$?
assert_eq "$out" out "exec stdout"
assert_eq "$(cat "$LODGE_DIR/err")" err "exec stderr"
assert_eq "$rc" 3 "exec exit code"
assert_eq "$(echo piped | "$L" exec c1 -- cat)" piped "exec stdin"
# SIGTERM to lodge reaches the command (a signal control message).
"$L" exec c1 -- sh -c 'trap "echo got-term; exit 9" TERM; sleep 30 & wait' >"$LODGE_DIR/sig.out" &
sig_pid=$!
at_exit 'kill -KILL "$sig_pid" 2>/dev/null'
sleep 1
kill -TERM "$sig_pid"
wait "$sig_pid" && rc=0 || rc=$?
assert_eq "$rc" 9 "exit code after a forwarded SIGTERM"
assert_eq "$(cat "$LODGE_DIR/sig.out")" got-term "forwarded SIGTERM"
head -c 2000000 /dev/urandom >"$LODGE_DIR/random.bin"
"$L" exec c1 -- cat <"$LODGE_DIR/random.bin" | cmp - "$LODGE_DIR/random.bin" ||
	fail "exec stdin to stdout not byte-exact"
assert_eq "$("$L" exec c1 -n -- cat)" "" "exec -n gives an empty stdin"
assert_eq "$("$L" exec c1 --env FOO=bar --cwd /tmp --user 1000 --group 1000 -- \
	sh -c 'echo $FOO $(pwd) $(id -u) $(id -g)')" "bar /tmp 1000 1000" "exec --env --cwd --user --group"
# (script passes its own stdin's end on as a control character, which the instance's
# terminal may echo before the output: match the end of the line.)
out=$(script -qec "$L exec c1 -- sh -c 'test -t 0 && echo tty'" /dev/null | tr -d '\r')
assert_match "$out" "^(\\^.)?tty$" "exec on a terminal is interactive"
out=$(script -qec "$L exec c1 -T -- sh -c 'test -t 0 || echo notty'" /dev/null | tr -d '\r')
assert_match "$out" "^(\\^.)?notty$" "exec -T"
out=$("$L" exec c1 -t -- sh -c 'test -t 1 && echo tty' </dev/null | tr -d '\r')
assert_eq "$out" tty "exec -t"
# Interactive: keystrokes in, a window resize, the exit code out, the terminal restored.
pty_python exec c1 -- sh <<'PY' || fail "interactive exec"
import fcntl, signal, struct, termios
time.sleep(0.5)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
os.kill(pid, signal.SIGWINCH)
time.sleep(0.3)
os.write(fd, b"stty size; echo do''ne; exit 5\r")
out = read_until(b"done\r\n")
assert b"33 111" in out, out
assert b"done" in out, out
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 5, st
# lodge restored the terminal it made raw
assert termios.tcgetattr(fd)[3] & termios.ICANON, "terminal left in raw mode"
PY

# --- console --------------------------------------------------------------------------------
"$L" console c1 --show-log | grep -q "^Console log:" || fail "console --show-log"
pty_python console c1 <<'PY' || fail "console attach and ctrl+a q"
assert b"ctrl" in read_until(b"a q")
os.write(fd, b"echo con''sole-ok\r")
assert b"console-ok\r" in read_until(b"console-ok\r")
os.write(fd, b"\x01q")
_, st = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(st) == 0, st
PY

# --- files ----------------------------------------------------------------------------------
printf 'hello\n' >"$LODGE_DIR/hello.txt"
"$L" file push "$LODGE_DIR/hello.txt" c1/root/hello.txt --mode 0640 --uid 1000 --gid 1001 ||
	fail "file push"
assert_eq "$("$L" exec c1 -- stat -c '%a %u %g' /root/hello.txt)" "640 1000 1001" "pushed mode and owner"
"$L" file pull c1/root/hello.txt "$LODGE_DIR/pulled.txt" || fail "file pull"
cmp "$LODGE_DIR/hello.txt" "$LODGE_DIR/pulled.txt" || fail "pulled content differs"
"$L" file push "$LODGE_DIR/random.bin" c1/root/ || fail "file push into a directory"
"$L" file pull c1/root/random.bin - | cmp - "$LODGE_DIR/random.bin" || fail "pull to stdout"
mkdir -p "$LODGE_DIR/tree/sub" && echo a >"$LODGE_DIR/tree/a" && echo b >"$LODGE_DIR/tree/sub/b"
cp "$LODGE_DIR/random.bin" "$LODGE_DIR/tree/sub/"
ln -s a "$LODGE_DIR/tree/lnk"
"$L" file push -r "$LODGE_DIR/tree" c1/root/ || fail "file push -r"
assert_eq "$("$L" exec c1 -- readlink /root/tree/lnk)" a "pushed symlink"
mkdir "$LODGE_DIR/back"
"$L" file pull -r c1/root/tree "$LODGE_DIR/back/" || fail "file pull -r"
diff -r "$LODGE_DIR/tree" "$LODGE_DIR/back/tree" || fail "recursive round trip differs"
[ -z "$(ls -A "$LODGE_DIR/back" | grep -v '^tree$')" ] || fail "pull left temporary files"
echo data | "$L" file push -p - c1/root/new/dir/file.txt || fail "file push -p from stdin"
assert_eq "$("$L" exec c1 -- cat /root/new/dir/file.txt)" data "push -p"
"$L" file delete c1/root/hello.txt || fail "file delete"
"$L" exec c1 -- test ! -e /root/hello.txt || fail "deleted file still there"
expect_error "" "$L" file pull c1/root/nosuch "$LODGE_DIR/nosuch"
[ -e "$LODGE_DIR/nosuch" ] && fail "a failed pull left a file"
expect_error ".*use -r" "$L" file push "$LODGE_DIR/tree" c1/root/

# --- snapshots, restore, copy, rename -------------------------------------------------------
"$L" exec c1 -- sh -c 'echo before > /root/state'
"$L" snapshot c1 s0 || fail "snapshot"
"$L" snapshot c1 || fail "snapshot without a name"
assert_eq "$(api GET /1.0/instances/c1/snapshots | jq -r '.metadata | length')" 2 "two snapshots"
"$L" exec c1 -- sh -c 'echo after > /root/state'
"$L" restore c1 s0 || fail "restore"
assert_eq "$("$L" exec c1 -- cat /root/state)" before "restored content"
"$L" info c1 | grep -q "| s0 " || fail "info lists the snapshot"
"$L" rename c1/s0 c1/first || fail "snapshot rename"
expect_status 200 GET /1.0/instances/c1/snapshots/first >/dev/null
"$L" copy c1/first c3 || fail "copy from a snapshot"
"$L" copy c1 c4 --instance-only || fail "copy --instance-only"
assert_eq "$(api GET /1.0/instances/c4/snapshots | jq -r '.metadata | length')" 0 "instance-only copy"
assert_eq "$(status c3)" Stopped "a copy is stopped"
"$L" start c3 c4 || fail "start two"
assert_eq "$("$L" exec c3 -- cat /root/state)" before "file in the snapshot copy"
"$L" stop c4 --force || fail "stop c4"
"$L" rename c4 c5 || fail "rename"
expect_status 404 GET /1.0/instances/c4 >/dev/null
assert_eq "$(status c5)" Stopped "renamed instance"
"$L" move c5 c4 || fail "move (rename)"
"$L" snapshot c1 again || fail "snapshot again"
expect_error "" "$L" snapshot c1 again
"$L" snapshot c1 again --reuse || fail "snapshot --reuse"
echo no | "$L" delete -i c1/again >/dev/null 2>&1 && fail "delete -i went on after 'no'"
expect_status 200 GET /1.0/instances/c1/snapshots/again >/dev/null
echo yes | "$L" delete -i c1/again >/dev/null || fail "delete -i with 'yes'"
expect_status 404 GET /1.0/instances/c1/snapshots/again >/dev/null
"$L" delete c1/first || fail "snapshot delete"
expect_status 404 GET /1.0/instances/c1/snapshots/first >/dev/null

# --- config, devices, profiles --------------------------------------------------------------
"$L" config set c1 limits.memory 64MiB || fail "config set"
assert_eq "$(api GET /1.0/instances/c1 | jq -r '.metadata.config["limits.memory"]')" 64MiB "limits.memory in the API"
assert_eq "$("$L" config get c1 limits.memory)" 64MiB "config get"
"$L" config set c1 user.a=1 user.b=2 || fail "config set pairs"
assert_eq "$(lxc config get c1 user.b)" 2 "config set pairs in lxc"
"$L" config unset c1 user.a || fail "config unset"
assert_eq "$(api GET /1.0/instances/c1 | jq -r '.metadata.config["user.a"]')" null "unset in the API"
expect_error "Can't unset key 'user.a'" "$L" config unset c1 user.a
expect_error "Invalid value" "$L" config set c1 limits.memory "$(printf '1\nlxc.init.cmd=/x')"
assert_eq "$("$L" config get c1 limits.memory)" 64MiB "a refused set changes nothing"
assert_eq "$("$L" config show c1)" "$(lxc config show c1)" "config show like lxc"
assert_eq "$("$L" config show c1 --expanded)" "$(lxc config show c1 --expanded)" "config show --expanded"
"$L" config device add c4 shared disk source="$LODGE_DIR/tree" path=/mnt/tree >/dev/null ||
	fail "config device add"
assert_eq "$(api GET /1.0/instances/c4 | jq -r .metadata.devices.shared.path)" /mnt/tree "device in the API"
assert_eq "$("$L" config device list c4)" shared "device list"
"$L" config device show c4 | grep -q "path: /mnt/tree" || fail "device show"
"$L" config device set c4 shared readonly=true || fail "device set"
assert_eq "$(api GET /1.0/instances/c4 | jq -r .metadata.devices.shared.readonly)" true "device set in the API"
assert_eq "$("$L" config device get c4 shared readonly)" true "device get"
"$L" config device unset c4 shared readonly || fail "device unset"
assert_eq "$(api GET /1.0/instances/c4 | jq -r .metadata.devices.shared.readonly)" null "device unset in the API"
"$L" config device remove c4 shared >/dev/null || fail "device remove"
assert_eq "$(api GET /1.0/instances/c4 | jq -r '.metadata.devices | length')" 0 "device removed"
expect_error "Device doesn't exist" "$L" config device remove c4 shared
# edit: YAML on stdin, and $EDITOR on a terminal
"$L" config show c4 | sed 's/^description: .*/description: from-stdin/' | "$L" config edit c4 ||
	fail "config edit from stdin"
assert_eq "$(api GET /1.0/instances/c4 | jq -r .metadata.description)" from-stdin "edit from stdin"
printf '#!/bin/sh\nsed -i "s/^description: .*/description: from-editor/" "$1"\n' >"$LODGE_DIR/editor"
chmod +x "$LODGE_DIR/editor"
EDITOR="$LODGE_DIR/editor" script -qec "$L config edit c4" /dev/null >/dev/null || fail "edit with \$EDITOR"
assert_eq "$(api GET /1.0/instances/c4 | jq -r .metadata.description)" from-editor "edit with \$EDITOR"
printf 'config: [\n' | "$L" config edit c4 2>/dev/null && fail "broken YAML accepted"
assert_eq "$(api GET /1.0/instances/c4 | jq -r .metadata.description)" from-editor "a failed edit changes nothing"

"$L" profile create p1 >/dev/null || fail "profile create"
"$L" profile set p1 environment.GREETING hello || fail "profile set"
assert_eq "$("$L" profile get p1 environment.GREETING)" hello "profile get"
"$L" profile add c1 p1 >/dev/null || fail "profile add"
assert_eq "$("$L" exec c1 -- sh -c 'echo $GREETING')" hello "profile environment"
assert_eq "$("$L" profile list)" "$(lxc profile list)" "profile list like lxc"
assert_eq "$("$L" profile show p1)" "$(lxc profile show p1)" "profile show like lxc"
expect_error "" "$L" profile delete p1
"$L" profile remove c1 p1 >/dev/null || fail "profile remove"
"$L" profile copy p1 p2 || fail "profile copy"
"$L" profile rename p2 p3 >/dev/null || fail "profile rename"
assert_eq "$(api GET /1.0/profiles/p3 | jq -r '.metadata.config["environment.GREETING"]')" hello "copied profile"
"$L" profile assign c4 default,p3 >/dev/null || fail "profile assign"
assert_eq "$(api GET /1.0/instances/c4 | jq -c .metadata.profiles)" '["default","p3"]' "assigned profiles"
"$L" profile assign c4 default >/dev/null || fail "profile assign back"
printf 'config:\n  user.x: "5"\ndescription: edited\ndevices: {}\n' | "$L" profile edit p3 ||
	fail "profile edit"
assert_eq "$(api GET /1.0/profiles/p3 | jq -r .metadata.description)" edited "profile edit"
"$L" profile unset p3 user.x || fail "profile unset"
"$L" profile delete p1 >/dev/null && "$L" profile delete p3 >/dev/null || fail "profile delete"
expect_status 404 GET /1.0/profiles/p1 >/dev/null

# --- state changes --------------------------------------------------------------------------
"$L" pause c1 || fail "pause"
assert_eq "$(status c1)" Frozen "paused"
"$L" resume c1 || fail "resume"
assert_eq "$(status c1)" Running "resumed"
"$L" stop c1 --force || fail "stop"
assert_eq "$(status c1)" Stopped "stopped"
expect_error "The instance is already stopped" "$L" stop c1
"$L" start c1 || fail "start"
"$L" restart c1 --force || fail "restart"
assert_eq "$(status c1)" Running "restarted"

# --- errors -------------------------------------------------------------------------------
expect_error "Instance 'nosuch' not found" "$L" exec nosuch -- true
expect_error "Unknown flag '--bogus'" "$L" list --bogus
expect_error "The remote \"elsewhere\" doesn't exist" "$L" start elsewhere:c1
expect_error "Invalid number of arguments" "$L" rename c1
expect_error "" "$L" launch busybox bad_name
expect_error "" "$L" launch nosuchimage c9
expect_error "The instance is currently running" "$L" delete c1
# Names that would walk the API path are refused before any request.
expect_error "Invalid snapshot name '../../c3'" "$L" delete c1/../../c3
expect_error "Invalid instance name '..'" "$L" exec .. -- true
expect_error "Invalid target" "$L" file pull ../etc/passwd -
assert_eq "$(status c3)" Running "a refused name changes nothing"
assert_eq "$(status c1)" Running "a refused delete changes nothing"
set +e
"$L" start c1 c3 nosuch 2>"$LODGE_DIR/batch.err"
rc=$?
set -e
assert_eq "$rc" 1 "batch exit code"
grep -q "^nosuch: error: " "$LODGE_DIR/batch.err" || fail "batch report: $(cat "$LODGE_DIR/batch.err")"
grep -q "^Error: Some instances failed to start" "$LODGE_DIR/batch.err" || fail "batch summary"

# --all: every instance the action changes
"$L" stop --all --force || fail "stop --all"
assert_eq "$(api GET '/1.0/instances?recursion=1' | jq -r '[.metadata[].status] | unique | join(",")')" Stopped "stop --all"
expect_error "Both --all and instance name given" "$L" start --all c1

# --- delete leaves nothing -------------------------------------------------------------------
"$L" delete -f c1 c2 c3 c4 || fail "delete several"
assert_eq "$(api GET /1.0/instances | jq -r '.metadata | length')" 0 "no instance left"
assert_eq "$("$L" list --format csv)" "" "list after delete"
for c in c1 c2 c3 c4; do
	[ -e "$LODGE_DIR/containers/$c" ] && fail "$c config left behind"
	[ -e "$LODGE_DIR/storage-pools/default/containers/$c" ] && fail "$c storage left behind"
done
lxc image delete busybox || fail "image delete"
echo "PASS: lodge instance commands"
