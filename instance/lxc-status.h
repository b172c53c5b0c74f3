/* instance/lxc-status.h: a container's status without asking liblxc each time.
 *
 * liblxc answers "is it running?" by loading the container (its config, the host's
 * cgroup layout from mountinfo) and a round trip to the monitor's command socket: about a
 * millisecond, which a list of a hundred running containers pays a hundred times. lodged
 * is the only one starting containers in its lxcpath, so the driver remembers what it
 * learns: for a running container its init's pid and a pidfd (readable once init exited:
 * the container stopped or rebooted by itself) and whether it is frozen. A container not
 * remembered is probed: nothing listening on its command socket means stopped. Anything
 * else goes to liblxc and is remembered. Thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* 1 with the init pid and frozen flag of a running container remembered under key (its
 * lxc_paths dir), 0 when none is (or its init has exited: the entry is dropped). */
int lxc_status_cached(const char *key, pid_t *ret_pid, bool *ret_frozen);

/* Remembers a running container (pid is its init); replaces an older entry. */
void lxc_status_remember(const char *key, pid_t pid, bool frozen);

/* Updates the frozen flag of a remembered container. */
void lxc_status_set_frozen(const char *key, bool frozen);

/* Forgets key: at stop, delete and rename, and whenever liblxc says otherwise. */
void lxc_status_forget(const char *key);

/* A netlink route socket in the container's network namespace, kept with its entry so
 * that state queries need no thread to enter the namespace: take returns it (the caller
 * owns it until it gives it back) or -1 when there is none to lend; give keeps it for the
 * next caller when the container still runs with init pid, else closes it. */
int lxc_status_netlink_take(const char *key, pid_t pid);
void lxc_status_netlink_give(const char *key, pid_t pid, int sock);

/* Whether a monitor listens on the command socket of container name in lxcpath: 1 when
 * none does (stopped, and its monitor gone), 0 when one does, -1 when it cannot tell (ask
 * liblxc). */
int lxc_status_probe(const char *lxcpath, const char *name);
