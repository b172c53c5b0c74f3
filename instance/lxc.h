/* instance/lxc.h: the parts of the liblxc driver (instance/lxc.c) that need no container,
 * shared with its unit tests. Only instance/lxc.c and test/unit/test-lxc.c include this.
 *
 * lxc_conf_build() turns an instance's expanded config and devices into the text of an
 * LXC config file. It is the one place where client strings meet that line-based format:
 * every value it writes goes through config_value_is_safe(), and paths are checked to be
 * absolute and normalized. It reads nothing but the stat() of device sources.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "instance/cgroup.h"
#include "instance/idmap.h"
#include "lib/error.h"

/* What the config depends on besides the instance. */
struct lxc_host {
	char cpus_online[256]; /* "0-1", from /sys/devices/system/cpu/online */
	uint64_t memory_total; /* bytes */
	bool apparmor;	       /* AppArmor is enabled in the kernel */
};

/* Fills *ret from sysfs and /proc/meminfo. Blocks briefly. */
int lxc_host_detect(struct lxc_host *ret, struct error *err);

struct lxc_conf_input {
	const char *name;	  /* liblxc's name for the container */
	const char *hostname;	  /* lxc.uts.name: the instance name */
	const char *rootfs;	  /* host path of the mounted root volume */
	const char *log_dir;	  /* lxc.log and console.log go here */
	const char *seccomp_path; /* the profile written by lxc_seccomp_profile() */
	const char *devices_dir;  /* device nodes of unix-char/unix-block devices */
	const json_t *config;	  /* expanded config, with volatile keys filled in */
	const json_t *devices;	  /* expanded devices */
	const struct cgroup_info *cgroups;
	const struct lxc_host *host;
	const struct idmap *idmap; /* NULL: privileged */
	/* Host paths of the custom volumes disk devices mount ({"<device>": "<path>"}). */
	const json_t *volume_paths;
	/* Mount the rootfs idmapped (lxc.rootfs.options = idmap=container). False for a
	 * privileged container, or when the rootfs is already shifted to idmap. */
	bool rootfs_idmapped;
};

/* A device node the driver creates before start, bind-mounted into the container. */
struct lxc_node {
	char *path; /* under devices_dir */
	bool block;
	unsigned major, minor;
	unsigned mode;	   /* permission bits */
	uint64_t uid, gid; /* host ids */
};

struct lxc_conf {
	char *text;
	struct lxc_node *nodes;
	size_t n_nodes;
};

void lxc_conf_release(struct lxc_conf *conf);

/* Builds the LXC config for in. -EINVAL (naming the key) for a value with a control
 * character, a relative or non-normalized path, a limit that does not parse; -EOPNOTSUPP
 * for a device or limit this driver or host cannot apply; -ENOENT for a missing device
 * source. *ret is filled only on success. */
int lxc_conf_build(const struct lxc_conf_input *in, struct lxc_conf *ret, struct error *err);

/* The seccomp policy every container gets (LXD's default deny list and more). */
const char *lxc_seccomp_profile(void);

/* One cgroup file to write for the limits.* keys. */
struct lxc_cgroup_item {
	enum cgroup_version version; /* V1: lxc.cgroup.<key>, V2: lxc.cgroup2.<key> */
	char key[48];		     /* file name: "memory.limit_in_bytes" */
	char *value;
	const char *limit; /* the instance key it comes from, for messages */
};

struct lxc_cgroup_items {
	struct lxc_cgroup_item *items;
	size_t n;
};

void lxc_cgroup_items_release(struct lxc_cgroup_items *items);

/* The cgroup files for config's limits.* keys on this host. With reset, keys that are not
 * set give their unlimited value (to undo a limit on a running container); controllers
 * the host lacks are then skipped instead of failing. */
int lxc_cgroup_items_build(const json_t *config, const struct cgroup_info *cgroups,
			   const struct lxc_host *host, bool reset, struct lxc_cgroup_items *ret,
			   struct error *err);

/* True when the value read back from a cgroup file is what was written: equal, or the
 * same number up to the kernel's page rounding, unlimited for -1, the same CPU set. */
bool lxc_cgroup_value_matches(const char *key, const char *written, const char *read);

/* limits.cpu: a count ("2": the first two online CPUs) or a set ("0-1,3", "1-1"), as a
 * normalized cpuset list ("0-1,3") of CPUs that are online. */
int lxc_limit_cpuset(const char *value, const char *online, char **ret, struct error *err);

struct lxc_cpu_limit {
	int64_t shares;	   /* cpu.shares (v1, 1024 = default) or cpu.weight (v2, 100) */
	int64_t quota_us;  /* -1: no hard limit */
	int64_t period_us; /* 100000 unless given */
};

/* limits.cpu.allowance ("50%": a soft share as LXD, "25ms/100ms": a hard quota) and
 * limits.cpu.priority (0-10, NULL for 10), both may be NULL. */
int lxc_limit_cpu(const char *allowance, const char *priority, bool v2, struct lxc_cpu_limit *ret,
		  struct error *err);

/* limits.memory: a size ("512MiB") or a percentage of host_total ("50%"), in bytes. */
int lxc_limit_memory(const char *value, uint64_t host_total, uint64_t *ret, struct error *err);

/* A random MAC address in LXD's range, "00:16:3e:xx:xx:xx" (18 bytes with the NUL). */
void lxc_mac_generate(char buf[18]);
/* A random host-side veth name, "veth" and 8 hex digits (13 bytes with the NUL). */
void lxc_veth_name_generate(char buf[13]);

enum lxc_nictype {
	LXC_NIC_BRIDGED,  /* a veth whose host end joins a bridge (nictype=bridged, network=) */
	LXC_NIC_MACVLAN,  /* a macvlan (bridge mode) on a host interface */
	LXC_NIC_P2P,	  /* a veth whose host end stays on its own */
	LXC_NIC_PHYSICAL, /* a host interface moved into the container */
};

/* The lxc_nictype of a nic device, -1 for another device or an unknown nictype. */
int lxc_nictype_of(const json_t *dev);

/* A nic device as the driver plugs it in: pointers into the device and config. */
struct lxc_nic {
	enum lxc_nictype type;
	const char *link;      /* the bridge (bridged) or host interface; NULL for p2p */
	const char *name;      /* the interface in the container */
	const char *hwaddr;    /* hwaddr or volatile.<dev>.hwaddr; NULL: physical keeps its own */
	const char *host_name; /* host end of a veth: host_name or volatile.<dev>.host_name,
				* NULL: liblxc picks one, or no veth */
	const char *mtu;       /* NULL: the bridge's */
};

/* A disk device other than the root, resolved: where it comes from on the host and how
 * it is mounted. */
struct lxc_disk {
	const char *path;   /* in the container, absolute, validated */
	const char *source; /* on the host: the path, or the custom volume's mount */
	bool readonly, recursive, required, is_dir;
	bool idmap;  /* a custom volume of an unprivileged container: idmapped */
	bool absent; /* an optional source that does not exist: nothing to mount */
};

/* Checks disk device devname (keys, path, source, flags) and resolves it; a custom volume
 * ("pool") through volume_paths (storage_disk_volume_paths()), idmapped when idmap. The
 * strings point into dev and volume_paths. */
int lxc_disk_resolve(const char *devname, const json_t *dev, const json_t *volume_paths, bool idmap,
		     struct lxc_disk *ret, struct error *err);

/* Checks nic device devname (a known nictype, every key known and valid) and resolves
 * it against config (the expanded config, with its volatile keys). */
int lxc_nic_resolve(const json_t *config, const char *devname, const json_t *dev,
		    struct lxc_nic *ret, struct error *err);

/* Fills the volatile keys a start needs and the config lacks, in config (and expanded,
 * which holds the same keys after profiles): volatile.<nic>.hwaddr for each bridged,
 * macvlan and p2p nic without an explicit hwaddr, volatile.<nic>.host_name for each
 * bridged and p2p one without an explicit host_name.
 * Returns the number of keys added. */
int lxc_volatile_fill(json_t *config, json_t *expanded, const json_t *devices);
