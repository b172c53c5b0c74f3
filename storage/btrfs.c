/* storage/btrfs.c: the `btrfs` storage driver.
 *
 * The pool is a btrfs filesystem on a block device, or on a loop file lodge creates and
 * sizes ("size", default 20% of the free space, between 5 GiB and 30 GiB, as LXD does)
 * under $LODGE_DIR/disks/<pool>.img. It is mounted on $LODGE_DIR/storage-pools/<pool> and
 * holds dir.c's layout (storage/dir.h), every volume and snapshot a subvolume:
 *
 *	images/<fingerprint>     the unpacked image (read-only once complete)
 *	containers/<name>        a writable snapshot of the image: created in constant time
 *	containers-snapshots/<name>/<snap>, custom/<name>, custom-snapshots/<name>/<snap>
 *
 * Instance snapshots, copies within the pool and restores are subvolume snapshots too, so
 * their cost does not grow with the volume. "size" is a qgroup limit on the subvolume's
 * referenced bytes (quotas are enabled on the filesystem the first time a size is set):
 * writing past it fails with EDQUOT inside the instance, the rest of the host is untouched.
 *
 * Loop devices are attached with LO_FLAGS_AUTOCLEAR: the kernel detaches one as soon as the
 * filesystem on it is unmounted, so unmounting the pool is the whole cleanup, and a failed
 * mount leaves no device behind. The pool is mounted when lodged starts (after a reboot the
 * loop file needs a new device) and whenever a call needs it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/images.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/run.h"
#include "lib/str.h"
#include "storage/dir.h"
#include "storage/mount.h"
#include "storage/storage.h"
#include "storage/tree.h"

#include "lib/banned.h"

#define GIB ((uint64_t)1 << 30)

/* The inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
#define BTRFS_SUBVOL_ROOT_INO 256

/* Mount options: a comma-separated list of plain words and key=value pairs. */
static int btrfs_validate_mount_options(const char *value, struct error *err)
{
	for (const char *p = value; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("_=,.:", *p)))
			return error_set(err, -EINVAL,
					 "expected mount options such as 'compress=zstd'");
	return 0;
}

static const struct config_key btrfs_pool_keys[] = {
	{ .name = "source", .type = CONFIG_TYPE_STRING, .validate = config_validate_abspath },
	{ .name = "size", .type = CONFIG_TYPE_SIZE },
	{ .name = "source.wipe", .type = CONFIG_TYPE_BOOL },
	{ .name = "btrfs.mount_options",
	  .type = CONFIG_TYPE_STRING,
	  .validate = btrfs_validate_mount_options },
	{ .name = "volume.size", .type = CONFIG_TYPE_SIZE },
	{ .name = "volume.security.shifted", .type = CONFIG_TYPE_BOOL },
	{ .name = "volume.security.unmapped", .type = CONFIG_TYPE_BOOL },
	{ .name = "rsync.bwlimit", .type = CONFIG_TYPE_STRING },
	{ .name = "rsync.compression", .type = CONFIG_TYPE_BOOL },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{},
};

static const struct config_schema btrfs_pool_schema = { "storage pool", btrfs_pool_keys };

/* Where the pool's filesystem is mounted. */
static char *btrfs_mountpoint(const struct storage_pool *pool)
{
	return str_printf("%s/storage-pools/%s", pool->lodge_dir, pool->name);
}

static char *btrfs_default_source(const struct storage_pool *pool)
{
	return str_printf("%s/disks/%s.img", pool->lodge_dir, pool->name);
}

/* ---- subvolumes ------------------------------------------------------------------------ */

static int btrfs_subvol_create(int parent_fd, const char *name, struct error *err)
{
	struct btrfs_ioctl_vol_args args = { 0 };

	if (!snprintf_ok(args.name, sizeof(args.name), "%s", name))
		return error_set(err, -ENAMETOOLONG, "Subvolume name '%s' is too long", name);
	if (ioctl(parent_fd, BTRFS_IOC_SUBVOL_CREATE, &args) < 0)
		return error_errno(err, -errno, "Failed to create subvolume '%s'", name);
	return 0;
}

/* A snapshot of the subvolume src_fd as name in parent_fd; read-only for snapshots. */
static int btrfs_subvol_snapshot(int src_fd, int parent_fd, const char *name, bool readonly,
				 struct error *err)
{
	struct btrfs_ioctl_vol_args_v2 args = { .fd = src_fd };

	if (readonly)
		args.flags = BTRFS_SUBVOL_RDONLY;
	if (!snprintf_ok(args.name, sizeof(args.name), "%s", name))
		return error_set(err, -ENAMETOOLONG, "Subvolume name '%s' is too long", name);
	if (ioctl(parent_fd, BTRFS_IOC_SNAP_CREATE_V2, &args) < 0)
		return error_errno(err, -errno, "Failed to snapshot subvolume as '%s'", name);
	return 0;
}

/* True when name in parent_fd is the root of a subvolume (inode 256 on btrfs). */
static bool btrfs_is_subvol(int parent_fd, const char *name)
{
	struct stat st;

	return fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_ino == BTRFS_SUBVOL_ROOT_INO;
}

/* Deletes subvolume name of parent_fd (0 when it does not exist); a plain directory left
 * by something else is removed as a tree. */
static int btrfs_subvol_delete(int parent_fd, const char *name, struct error *err)
{
	struct btrfs_ioctl_vol_args args = { 0 };

	if (faccessat(parent_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (!btrfs_is_subvol(parent_fd, name))
		return tree_remove(parent_fd, name, err);
	if (!snprintf_ok(args.name, sizeof(args.name), "%s", name))
		return error_set(err, -ENAMETOOLONG, "Subvolume name '%s' is too long", name);
	if (ioctl(parent_fd, BTRFS_IOC_SNAP_DESTROY, &args) < 0)
		return error_errno(err, -errno, "Failed to delete subvolume '%s'", name);
	return 0;
}

/* Opens the parent directory of relpath (beneath the pool) and points *ret_base into
 * relpath at the last component. */
static int btrfs_open_parent(struct storage_pool *pool, const char *relpath, int *ret_fd,
			     const char **ret_base, struct error *err)
{
	const char *slash = strrchr(relpath, '/');
	autofree char *parent = xstrndup(relpath, (size_t)(slash - relpath));
	int r;

	r = dir_open_at(pool, parent, ret_fd, err);
	if (r < 0)
		return r;
	*ret_base = slash + 1;
	return 0;
}

/* ---- the pool's filesystem ------------------------------------------------------------- */

/* Attaches the file source to a free loop device that detaches itself once unused; *ret_fd
 * holds it until the filesystem is mounted, *ret_dev is its path. */
static int btrfs_loop_attach(const char *source, int *ret_fd, char **ret_dev, struct error *err)
{
	autoclose int ctl = -1, file = -1;

	file = open(source, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (file < 0)
		return error_errno(err, -errno, "Failed to open '%s'", source);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return error_errno(err, -errno, "Failed to open '/dev/loop-control'");

	/* Another process may take the free device between the two calls: try again. */
	for (int attempt = 0; attempt < 16; attempt++) {
		struct loop_config cfg = { .fd = (uint32_t)file };
		autofree char *dev = NULL;
		autoclose int fd = -1;
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0)
			return error_errno(err, -errno, "Failed to find a free loop device");
		dev = str_printf("/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT &&
		    mknod(dev, S_IFBLK | 0660, makedev(7, (unsigned)n)) == 0)
			fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, -errno, "Failed to open '%s'", dev);
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		(void)snprintf_ok((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name),
				  "%s", source);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			*ret_fd = take_fd(fd);
			*ret_dev = take_ptr(dev);
			return 0;
		}
		if (errno != EBUSY)
			return error_errno(err, -errno, "Failed to attach '%s' to '%s'", source,
					   dev);
	}
	return error_set(err, -EBUSY, "Failed to attach '%s': no free loop device", source);
}

/* True when the pool's filesystem is mounted on its mount point. */
static bool btrfs_is_mounted(const struct storage_pool *pool)
{
	autofree char *parent = str_printf("%s/storage-pools", pool->lodge_dir);
	autofree char *mnt = btrfs_mountpoint(pool);
	autoclose int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs sf;

	return fd >= 0 && mount_is_root(fd, pool->name) && statfs(mnt, &sf) == 0 &&
	       sf.f_type == BTRFS_SUPER_MAGIC;
}

/* Mounts the pool's source (a block device, or a loop file through a new loop device). */
static int btrfs_mount_source(struct storage_pool *pool, const char *mnt, struct error *err)
{
	const char *source = json_get_str(pool->config, "source");
	const char *options = json_get_str(pool->config, "btrfs.mount_options");
	autofree char *dev = NULL;
	autoclose int loop = -1;
	struct stat st;
	int r;

	if (str_is_empty(source))
		return error_set(err, -EINVAL, "Storage pool '%s' has no source", pool->name);
	if (stat(source, &st) < 0)
		return error_errno(err, -errno, "Storage pool '%s' is unavailable: '%s'",
				   pool->name, source);
	if (S_ISREG(st.st_mode)) {
		r = btrfs_loop_attach(source, &loop, &dev, err);
		if (r < 0)
			return r;
	} else if (S_ISBLK(st.st_mode)) {
		dev = xstrdup(source);
	} else {
		return error_set(
			err, -EINVAL,
			"Source '%s' of storage pool '%s' is neither a file nor a block device",
			source, pool->name);
	}
	if (str_is_empty(options))
		options = "user_subvol_rm_allowed";
	if (mount(dev, mnt, "btrfs", MS_NOSUID | MS_NODEV, options) < 0)
		return error_errno(err, -errno, "Failed to mount '%s' on '%s'", source, mnt);
	/* Closing the loop device now: the mount holds it, its unmount detaches it. */
	return 0;
}

static int btrfs_pool_mount(struct storage_pool *pool, struct error *err)
{
	autofree char *mnt = btrfs_mountpoint(pool);
	int r;

	if (pool->data)
		return 0;
	r = mkdir_p(mnt, 0711, err);
	if (r < 0)
		return r;
	if (!btrfs_is_mounted(pool)) {
		r = btrfs_mount_source(pool, mnt, err);
		if (r < 0)
			return r;
		log_debug("Mounted storage pool '%s' on '%s'", pool->name, mnt);
	}
	return dir_pool_open(pool, mnt, err);
}

static int btrfs_pool_unmount(struct storage_pool *pool, struct error *err)
{
	autofree char *mnt = btrfs_mountpoint(pool);

	dir_pool_release(pool);
	if (!btrfs_is_mounted(pool))
		return 0;
	if (umount2(mnt, UMOUNT_NOFOLLOW) < 0)
		return error_errno(err, -errno, "Failed to unmount storage pool '%s'", pool->name);
	return 0;
}

/* LXD's default loop file size: 20% of the free space, at least 5 GiB, at most 30 GiB. */
static uint64_t btrfs_default_size(const struct storage_pool *pool)
{
	struct statvfs sv;
	uint64_t size = 5 * GIB;

	if (statvfs(pool->lodge_dir, &sv) == 0)
		size = (uint64_t)sv.f_bavail * sv.f_frsize / 5 / GIB * GIB;
	if (size < 5 * GIB)
		size = 5 * GIB;
	if (size > 30 * GIB)
		size = 30 * GIB;
	return size;
}

static int btrfs_pool_init(struct storage_pool *pool, struct error *err)
{
	autofree char *source = NULL;

	/* The size of a loop file lodge makes is settled (and recorded) by pool_create. */
	if (str_is_empty(json_get_str(pool->config, "source"))) {
		source = btrfs_default_source(pool);
		(void)json_object_set_new(pool->config, "source", json_string(source));
	}
	return 0;
}

/* Creates the loop file source of size bytes, exclusively: nothing there is overwritten. */
static int btrfs_loop_file_create(const char *source, uint64_t size, struct error *err)
{
	autoclose int fd = -1;

	fd = open(source, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to create '%s'", source);
	if (ftruncate(fd, (off_t)size) < 0) {
		int r = error_errno(err, -errno, "Failed to size '%s'", source);

		(void)unlink(source);
		return r;
	}
	return 0;
}

/* Formats source; mkfs.btrfs itself refuses a device that holds a filesystem or is
 * mounted, unless source.wipe=true. */
static int btrfs_mkfs(struct storage_pool *pool, const char *source, struct error *err)
{
	const char *wipe = json_get_str(pool->config, "source.wipe");

	if (wipe && streq(wipe, "true"))
		return run_command((const char *[]){ "mkfs.btrfs", "-q", "-f", "-L", pool->name,
						     source, NULL },
				   err);
	return run_command((const char *[]){ "mkfs.btrfs", "-q", "-L", pool->name, source, NULL },
			   err);
}

static int btrfs_pool_create(struct storage_pool *pool, struct error *err)
{
	const char *source = json_get_str(pool->config, "source");
	const char *size_str = json_get_str(pool->config, "size");
	autofree char *def = btrfs_default_source(pool), *disks = NULL, *mnt = NULL;
	bool loop_file = false;
	uint64_t size = 0;
	struct stat st;
	int r;

	if (stat(source, &st) == 0) {
		if (!S_ISBLK(st.st_mode))
			return error_set(
				err, -EINVAL,
				"Source '%s' already exists: give a block device, or a path where lodge creates a loop file",
				source);
		if (!str_is_empty(size_str))
			return error_set(err, -EINVAL,
					 "'size' applies to a loop file, not to block device '%s'",
					 source);
	} else if (errno == ENOENT) {
		loop_file = true;
		if (str_is_empty(size_str)) {
			autofree char *def_size = NULL;

			size = btrfs_default_size(pool);
			def_size = str_printf("%lluGiB", (unsigned long long)(size / GIB));
			(void)json_object_set_new(pool->config, "size", json_string(def_size));
		} else if (parse_size(size_str, &size) < 0 || size < ((uint64_t)128 << 20)) {
			return error_set(
				err, -EINVAL,
				"Invalid value for 'size': a btrfs pool needs at least 128MiB");
		}
		if (streq(source, def)) {
			disks = str_printf("%s/disks", pool->lodge_dir);
			r = mkdir_p(disks, 0700, err);
			if (r < 0)
				return r;
		}
		r = btrfs_loop_file_create(source, size, err);
		if (r < 0)
			return r;
	} else {
		return error_errno(err, -errno, "Failed to use source '%s'", source);
	}

	r = btrfs_mkfs(pool, source, err);
	if (r < 0)
		goto undo_file;
	r = btrfs_pool_mount(pool, err);
	if (r < 0)
		goto undo_file;
	return 0;

undo_file:
	mnt = btrfs_mountpoint(pool);
	(void)rmdir(mnt);
	if (loop_file)
		(void)unlink(source);
	return r;
}

/* Image volumes went first (storage.c); what is left in images/ is an interrupted unpack,
 * a subvolume that dir_pool_clear()'s tree removal would not cross. */
static int btrfs_images_clear(struct storage_pool *pool, struct error *err)
{
	autoclose int images = -1;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	r = dir_open_at(pool, "images", &images, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	fd = openat(images, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		r = error_errno(err, -errno, "Failed to read '%s/images'", dir_data(pool)->path);
		if (fd >= 0)
			(void)close(fd);
		return r;
	}
	while (r >= 0 && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			r = btrfs_subvol_delete(images, de->d_name, err);
	(void)closedir(d);
	return r;
}

static int btrfs_pool_delete(struct storage_pool *pool, struct error *err)
{
	const char *source = json_get_str(pool->config, "source");
	autofree char *mnt = btrfs_mountpoint(pool);
	struct stat st;
	int r;

	r = btrfs_images_clear(pool, err);
	if (r >= 0)
		r = dir_pool_clear(pool, err);
	if (r < 0)
		return r;
	r = btrfs_pool_unmount(pool, err);
	if (r < 0)
		return r;
	if (rmdir(mnt) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to remove '%s'", mnt);
	/* A regular file source is always one lodge created (an existing one is refused). */
	if (stat(source, &st) == 0 && S_ISREG(st.st_mode) && unlink(source) < 0)
		return error_errno(err, -errno, "Failed to remove '%s'", source);
	return 0;
}

/* ---- quotas ---------------------------------------------------------------------------- */

/* Limits the subvolume vol_fd to size referenced bytes (0: no limit), enabling quotas on
 * the filesystem the first time. */
static int btrfs_qgroup_limit(struct storage_pool *pool, int vol_fd, uint64_t size,
			      const char *what, struct error *err)
{
	struct btrfs_ioctl_quota_ctl_args ctl = { .cmd = BTRFS_QUOTA_CTL_ENABLE };
	/* qgroupid 0: the subvolume the descriptor is in. */
	struct btrfs_ioctl_qgroup_limit_args lim = {
		.qgroupid = 0,
		.lim = { .flags = BTRFS_QGROUP_LIMIT_MAX_RFER,
			 .max_rfer = size ? size : (__u64)-1 },
	};

	if (ioctl(dir_data(pool)->fd, BTRFS_IOC_QUOTA_CTL, &ctl) < 0 && errno != EEXIST)
		return error_errno(err, -errno, "Failed to enable quotas on storage pool '%s'",
				   pool->name);
	/* Enabling starts a rescan; limits apply to accurate numbers once it ends. */
	(void)ioctl(dir_data(pool)->fd, BTRFS_IOC_QUOTA_RESCAN_WAIT);
	if (ioctl(vol_fd, BTRFS_IOC_QGROUP_LIMIT, &lim) < 0)
		return error_errno(err, -errno, "Failed to set the size of '%s'", what);
	return 0;
}

static int btrfs_volume_set_quota(struct storage_pool *pool, const struct storage_volume *vol,
				  uint64_t size, struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autoclose int fd = -1;
	int r;

	r = dir_open_at(pool, relpath, &fd, err);
	if (r < 0)
		return r;
	return btrfs_qgroup_limit(pool, fd, size, vol->name, err);
}

/* Gives a subvolume made anew (copy, restore) its volume's "size" limit. */
static int btrfs_apply_size(struct storage_pool *pool, const struct storage_volume *vol, int vol_fd,
			    struct error *err)
{
	const char *size_str = json_get_str(vol->config, "size");
	uint64_t size = 0;

	if (str_is_empty(size_str) || parse_size(size_str, &size) < 0 || size == 0)
		return 0;
	return btrfs_qgroup_limit(pool, vol_fd, size, vol->name, err);
}

/* ---- volumes --------------------------------------------------------------------------- */

static int btrfs_volume_create(struct storage_pool *pool, const struct storage_volume *vol,
			       struct error *err)
{
	autofree char *relpath = dir_relpath(vol->type, vol->name);
	autoclose int parent = -1, fd = -1;
	const char *base;
	int r;

	if (dir_name_is_snapshot(vol->name))
		return error_set(err, -EINVAL, "'%s' is a snapshot name", vol->name);
	r = btrfs_open_parent(pool, relpath, &parent, &base, err);
	if (r < 0)
		return r;
	if (faccessat(parent, base, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return error_set(err, -EEXIST, "'%s/%s' already exists on disk",
				 dir_data(pool)->path, relpath);
	r = btrfs_subvol_create(parent, base, err);
	if (r < 0)
		return r;
	fd = open_beneath(parent, base, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 || fchmod(fd, 0711) < 0 ||
	    (dir_type_is_instance(vol->type) && mkdirat(fd, "rootfs", 0755) < 0)) {
		r = error_errno(err, fd < 0 ? fd : -errno, "Failed to prepare '%s/%s'",
				dir_data(pool)->path, relpath);
		(void)btrfs_subvol_delete(parent, base, NULL);
		return r;
	}
	return 0;
}

static int btrfs_image_create(struct storage_pool *pool, const struct storage_volume *vol,
			      struct error *err)
{
	autofree char *suffix = random_hex(8);
	autofree char *tmp = str_printf(".unpack-%s-%s", vol->name, suffix);
	struct btrfs_ioctl_vol_args_v2 ro = { .flags = BTRFS_SUBVOL_RDONLY };
	autoclose int images = -1, fd = -1;
	struct stat st;
	int r;

	r = dir_open_at(pool, "images", &images, err);
	if (r < 0)
		return r;
	/* As dir.c: unpacked under a temporary name, renamed once complete. */
	r = btrfs_subvol_delete(images, vol->name, err);
	if (r < 0)
		return r;
	r = btrfs_subvol_create(images, tmp, err);
	if (r < 0)
		return r;
	fd = open_beneath(images, tmp, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		r = error_errno(err, fd, "Failed to open '%s/images/%s'", dir_data(pool)->path,
				tmp);
		goto undo_create;
	}
	r = image_unpack(pool->lodge_dir, vol->name, fd, err);
	if (r < 0)
		goto undo_create;
	if (fstatat(fd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		r = error_set(err, -EINVAL, "Image '%s' has no rootfs directory", vol->name);
		goto undo_create;
	}
	/* The base of every clone: nothing writes to it any more. */
	if (ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &ro.flags) < 0) {
		r = error_errno(err, -errno, "Failed to make image '%s' read-only", vol->name);
		goto undo_create;
	}
	if (renameat2(images, tmp, images, vol->name, RENAME_NOREPLACE) < 0) {
		r = error_errno(err, -errno, "Failed to rename '%s/images/%s'",
				dir_data(pool)->path, tmp);
		goto undo_create;
	}
	return 0;

undo_create:
	(void)btrfs_subvol_delete(images, tmp, NULL);
	return r;
}

/* Snapshots the volume or snapshot at src_rel as the new dst_rel (read-only when dst is a
 * snapshot), and gives a new volume dst's size. */
static int btrfs_snapshot_at(struct storage_pool *pool, const char *src_rel,
			     const struct storage_volume *dst, struct error *err)
{
	autofree char *dst_rel = dir_relpath(dst->type, dst->name);
	autoclose int src = -1, parent = -1, fd = -1;
	bool readonly = dir_name_is_snapshot(dst->name);
	const char *base;
	int r;

	r = dir_open_at(pool, src_rel, &src, err);
	if (r < 0)
		return r;
	r = btrfs_open_parent(pool, dst_rel, &parent, &base, err);
	if (r < 0)
		return r;
	r = btrfs_subvol_snapshot(src, parent, base, readonly, err);
	if (r < 0 || readonly)
		return r;
	fd = open_beneath(parent, base, O_RDONLY | O_DIRECTORY, 0);
	r = fd < 0 ? error_errno(err, fd, "Failed to open '%s'", dst_rel)
		   : btrfs_apply_size(pool, dst, fd, err);
	if (r < 0)
		(void)btrfs_subvol_delete(parent, base, NULL);
	return r;
}

static int btrfs_volume_create_from_image(struct storage_pool *pool,
					  const struct storage_volume *vol,
					  const struct storage_volume *image, struct error *err)
{
	autofree char *image_rel = dir_relpath(STORAGE_VOLUME_IMAGE, image->name);

	return btrfs_snapshot_at(pool, image_rel, vol, err);
}

static int btrfs_volume_delete(struct storage_pool *pool, const struct storage_volume *vol,
			       struct error *err)
{
	return dir_volume_delete_with(pool, vol, btrfs_subvol_delete, err);
}

static int btrfs_volume_copy(struct storage_pool *pool, const struct storage_volume *src,
			     const struct storage_volume *dst, struct error *err)
{
	autofree char *src_rel = dir_relpath(src->type, src->name);
	int r;

	if (dir_name_is_snapshot(dst->name)) {
		r = dir_snapshot_parent_ensure(pool, dst->type, dst->name, err);
		if (r < 0)
			return r;
	}
	r = btrfs_snapshot_at(pool, src_rel, dst, err);
	if (r < 0 && dir_name_is_snapshot(dst->name))
		dir_snapshot_parent_prune(pool, dst->type, dst->name);
	return r;
}

static int btrfs_snapshot_create(struct storage_pool *pool, const struct storage_volume *vol,
				 const char *snap, struct error *err)
{
	autofree char *name = str_printf("%s/%s", vol->name, snap);
	struct storage_volume dst = { .type = vol->type, .name = name, .config = vol->config };

	return btrfs_volume_copy(pool, vol, &dst, err);
}

static int btrfs_snapshot_delete(struct storage_pool *pool, const struct storage_volume *vol,
				 const char *snap, struct error *err)
{
	return dir_snapshot_remove(pool, vol, snap, btrfs_subvol_delete, err);
}

/* The restored volume: a writable snapshot of the snapshot, with the volume's size. */
static int btrfs_restore_build(struct storage_pool *pool, const struct storage_volume *vol,
			       const char *snap_rel, const char *tmp, struct error *err)
{
	struct storage_volume restored = *vol;

	restored.name = (char *)tmp;
	return btrfs_snapshot_at(pool, snap_rel, &restored, err);
}

static int btrfs_snapshot_restore(struct storage_pool *pool, const struct storage_volume *vol,
				  const char *snap, struct error *err)
{
	return dir_snapshot_restore_with(pool, vol, snap, btrfs_restore_build, btrfs_subvol_delete,
					 err);
}

static int btrfs_volume_mount(struct storage_pool *pool, const struct storage_volume *vol,
			      const struct storage_idmap *idmap, char **ret_path, struct error *err)
{
	return dir_volume_mount_as(pool, vol, idmap, false, ret_path, err);
}

const struct storage_driver storage_driver_btrfs = {
	.name = "btrfs",
	.version = "6.2",
	.remote = false,
	.pool_schema = &btrfs_pool_schema,
	.pool_init = btrfs_pool_init,
	.pool_create = btrfs_pool_create,
	.pool_delete = btrfs_pool_delete,
	.pool_mount = btrfs_pool_mount,
	.pool_unmount = btrfs_pool_unmount,
	.pool_release = dir_pool_release,
	.pool_resources = dir_pool_resources,
	.volume_create = btrfs_volume_create,
	.image_create = btrfs_image_create,
	.volume_create_from_image = btrfs_volume_create_from_image,
	.volume_delete = btrfs_volume_delete,
	.volume_rename = dir_volume_rename,
	.volume_copy = btrfs_volume_copy,
	.snapshot_create = btrfs_snapshot_create,
	.snapshot_delete = btrfs_snapshot_delete,
	.snapshot_restore = btrfs_snapshot_restore,
	.snapshot_rename = dir_snapshot_rename,
	.volume_mount = btrfs_volume_mount,
	.volume_is_mounted = dir_volume_is_mounted,
	.volume_unmount = dir_volume_unmount,
	.volume_usage = dir_volume_usage,
	.volume_set_quota = btrfs_volume_set_quota,
};
