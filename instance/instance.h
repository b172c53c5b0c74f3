/* instance/instance.h: the one instance model, for containers and virtual machines.
 *
 * An instance is its stored record (config, devices, profiles, ...) plus what is derived
 * from it: the expanded config and devices (profiles applied in order, then the instance's
 * own), and its driver. Everything that writes an instance's config goes through
 * instance_config_validate() on the expanded result, whatever the path (create, PUT, PATCH,
 * copy, restore, profile change): the config that is applied is the config that was checked.
 *
 * Drivers (instance/lxc.c, later instance/qemu.c) sit behind struct instance_driver; only
 * instance/instance.c calls through it. The API handlers never see a driver.
 *
 * Blocking: functions marked "blocks" run container starts, stops, copies or waits: call
 * them from operations (worker threads), never from the event loop.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "lib/macro.h"

struct db;
struct config_schema;
struct instance_env;

enum instance_type {
	INSTANCE_CONTAINER,
	INSTANCE_VM,
	_INSTANCE_TYPE_MAX,
};

extern const char *const instance_type_names[]; /* "container", "virtual-machine" */

/* LXD's status codes; instance_status_name() gives the API's words. */
enum instance_status {
	INSTANCE_STOPPED = 102,
	INSTANCE_RUNNING = 103,
	INSTANCE_FROZEN = 110,
	INSTANCE_ERROR = 112,
};

const char *instance_status_name(enum instance_status status);

struct instance {
	int64_t id;
	char *name;    /* "c1", or "c1/snap0" for a snapshot */
	char *project; /* "default" */
	enum instance_type type;
	char *architecture; /* "x86_64" */
	char *description;
	bool ephemeral;
	bool stateful;
	json_t *config;	  /* the instance's own keys: object of strings */
	json_t *devices;  /* the instance's own devices: object of objects of strings */
	json_t *profiles; /* array of profile names, applied in order */
	long long created_at, last_used_at; /* unix seconds */
	int64_t snapshot_parent_id;	    /* 0 unless a snapshot */

	/* Derived by instance_expand(). */
	json_t *expanded_config;
	json_t *expanded_devices;
	const struct instance_driver *driver;
	char *rootfs; /* host path of the mounted root volume, set before driver calls */
};

void instance_free(struct instance *inst);
DEFINE_FREEP(struct instance, instance_free)

/* What drivers and the model need from the daemon, without knowing the daemon. */
struct instance_env {
	struct db *db;
	const char *dir; /* LODGE_DIR */
};

/* The process an exec started: drivers fill it; the exec operation owns it. */
struct instance_exec_args {
	char **argv;	 /* NULL-terminated */
	char **envp;	 /* NULL-terminated "K=V" */
	const char *cwd; /* NULL: the user's home or / */
	uint32_t uid, gid;
	bool interactive; /* one pty for stdin/stdout/stderr */
	unsigned width, height;
	/* Descriptors the process gets as 0, 1, 2 (the pty slave three times when
	 * interactive). The driver does not close them. */
	int stdin_fd, stdout_fd, stderr_fd;
};

/* The ids an unprivileged instance's root sees: container id k is host id base + k for
 * k < count. All zero for a privileged instance. */
struct instance_idmap {
	uint32_t uid_base, uid_count;
	uint32_t gid_base, gid_count;
};

struct instance_driver {
	const char *name; /* "lxc", "qemu" */
	enum instance_type type;

	/* Prepares driver-side state for a new instance whose root volume exists. May add
	 * volatile.* keys (MAC addresses, id map) to inst->config and inst->expanded_config:
	 * the caller stores inst->config afterwards, as after start. */
	int (*create)(const struct instance_env *env, struct instance *inst, struct error *err);
	/* Removes driver-side state (config files, logs). The instance is stopped. */
	int (*delete)(const struct instance_env *env, struct instance *inst, struct error *err);
	/* Moves driver-side state to a new name. The instance is stopped. */
	int (*rename)(const struct instance_env *env, struct instance *inst, const char *new_name,
		      struct error *err);

	/* The id map the instance's root filesystem must be mounted with, allocating it (and
	 * recording it in volatile.idmap.*) the first time. */
	int (*rootfs_idmap)(const struct instance_env *env, struct instance *inst,
			    struct instance_idmap *ret, struct error *err);

	/* Blocks until the instance runs (or failed to). May add volatile.* keys, as create;
	 * the caller stores them even when the start fails. */
	int (*start)(const struct instance_env *env, struct instance *inst, struct error *err);
	/* Clean shutdown within timeout_sec (-1: driver default), or kill when force. */
	int (*stop)(const struct instance_env *env, struct instance *inst, bool force,
		    int timeout_sec, struct error *err);
	int (*freeze)(const struct instance_env *env, struct instance *inst, struct error *err);
	int (*unfreeze)(const struct instance_env *env, struct instance *inst, struct error *err);

	/* Cheap (no blocking beyond a socket round trip): what the instance is doing. */
	enum instance_status (*status)(const struct instance_env *env, struct instance *inst);
	/* The /state object: status, pid, processes, cpu, memory, network, disk. */
	int (*state)(const struct instance_env *env, struct instance *inst, json_t **ret,
		     struct error *err);
	/* Applies config/device changes to a running instance (limits, hot-plug). old_* are
	 * the expanded values before the change. */
	int (*update_live)(const struct instance_env *env, struct instance *inst,
			   const json_t *old_config, const json_t *old_devices, struct error *err);

	/* Starts a process inside. *ret_pid is its host pid, for signals; *ret_status_fd (the
	 * caller's to close) becomes readable when it ended and then holds its wait status
	 * as an int (end of file: the status was lost). The caller is not the process's
	 * parent: drivers start it from a helper (LXC) or an agent (VMs). */
	int (*exec)(const struct instance_env *env, struct instance *inst,
		    const struct instance_exec_args *args, int *ret_pid, int *ret_status_fd,
		    struct error *err);
	/* A descriptor for the instance's console (pty master or socket), or an error. A pty
	 * master takes TIOCSWINSZ; closing the descriptor ends the console session. */
	int (*console_open)(const struct instance_env *env, struct instance *inst, int *ret_fd,
			    struct error *err);
	/* A directory fd on the instance's root filesystem, for file access through
	 * open_in_root() (or -EOPNOTSUPP: the caller uses exec instead). */
	int (*rootfs_open)(const struct instance_env *env, struct instance *inst, int *ret_fd,
			   struct error *err);
};

extern const struct instance_driver instance_driver_lxc;

/* The driver for type, NULL if none is built. */
const struct instance_driver *instance_driver_for(enum instance_type type);

/* True for a name clients may give an instance (as LXD: a hostname label). */
bool instance_name_is_valid(const char *name);

/* "container" (or "") / "virtual-machine"; -EINVAL otherwise. */
int instance_type_parse(const char *s, enum instance_type *ret);

/* The instance config key table (instance/instance-config.c). */
extern const struct config_schema instance_config_schema;

/* Checks a devices object: known types, the keys each takes, safe single-line values,
 * absolute paths without "..". */
int instance_devices_validate(const json_t *devices, struct error *err);

/* True for a network interface name as the kernel takes it: 1..15 bytes, no '/', ':',
 * whitespace or control characters, not "." or "..". */
bool instance_ifname_is_valid(const char *name);

/* Checks a nic device on its own (driver-independent): nictype and network/parent rules,
 * interface names, hwaddr, mtu, host_name, static addresses. Values are assumed safe
 * single-line strings (instance_devices_validate() checks that first). */
int instance_nic_validate(const char *name, const json_t *dev, struct error *err);

/* The final check of an expanded config and devices, run by every path that writes an
 * instance: keys against the table, devices, and (need_root) exactly one root disk. */
int instance_config_validate(const json_t *config, const json_t *devices, bool need_root,
			     struct error *err);

/* Conversions between the model and db/db-instances.h rows. */
int instance_from_row(const json_t *row, struct instance **ret, struct error *err);
json_t *instance_to_row(const struct instance *inst);

/* Applies profiles (in order) then the instance's own config and devices. New references. */
/* Every profile, as an object name → profile, for expanding many instances at once with
 * instance_expand_known() (a list of instances), one query instead of one per profile
 * per instance. */
int instance_profiles_load(struct db *db, json_t **ret, struct error *err);
int instance_expand_known(const json_t *profiles, struct instance *inst, struct error *err);
int instance_expand_with(struct db *db, const json_t *profiles, const json_t *config,
			 const json_t *devices, json_t **ret_config, json_t **ret_devices,
			 struct error *err);
int instance_expand(struct db *db, struct instance *inst, struct error *err);

/* Loads and expands the instance called name. -ENOENT "Instance 'x' not found". */
int instance_load(struct db *db, const char *name, struct instance **ret, struct error *err);

/* The pool of the root disk device, NULL if none. Borrowed from inst. */
/* The root disk device of the expanded devices (borrowed), NULL if none. */
const json_t *instance_root_device(const struct instance *inst);
/* The same among devices (an expanded devices object). */
const json_t *instance_devices_root(const json_t *devices);
const char *instance_root_pool(const struct instance *inst);

/* The API's Instance object for a given status. New reference. */
json_t *instance_to_json(const struct instance *inst, enum instance_status status);

/* What a PUT replaces and the ETag covers. New reference. */
json_t *instance_etag_source(const struct instance *inst);
