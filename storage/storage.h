/* storage/storage.h: storage pools and the volumes in them.
 *
 * A pool is a row of the storage_pools table plus a driver (storage/dir.c, later btrfs,
 * lvm, zfs, ceph) that keeps its volumes somewhere on the host. A volume is a row of
 * storage_volumes plus what its driver keeps on disk. Volume types follow LXD: "container"
 * and "virtual-machine" (an instance's root), "image" (an image unpacked once per pool, the
 * base that instance volumes clone), "custom" (created through the API). A snapshot is a
 * volume named "<volume>/<snapshot>".
 *
 * Only storage/storage.c calls through pool->driver: it validates every name and config
 * first, and undoes what it did when a later step fails, so a failed call leaves neither a
 * row nor a file behind. Every client-supplied name passes object_name_is_valid() here,
 * before it reaches a path or SQL.
 *
 * Blocking: every function that takes a loaded pool and does more than read it may touch the
 * disk (mkdir, copies, mounts, an image unpack that takes seconds): call those from worker
 * threads or operations, never from the event loop. storage_pool_load() and the *_to_json()
 * and *_list_json() functions only read the database.
 *
 * A struct storage_pool is used by one thread at a time; load one per task.
 *
 *
 * What instances use (containers today; virtual machines later get the same shape):
 *
 *	storage_pool_load(db, lodge_dir, "default", &pool, err);
 *	storage_instance_create_from_image(pool, "c1", fingerprint, err);
 *	storage_instance_mount(pool, "c1", &idmap, &rootfs, err);  // start
 *	... lxc.rootfs.path = dir:<rootfs>, no lxc.rootfs.options idmap ...
 *	storage_instance_unmount(pool, "c1", err);                 // after stop
 *	storage_instance_delete(pool, "c1", err);
 *	storage_pool_free(pool);
 *
 * The volume of instance c1 is the directory "<dirname(rootfs)>": rootfs/ is the root
 * filesystem, and metadata.yaml and templates/ (copied from the image, when it had them)
 * sit beside it, as in LXD.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "lib/macro.h"

struct config_schema;
struct db;

enum storage_volume_type {
	STORAGE_VOLUME_CONTAINER,
	STORAGE_VOLUME_VM,
	STORAGE_VOLUME_IMAGE,
	STORAGE_VOLUME_CUSTOM,
	_STORAGE_VOLUME_TYPE_MAX,
};

/* "container", "virtual-machine", "image", "custom": the API's and the database's names. */
extern const char *const storage_volume_type_names[];

/* The type called name; -EINVAL "Invalid storage volume type '<name>'" otherwise. */
int storage_volume_type_from_name(const char *name, enum storage_volume_type *ret,
				  struct error *err);

/* An unprivileged container's id map: container ids 0..count-1 are host ids
 * host_base..host_base+count-1. */
struct storage_idmap {
	uint32_t uid_base, uid_count;
	uint32_t gid_base, gid_count;
};

struct storage_resources {
	uint64_t space_used, space_total;
	uint64_t inodes_used, inodes_total;
};

struct storage_volume {
	int64_t id;
	enum storage_volume_type type;
	char *name; /* "c1", or "c1/snap0" for a snapshot */
	char *description;
	char *content_type; /* "filesystem" */
	json_t *config;	    /* object of strings, validated */
	long long created_at;
};

void storage_volume_free(struct storage_volume *vol);
DEFINE_FREEP(struct storage_volume, storage_volume_free)

struct storage_pool {
	struct db *db;
	char *lodge_dir;
	int64_t id;
	char *name;
	char *description;
	json_t *config; /* object of strings, validated */
	char *status;	/* "Created" */
	const struct storage_driver *driver;
	bool mounted; /* pool_mount() ran on this object */
	void *data;   /* the driver's state for this object, freed by pool_release() */
};

/* A storage backend. Functions marked optional may be NULL: storage.c then refuses the
 * operation with -EOPNOTSUPP naming the driver. Each returns 0 or a negative errno with err
 * filled, and leaves nothing behind when it fails. Names reaching a driver are valid
 * (object_name_is_valid(), and "<vol>/<snap>" for snapshots); the pool is mounted. */
struct storage_driver {
	const char *name;    /* "dir" */
	const char *version; /* shown in GET /1.0 storage_supported_drivers */
	bool remote;
	/* The pool config keys this driver accepts. */
	const struct config_schema *pool_schema;

	/* Fills in the defaults of a new pool's config (config is the pool's, validated), such
	 * as "source". Does not touch the disk. */
	int (*pool_init)(struct storage_pool *pool, struct error *err);
	/* Creates the pool's storage (and mounts it). */
	int (*pool_create)(struct storage_pool *pool, struct error *err);
	/* Removes the pool's storage; only image volumes may be left in it. */
	int (*pool_delete)(struct storage_pool *pool, struct error *err);
	/* Makes the pool usable by this object (idempotent, cheap when already done). */
	int (*pool_mount)(struct storage_pool *pool, struct error *err);
	/* Optional: undoes what pool_mount() did for the host (a loop mount). */
	int (*pool_unmount)(struct storage_pool *pool, struct error *err);
	/* Frees pool->data. NULL-safe on a pool that was never mounted. */
	void (*pool_release)(struct storage_pool *pool);
	int (*pool_resources)(struct storage_pool *pool, struct storage_resources *ret,
			      struct error *err);

	/* An empty volume (an instance root gets an empty rootfs/). */
	int (*volume_create)(struct storage_pool *pool, const struct storage_volume *vol,
			     struct error *err);
	/* Unpacks image fingerprint (image_unpack()) into the pool's image volume vol. */
	int (*image_create)(struct storage_pool *pool, const struct storage_volume *vol,
			    struct error *err);
	/* An instance volume that starts as a cheap clone of image volume image. */
	int (*volume_create_from_image)(struct storage_pool *pool, const struct storage_volume *vol,
					const struct storage_volume *image, struct error *err);
	/* Removes a volume that has no snapshots left, unmounting it first. */
	int (*volume_delete)(struct storage_pool *pool, const struct storage_volume *vol,
			     struct error *err);
	/* Renames an unmounted volume and its snapshots. */
	int (*volume_rename)(struct storage_pool *pool, const struct storage_volume *vol,
			     const char *new_name, struct error *err);
	/* Copies src (a volume or a snapshot) into the new volume dst of the same pool, without
	 * snapshots. */
	int (*volume_copy)(struct storage_pool *pool, const struct storage_volume *src,
			   const struct storage_volume *dst, struct error *err);
	/* Optional, all four: snapshots of vol, named snap. */
	int (*snapshot_create)(struct storage_pool *pool, const struct storage_volume *vol,
			       const char *snap, struct error *err);
	int (*snapshot_delete)(struct storage_pool *pool, const struct storage_volume *vol,
			       const char *snap, struct error *err);
	/* vol is unmounted. */
	int (*snapshot_restore)(struct storage_pool *pool, const struct storage_volume *vol,
				const char *snap, struct error *err);
	int (*snapshot_rename)(struct storage_pool *pool, const struct storage_volume *vol,
			       const char *snap, const char *new_snap, struct error *err);
	/* Makes the volume's filesystem reachable on the host and returns its path (a new
	 * string): for instance volumes the root filesystem, shown through idmap when it is
	 * not NULL. Mounting a mounted volume returns the same path. */
	int (*volume_mount)(struct storage_pool *pool, const struct storage_volume *vol,
			    const struct storage_idmap *idmap, char **ret_path, struct error *err);
	/* Whether volume_mount() left something mounted for vol (a running instance's root). */
	bool (*volume_is_mounted)(struct storage_pool *pool, const struct storage_volume *vol);
	/* Undoes volume_mount(); harmless on an unmounted volume. */
	int (*volume_unmount)(struct storage_pool *pool, const struct storage_volume *vol,
			      struct error *err);
	/* Bytes the volume uses. */
	int (*volume_usage)(struct storage_pool *pool, const struct storage_volume *vol,
			    uint64_t *ret_used, struct error *err);
	/* Optional: limits the volume to size bytes (0: no limit). Without it a "size" is
	 * recorded but not enforced, as LXD does on a filesystem without project quotas. */
	int (*volume_set_quota)(struct storage_pool *pool, const struct storage_volume *vol,
				uint64_t size, struct error *err);
};

extern const struct storage_driver storage_driver_dir;
extern const struct storage_driver storage_driver_btrfs;

/* Checks a name a client gave (what: "storage pool", "storage volume", "snapshot"): -EINVAL
 * "Invalid <what> name '<name>'" unless object_name_is_valid(). */
int storage_name_check(const char *what, const char *name, struct error *err);

/* The driver called name, NULL if none. */
const struct storage_driver *storage_driver_find(const char *name);

/* [{"Name": "dir", "Version": "1", "Remote": false}, ...] for GET /1.0. New reference. */
json_t *storage_drivers_json(void);

/* Key tables: pool keys common to every driver, and volume keys. */
extern const struct config_schema storage_volume_schema;

/* ---- pools ---------------------------------------------------------------------------- */

/* Loads pool name from the database (no disk access). *ret is the caller's. -ENOENT
 * "Storage pool '<name>' not found". lodge_dir is the daemon's state directory. */
int storage_pool_load(struct db *db, const char *lodge_dir, const char *name,
		      struct storage_pool **ret, struct error *err);

/* Frees the object (does not unmount anything). NULL-safe. */
void storage_pool_free(struct storage_pool *pool);
DEFINE_FREEP(struct storage_pool, storage_pool_free)

/* Creates pool name with driver and config (a JSON object as a client sent it, or NULL),
 * validated against the driver's keys, and records it. -EINVAL for a bad name, driver or
 * key (naming it), -EEXIST when the name is taken. Blocks. */
int storage_pool_create(struct db *db, const char *lodge_dir, const char *name, const char *driver,
			const char *description, const json_t *config, struct error *err);

/* Deletes a pool that only image volumes use: -EBUSY naming the users otherwise. Blocks. */
int storage_pool_delete(struct storage_pool *pool, struct error *err);

/* Replaces (patch false) or merges (patch true) the pool's config and sets its description
 * (NULL: unchanged). "source" cannot change. Nothing is stored when a key is refused. */
int storage_pool_update(struct storage_pool *pool, const char *description, const json_t *config,
			bool patch, struct error *err);

/* Space and inodes of the pool's storage (statvfs for dir). Blocks. */
int storage_pool_resources(struct storage_pool *pool, struct storage_resources *ret,
			   struct error *err);

/* The pool as GET /1.0/storage-pools/<name> shows it, used_by included. */
int storage_pool_to_json(struct storage_pool *pool, json_t **ret, struct error *err);

/* The URLs of what uses the pool: instances, snapshots, images, custom volumes, profiles. */
int storage_pool_used_by(struct storage_pool *pool, json_t **ret, struct error *err);

/* GET /1.0/storage-pools: URLs, or objects when full. */
int storage_pools_list_json(struct db *db, const char *lodge_dir, bool full, json_t **ret,
			    struct error *err);

/* Creates the pool "default" (dir) when there is no pool at all, and gives the "default"
 * profile a root disk on it when that profile has none; otherwise mounts the pools that need
 * a host mount (btrfs), logging those that fail. Called once at daemon start-up; blocks. */
int storage_default_init(struct db *db, const char *lodge_dir, struct error *err);

/* ---- volumes (any type) --------------------------------------------------------------- */

/* Loads a volume (or "<vol>/<snap>" snapshot) of the pool. *ret is the caller's. -EINVAL for
 * an invalid name, -ENOENT "Storage volume '<name>' of type '<type>' not found". */
int storage_volume_load(struct storage_pool *pool, enum storage_volume_type type, const char *name,
			struct storage_volume **ret, struct error *err);

/* Creates an empty custom volume. config as a client sent it (NULL: none). content_type
 * NULL or "filesystem" ("block" is refused for now). Blocks. */
int storage_volume_create_custom(struct storage_pool *pool, const char *name,
				 const char *description, const char *content_type,
				 const json_t *config, struct error *err);

/* Replaces (patch false) or merges (patch true) a volume's config and sets its description
 * (NULL: unchanged); applies a changed "size". Blocks. */
int storage_volume_update(struct storage_pool *pool, const struct storage_volume *vol,
			  const char *description, const json_t *config, bool patch,
			  struct error *err);

/* Renames a custom volume and its snapshots. -EBUSY when an instance or profile uses it.
 * Blocks. */
int storage_volume_rename(struct storage_pool *pool, const struct storage_volume *vol,
			  const char *new_name, struct error *err);

/* Deletes a custom volume and its snapshots. -EBUSY naming the users when something uses
 * it. Blocks. */
int storage_volume_delete(struct storage_pool *pool, const struct storage_volume *vol,
			  struct error *err);

/* Snapshots of any volume (custom, or an instance's through the storage_instance_*
 * wrappers). Each blocks. */
int storage_volume_snapshot_create(struct storage_pool *pool, enum storage_volume_type type,
				   const char *name, const char *snap, struct error *err);
int storage_volume_snapshot_delete(struct storage_pool *pool, enum storage_volume_type type,
				   const char *name, const char *snap, struct error *err);
/* The volume must be unmounted (-EBUSY otherwise). */
int storage_volume_snapshot_restore(struct storage_pool *pool, enum storage_volume_type type,
				    const char *name, const char *snap, struct error *err);
int storage_volume_snapshot_rename(struct storage_pool *pool, enum storage_volume_type type,
				   const char *name, const char *snap, const char *new_snap,
				   struct error *err);

/* Copies custom volume src (or snapshot "src/snap") of src_pool to the new custom volume
 * dst of dst_pool (which may be src_pool), its snapshots too when with_snapshots. Within a
 * pool the driver clones (btrfs: subvolume snapshots); between pools the files are copied.
 * A failed copy leaves nothing. Blocks. */
int storage_volume_copy_custom(struct storage_pool *src_pool, const char *src,
			       struct storage_pool *dst_pool, const char *dst, bool with_snapshots,
			       struct error *err);

/* Moves custom volume vol (with its snapshots) to dst of dst_pool: a rename within the pool,
 * a copy then a delete between pools. -EBUSY naming the users when something uses it.
 * Blocks. */
int storage_volume_move_custom(struct storage_pool *src_pool, const struct storage_volume *vol,
			       struct storage_pool *dst_pool, const char *dst, struct error *err);

/* GET .../volumes/<type>/<name>/snapshots: URLs, or objects (full) named by the snapshot. */
int storage_volume_snapshots_list_json(struct storage_pool *pool, const struct storage_volume *vol,
				       bool full, json_t **ret, struct error *err);

/* Host path of a custom volume's filesystem (a new string). Blocks. */
int storage_volume_mount(struct storage_pool *pool, enum storage_volume_type type, const char *name,
			 char **ret_path, struct error *err);
int storage_volume_unmount(struct storage_pool *pool, enum storage_volume_type type,
			   const char *name, struct error *err);

/* Bytes a volume uses. Blocks (walks the tree on dir). */
int storage_volume_usage(struct storage_pool *pool, const struct storage_volume *vol,
			 uint64_t *ret_used, struct error *err);

/* What uses the volume, as API URLs (instances and profiles for a custom volume). New
 * array in *ret. */
int storage_volume_users(struct storage_pool *pool, const struct storage_volume *vol, json_t **ret,
			 struct error *err);

/* The volume as GET .../volumes/<type>/<name> shows it, used_by included. */
int storage_volume_to_json(struct storage_pool *pool, const struct storage_volume *vol,
			   json_t **ret, struct error *err);

/* The ETag source of a volume (what a PUT may change). New reference. */
json_t *storage_volume_etag_source(const struct storage_volume *vol);

/* GET .../volumes[/<type>]: URLs or objects (full) of the pool's volumes of type (-1: all),
 * snapshots excluded. */
int storage_volumes_list_json(struct storage_pool *pool, int type, bool full, json_t **ret,
			      struct error *err);

/* ---- custom volumes on instances ------------------------------------------------------ */

/* For each disk device of devices (an instance's expanded devices) that mounts a custom
 * volume ("pool", "source", a "path" other than "/"): mounts the volume and maps the
 * device's name to the volume's host path in *ret (a new object). Errors name the device.
 * Blocks. */
int storage_disk_volume_paths(struct db *db, const char *lodge_dir, const json_t *devices,
			      json_t **ret, struct error *err);

/* The URLs of the instances and profiles that attach the custom volume of disk device dev,
 * when that volume is exclusive (security.shared is not true); an empty array for a
 * shared volume or a device that is no custom volume. */
int storage_disk_volume_users(struct db *db, const char *lodge_dir, const json_t *dev, json_t **ret,
			      struct error *err);

/* ---- instance volumes ----------------------------------------------------------------- */

/* Creates container name's volume from image fingerprint: the image is unpacked into the
 * pool once (the first call, through image_unpack(), takes seconds; concurrent callers wait
 * for it), then the volume is a cheap clone (dir: an overlay over the image, created in
 * about a millisecond). The volume records the image in its config as
 * "volatile.base_image". -EEXIST when the volume exists. Blocks. */
int storage_instance_create_from_image(struct storage_pool *pool, const char *name,
				       const char *fingerprint, struct error *err);

/* Creates container name's volume with an empty rootfs/. Blocks. */
int storage_instance_create_empty(struct storage_pool *pool, const char *name, struct error *err);

/* Mounts container name's root filesystem and returns its host path in *ret_rootfs (a new
 * string). With idmap (an unprivileged container) the path already shows the files shifted
 * into the container's ids through idmapped mounts: hand it to liblxc without
 * lxc.rootfs.options=idmap=container, and do not chown anything. With idmap NULL (a
 * privileged container) the files show as stored. A mounted volume is returned as it is
 * mounted. Host root cannot create files through an idmapped view (its uid has no mapping,
 * EOVERFLOW): write into the container as a mapped uid. Blocks (about 1 ms). */
int storage_instance_mount(struct storage_pool *pool, const char *name,
			   const struct storage_idmap *idmap, char **ret_rootfs, struct error *err);

/* Unmounts what storage_instance_mount() mounted; harmless when nothing is. Blocks. */
int storage_instance_unmount(struct storage_pool *pool, const char *name, struct error *err);

/* Deletes container name's volume and its snapshots (unmounting it first). When the volume
 * was the last user of an image that no longer exists, the pool's copy of that image goes
 * too. Blocks. */
int storage_instance_delete(struct storage_pool *pool, const char *name, struct error *err);

/* Renames container name's volume and its snapshots; the volume must be unmounted. */
int storage_instance_rename(struct storage_pool *pool, const char *name, const char *new_name,
			    struct error *err);

enum storage_copy_flags {
	STORAGE_COPY_SNAPSHOTS = 1 << 0, /* copy the source's snapshots too */
};

/* Copies container src (or snapshot "src/snap") of src_pool into the new volume dst of
 * dst_pool (which may be src_pool), with flags (enum storage_copy_flags). Within a pool a
 * clone of an image stays a clone of it. Between pools the files are copied (the copy
 * stands alone), from a volume, not a snapshot, that is not mounted (-EBUSY: stop the
 * instance first), and without snapshots for now (-EOPNOTSUPP when it has some and
 * STORAGE_COPY_SNAPSHOTS is set). Blocks. */
int storage_instance_copy(struct storage_pool *src_pool, const char *src,
			  struct storage_pool *dst_pool, const char *dst, unsigned flags,
			  struct error *err);

int storage_instance_snapshot_create(struct storage_pool *pool, const char *name, const char *snap,
				     struct error *err);
int storage_instance_snapshot_delete(struct storage_pool *pool, const char *name, const char *snap,
				     struct error *err);
/* The instance must be stopped and its volume unmounted. */
int storage_instance_snapshot_restore(struct storage_pool *pool, const char *name, const char *snap,
				      struct error *err);
int storage_instance_snapshot_rename(struct storage_pool *pool, const char *name, const char *snap,
				     const char *new_snap, struct error *err);

/* Sets the "size" of container name's volume (a quota on btrfs; recorded only on dir).
 * Blocks. */
int storage_instance_set_size(struct storage_pool *pool, const char *name, const char *size,
			      struct error *err);

/* Bytes container name's volume uses (for the state's disk usage). Blocks. */
int storage_instance_usage(struct storage_pool *pool, const char *name, uint64_t *ret_used,
			   struct error *err);

/* Removes image fingerprint's volume from the pool (image deletion). -EBUSY naming the
 * instances that still clone it: it then stays, and the last of them removes it when
 * deleted. Harmless when the pool has no copy. Blocks. */
int storage_image_delete(struct storage_pool *pool, const char *fingerprint, struct error *err);

/* After an image left the image store: drops its unpacked copy from every pool where no
 * instance clones it any more (the others go with their last clone). Failures on a pool are
 * logged. Blocks. */
int storage_images_forget(struct db *db, const char *lodge_dir, const char *fingerprint,
			  struct error *err);
