/* storage/dir.h: the directory layout of storage/dir.c, shared with drivers that keep the
 * same layout on their own filesystem (btrfs: the same paths, each volume a subvolume).
 *
 * The layout, relative to the pool's mounted directory, is the one storage/dir.c describes:
 * containers/<name>, containers-snapshots/<name>/<snap>, images/<fingerprint>,
 * custom/<name>, custom-snapshots/<name>/<snap>. Names are validated by storage.c before
 * they reach these functions. All of them may touch the disk: worker threads only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "storage/storage.h"

/* pool->data of a pool using this layout. */
struct dir_pool {
	int fd;	    /* the pool's directory */
	char *path; /* its path, for messages and unmounting */
};

/* The top-level directory of each volume type, and of its snapshots. */
extern const char *const dir_type_dirs[];
extern const char *const dir_snapshot_dirs[];

struct dir_pool *dir_data(struct storage_pool *pool);
bool dir_name_is_snapshot(const char *name);
bool dir_type_is_instance(enum storage_volume_type type);

/* Where a volume or snapshot lives, relative to the pool's directory (a new string). */
char *dir_relpath(enum storage_volume_type type, const char *name);

/* Opens relpath beneath the pool's directory (no symlinks, no escape). */
int dir_open_at(struct storage_pool *pool, const char *relpath, int *ret_fd, struct error *err);

/* Opens the directory path as the pool's (pool->data) and creates the layout's top-level
 * directories it lacks. Idempotent. */
int dir_pool_open(struct storage_pool *pool, const char *path, struct error *err);
void dir_pool_release(struct storage_pool *pool);

/* Removes the top-level directories (empty but for debris in images/) and releases
 * pool->data. */
int dir_pool_clear(struct storage_pool *pool, struct error *err);

/* statvfs of the pool's directory. */
int dir_pool_resources(struct storage_pool *pool, struct storage_resources *ret, struct error *err);

/* Creates or prunes <type>-snapshots/<vol> around a snapshot "<vol>/<snap>". */
int dir_snapshot_parent_ensure(struct storage_pool *pool, enum storage_volume_type type,
			       const char *name, struct error *err);
void dir_snapshot_parent_prune(struct storage_pool *pool, enum storage_volume_type type,
			       const char *name);

/* Copies metadata.yaml and templates/ (when src_fd has them) into dst_fd. */
int dir_copy_metadata(int src_fd, int dst_fd, struct error *err);

/* Removes the entry name of parent_fd (a volume or snapshot: a tree, a subvolume). */
typedef int (*dir_remove_fn)(int parent_fd, const char *name, struct error *err);
/* Builds the new volume tmp (in the volume's type directory) from the snapshot at
 * snap_rel. */
typedef int (*dir_build_fn)(struct storage_pool *pool, const struct storage_volume *vol,
			    const char *snap_rel, const char *tmp, struct error *err);

/* snapshot_delete(), removing the snapshot with remove. */
int dir_snapshot_remove(struct storage_pool *pool, const struct storage_volume *vol,
			const char *snap, dir_remove_fn remove, struct error *err);
/* snapshot_restore(): builds the restored volume beside the current one with build, swaps
 * the two in one rename, and removes the old one with remove. -EBUSY when mounted. */
int dir_snapshot_restore_with(struct storage_pool *pool, const struct storage_volume *vol,
			      const char *snap, dir_build_fn build, dir_remove_fn remove,
			      struct error *err);

/* The storage_driver functions of the same names, on this layout. */
/* Deletes volume vol: unmounts it, removes it with remove (a tree, a subvolume) from its
 * type's directory, and prunes a snapshot directory left empty. */
int dir_volume_delete_with(struct storage_pool *pool, const struct storage_volume *vol,
			   dir_remove_fn remove, struct error *err);

int dir_volume_unmount(struct storage_pool *pool, const struct storage_volume *vol,
		       struct error *err);
bool dir_volume_is_mounted(struct storage_pool *pool, const struct storage_volume *vol);
int dir_volume_rename(struct storage_pool *pool, const struct storage_volume *vol,
		      const char *new_name, struct error *err);
int dir_snapshot_rename(struct storage_pool *pool, const struct storage_volume *vol,
			const char *snap, const char *new_snap, struct error *err);
int dir_volume_usage(struct storage_pool *pool, const struct storage_volume *vol,
		     uint64_t *ret_used, struct error *err);

/* volume_mount(): with overlays, an instance volume cloning an image is an overlay over
 * it (dir); without, every instance volume is a plain rootfs/ (btrfs snapshots), shown
 * through an idmapped bind mount when idmap is set. */
int dir_volume_mount_as(struct storage_pool *pool, const struct storage_volume *vol,
			const struct storage_idmap *idmap, bool overlays, char **ret_path,
			struct error *err);
