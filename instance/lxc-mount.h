/* instance/lxc-mount.h: disks mounted into, and out of, a running container.
 *
 * A detached clone of the source (open_tree(), idmapped into the container's user
 * namespace for custom volumes, read-only when asked) is moved into the container's mount
 * namespace by a child that entered it (setns() needs a single-threaded process; the child
 * makes system calls only). There the target's parents are created and symlinks resolve
 * against the container's root, never the host's. Block briefly: worker threads only.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"

/* Mounts host path source (a directory or a regular file) at the absolute path target in
 * the mount namespace of process pid (the container's init). */
int lxc_mount_inject(pid_t pid, const char *source, const char *target, bool idmap, bool readonly,
		     bool recursive, struct error *err);

/* Detaches what is mounted at target in the mount namespace of pid; 0 when nothing is. */
int lxc_mount_eject(pid_t pid, const char *target, struct error *err);
