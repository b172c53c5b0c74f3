/* instance/lifecycle.h: what can be done to an instance. Every function here blocks
 * (storage, liblxc): call them from an operation's run function or daemon_queue_work(),
 * holding instance_lock() on the instance's name. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "instance/instance.h"

/* Serialises work on one instance name across threads (create, start, delete, ...). */
void instance_lock(const char *name);
void instance_unlock(const char *name);

struct instance_create_args {
	const char *name;
	enum instance_type type;
	const char *description;
	const char *architecture; /* "" or NULL: the host's */
	const json_t *config;	  /* the instance's own keys (validated here) */
	const json_t *devices;
	const json_t *profiles; /* NULL: ["default"] */
	bool ephemeral;
	const char *fingerprint;	/* image to clone, NULL for an empty root */
	const json_t *image_properties; /* copied as image.* keys */
	/* Instance "c1" or snapshot "c1/snap0" to copy instead of an image, NULL for none: its
	 * config (volatile.base_image the only volatile key kept), devices and profiles apply
	 * beneath config, devices and profiles (when NULL); its type and architecture win. */
	const char *copy_source;
	bool copy_snapshots; /* with an instance as copy_source: its snapshots too */
};

/* Creates the instance: root volume (cloned from the image or copied from copy_source),
 * driver state, then the database row (and copied snapshot rows). On failure nothing is
 * left. The caller holds the locks of name and of copy_source's instance. */
int instance_create(const struct instance_env *env, const struct instance_create_args *args,
		    struct instance **ret, struct error *err);

enum instance_status instance_status_get(const struct instance_env *env, struct instance *inst);
bool instance_is_running(const struct instance_env *env, struct instance *inst);

/* The first running instance among users (API URLs, as storage lists a volume's users;
 * other URLs are skipped) other than except (may be NULL): 1 with its name in *ret_name
 * (the caller frees), 0 when none runs. Blocks briefly (asks liblxc). */
int instance_running_user(const struct instance_env *env, const json_t *users, const char *except,
			  char **ret_name);
int instance_state(const struct instance_env *env, struct instance *inst, json_t **ret,
		   struct error *err);

/* A directory descriptor (O_PATH) on the instance's root filesystem, mounted (if it was not)
 * as the instance sees it, for instance/files.c: container id k shows as host id
 * *ret_shift + k (0 for a privileged instance). */
int instance_rootfs_open(const struct instance_env *env, struct instance *inst, int *ret_fd,
			 uint32_t *ret_shift, struct error *err);

int instance_start(const struct instance_env *env, struct instance *inst, struct error *err);
/* timeout_sec -1: the driver's default. An ephemeral instance is deleted once stopped. */
int instance_stop(const struct instance_env *env, struct instance *inst, bool force,
		  int timeout_sec, struct error *err);
int instance_freeze(const struct instance_env *env, struct instance *inst, bool freeze,
		    struct error *err);
int instance_delete(const struct instance_env *env, struct instance *inst, struct error *err);
int instance_rename(const struct instance_env *env, struct instance *inst, const char *new_name,
		    struct error *err);

/* Applies an InstancePut (PUT: replace, patch: merge): validates the expanded result,
 * stores it and applies it live when running. volatile.* keys are kept. */
int instance_update(const struct instance_env *env, struct instance *inst, const json_t *put,
		    bool patch, struct error *err);

int instance_snapshot_create(const struct instance_env *env, struct instance *inst,
			     const char *name, long long expires_at, struct error *err);
int instance_snapshot_delete(const struct instance_env *env, struct instance *inst,
			     const char *name, struct error *err);
int instance_snapshot_rename(const struct instance_env *env, struct instance *inst,
			     const char *name, const char *new_name, struct error *err);
int instance_snapshot_restore(const struct instance_env *env, struct instance *inst,
			      const char *name, struct error *err);

/* Checks the nics of devices (expanded) that are on a managed network against it: it
 * exists, a static address lies in its subnet and is not its own. Reads the database
 * only. */
int instance_nics_validate(const struct instance_env *env, const json_t *devices,
			   struct error *err);

/* The expanded config and devices of the instances called names (a JSON array of
 * strings), as {name: {"config", "devices"}}: taken before a change of a profile they use. */
json_t *instances_expansions(const struct instance_env *env, const json_t *names);

/* After a change of a profile they use (before: instances_expansions() from before it):
 * running instances get the new limits and devices live (hot-plug), and every one's nics
 * are registered with their networks again (static leases, DNS names). Failures are
 * logged. Blocks. */
void instances_profile_changed(const struct instance_env *env, const json_t *before);

/* At daemon start: starts the instances that should run (boot.autostart, or running when
 * the host went down). Failures are logged. Blocks. */
void instances_autostart(const struct instance_env *env);

/* At daemon start, before the API serves: removes volumes and driver state that belong to
 * no instance row (what a crash mid-create or mid-delete leaves). Failures are logged. */
void instances_reconcile(const struct instance_env *env);
