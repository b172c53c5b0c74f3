/* storage/dir.c: the `dir` storage driver: volumes are directories under the pool's source.
 *
 * Layout, as LXD's (pool source default $LODGE_DIR/storage-pools/<pool>):
 *
 *	containers/<name>/                     an instance volume
 *	containers-snapshots/<name>/<snap>/    its snapshots, same contents
 *	images/<fingerprint>/                  an image unpacked once: metadata.yaml, templates/,
 *	                                       rootfs/
 *	custom/<name>/, custom-snapshots/<name>/<snap>/
 *
 * An instance volume made from an image is an overlay clone of it, so creating one costs a
 * few mkdirs instead of a copy:
 *
 *	containers/<name>/upper/      the instance's changes (overlay upper layer)
 *	containers/<name>/work/       overlayfs' work directory
 *	containers/<name>/rootfs/     where the overlay (lower: images/<fp>/rootfs) is mounted
 *	containers/<name>/metadata.yaml, templates/    copied from the image
 *
 * and its config names the image ("volatile.base_image"). Snapshots and copies of an overlay
 * volume copy upper/ (and the metadata) and keep the same image below. Any other instance
 * volume is a plain rootfs/ directory. Every path below the pool is reached from the pool's
 * directory descriptor; names are validated by storage.c before they get here.
 *
 * No quotas: ext4 here has no project quotas, so "size" is recorded but not enforced, as
 * LXD's dir driver does on such a filesystem.
 */
#include "storage/dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "images/images.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "storage/mount.h"
#include "storage/storage.h"
#include "storage/tree.h"

#include "lib/banned.h"

static const struct config_key dir_pool_keys[] = {
	{ .name = "source", .type = CONFIG_TYPE_STRING, .validate = config_validate_abspath },
	{ .name = "volume.size", .type = CONFIG_TYPE_SIZE },
	{ .name = "volume.security.shifted", .type = CONFIG_TYPE_BOOL },
	{ .name = "volume.security.unmapped", .type = CONFIG_TYPE_BOOL },
	{ .name = "rsync.bwlimit", .type = CONFIG_TYPE_STRING },
	{ .name = "rsync.compression", .type = CONFIG_TYPE_BOOL },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{},
};

static const struct config_schema dir_pool_schema = { "storage pool", dir_pool_keys };

/* The pool's top-level directories and their modes. */
static const struct {
	const char *name;
	mode_t mode;
} dir_subdirs[] = {
	{ "containers", 0711 },	      { "containers-snapshots", 0700 },
	{ "virtual-machines", 0711 }, { "virtual-machines-snapshots", 0700 },
	{ "images", 0700 },	      { "custom", 0711 },
	{ "custom-snapshots", 0700 },
};

const char *const dir_type_dirs[] = {
	[STORAGE_VOLUME_CONTAINER] = "containers",
	[STORAGE_VOLUME_VM] = "virtual-machines",
	[STORAGE_VOLUME_IMAGE] = "images",
	[STORAGE_VOLUME_CUSTOM] = "custom",
};

const char *const dir_snapshot_dirs[] = {
	[STORAGE_VOLUME_CONTAINER] = "containers-snapshots",
	[STORAGE_VOLUME_VM] = "virtual-machines-snapshots",
	[STORAGE_VOLUME_IMAGE] = "images-snapshots",
	[STORAGE_VOLUME_CUSTOM] = "custom-snapshots",
};

struct dir_pool *dir_data(struct storage_pool *pool)
{
	return pool->data;
}

bool dir_name_is_snapshot(const char *name)
{
	return strchr(name, '/') != NULL;
}

/* Where a volume or snapshot lives, relative to the pool's directory. */
char *dir_relpath(enum storage_volume_type type, const char *name)
{
	if (dir_name_is_snapshot(name))
		return str_printf("%s/%s", dir_snapshot_dirs[type], name);
	return str_printf("%s/%s", dir_type_dirs[type], name);
}

bool dir_type_is_instance(enum storage_volume_type type)
{
	return type == STORAGE_VOLUME_CONTAINER || type == STORAGE_VOLUME_VM;
}

/* The image an instance volume clones, NULL for a plain volume. */
static const char *dir_base_image(const struct storage_volume *vol)
{
	const char *fp = json_get_str(vol->config, "volatile.base_image");

	return dir_type_is_instance(vol->type) && !str_is_empty(fp) ? fp : NULL;
}

int dir_open_at(struct storage_pool *pool, const char *relpath, int *ret_fd, struct error *err)
{
	int fd = open_beneath(dir_data(pool)->fd, relpath, O_RDONLY | O_DIRECTORY, 0);

	if (fd < 0)
		return error_errno(err, fd, "Failed to open '%s/%s'", dir_data(pool)->path,
				   relpath);
	*ret_fd = fd;
	return 0;
}

static int dir_pool_init(struct storage_pool *pool, struct error *err)
{
	autofree char *source = NULL;

	if (!str_is_empty(json_get_str(pool->config, "source")))
		return 0;
	source = str_printf("%s/storage-pools/%s", pool->lodge_dir, pool->name);
	(void)json_object_set_new(pool->config, "source", json_string(source));
	return 0;
}

static bool dir_is_default_source(struct storage_pool *pool, const char *source)
{
	autofree char *def = str_printf("%s/storage-pools/%s", pool->lodge_dir, pool->name);

	return streq(def, source);
}

int dir_pool_open(struct storage_pool *pool, const char *source, struct error *err)
{
	struct dir_pool *d;
	autoclose int fd = -1;

	if (pool->data)
		return 0;
	fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Storage pool '%s' is unavailable: '%s'",
				   pool->name, source);
	/* A pool made by an older lodge may lack a directory added since. */
	for (size_t i = 0; i < ARRAY_SIZE(dir_subdirs); i++)
		if (mkdirat(fd, dir_subdirs[i].name, dir_subdirs[i].mode) < 0 && errno != EEXIST)
			return error_errno(err, -errno, "Failed to create '%s/%s'", source,
					   dir_subdirs[i].name);

	d = xcalloc(1, sizeof(*d));
	d->fd = take_fd(fd);
	d->path = xstrdup(source);
	pool->data = d;
	return 0;
}

static int dir_pool_mount(struct storage_pool *pool, struct error *err)
{
	const char *source = json_get_str(pool->config, "source");

	if (str_is_empty(source))
		return error_set(err, -EINVAL, "Storage pool '%s' has no source", pool->name);
	return dir_pool_open(pool, source, err);
}

void dir_pool_release(struct storage_pool *pool)
{
	struct dir_pool *d = pool->data;

	if (!d)
		return;
	closep(&d->fd);
	free(d->path);
	free(d);
	pool->data = NULL;
}

/* True when dir_fd holds nothing but "." and "..". */
static int dir_is_empty(int dir_fd, bool *ret)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	bool empty = true;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd); /* owns fd from here on */
	if (!d) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
			empty = false;
			break;
		}
	(void)closedir(d);
	*ret = empty;
	return 0;
}

static int dir_pool_create(struct storage_pool *pool, struct error *err)
{
	const char *source = json_get_str(pool->config, "source");
	autoclose int fd = -1;
	bool empty = true;
	int r;

	/* The default location is ours to make; a source the user names must exist, as
	 * LXD requires. */
	if (dir_is_default_source(pool, source)) {
		r = mkdir_p(source, 0711, err);
		if (r < 0)
			return r;
	}
	fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return error_set(err, -EINVAL, "Source path '%s' doesn't exist", source);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", source);
	r = dir_is_empty(fd, &empty);
	if (r < 0)
		return error_errno(err, r, "Failed to read '%s'", source);
	if (!empty)
		return error_set(err, -EINVAL, "Source path '%s' isn't empty", source);

	r = dir_pool_mount(pool, err);
	if (r < 0)
		return r;
	return 0;
}

int dir_pool_clear(struct storage_pool *pool, struct error *err)
{
	struct dir_pool *d = dir_data(pool);
	autoclose int images = -1;
	int r;

	/* Image volumes went first (storage.c); what is left of images/ is debris of an
	 * interrupted unpack. Every other directory must be empty: a volume we do not know
	 * about is not ours to delete. */
	images = open_beneath(d->fd, "images", O_RDONLY | O_DIRECTORY, 0);
	if (images >= 0) {
		r = tree_clear(images, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dir_subdirs); i++)
		if (unlinkat(d->fd, dir_subdirs[i].name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return error_errno(err, -errno, "Failed to remove '%s/%s'", d->path,
					   dir_subdirs[i].name);
	dir_pool_release(pool);
	return 0;
}

static int dir_pool_delete(struct storage_pool *pool, struct error *err)
{
	const char *source = json_get_str(pool->config, "source");
	int r;

	r = dir_pool_clear(pool, err);
	if (r < 0)
		return r;
	/* A source of the user's choosing stays (empty), as LXD leaves it. */
	if (dir_is_default_source(pool, source) && rmdir(source) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to remove '%s'", source);
	return 0;
}

int dir_pool_resources(struct storage_pool *pool, struct storage_resources *ret, struct error *err)
{
	struct statvfs sv;

	if (fstatvfs(dir_data(pool)->fd, &sv) < 0)
		return error_errno(err, -errno, "Failed to query the space of storage pool '%s'",
				   pool->name);
	ret->space_total = (uint64_t)sv.f_blocks * sv.f_frsize;
	ret->space_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	ret->inodes_total = sv.f_files;
	ret->inodes_used = sv.f_files - sv.f_ffree;
	return 0;
}

/* Creates the directory of a snapshot's volume (containers-snapshots/<vol>) if needed. */
int dir_snapshot_parent_ensure(struct storage_pool *pool, enum storage_volume_type type,
			       const char *name, struct error *err)
{
	autofree char *vol = xstrndup(name, strcspn(name, "/"));
	autofree char *parent = str_printf("%s/%s", dir_snapshot_dirs[type], vol);
	autoclose int fd = -1;

	fd = open_beneath(dir_data(pool)->fd, dir_snapshot_dirs[type], O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return error_errno(err, fd, "Failed to open '%s/%s'", dir_data(pool)->path,
				   dir_snapshot_dirs[type]);
	if (mkdirat(fd, vol, 0700) < 0 && errno != EEXIST)
		return error_errno(err, -errno, "Failed to create '%s/%s'", dir_data(pool)->path,
				   parent);
	return 0;
}

/* Removes containers-snapshots/<vol> once it holds no snapshot. */
void dir_snapshot_parent_prune(struct storage_pool *pool, enum storage_volume_type type,
			       const char *name)
{
	autofree char *vol = xstrndup(name, strcspn(name, "/"));
	autoclose int fd = -1;

	fd = open_beneath(dir_data(pool)->fd, dir_snapshot_dirs[type], O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0)
		(void)unlinkat(fd, vol, AT_REMOVEDIR); /* fails harmlessly when not empty */
}

/* Makes the new directory relpath and opens it: *ret_parent is its parent, *ret its own. */
static int dir_mkdir_open(struct storage_pool *pool, const char *relpath, mode_t mode,
			  int *ret_parent, int *ret, struct error *err)
{
	autofree char *parent_path = xstrndup(relpath, (size_t)(strrchr(relpath, '/') - relpath));
	const char *base = strrchr(relpath, '/') + 1;
	autoclose int parent = -1, fd = -1;
	int r;

	r = dir_open_at(pool, parent_path, &parent, err);
	if (r < 0)
		return r;
	if (mkdirat(parent, base, mode) < 0) {
		if (errno == EEXIST)
			return error_set(err, -EEXIST, "'%s/%s' already exists on disk",
					 dir_data(pool)->path, relpath);
		return error_errno(err, -errno, "Failed to create '%s/%s'", dir_data(pool)->path,
				   relpath);
	}
	fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = error_errno(err, -errno, "Failed to open '%s/%s'", dir_data(pool)->path,
				relpath);
		(void)unlinkat(parent, base, AT_REMOVEDIR);
		return r;
	}
	*ret_parent = take_fd(parent);
	*ret = take_fd(fd);
	return 0;
}

static int dir_volume_create(struct storage_pool *pool, const struct storage_volume *vol,
			     struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autoclose int parent = -1, fd = -1;
	int r;

	if (dir_name_is_snapshot(vol->name))
		return error_set(err, -EINVAL, "'%s' is a snapshot name", vol->name);
	r = dir_mkdir_open(pool, relpath, 0711, &parent, &fd, err);
	if (r < 0)
		return r;
	if (dir_type_is_instance(vol->type) && mkdirat(fd, "rootfs", 0755) < 0) {
		r = error_errno(err, -errno, "Failed to create '%s/%s/rootfs'",
				dir_data(pool)->path, relpath);
		(void)tree_remove(parent, strrchr(relpath, '/') + 1, NULL);
		return r;
	}
	return 0;
}

static int dir_image_create(struct storage_pool *pool, const struct storage_volume *vol,
			    struct error *err)
{
	autofree char *suffix = random_hex(8);
	autofree char *tmp = str_printf(".unpack-%s-%s", vol->name, suffix);
	autoclose int images = -1, fd = -1;
	struct stat st;
	int r;

	r = dir_open_at(pool, "images", &images, err);
	if (r < 0)
		return r;
	/* Unpacked under a temporary name and renamed once complete: images/<fp> is always
	 * a whole image. A leftover from a crash between the rename and the database insert
	 * has no users and goes. */
	r = tree_remove(images, vol->name, err);
	if (r < 0)
		return r;
	if (mkdirat(images, tmp, 0700) < 0)
		return error_errno(err, -errno, "Failed to create '%s/images/%s'",
				   dir_data(pool)->path, tmp);
	fd = openat(images, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = error_errno(err, -errno, "Failed to open '%s/images/%s'", dir_data(pool)->path,
				tmp);
		goto undo_mkdir;
	}

	r = image_unpack(pool->lodge_dir, vol->name, fd, err);
	if (r < 0)
		goto undo_mkdir;
	if (fstatat(fd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		r = error_set(err, -EINVAL, "Image '%s' has no rootfs directory", vol->name);
		goto undo_mkdir;
	}
	if (renameat2(images, tmp, images, vol->name, RENAME_NOREPLACE) < 0) {
		r = error_errno(err, -errno, "Failed to rename '%s/images/%s'",
				dir_data(pool)->path, tmp);
		goto undo_mkdir;
	}
	return 0;

undo_mkdir:
	(void)tree_remove(images, tmp, NULL);
	return r;
}

/* Copies metadata.yaml and templates/ (when src_fd has them) into dst_fd. */
int dir_copy_metadata(int src_fd, int dst_fd, struct error *err)
{
	static const char *const names[] = { "metadata.yaml", "templates" };
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (faccessat(src_fd, names[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		r = tree_copy_at(src_fd, names[i], dst_fd, names[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Gives the new overlay volume dir vol_fd its upper/ (owner and mode of the image's root
 * directory: the overlay's root shows the upper's), work/ and rootfs/. */
static int dir_overlay_dirs(int vol_fd, int lower_fd, struct error *err)
{
	struct stat st;

	if (fstat(lower_fd, &st) < 0)
		return error_errno(err, -errno, "Failed to stat the image's root directory");
	if (mkdirat(vol_fd, "upper", st.st_mode & 07777) < 0 ||
	    fchownat(vol_fd, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(vol_fd, "upper", st.st_mode & 07777, 0) < 0)
		return error_errno(err, -errno, "Failed to create the upper layer");
	return 0;
}

static int dir_overlay_runtime_dirs(int vol_fd, struct error *err)
{
	if (mkdirat(vol_fd, "work", 0700) < 0 || mkdirat(vol_fd, "rootfs", 0755) < 0)
		return error_errno(err, -errno, "Failed to create the overlay's directories");
	return 0;
}

static int dir_volume_create_from_image(struct storage_pool *pool, const struct storage_volume *vol,
					const struct storage_volume *image, struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autofree char *image_path = dir_relpath(STORAGE_VOLUME_IMAGE, image->name);
	autoclose int parent = -1, fd = -1, img = -1, lower = -1;
	int r;

	r = dir_open_at(pool, image_path, &img, err);
	if (r < 0)
		return r;
	lower = open_beneath(img, "rootfs", O_RDONLY | O_DIRECTORY, 0);
	if (lower < 0)
		return error_errno(err, lower, "Failed to open the rootfs of image '%s'",
				   image->name);

	r = dir_mkdir_open(pool, relpath, 0711, &parent, &fd, err);
	if (r < 0)
		return r;
	r = dir_overlay_dirs(fd, lower, err);
	if (r >= 0)
		r = dir_overlay_runtime_dirs(fd, err);
	if (r >= 0)
		r = dir_copy_metadata(img, fd, err);
	if (r < 0)
		goto undo_mkdir;
	return 0;

undo_mkdir:
	(void)tree_remove(parent, strrchr(relpath, '/') + 1, NULL);
	return r;
}

/* The host path of a volume's directory. */
static char *dir_host_path(struct storage_pool *pool, enum storage_volume_type type,
			   const char *name)
{
	autofree char *relpath = dir_relpath(type, name);

	return str_printf("%s/%s", dir_data(pool)->path, relpath);
}

int dir_volume_unmount(struct storage_pool *pool, const struct storage_volume *vol,
		       struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autofree char *rootfs = NULL;
	autoclose int fd = -1;

	if (!dir_type_is_instance(vol->type) || dir_name_is_snapshot(vol->name))
		return 0;
	fd = open_beneath(dir_data(pool)->fd, relpath, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return error_errno(err, fd, "Failed to open '%s/%s'", dir_data(pool)->path,
				   relpath);
	if (!mount_is_root(fd, "rootfs"))
		return 0;
	rootfs = str_printf("%s/%s/rootfs", dir_data(pool)->path, relpath);
	return mount_unmount(rootfs, err);
}

bool dir_volume_is_mounted(struct storage_pool *pool, const struct storage_volume *vol)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autoclose int fd = -1;

	if (!dir_type_is_instance(vol->type) || dir_name_is_snapshot(vol->name))
		return false;
	fd = open_beneath(dir_data(pool)->fd, relpath, O_RDONLY | O_DIRECTORY, 0);
	return fd >= 0 && mount_is_root(fd, "rootfs");
}

int dir_volume_delete_with(struct storage_pool *pool, const struct storage_volume *vol,
			   dir_remove_fn remove, struct error *err)
{
	autoclose int parent = -1;
	int r;

	r = dir_volume_unmount(pool, vol, err);
	if (r < 0)
		return r;
	r = dir_open_at(pool, dir_type_dirs[vol->type], &parent, err);
	if (r < 0)
		return r;
	r = remove(parent, vol->name, err);
	if (r < 0)
		return r;
	dir_snapshot_parent_prune(pool, vol->type, vol->name);
	return 0;
}

static int dir_volume_delete(struct storage_pool *pool, const struct storage_volume *vol,
			     struct error *err)
{
	return dir_volume_delete_with(pool, vol, tree_remove, err);
}

int dir_volume_rename(struct storage_pool *pool, const struct storage_volume *vol,
		      const char *new_name, struct error *err)
{
	autoclose int dir = -1, snaps = -1;
	int r;

	r = dir_open_at(pool, dir_type_dirs[vol->type], &dir, err);
	if (r < 0)
		return r;
	r = dir_open_at(pool, dir_snapshot_dirs[vol->type], &snaps, err);
	if (r < 0)
		return r;
	if (dir_type_is_instance(vol->type)) {
		autofree char *rootfs = str_printf("%s/rootfs", vol->name);

		if (mount_is_root(dir, rootfs))
			return error_set(err, -EBUSY, "Storage volume '%s' is mounted", vol->name);
	}

	if (renameat2(dir, vol->name, dir, new_name, RENAME_NOREPLACE) < 0)
		return error_errno(err, -errno, "Failed to rename '%s/%s/%s'", dir_data(pool)->path,
				   dir_type_dirs[vol->type], vol->name);
	if (renameat2(snaps, vol->name, snaps, new_name, RENAME_NOREPLACE) < 0 && errno != ENOENT) {
		r = error_errno(err, -errno, "Failed to rename '%s/%s/%s'", dir_data(pool)->path,
				dir_snapshot_dirs[vol->type], vol->name);
		(void)renameat2(dir, new_name, dir, vol->name, RENAME_NOREPLACE);
		return r;
	}
	return 0;
}

/* True when the volume directory vol_fd is an overlay clone (it has an upper layer). */
static bool dir_is_overlay(int vol_fd)
{
	struct stat st;

	return fstatat(vol_fd, "upper", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Copies the volume or snapshot at src_rel into the new directory dst_rel: for an overlay
 * its upper layer and metadata (plus work/ and rootfs/ when dst is a volume, not a
 * snapshot), otherwise the whole directory. A plain volume is read through a clone of its
 * mount without submounts, so a mounted view on its rootfs/ is neither crossed nor copied. */
static int dir_copy(struct storage_pool *pool, const char *src_rel, const char *dst_rel,
		    bool dst_is_snapshot, struct error *err)
{
	autoclose int src = -1, parent = -1, dst = -1, mnt = -1, clone = -1;
	const char *dst_base = strrchr(dst_rel, '/') + 1;
	int r;

	r = dir_open_at(pool, src_rel, &src, err);
	if (r < 0)
		return r;

	if (!dir_is_overlay(src)) {
		autofree char *parent_path = xstrndup(dst_rel, (size_t)(dst_base - 1 - dst_rel));

		mnt = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (mnt < 0)
			return error_errno(err, -errno, "Failed to clone the mount of '%s'",
					   src_rel);
		/* open_tree() gives an O_PATH descriptor: reopen it for reading. */
		clone = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (clone < 0)
			return error_errno(err, -errno, "Failed to open '%s'", src_rel);
		r = dir_open_at(pool, parent_path, &parent, err);
		if (r < 0)
			return r;
		return tree_copy(clone, parent, dst_base, err);
	}

	r = dir_mkdir_open(pool, dst_rel, 0711, &parent, &dst, err);
	if (r < 0)
		return r;
	r = tree_copy_at(src, "upper", dst, "upper", err);
	if (r >= 0)
		r = dir_copy_metadata(src, dst, err);
	if (r >= 0 && !dst_is_snapshot)
		r = dir_overlay_runtime_dirs(dst, err);
	if (r < 0)
		goto undo_mkdir;
	return 0;

undo_mkdir:
	(void)tree_remove(parent, dst_base, NULL);
	return r;
}

static int dir_volume_copy(struct storage_pool *pool, const struct storage_volume *src,
			   const struct storage_volume *dst, struct error *err)
{
	autofree char *src_rel = dir_relpath(src->type, src->name);
	autofree char *dst_rel = dir_relpath(dst->type, dst->name);
	int r;

	if (dir_name_is_snapshot(dst->name)) {
		r = dir_snapshot_parent_ensure(pool, dst->type, dst->name, err);
		if (r < 0)
			return r;
	}
	r = dir_copy(pool, src_rel, dst_rel, dir_name_is_snapshot(dst->name), err);
	if (r < 0 && dir_name_is_snapshot(dst->name))
		dir_snapshot_parent_prune(pool, dst->type, dst->name);
	return r;
}

static char *snapshot_name(const struct storage_volume *vol, const char *snap)
{
	return str_printf("%s/%s", vol->name, snap);
}

static int dir_snapshot_create(struct storage_pool *pool, const struct storage_volume *vol,
			       const char *snap, struct error *err)
{
	autofree char *name = snapshot_name(vol, snap);
	struct storage_volume dst = { .type = vol->type, .name = name };

	return dir_volume_copy(pool, vol, &dst, err);
}

int dir_snapshot_remove(struct storage_pool *pool, const struct storage_volume *vol,
			const char *snap, dir_remove_fn remove, struct error *err)
{
	autofree char *name = snapshot_name(vol, snap);
	autofree char *parent_rel = str_printf("%s/%s", dir_snapshot_dirs[vol->type], vol->name);
	autoclose int parent = -1;
	int r;

	r = dir_open_at(pool, parent_rel, &parent, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = remove(parent, snap, err);
	if (r < 0)
		return r;
	dir_snapshot_parent_prune(pool, vol->type, name);
	return 0;
}

static int dir_snapshot_delete(struct storage_pool *pool, const struct storage_volume *vol,
			       const char *snap, struct error *err)
{
	return dir_snapshot_remove(pool, vol, snap, tree_remove, err);
}

int dir_snapshot_restore_with(struct storage_pool *pool, const struct storage_volume *vol,
			      const char *snap, dir_build_fn build, dir_remove_fn remove,
			      struct error *err)
{
	autofree char *snap_rel =
		str_printf("%s/%s/%s", dir_snapshot_dirs[vol->type], vol->name, snap);
	autofree char *suffix = random_hex(8);
	/* Dot names cannot clash with volumes: no valid name starts with '.'. */
	autofree char *tmp = str_printf(".restore-%s-%s", vol->name, suffix);
	autoclose int dir = -1;
	int r;

	if (dir_volume_is_mounted(pool, vol))
		return error_set(err, -EBUSY,
				 "Storage volume '%s' is mounted: stop the instance first",
				 vol->name);
	r = dir_open_at(pool, dir_type_dirs[vol->type], &dir, err);
	if (r < 0)
		return r;

	/* Build the restored volume beside the current one, swap them in one rename, then
	 * drop the old one: a failure before the swap leaves the volume as it was. */
	r = build(pool, vol, snap_rel, tmp, err);
	if (r < 0)
		return r;
	if (renameat2(dir, tmp, dir, vol->name, RENAME_EXCHANGE) < 0) {
		r = error_errno(err, -errno, "Failed to restore '%s' from snapshot '%s'", vol->name,
				snap);
		(void)remove(dir, tmp, NULL);
		return r;
	}
	r = remove(dir, tmp, NULL);
	if (r < 0)
		log_warn_errno(r,
			       "Failed to remove the old contents of volume '%s' ('%s'), ignoring",
			       vol->name, tmp);
	return 0;
}

/* Builds the restored copy: the snapshot's files copied as in dir_copy(). */
static int dir_restore_build(struct storage_pool *pool, const struct storage_volume *vol,
			     const char *snap_rel, const char *tmp, struct error *err)
{
	autofree char *tmp_rel = str_printf("%s/%s", dir_type_dirs[vol->type], tmp);

	return dir_copy(pool, snap_rel, tmp_rel, false, err);
}

static int dir_snapshot_restore(struct storage_pool *pool, const struct storage_volume *vol,
				const char *snap, struct error *err)
{
	return dir_snapshot_restore_with(pool, vol, snap, dir_restore_build, tree_remove, err);
}

int dir_snapshot_rename(struct storage_pool *pool, const struct storage_volume *vol,
			const char *snap, const char *new_snap, struct error *err)
{
	autofree char *parent_rel = str_printf("%s/%s", dir_snapshot_dirs[vol->type], vol->name);
	autoclose int parent = -1;
	int r;

	r = dir_open_at(pool, parent_rel, &parent, err);
	if (r < 0)
		return r;
	if (renameat2(parent, snap, parent, new_snap, RENAME_NOREPLACE) < 0)
		return error_errno(err, -errno, "Failed to rename snapshot '%s/%s'", vol->name,
				   snap);
	return 0;
}

int dir_volume_mount_as(struct storage_pool *pool, const struct storage_volume *vol,
			const struct storage_idmap *idmap, bool overlays, char **ret_path,
			struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autofree char *path = dir_host_path(pool, vol->type, vol->name);
	autofree char *rootfs = NULL;
	autoclose int fd = -1, target = -1, img = -1, lower = -1;
	const char *fp = overlays ? dir_base_image(vol) : NULL;
	int r;

	r = dir_open_at(pool, relpath, &fd, err);
	if (r < 0)
		return r;
	if (!dir_type_is_instance(vol->type)) {
		*ret_path = take_ptr(path);
		return 0;
	}
	if (dir_name_is_snapshot(vol->name))
		return error_set(err, -EOPNOTSUPP, "Mounting snapshot '%s' is not supported",
				 vol->name);

	rootfs = str_printf("%s/rootfs", path);
	if (mount_is_root(fd, "rootfs")) {
		*ret_path = take_ptr(rootfs);
		return 0;
	}
	target = open_beneath(fd, "rootfs", O_RDONLY | O_DIRECTORY, 0);
	if (target < 0)
		return error_errno(err, target, "Failed to open '%s'", rootfs);

	if (fp && dir_is_overlay(fd)) {
		autofree char *image_rel = dir_relpath(STORAGE_VOLUME_IMAGE, fp);

		r = dir_open_at(pool, image_rel, &img, err);
		if (r < 0)
			return error_prefix(err, "Image '%s' of volume '%s' is missing", fp,
					    vol->name);
		lower = open_beneath(img, "rootfs", O_RDONLY | O_DIRECTORY, 0);
		if (lower < 0)
			return error_errno(err, lower, "Failed to open the rootfs of image '%s'",
					   fp);
		r = mount_overlay(lower, fd, "upper", "work", target, idmap, vol->name, err);
	} else if (fp) {
		return error_set(err, -EUCLEAN,
				 "Storage volume '%s' clones image '%s' but has no upper layer",
				 vol->name, fp);
	} else if (idmap) {
		r = mount_idmapped_bind(target, target, idmap, vol->name, err);
	} else {
		r = 0; /* a plain directory needs no mount */
	}
	if (r < 0)
		return r;

	*ret_path = take_ptr(rootfs);
	return 0;
}

static int dir_volume_mount(struct storage_pool *pool, const struct storage_volume *vol,
			    const struct storage_idmap *idmap, char **ret_path, struct error *err)
{
	return dir_volume_mount_as(pool, vol, idmap, true, ret_path, err);
}

int dir_volume_usage(struct storage_pool *pool, const struct storage_volume *vol,
		     uint64_t *ret_used, struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autoclose int fd = -1, upper = -1;
	int r;

	r = dir_open_at(pool, relpath, &fd, err);
	if (r < 0)
		return r;
	/* A clone uses what it changed: its upper layer. */
	if (dir_is_overlay(fd)) {
		upper = open_beneath(fd, "upper", O_RDONLY | O_DIRECTORY, 0);
		if (upper < 0)
			return error_errno(err, upper, "Failed to open the upper layer of '%s'",
					   vol->name);
		return tree_usage(upper, ret_used, err);
	}
	return tree_usage(fd, ret_used, err);
}

const struct storage_driver storage_driver_dir = {
	.name = "dir",
	.version = "1",
	.remote = false,
	.pool_schema = &dir_pool_schema,
	.pool_init = dir_pool_init,
	.pool_create = dir_pool_create,
	.pool_delete = dir_pool_delete,
	.pool_mount = dir_pool_mount,
	.pool_release = dir_pool_release,
	.pool_resources = dir_pool_resources,
	.volume_create = dir_volume_create,
	.image_create = dir_image_create,
	.volume_create_from_image = dir_volume_create_from_image,
	.volume_delete = dir_volume_delete,
	.volume_rename = dir_volume_rename,
	.volume_copy = dir_volume_copy,
	.snapshot_create = dir_snapshot_create,
	.snapshot_delete = dir_snapshot_delete,
	.snapshot_restore = dir_snapshot_restore,
	.snapshot_rename = dir_snapshot_rename,
	.volume_mount = dir_volume_mount,
	.volume_is_mounted = dir_volume_is_mounted,
	.volume_unmount = dir_volume_unmount,
	.volume_usage = dir_volume_usage,
};
