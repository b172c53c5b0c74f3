/* instance/cgroup.h: how this host's cgroups are laid out, as the container drivers need it.
 *
 * Hosts come in three layouts: legacy (every controller on its own cgroup v1 hierarchy),
 * hybrid (v1 controllers plus an empty or nearly empty cgroup2 at /sys/fs/cgroup/unified)
 * and unified (cgroup2 only). liblxc 5 applies lxc.cgroup.* keys to v1 hierarchies and
 * lxc.cgroup2.* keys only on a unified host: on a hybrid host it ignores cgroup2 keys
 * without failing. So for each controller we record where a limit on it can really be
 * applied, never assuming a layout.
 *
 * TODO: daemon/host.c detects the same layout for /1.0/resources; merge the two once both
 * are in main.
 */
#pragma once

#include <stdbool.h>

#include "lib/error.h"

enum cgroup_layout {
	CGROUP_LAYOUT_LEGACY,
	CGROUP_LAYOUT_HYBRID,
	CGROUP_LAYOUT_UNIFIED,
	_CGROUP_LAYOUT_MAX,
};

extern const char *const cgroup_layout_names[]; /* "legacy", "hybrid", "unified" */

enum cgroup_controller {
	CGROUP_CPU,
	CGROUP_CPUACCT,
	CGROUP_CPUSET,
	CGROUP_MEMORY,
	CGROUP_PIDS,
	CGROUP_DEVICES,
	CGROUP_FREEZER,
	CGROUP_BLKIO,
	_CGROUP_CONTROLLER_MAX,
};

extern const char *const cgroup_controller_names[]; /* "cpu", "cpuacct", ... */

/* Where limits on a controller go. */
enum cgroup_version {
	CGROUP_UNAVAILABLE, /* not mounted, or on cgroup2 of a hybrid host (liblxc ignores it) */
	CGROUP_V1,	    /* lxc.cgroup.<controller>.<key> */
	CGROUP_V2,	    /* lxc.cgroup2.<key> */
};

#define CGROUP_MAX_HIERARCHIES 16

struct cgroup_hierarchy {
	char path[256];	       /* mount point: "/sys/fs/cgroup/memory" */
	char controllers[128]; /* "cpu,cpuacct", "name=systemd", "" for cgroup2 */
};

struct cgroup_info {
	enum cgroup_layout layout;
	enum cgroup_version controllers[_CGROUP_CONTROLLER_MAX];
	/* Swap can be limited: memory.memsw.* (v1) or memory.swap.* (v2) exist. */
	bool swap_accounting;
	/* Every cgroup hierarchy, v1 (named ones included) and v2. */
	struct cgroup_hierarchy hierarchies[CGROUP_MAX_HIERARCHIES];
	unsigned n_hierarchies;
};

/* Reads /proc/self/mounts and statfs()es /sys/fs/cgroup to fill *ret, the first time;
 * later calls return that first answer. Blocks briefly on procfs and sysfs reads. -ENOENT
 * when no cgroup filesystem is mounted at all. Thread-safe. */
int cgroup_info_detect(struct cgroup_info *ret, struct error *err);

/* As cgroup_info_detect(), from the text of a mounts table and the contents of the unified
 * root's cgroup.controllers (NULL: none). statfs() results are replaced by what the mounts
 * say; the mount paths are not checked. Pure: for tests. */
int cgroup_info_parse(const char *mounts, const char *v2_controllers, bool swap_accounting,
		      struct cgroup_info *ret, struct error *err);

/* Removes the empty cgroups liblxc leaves behind for a stopped container called name:
 * "lxc.monitor.<name>" and "lxc.monitor.<name>-<n>" (and the same for "lxc.payload."),
 * under PID 1's cgroup of every hierarchy, where liblxc creates them when run by root.
 * The kernel refuses to remove a populated cgroup, so a live one is never touched.
 * Returns the number removed. Blocks on cgroupfs. */
int cgroup_remove_leftovers(const struct cgroup_info *info, const char *name);

/* The cgroup directory of a container for controller c, from the text of its init's
 * /proc/<pid>/cgroup: the hierarchy's mount point joined with init's cgroup cut after the
 * "lxc.payload.<name>" component, so processes init moved into sub-cgroups still count.
 * -ENOENT when the controller is not mounted or init is not in it. Pure. */
int cgroup_container_dir(const struct cgroup_info *info, const char *proc_cgroup,
			 enum cgroup_controller c, char **ret);
