/* Storage pools and volumes with the dir driver, on a temporary state directory.
 *
 * Mounts (overlays, idmapped views) need root: those tests return early, passing, when not
 * run as root, after saying so. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db-images.h"
#include "db/db-storage.h"
#include "db/db.h"
#include "images/images.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "storage/storage.h"
#include "test/unit/unit.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define ck_ok(call)                                                          \
	do {                                                                 \
		struct error _e = ERROR_INIT;                                \
		int _r = (call);                                             \
		ck_assert_msg(_r >= 0, "%s: %s", #call, error_message(&_e)); \
		error_clear(&_e);                                            \
	} while (0)

static bool need_root(void)
{
	if (getuid() == 0)
		return true;
	fprintf(stderr, "SKIP: storage mount tests need root\n");
	return false;
}

static struct db *db_open_ok(void)
{
	autofree char *path = str_printf("%s/lodge.db", unit_tmpdir);
	struct error err = ERROR_INIT;
	struct db *db = NULL;

	ck_assert_msg(db_open(path, &db, &err) == 0, "db_open: %s", error_message(&err));
	error_clear(&err);
	return db;
}

static void add_entry(struct archive *a, const char *path, mode_t type, mode_t perm,
		      const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (link && type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	if (data)
		ck_assert_int_eq(archive_write_data(a, data, strlen(data)),
				 (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

/* A small unified image tarball at <tmp>/images/<fp>, as the image store keeps it. */
static void image_make(const char *fp)
{
	autofree char *dir = str_printf("%s/images", unit_tmpdir);
	autofree char *path = str_printf("%s/%s", dir, fp);
	struct archive *a = archive_write_new();

	ck_assert_int_eq(mkdir_p(dir, 0700, NULL), 0);
	archive_write_set_format_pax_restricted(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	add_entry(a, "metadata.yaml", AE_IFREG, 0644, "architecture: x86_64\n", NULL);
	add_entry(a, "templates", AE_IFDIR, 0755, NULL, NULL);
	add_entry(a, "templates/hostname.tpl", AE_IFREG, 0644, "{{ container.name }}\n", NULL);
	add_entry(a, "rootfs", AE_IFDIR, 0755, NULL, NULL);
	add_entry(a, "rootfs/etc", AE_IFDIR, 0755, NULL, NULL);
	add_entry(a, "rootfs/etc/hostname", AE_IFREG, 0644, "image\n", NULL);
	add_entry(a, "rootfs/etc/hostname-link", AE_IFREG, 0644, NULL, "rootfs/etc/hostname");
	add_entry(a, "rootfs/root", AE_IFDIR, 0700, NULL, NULL);
	add_entry(a, "rootfs/root/secret", AE_IFREG, 0600, "s3cret\n", NULL);
	add_entry(a, "rootfs/bin", AE_IFDIR, 0755, NULL, NULL);
	add_entry(a, "rootfs/bin/busybox", AE_IFREG, 0755, "#!\n", NULL);
	add_entry(a, "rootfs/bin/ls", AE_IFREG, 0755, NULL, "rootfs/bin/busybox");
	add_entry(a, "rootfs/bin/sh", AE_IFLNK, 0777, NULL, "busybox");
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Image fp as the image store keeps an imported one: its file and its row. */
static void image_store_add(struct db *db, const char *fp)
{
	struct db_image img = {
		.fingerprint = (char *)fp,
		.type = (char *)"container",
		.filename = (char *)"busybox.tar",
		.architecture = (char *)"x86_64",
		.created_at = 1,
		.uploaded_at = 1,
	};

	image_make(fp);
	ck_ok(db_image_insert(db, &img, NULL, &_e));
}

/* A path in pool; valid until the eighth call after this one (no frees in the tests). */
static const char *pool_path(const char *pool, const char *rel)
{
	static char bufs[8][1024];
	static unsigned next;
	char *buf = bufs[next++ % ARRAY_SIZE(bufs)];

	if (!snprintf_ok(buf, sizeof(bufs[0]), "%s/storage-pools/%s/%s", unit_tmpdir, pool, rel))
		abort();
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static char *slurp(const char *path)
{
	char *data = NULL;

	if (read_file(path, 1 << 20, &data, NULL, NULL) < 0)
		return NULL;
	return data;
}

static void spit(const char *path, const char *data)
{
	autoclose int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(write_all_fd(fd, data, strlen(data)), 0);
}

static struct storage_pool *pool_create_load(struct db *db, const char *name)
{
	struct storage_pool *pool = NULL;
	struct error err = ERROR_INIT;

	ck_assert_msg(storage_pool_create(db, unit_tmpdir, name, "dir", "", NULL, &err) == 0,
		      "create pool: %s", error_message(&err));
	ck_assert_msg(storage_pool_load(db, unit_tmpdir, name, &pool, &err) == 0, "load: %s",
		      error_message(&err));
	error_clear(&err);
	return pool;
}

START_TEST(test_storage_names_refuse_paths)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "..", "dir", "", NULL, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "a/b", "dir", "", NULL, &err),
			 -EINVAL);
	ck_assert_str_eq(error_message(&err), "Invalid storage pool name 'a/b'");
	error_clear(&err);
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "p", "nope", "", NULL, &err),
			 -EINVAL);
	ck_assert_str_eq(error_message(&err), "Storage driver 'nope' is not supported");
	error_clear(&err);

	pool = pool_create_load(db, "p");
	ck_assert_int_eq(storage_instance_create_empty(pool, "..", &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_instance_create_empty(pool, "a/b", &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_volume_create_custom(pool, "../x", NULL, NULL, NULL, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_instance_create_from_image(pool, "c1", "../../etc", &err),
			 -EINVAL);
	error_clear(&err);
	ck_ok(storage_instance_create_empty(pool, "c1", &_e));
	ck_assert_int_eq(storage_instance_snapshot_create(pool, "c1", "..", &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_instance_snapshot_create(pool, "c1", "a/b", &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_instance_rename(pool, "c1", "../c2", &err), -EINVAL);
	error_clear(&err);

	/* Unknown keys are refused, naming them. */
	{
		autojson json_t *config = json_pack("{s:s}", "bogus.key", "1");

		ck_assert_int_eq(storage_volume_create_custom(pool, "v", NULL, NULL, config, &err),
				 -EINVAL);
		ck_assert_str_eq(error_message(&err), "Unknown configuration key 'bogus.key'");
		error_clear(&err);
		ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "q", "dir", "", config, &err),
				 -EINVAL);
		ck_assert_str_eq(error_message(&err), "Unknown configuration key 'bogus.key'");
		error_clear(&err);
	}
}
END_TEST

START_TEST(test_storage_pool_lifecycle)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autofree char *custom = xstrdup(pool_path("p", "custom/v1"));
	autofree char *source = str_printf("%s/storage-pools/p", unit_tmpdir);
	autojson json_t *j = NULL;
	struct storage_resources res = { 0 };
	struct error err = ERROR_INIT;

	pool = pool_create_load(db, "p");
	ck_assert_str_eq(json_get_str(pool->config, "source"), source);
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "p", "dir", "", NULL, &err), -EEXIST);
	error_clear(&err);

	ck_ok(storage_pool_resources(pool, &res, &_e));
	ck_assert_uint_gt(res.space_total, 0);
	ck_assert_uint_ge(res.space_total, res.space_used);

	ck_ok(storage_volume_create_custom(pool, "v1", "first", NULL, NULL, &_e));
	ck_assert(exists(custom));
	ck_assert_int_eq(storage_volume_create_custom(pool, "v1", NULL, NULL, NULL, &err), -EEXIST);
	error_clear(&err);

	/* In use: refused, naming the user. */
	ck_assert_int_eq(storage_pool_delete(pool, &err), -EBUSY);
	ck_assert_str_eq(
		error_message(&err),
		"Storage pool 'p' is currently in use by: /1.0/storage-pools/p/volumes/custom/v1");
	error_clear(&err);

	ck_ok(storage_pool_to_json(pool, &j, &_e));
	ck_assert_str_eq(json_get_str(j, "driver"), "dir");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "used_by")), 1);

	{
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;

		ck_ok(storage_volume_load(pool, STORAGE_VOLUME_CUSTOM, "v1", &vol, &_e));
		ck_assert_str_eq(vol->description, "first");
		ck_ok(storage_volume_snapshot_create(pool, STORAGE_VOLUME_CUSTOM, "v1", "s0", &_e));
		ck_assert(exists(pool_path("p", "custom-snapshots/v1/s0")));
		ck_ok(storage_volume_rename(pool, vol, "v2", &_e));
		ck_assert(!exists(custom));
		ck_assert(exists(pool_path("p", "custom-snapshots/v2/s0")));
	}
	{
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;

		ck_ok(storage_volume_load(pool, STORAGE_VOLUME_CUSTOM, "v2/s0", &vol, &_e));
		storage_volume_free(vol);
		vol = NULL;
		ck_ok(storage_volume_load(pool, STORAGE_VOLUME_CUSTOM, "v2", &vol, &_e));
		ck_ok(storage_volume_delete(pool, vol, &_e));
		ck_assert(!exists(pool_path("p", "custom/v2")));
		ck_assert(!exists(pool_path("p", "custom-snapshots/v2")));
	}

	/* The pool's volume.* keys are defaults for new volumes. */
	{
		autojson json_t *patch = json_pack("{s:s}", "volume.size", "1GiB");
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;

		ck_ok(storage_pool_update(pool, NULL, patch, true, &_e));
		ck_ok(storage_volume_create_custom(pool, "v3", NULL, NULL, NULL, &_e));
		ck_ok(storage_volume_load(pool, STORAGE_VOLUME_CUSTOM, "v3", &vol, &_e));
		ck_assert_str_eq(json_get_str(vol->config, "size"), "1GiB");
		ck_ok(storage_volume_delete(pool, vol, &_e));
	}

	ck_ok(storage_pool_delete(pool, &_e));
	ck_assert(!exists(source));
	storage_pool_free(pool);
	pool = NULL;
	ck_assert_int_eq(storage_pool_load(db, unit_tmpdir, "p", &pool, &err), -ENOENT);
	ck_assert_str_eq(error_message(&err), "Storage pool 'p' not found");
	error_clear(&err);
}
END_TEST

START_TEST(test_storage_pool_source_must_be_empty)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autofree char *source = str_printf("%s/src", unit_tmpdir);
	autofree char *file = str_printf("%s/src/file", unit_tmpdir);
	autojson json_t *config = json_pack("{s:s}", "source", source);
	autojson json_t *names = NULL;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(mkdir(source, 0755), 0);
	spit(file, "x");
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "p", "dir", "", config, &err),
			 -EINVAL);
	error_clear(&err);
	/* Nothing recorded, nothing removed. */
	ck_ok(db_storage_pool_names(db, &names, &_e));
	ck_assert_uint_eq(json_array_size(names), 0);
	ck_assert(exists(file));
}
END_TEST

START_TEST(test_storage_pool_source_not_shared)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autofree char *source = str_printf("%s/src", unit_tmpdir);
	autofree char *inner = str_printf("%s/src/inner", unit_tmpdir);
	autojson json_t *config = json_pack("{s:s}", "source", source);
	autojson json_t *same = json_pack("{s:s}", "source", source);
	autojson json_t *nested = json_pack("{s:s}", "source", inner);
	autojson json_t *names = NULL;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(mkdir(source, 0755), 0);
	ck_ok(storage_pool_create(db, unit_tmpdir, "p1", "dir", "", config, &_e));
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "p2", "dir", "", same, &err),
			 -EINVAL);
	{
		autofree char *want =
			str_printf("Source '%s' is already used by storage pool 'p1'", source);

		ck_assert_str_eq(error_message(&err), want);
	}
	error_clear(&err);
	/* Inside another pool's source: refused before anything is made there. */
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "p3", "btrfs", "", nested, &err),
			 -EINVAL);
	ck_assert(strstr(error_message(&err), "already used by storage pool 'p1'"));
	error_clear(&err);
	ck_ok(db_storage_pool_names(db, &names, &_e));
	ck_assert_uint_eq(json_array_size(names), 1);
	ck_assert(!exists(inner));
}
END_TEST

START_TEST(test_storage_btrfs_keys_checked)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autojson json_t *unknown = json_pack("{s:s}", "nope", "1");
	autojson json_t *options = json_pack("{s:s}", "btrfs.mount_options", "ro;rm -rf");
	autojson json_t *size = json_pack("{s:s}", "size", "lots");
	autojson json_t *tiny = json_pack("{s:s}", "size", "1MiB");
	autofree char *disks = str_printf("%s/disks", unit_tmpdir);
	struct error err = ERROR_INIT;

	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "b", "btrfs", "", unknown, &err),
			 -EINVAL);
	ck_assert_str_eq(error_message(&err), "Unknown configuration key 'nope'");
	error_clear(&err);
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "b", "btrfs", "", options, &err),
			 -EINVAL);
	ck_assert(strstr(error_message(&err), "btrfs.mount_options"));
	error_clear(&err);
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "b", "btrfs", "", size, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(storage_pool_create(db, unit_tmpdir, "b", "btrfs", "", tiny, &err),
			 -EINVAL);
	ck_assert(strstr(error_message(&err), "at least 128MiB"));
	error_clear(&err);
	/* Nothing made on disk for any of them. */
	ck_assert(!exists(disks) || rmdir(disks) == 0);
}
END_TEST

START_TEST(test_storage_default_init)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autojson json_t *names = NULL, *profiles = NULL;

	ck_ok(storage_default_init(db, unit_tmpdir, &_e));
	ck_ok(storage_default_init(db, unit_tmpdir, &_e));
	ck_ok(db_storage_pool_names(db, &names, &_e));
	ck_assert_uint_eq(json_array_size(names), 1);
	ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "default");
	ck_ok(db_storage_pool_profiles(db, "default", &profiles, &_e));
	ck_assert_uint_eq(json_array_size(profiles), 1);
	ck_assert_int_eq(db_profile_root_disk_ensure(db, "default", "default", NULL), 0);
}
END_TEST

START_TEST(test_storage_instance_clone_is_overlay)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autofree char *rootfs = NULL, *rootfs2 = NULL, *hostname = NULL, *data = NULL;
	autofree char *tarball = str_printf("%s/images/%s", unit_tmpdir, FP);
	autofree char *image_hostname =
		xstrdup(pool_path("p", "images/" FP "/rootfs/etc/hostname"));
	struct error err = ERROR_INIT;
	struct statfs sfs;
	struct stat st;

	if (!need_root())
		return;
	image_make(FP);
	pool = pool_create_load(db, "p");

	ck_ok(storage_instance_create_from_image(pool, "c1", FP, &_e));
	ck_assert(exists(image_hostname));
	ck_assert(exists(pool_path("p", "containers/c1/metadata.yaml")));
	ck_assert(exists(pool_path("p", "containers/c1/templates/hostname.tpl")));

	/* The image is unpacked once: the second clone does not need the tarball. */
	ck_assert_int_eq(unlink(tarball), 0);
	ck_ok(storage_instance_create_from_image(pool, "c2", FP, &_e));

	ck_ok(storage_instance_mount(pool, "c1", NULL, &rootfs, &_e));
	ck_assert_str_eq(rootfs, pool_path("p", "containers/c1/rootfs"));
	ck_assert_int_eq(statfs(rootfs, &sfs), 0);
	ck_assert_int_eq(sfs.f_type, OVERLAYFS_SUPER_MAGIC);
	/* Mounting again is harmless. */
	{
		autofree char *again = NULL;

		ck_ok(storage_instance_mount(pool, "c1", NULL, &again, &_e));
		ck_assert_str_eq(again, rootfs);
	}

	hostname = str_printf("%s/etc/hostname", rootfs);
	data = slurp(hostname);
	ck_assert_str_eq(data, "image\n");
	spit(hostname, "c1\n");
	ck_assert_int_eq(stat(hostname, &st), 0);

	/* The write went to c1's upper layer, not to the image nor to c2. */
	free(data);
	data = slurp(image_hostname);
	ck_assert_str_eq(data, "image\n");
	free(data);
	data = slurp(pool_path("p", "containers/c1/upper/etc/hostname"));
	ck_assert_str_eq(data, "c1\n");
	ck_ok(storage_instance_mount(pool, "c2", NULL, &rootfs2, &_e));
	{
		autofree char *h2 = str_printf("%s/etc/hostname", rootfs2);

		free(data);
		data = slurp(h2);
		ck_assert_str_eq(data, "image\n");
	}

	/* Deleting while mounted unmounts first; nothing is left of c1. */
	ck_ok(storage_instance_delete(pool, "c1", &_e));
	ck_assert(!exists(pool_path("p", "containers/c1")));
	ck_assert_int_eq(storage_instance_mount(pool, "c1", NULL, &rootfs2, NULL), -ENOENT);
	/* The image stays while c2 clones it, and goes with its last clone (the image is not
	 * in the image store's table). */
	ck_assert(exists(image_hostname));
	ck_assert_int_eq(storage_image_delete(pool, FP, &err), -EBUSY);
	ck_assert_str_eq(error_message(&err),
			 "Image '" FP "' is still used in storage pool 'p' by: /1.0/instances/c2");
	error_clear(&err);
	ck_assert(exists(image_hostname));
	ck_ok(storage_instance_unmount(pool, "c2", &_e));
	ck_ok(storage_instance_unmount(pool, "c2", &_e));
	ck_ok(storage_instance_delete(pool, "c2", &_e));
	ck_assert(!exists(pool_path("p", "images/" FP)));
	ck_assert(!exists(pool_path("p", "containers/c2")));
	ck_ok(storage_pool_delete(pool, &_e));
}
END_TEST

START_TEST(test_storage_instance_idmapped)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	struct storage_idmap idmap = { 1000000, 65536, 1000000, 65536 };
	autofree char *rootfs = NULL, *path = NULL;
	autoclose int root_fd = -1;
	struct stat st;
	int status = 0;
	pid_t pid;

	if (!need_root())
		return;
	image_make(FP);
	pool = pool_create_load(db, "p");
	ck_ok(storage_instance_create_from_image(pool, "c1", FP, &_e));
	ck_ok(storage_instance_mount(pool, "c1", &idmap, &rootfs, &_e));

	/* The container's root sees its files as its own: on the host they show shifted. */
	path = str_printf("%s/etc/hostname", rootfs);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000000);
	ck_assert_int_eq(stat(rootfs, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000000);

	/* The container's root (host uid 1000000) writes into /root (0700): the file lands
	 * in the upper layer with 0-based ids, as an unshifted volume keeps them. */
	/* Opened here: the test directory above is 0700, closed to the container's root. */
	root_fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(root_fd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		if (syscall(SYS_setresgid, 1000000, 1000000, 1000000) < 0 ||
		    syscall(SYS_setresuid, 1000000, 1000000, 1000000) < 0)
			_exit(2);
		fd = openat(root_fd, "root/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			_exit(100 + errno);
		_exit(write(fd, "x", 1) == 1 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "write as container root: %d",
		      status);
	ck_assert_int_eq(stat(pool_path("p", "containers/c1/upper/root/new"), &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_int_eq(stat(pool_path("p", "images/" FP "/rootfs/root/secret"), &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);

	ck_ok(storage_instance_unmount(pool, "c1", &_e));

	/* A plain volume gets an idmapped view of itself. */
	ck_ok(storage_instance_create_empty(pool, "c2", &_e));
	free(rootfs);
	rootfs = NULL;
	ck_ok(storage_instance_mount(pool, "c2", &idmap, &rootfs, &_e));
	ck_assert_int_eq(stat(rootfs, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000000);
	ck_ok(storage_instance_unmount(pool, "c2", &_e));
	ck_assert_int_eq(stat(rootfs, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_ok(storage_instance_delete(pool, "c2", &_e));
	ck_ok(storage_instance_delete(pool, "c1", &_e));
}
END_TEST

START_TEST(test_storage_snapshot_restore)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autofree char *rootfs = NULL, *hostname = NULL, *extra = NULL, *data = NULL;
	struct error err = ERROR_INIT;

	if (!need_root())
		return;
	image_make(FP);
	pool = pool_create_load(db, "p");
	ck_ok(storage_instance_create_from_image(pool, "c1", FP, &_e));
	ck_ok(storage_instance_mount(pool, "c1", NULL, &rootfs, &_e));
	hostname = str_printf("%s/etc/hostname", rootfs);
	extra = str_printf("%s/extra", rootfs);
	spit(hostname, "before\n");
	ck_ok(storage_instance_unmount(pool, "c1", &_e));

	ck_ok(storage_instance_snapshot_create(pool, "c1", "s0", &_e));
	ck_assert_int_eq(storage_instance_snapshot_create(pool, "c1", "s0", &err), -EEXIST);
	error_clear(&err);
	ck_assert(exists(pool_path("p", "containers-snapshots/c1/s0/upper/etc/hostname")));

	free(rootfs);
	rootfs = NULL;
	ck_ok(storage_instance_mount(pool, "c1", NULL, &rootfs, &_e));
	spit(hostname, "after\n");
	spit(extra, "x");

	/* Restoring a mounted volume is refused and changes nothing. */
	ck_assert_int_eq(storage_instance_snapshot_restore(pool, "c1", "s0", &err), -EBUSY);
	error_clear(&err);
	data = slurp(hostname);
	ck_assert_str_eq(data, "after\n");
	ck_ok(storage_instance_unmount(pool, "c1", &_e));

	ck_ok(storage_instance_snapshot_restore(pool, "c1", "s0", &_e));
	free(rootfs);
	rootfs = NULL;
	ck_ok(storage_instance_mount(pool, "c1", NULL, &rootfs, &_e));
	free(data);
	data = slurp(hostname);
	ck_assert_str_eq(data, "before\n");
	ck_assert(!exists(extra));
	ck_ok(storage_instance_unmount(pool, "c1", &_e));

	ck_ok(storage_instance_snapshot_rename(pool, "c1", "s0", "s1", &_e));
	ck_assert(exists(pool_path("p", "containers-snapshots/c1/s1")));
	ck_assert_int_eq(storage_instance_snapshot_restore(pool, "c1", "s0", &err), -ENOENT);
	error_clear(&err);
	ck_ok(storage_instance_rename(pool, "c1", "c9", &_e));
	ck_assert(exists(pool_path("p", "containers/c9/upper")));
	ck_assert(exists(pool_path("p", "containers-snapshots/c9/s1")));
	ck_ok(storage_instance_snapshot_delete(pool, "c9", "s1", &_e));
	ck_assert(!exists(pool_path("p", "containers-snapshots/c9")));
	ck_ok(storage_instance_delete(pool, "c9", &_e));
}
END_TEST

START_TEST(test_storage_instance_copy)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL, *other = NULL;
	autofree char *rootfs = NULL, *rootfs2 = NULL, *rootfs3 = NULL, *data = NULL;
	autofree char *path = NULL;
	struct error err = ERROR_INIT;
	struct stat st;

	if (!need_root())
		return;
	image_make(FP);
	pool = pool_create_load(db, "p");
	other = pool_create_load(db, "q");
	ck_ok(storage_instance_create_from_image(pool, "c1", FP, &_e));
	ck_ok(storage_instance_mount(pool, "c1", NULL, &rootfs, &_e));
	path = str_printf("%s/etc/hostname", rootfs);
	spit(path, "c1\n");
	ck_ok(storage_instance_unmount(pool, "c1", &_e));
	ck_ok(storage_instance_snapshot_create(pool, "c1", "s0", &_e));

	/* Within the pool: still a clone of the image, with the snapshots. */
	ck_ok(storage_instance_copy(pool, "c1", pool, "c2", STORAGE_COPY_SNAPSHOTS, &_e));
	ck_assert(exists(pool_path("p", "containers/c2/upper/etc/hostname")));
	ck_assert(exists(pool_path("p", "containers-snapshots/c2/s0/upper")));
	ck_ok(storage_instance_mount(pool, "c2", NULL, &rootfs2, &_e));
	free(path);
	path = str_printf("%s/etc/hostname", rootfs2);
	data = slurp(path);
	ck_assert_str_eq(data, "c1\n");
	spit(path, "c2\n");
	ck_ok(storage_instance_unmount(pool, "c2", &_e));
	free(data);
	data = slurp(pool_path("p", "containers/c1/upper/etc/hostname"));
	ck_assert_str_eq(data, "c1\n");
	ck_assert_int_eq(storage_instance_copy(pool, "c1", pool, "c2", 0, &err), -EEXIST);
	error_clear(&err);

	/* From a snapshot. */
	ck_ok(storage_instance_copy(pool, "c1/s0", pool, "c4", 0, &_e));
	ck_assert(exists(pool_path("p", "containers/c4/work")));

	/* To another pool: the files, standing alone. */
	ck_ok(storage_instance_copy(pool, "c1", other, "c3", 0, &_e));
	ck_assert(!exists(pool_path("q", "containers/c3/upper")));
	free(data);
	data = slurp(pool_path("q", "containers/c3/rootfs/etc/hostname"));
	ck_assert_str_eq(data, "c1\n");
	ck_assert(exists(pool_path("q", "containers/c3/metadata.yaml")));
	ck_assert_int_eq(lstat(pool_path("q", "containers/c3/rootfs/root"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* Hard links stay links (etc/hostname's was broken by the copy-up of the write). */
	ck_assert_int_eq(lstat(pool_path("q", "containers/c3/rootfs/bin/ls"), &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(lstat(pool_path("q", "containers/c3/rootfs/bin/sh"), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(
		storage_instance_copy(pool, "c1", other, "c5", STORAGE_COPY_SNAPSHOTS, &err),
		-EOPNOTSUPP);
	error_clear(&err);
	ck_assert(!exists(pool_path("q", "containers/c5")));

	/* A running (mounted) source cannot go to another pool. */
	ck_ok(storage_instance_mount(pool, "c1", NULL, &rootfs3, &_e));
	ck_assert_int_eq(storage_instance_copy(pool, "c1", other, "c6", 0, &err), -EBUSY);
	error_clear(&err);
	ck_assert(!exists(pool_path("q", "containers/c6")));
	ck_ok(storage_instance_unmount(pool, "c1", &_e));

	ck_ok(storage_instance_delete(pool, "c1", &_e));
	ck_ok(storage_instance_delete(pool, "c2", &_e));
	ck_ok(storage_instance_delete(pool, "c4", &_e));
	ck_ok(storage_instance_delete(other, "c3", &_e));
	ck_assert(!exists(pool_path("p", "images/" FP)));
}
END_TEST

START_TEST(test_storage_image_cached_while_in_store)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autofree char *marker = xstrdup(pool_path("p", "images/" FP "/unpacked-once"));
	autofree char *tarball = str_printf("%s/images/%s", unit_tmpdir, FP);
	struct error err = ERROR_INIT;

	if (!need_root())
		return;
	image_store_add(db, FP);
	pool = pool_create_load(db, "p");

	/* While the image is in the store, the pool's copy outlives its clones. */
	ck_ok(storage_instance_create_from_image(pool, "c1", FP, &_e));
	spit(marker, "x");
	ck_ok(storage_instance_delete(pool, "c1", &_e));
	ck_assert(exists(marker));
	{
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;

		ck_ok(storage_volume_load(pool, STORAGE_VOLUME_IMAGE, FP, &vol, &_e));
		ck_assert_str_eq(vol->name, FP);
	}

	/* The next clone uses that copy as it is: no second unpack replaces it. A clone that
	 * fails does not take it either. */
	ck_ok(storage_instance_create_from_image(pool, "c2", FP, &_e));
	ck_assert(exists(marker));
	ck_assert_int_eq(mkdir(pool_path("p", "containers/c3"), 0700), 0);
	ck_assert_int_eq(storage_instance_create_from_image(pool, "c3", FP, &err), -EEXIST);
	error_clear(&err);
	ck_assert(exists(marker));

	/* Removing the copy waits for its last clone; once unused it goes at once. */
	ck_assert_int_eq(storage_image_delete(pool, FP, &err), -EBUSY);
	error_clear(&err);
	ck_ok(storage_instance_delete(pool, "c2", &_e));
	ck_assert(exists(marker));
	ck_ok(storage_image_delete(pool, FP, &_e));
	ck_assert(!exists(pool_path("p", "images/" FP)));
	{
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;

		ck_assert_int_eq(storage_volume_load(pool, STORAGE_VOLUME_IMAGE, FP, &vol, &err),
				 -ENOENT);
		error_clear(&err);
	}

	/* Deleting the image from the store while a clone uses the pool's copy: the copy goes
	 * with that clone. */
	ck_ok(storage_instance_create_from_image(pool, "c4", FP, &_e));
	ck_assert_int_eq(storage_image_delete(pool, FP, &err), -EBUSY);
	error_clear(&err);
	ck_ok(image_delete(db, unit_tmpdir, FP, &_e));
	ck_assert(!exists(tarball));
	ck_assert(exists(pool_path("p", "images/" FP "/rootfs/etc/hostname")));
	ck_ok(storage_instance_delete(pool, "c4", &_e));
	ck_assert(!exists(pool_path("p", "images/" FP)));
	ck_assert(!exists(pool_path("p", "containers/c4")));
}
END_TEST

START_TEST(test_storage_failure_leaves_nothing)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	struct db_storage_volume_list list = { NULL, 0 };
	struct error err = ERROR_INIT;

	if (!need_root())
		return;
	pool = pool_create_load(db, "p");

	/* No such image in the store: no volume, no image directory, no row. */
	ck_assert_int_lt(storage_instance_create_from_image(pool, "c1", FP, &err), 0);
	error_clear(&err);
	ck_assert(!exists(pool_path("p", "containers/c1")));
	ck_assert(!exists(pool_path("p", "images/" FP)));
	ck_ok(db_storage_volume_list(db, pool->id, NULL, NULL, &list, &_e));
	ck_assert_uint_eq(list.n, 0);
	db_storage_volume_list_release(&list);

	/* A name taken on disk but not in the database: refused, and the files stay. */
	ck_assert_int_eq(mkdir(pool_path("p", "containers/c2"), 0700), 0);
	spit(pool_path("p", "containers/c2/keep"), "x");
	ck_assert_int_eq(storage_instance_create_empty(pool, "c2", &err), -EEXIST);
	error_clear(&err);
	ck_assert(exists(pool_path("p", "containers/c2/keep")));
	/* The same from an image: the image unpacked for it does not stay either. */
	image_make(FP);
	ck_assert_int_eq(storage_instance_create_from_image(pool, "c2", FP, &err), -EEXIST);
	error_clear(&err);
	ck_assert(exists(pool_path("p", "containers/c2/keep")));
	ck_assert(!exists(pool_path("p", "images/" FP)));
	ck_ok(db_storage_volume_list(db, pool->id, NULL, NULL, &list, &_e));
	ck_assert_uint_eq(list.n, 0);
	db_storage_volume_list_release(&list);

	/* An existing volume is refused and left alone. */
	ck_ok(storage_instance_create_empty(pool, "c3", &_e));
	spit(pool_path("p", "containers/c3/rootfs/file"), "x");
	ck_assert_int_eq(storage_instance_create_empty(pool, "c3", &err), -EEXIST);
	error_clear(&err);
	ck_assert(exists(pool_path("p", "containers/c3/rootfs/file")));
}
END_TEST

/* A failed test may leave mounts behind: detach everything under the test directory before
 * it is removed, so the removal never walks into a mounted filesystem. */
static void storage_teardown(void)
{
	autofclose FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t len = strlen(unit_tmpdir);
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		char *point = NULL;

		/* The fifth field is the mount point. */
		point = line;
		for (int i = 0; i < 4 && point; i++) {
			point = strchr(point, ' ');
			if (point)
				point++;
		}
		if (!point)
			continue;
		point[strcspn(point, " ")] = '\0';
		if (len > 0 && strncmp(point, unit_tmpdir, len) == 0 && point[len] == '/')
			(void)umount2(point, MNT_DETACH);
	}
	tmpdir_teardown();
}

Suite *unit_suite(void)
{
	Suite *s = suite_create("storage");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, storage_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_storage_names_refuse_paths);
	tcase_add_test(tc, test_storage_pool_lifecycle);
	tcase_add_test(tc, test_storage_pool_source_must_be_empty);
	tcase_add_test(tc, test_storage_pool_source_not_shared);
	tcase_add_test(tc, test_storage_btrfs_keys_checked);
	tcase_add_test(tc, test_storage_default_init);
	tcase_add_test(tc, test_storage_instance_clone_is_overlay);
	tcase_add_test(tc, test_storage_instance_idmapped);
	tcase_add_test(tc, test_storage_snapshot_restore);
	tcase_add_test(tc, test_storage_instance_copy);
	tcase_add_test(tc, test_storage_image_cached_while_in_store);
	tcase_add_test(tc, test_storage_failure_leaves_nothing);
	suite_add_tcase(s, tc);
	return s;
}
