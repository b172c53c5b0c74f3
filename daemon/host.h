/* daemon/host.h: the host's kernel, distribution and cgroup layout.
 *
 * host_environment_get() builds the host part of the `environment` object in GET /1.0. The
 * cgroup functions tell which hierarchy each controller lives on, so that instance
 * configuration can choose between `lxc.cgroup.*` (v1) and `lxc.cgroup2.*` (v2) keys. None of
 * this depends on the daemon's state; everything reads /proc, /sys and /etc.
 */
#pragma once

#include <jansson.h>

#include "lib/error.h"
#include "lib/macro.h"

/* The host part of GET /1.0's `environment`: kernel, kernel_architecture, kernel_version,
 * kernel_features (a map of "true"/"false" strings), os_name, os_version, architectures and
 * firewall. A new object the caller owns. Blocks briefly: it reads /etc/os-release and
 * /proc/filesystems and probes a few system calls (well under a millisecond); the answer only
 * changes with the kernel, so the daemon may compute it once. Fails only when uname() does. */
int host_environment_get(json_t **ret, struct error *err);

enum host_cgroup_layout {
	CGROUP_LAYOUT_V1,     /* only cgroup v1 hierarchies ("legacy") */
	CGROUP_LAYOUT_V2,     /* a cgroup2 hierarchy holds every mounted controller ("unified") */
	CGROUP_LAYOUT_HYBRID, /* controllers on v1, and a cgroup2 hierarchy beside them */
};

/* "legacy", "unified", "hybrid", as systemd names the layouts; for logs. */
extern const char *const host_cgroup_layout_names[];

enum host_cgroup_version {
	CGROUP_VERSION_NONE, /* the controller is not available */
	CGROUP_VERSION_V1,
	CGROUP_VERSION_V2,
};

struct host_cgroups {
	enum host_cgroup_layout layout;
	char *v2_mount;	       /* where cgroup2 is mounted, NULL without it */
	char **v1_controllers; /* NULL-terminated, sorted: controllers of mounted v1 hierarchies */
	char **v2_controllers; /* NULL-terminated, sorted: what the cgroup2 root offers */
};

/* Reads /proc/self/mounts, /proc/cgroups and the cgroup2 root's cgroup.controllers. Fails
 * with -ENOENT when no cgroup hierarchy is mounted. Blocks on small procfs reads. Release the
 * result with host_cgroups_release(). */
int host_cgroups_detect(struct host_cgroups *ret, struct error *err);

/* host_cgroups_detect() from other files: a mount table in the /proc/self/mounts format and a
 * /proc/cgroups (NULL or missing: every well-known controller name counts). For tests. */
int host_cgroups_detect_from(const char *mounts, const char *proc_cgroups, struct host_cgroups *ret,
			     struct error *err);

void host_cgroups_release(struct host_cgroups *cg);

/* Which hierarchy controller ("memory", "cpuset", ...) can be used on. A controller bound to
 * a v1 hierarchy cannot also be used on v2, so V1 wins. */
enum host_cgroup_version host_cgroups_controller_version(const struct host_cgroups *cg,
							 const char *controller);

/* Just the layout; see host_cgroups_detect(). */
int host_cgroup_layout_detect(enum host_cgroup_layout *ret, struct error *err);
