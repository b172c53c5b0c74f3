/* test/unit/test-images.c: metadata.yaml parsing, the archive checker, the unpacker and the
 * import/delete store functions, with hostile archives built here with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "db/db-images.h"
#include "db/db.h"
#include "images/images.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

#define GOOD_METADATA                 \
	"architecture: x86_64\n"      \
	"creation_date: 1704067200\n" \
	"properties:\n"               \
	"  os: busybox\n"             \
	"  description: Test image\n" \
	"templates:\n"                \
	"  /etc/hostname:\n"          \
	"    when: [create, copy]\n"  \
	"    template: hostname.tpl\n"

/* --- building archives ------------------------------------------------------------------- */

struct entry_spec {
	const char *path;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR; 0 with hardlink set */
	mode_t perm;
	const char *data; /* file content */
	const char *link; /* symlink target */
	const char *hardlink;
	int64_t size; /* declared size when data is NULL (bombs); 0 otherwise */
	int uid, gid;
};

static char *path_in_tmp(const char *name)
{
	return str_printf("%s/%s", unit_tmpdir, name);
}

/* Writes a gzip-compressed tar of entries to path. */
static void archive_build(const char *path, const struct entry_spec *entries, size_t n)
{
	struct archive *a = archive_write_new();

	ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const struct entry_spec *s = &entries[i];
		struct archive_entry *e = archive_entry_new();
		size_t len = s->data ? strlen(s->data) : 0;

		archive_entry_set_pathname(e, s->path);
		archive_entry_set_mtime(e, 1700000000, 0);
		archive_entry_set_uid(e, s->uid);
		archive_entry_set_gid(e, s->gid);
		if (s->hardlink) {
			archive_entry_set_hardlink(e, s->hardlink);
		} else {
			archive_entry_set_filetype(e, s->type);
			archive_entry_set_perm(e, s->perm ? s->perm : 0644);
		}
		if (s->type == AE_IFLNK)
			archive_entry_set_symlink(e, s->link);
		if (s->type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		if (s->type == AE_IFREG && !s->hardlink)
			archive_entry_set_size(e, s->data ? (la_int64_t)len : s->size);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (s->data && len)
			ck_assert_int_eq(archive_write_data(a, s->data, len), (la_ssize_t)len);
		if (!s->data && s->size > 0) {
			/* A bomb: zeros compress to almost nothing. */
			static const char zeros[65536];

			for (int64_t left = s->size; left > 0; left -= (int64_t)sizeof(zeros))
				(void)archive_write_data(a, zeros,
							 left > (int64_t)sizeof(zeros)
								 ? sizeof(zeros)
								 : (size_t)left);
		}
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

#define META_ENTRY                                                               \
	{                                                                        \
		.path = "metadata.yaml", .type = AE_IFREG, .data = GOOD_METADATA \
	}
#define ROOTFS_DIR                                               \
	{                                                        \
		.path = "rootfs", .type = AE_IFDIR, .perm = 0755 \
	}

static int check_file(const char *path, enum image_archive_kind kind,
		      const struct image_limits *limits, struct error *err)
{
	struct image_archive_info info = { .metadata = NULL };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	ck_assert_int_ge(fd, 0);
	r = image_archive_check(fd, kind, limits, &info, err);
	image_archive_info_release(&info);
	close(fd);
	return r;
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

/* Stores archive at images/<fp> as if imported (bypassing the checker) and unpacks it into
 * a fresh dest/. Returns image_unpack()'s result. */
static int unpack_raw(const char *archive, struct error *err)
{
	static const char *fp = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	autofree char *images = path_in_tmp("images");
	autofree char *stored = str_printf("%s/%s", images, fp);
	autofree char *dest = path_in_tmp("dest");
	int dfd, r;

	(void)mkdir(images, 0700);
	(void)unlink(stored);
	ck_assert_int_eq(link(archive, stored), 0);
	ck_assert_int_eq(mkdir(dest, 0755), 0);
	dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	r = image_unpack(unit_tmpdir, fp, dfd, err);
	close(dfd);
	return r;
}

/* A hostile archive is refused by the checker and by the unpacker, which leaves nothing. */
static void assert_hostile(const struct entry_spec *entries, size_t n, const char *want_msg)
{
	autofree char *archive = path_in_tmp("hostile.tar.gz");
	autofree char *dest = path_in_tmp("dest");
	struct error err = ERROR_INIT;
	int r;

	archive_build(archive, entries, n);
	r = check_file(archive, IMAGE_ARCHIVE_UNIFIED, NULL, &err);
	ck_assert_msg(r == -EINVAL, "checker accepted it (%d)", r);
	ck_assert_msg(strstr(error_message(&err), want_msg), "checker said '%s', want '%s'",
		      error_message(&err), want_msg);
	error_clear(&err);

	r = unpack_raw(archive, &err);
	ck_assert_msg(r < 0, "unpacker accepted it");
	error_clear(&err);
	ck_assert_msg(dir_is_empty(dest), "the failed unpack left files behind");
}

/* --- metadata.yaml ----------------------------------------------------------------------- */

static int parse(const char *yaml, struct image_metadata **ret, struct error *err)
{
	return image_metadata_parse(yaml, strlen(yaml), ret, err);
}

START_TEST(test_metadata_good)
{
	struct error err = ERROR_INIT;
	autoclean(image_metadata_freep) struct image_metadata *m = NULL;
	const json_t *t;

	ck_assert_msg(parse(GOOD_METADATA, &m, &err) == 0, "%s", error_message(&err));
	ck_assert_str_eq(m->architecture, "x86_64");
	ck_assert_int_eq(m->creation_date, 1704067200);
	ck_assert_int_eq(m->expiry_date, 0);
	ck_assert_str_eq(json_get_str(m->properties, "os"), "busybox");
	t = json_object_get(m->templates, "/etc/hostname");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(json_get_str(t, "template"), "hostname.tpl");
	ck_assert_int_eq(json_array_size(json_object_get(t, "when")), 2);
	ck_assert(json_is_false(json_object_get(t, "create_only")));
}
END_TEST

START_TEST(test_metadata_architecture_aliases)
{
	struct error err = ERROR_INIT;
	autoclean(image_metadata_freep) struct image_metadata *m = NULL;

	ck_assert_int_eq(parse("architecture: amd64\ncreation_date: 1\n", &m, &err), 0);
	ck_assert_str_eq(m->architecture, "x86_64");
	ck_assert_ptr_null(image_architecture_canonical("vax"));
}
END_TEST

START_TEST(test_metadata_refused)
{
	static const struct {
		const char *yaml;
		const char *msg;
	} cases[] = {
		{ "", "empty" },
		{ "architecture: [x86_64\n", "Invalid metadata.yaml" },
		{ "- a\n- b\n", "top level must be a map" },
		{ "creation_date: 1\n", "no architecture" },
		{ "architecture: vax\ncreation_date: 1\n", "unsupported architecture 'vax'" },
		{ "architecture: x86_64\n", "missing creation date" },
		{ "architecture: x86_64\ncreation_date: soon\n", "creation_date" },
		{ "architecture: x86_64\narchitecture: x86_64\ncreation_date: 1\n",
		  "defined twice" },
		{ "architecture: x86_64\ncreation_date: 1\nproperties:\n  os: {a: b}\n",
		  "property 'os' must be a string" },
		{ "a: &x [1, 2]\nb: *x\narchitecture: x86_64\ncreation_date: 1\n", "aliases" },
		{ "architecture: x86_64\ncreation_date: 1\ntemplates:\n  /etc/../x:\n"
		  "    template: t.tpl\n",
		  "bad template path" },
		{ "architecture: x86_64\ncreation_date: 1\ntemplates:\n  /etc/x:\n"
		  "    template: ../../etc/shadow\n",
		  "plain file name" },
		{ "architecture: x86_64\ncreation_date: 1\ntemplates:\n  /etc/x:\n"
		  "    template: t.tpl\n    when: [reboot]\n",
		  "unknown trigger" },
		{ "architecture: \"x86_64\\0\"\ncreation_date: 1\n", "NUL" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct error err = ERROR_INIT;
		struct image_metadata *m = NULL;
		int r = parse(cases[i].yaml, &m, &err);

		ck_assert_msg(r == -EINVAL, "case %zu accepted (%d)", i, r);
		ck_assert_msg(strstr(error_message(&err), cases[i].msg),
			      "case %zu: '%s', want '%s'", i, error_message(&err), cases[i].msg);
		ck_assert_ptr_null(m);
		error_clear(&err);
	}
}
END_TEST

START_TEST(test_metadata_huge_and_deep)
{
	struct strbuf sb = STRBUF_INIT;
	struct error err = ERROR_INIT;
	struct image_metadata *m = NULL;

	strbuf_adds(&sb, "architecture: x86_64\ncreation_date: 1\nproperties:\n");
	while (sb.len <= IMAGE_METADATA_MAX)
		strbuf_addf(&sb, "  key%zu: value\n", sb.len);
	ck_assert_int_eq(image_metadata_parse(sb.buf, sb.len, &m, &err), -EFBIG);
	error_clear(&err);

	strbuf_reset(&sb);
	strbuf_adds(&sb, "architecture: x86_64\ncreation_date: 1\nx: ");
	for (int i = 0; i < 1000; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 1000; i++)
		strbuf_addch(&sb, ']');
	ck_assert_int_eq(image_metadata_parse(sb.buf, sb.len, &m, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "nested deeper"));
	error_clear(&err);
	strbuf_release(&sb);
}
END_TEST

/* --- hostile archives -------------------------------------------------------------------- */

START_TEST(test_archive_dotdot)
{
	const struct entry_spec e[] = {
		META_ENTRY, ROOTFS_DIR, { .path = "rootfs/../../x", .type = AE_IFREG, .data = "x" }
	};
	autofree char *outside = path_in_tmp("x");

	assert_hostile(e, ARRAY_SIZE(e), "contains '..'");
	ck_assert_int_ne(access(outside, F_OK), 0);
}
END_TEST

START_TEST(test_archive_absolute)
{
	autofree char *target = path_in_tmp("abs-target");
	const struct entry_spec e[] = { META_ENTRY,
					ROOTFS_DIR,
					{ .path = target, .type = AE_IFREG, .data = "x" } };

	assert_hostile(e, ARRAY_SIZE(e), "absolute path");
	ck_assert_int_ne(access(target, F_OK), 0);
}
END_TEST

START_TEST(test_archive_symlink_then_file)
{
	autofree char *outside = path_in_tmp("outside");
	autofree char *pwned = path_in_tmp("outside/pwned");
	const struct entry_spec e[] = {
		META_ENTRY,
		ROOTFS_DIR,
		{ .path = "rootfs/evil", .type = AE_IFLNK, .link = outside },
		{ .path = "rootfs/evil/pwned", .type = AE_IFREG, .data = "gotcha" },
	};

	ck_assert_int_eq(mkdir(outside, 0755), 0);
	assert_hostile(e, ARRAY_SIZE(e), "through a symlink");
	ck_assert_msg(access(pwned, F_OK) != 0, "a file was written through the symlink");
}
END_TEST

START_TEST(test_archive_relative_symlink_escape)
{
	const struct entry_spec e[] = {
		META_ENTRY,
		ROOTFS_DIR,
		{ .path = "rootfs/etc", .type = AE_IFDIR, .perm = 0755 },
		{ .path = "rootfs/etc/up", .type = AE_IFLNK, .link = "../../../etc" },
	};

	assert_hostile(e, ARRAY_SIZE(e), "symlink leaving the image");
}
END_TEST

START_TEST(test_archive_hardlink_outside)
{
	const struct entry_spec e[] = {
		META_ENTRY,
		ROOTFS_DIR,
		{ .path = "rootfs/shadow", .hardlink = "../../etc/shadow" },
	};

	assert_hostile(e, ARRAY_SIZE(e), "contains '..'");
}
END_TEST

START_TEST(test_archive_hardlink_to_metadata)
{
	const struct entry_spec e[] = {
		META_ENTRY,
		ROOTFS_DIR,
		{ .path = "rootfs/meta", .hardlink = "metadata.yaml" },
	};

	assert_hostile(e, ARRAY_SIZE(e), "outside the root filesystem");
}
END_TEST

START_TEST(test_archive_device_node)
{
	const struct entry_spec e[] = {
		META_ENTRY,
		ROOTFS_DIR,
		{ .path = "rootfs/null", .type = AE_IFCHR, .perm = 0666 },
	};

	assert_hostile(e, ARRAY_SIZE(e), "device node");
}
END_TEST

START_TEST(test_archive_missing_metadata)
{
	const struct entry_spec e[] = { ROOTFS_DIR,
					{ .path = "rootfs/a", .type = AE_IFREG, .data = "a" } };

	assert_hostile(e, ARRAY_SIZE(e), "no metadata.yaml");
}
END_TEST

START_TEST(test_archive_bombs)
{
	autofree char *archive = path_in_tmp("bomb.tar.gz");
	struct image_limits small = { .max_entries = 10,
				      .max_unpacked = 1 << 20,
				      .unpacked_floor = 1 << 20,
				      .max_ratio = 100 };
	struct entry_spec many[20];
	const struct entry_spec big[] = {
		META_ENTRY,
		ROOTFS_DIR,
		{ .path = "rootfs/zeros", .type = AE_IFREG, .size = 4 << 20 }
	};
	struct error err = ERROR_INIT;
	char names[20][32];

	/* Too many entries. */
	many[0] = (struct entry_spec)META_ENTRY;
	many[1] = (struct entry_spec)ROOTFS_DIR;
	for (int i = 2; i < 20; i++) {
		ck_assert(snprintf_ok(names[i], sizeof(names[i]), "rootfs/f%d", i));
		many[i] = (struct entry_spec){ .path = names[i], .type = AE_IFREG, .data = "" };
	}
	archive_build(archive, many, ARRAY_SIZE(many));
	ck_assert_int_eq(check_file(archive, IMAGE_ARCHIVE_UNIFIED, &small, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "more than 10 entries"));
	error_clear(&err);

	/* 4 MiB of zeros: over the cap, and 4 MiB from a few KiB is over the ratio. */
	archive_build(archive, big, ARRAY_SIZE(big));
	ck_assert_int_eq(check_file(archive, IMAGE_ARCHIVE_UNIFIED, &small, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "would unpack to more than"));
	error_clear(&err);
}
END_TEST

/* A tar header that claims 8 GiB for a file in a 2 KiB archive: refused from the header
 * alone, with the default limits, before any data is read. */
START_TEST(test_archive_lying_header)
{
	autofree char *archive = path_in_tmp("liar.tar");
	unsigned char block[1536] = { 0 };
	unsigned sum = 0;
	struct error err = ERROR_INIT;
	int fd;

	memcpy(block, "rootfs/huge", 11);
	memcpy(block + 100, "0000644", 7);
	memcpy(block + 108, "0000000", 7);
	memcpy(block + 116, "0000000", 7);
	memcpy(block + 124, "77777777777", 11);
	memcpy(block + 136, "00000000000", 11);
	block[156] = '0';
	memcpy(block + 257, "ustar", 6);
	memcpy(block + 263, "00", 2);
	memset(block + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += block[i];
	ck_assert(snprintf_ok((char *)block + 148, 8, "%06o", sum));
	fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	close(fd);
	ck_assert_int_eq(check_file(archive, IMAGE_ARCHIVE_UNIFIED, NULL, &err), -EINVAL);
	ck_assert_msg(strstr(error_message(&err), "would unpack to more than"), "%s",
		      error_message(&err));
	error_clear(&err);
}
END_TEST

START_TEST(test_archive_garbage)
{
	autofree char *archive = path_in_tmp("garbage");
	struct error err = ERROR_INIT;
	int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_eq(write(fd, "this is not a tarball at all", 28), 28);
	close(fd);
	ck_assert_int_eq(check_file(archive, IMAGE_ARCHIVE_UNIFIED, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "Invalid image archive"));
	error_clear(&err);
}
END_TEST

/* --- a good archive ---------------------------------------------------------------------- */

static const struct entry_spec good_entries[] = {
	META_ENTRY,
	{ .path = "templates", .type = AE_IFDIR, .perm = 0755 },
	{ .path = "templates/hostname.tpl", .type = AE_IFREG, .data = "{{ container.name }}\n" },
	ROOTFS_DIR,
	{ .path = "rootfs/bin", .type = AE_IFDIR, .perm = 0755 },
	{ .path = "rootfs/bin/busybox", .type = AE_IFREG, .perm = 04755, .data = "ELF" },
	{ .path = "rootfs/bin/sh", .type = AE_IFLNK, .link = "/bin/busybox" },
	{ .path = "rootfs/bin/ash", .type = AE_IFLNK, .link = "busybox" },
	{ .path = "rootfs/bin/hard", .hardlink = "rootfs/bin/busybox" },
	{ .path = "rootfs/tmp", .type = AE_IFDIR, .perm = 01777 },
	{ .path = "rootfs/home/user/.profile",
	  .type = AE_IFREG,
	  .perm = 0600,
	  .data = "x",
	  .uid = 1000,
	  .gid = 1000 },
	{ .path = "rootfs/ro", .type = AE_IFDIR, .perm = 0555 },
	{ .path = "rootfs/ro/file", .type = AE_IFREG, .perm = 0444, .data = "ro" },
	{ .path = "ignored-extra", .type = AE_IFREG, .data = "not part of an image" },
};

START_TEST(test_archive_good_unpacks)
{
	autofree char *archive = path_in_tmp("good.tar.gz");
	autofree char *dest = path_in_tmp("dest");
	autofree char *p = NULL;
	struct image_archive_info info = { .metadata = NULL };
	struct error err = ERROR_INIT;
	struct stat st, st2;
	char buf[64];
	ssize_t n;
	int fd;

	archive_build(archive, good_entries, ARRAY_SIZE(good_entries));
	fd = open(archive, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(image_archive_check(fd, IMAGE_ARCHIVE_UNIFIED, NULL, &info, &err) == 0, "%s",
		      error_message(&err));
	close(fd);
	ck_assert_str_eq(info.type, "container");
	ck_assert_str_eq(info.metadata->architecture, "x86_64");
	image_archive_info_release(&info);

	ck_assert_msg(unpack_raw(archive, &err) == 0, "%s", error_message(&err));

	free(p);
	p = str_printf("%s/rootfs/bin/busybox", dest);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 04755);
	ck_assert_int_eq(st.st_mtime, 1700000000);
	free(p);
	p = str_printf("%s/rootfs/bin/hard", dest);
	ck_assert_int_eq(lstat(p, &st2), 0);
	ck_assert_int_eq(st.st_ino, st2.st_ino);
	free(p);
	p = str_printf("%s/rootfs/bin/sh", dest);
	n = readlink(p, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 12);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "/bin/busybox");
	free(p);
	p = str_printf("%s/rootfs/tmp", dest);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 01777);
	free(p);
	p = str_printf("%s/rootfs/ro", dest);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0555);
	free(p);
	p = str_printf("%s/rootfs/home/user/.profile", dest);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	if (geteuid() == 0) {
		ck_assert_int_eq(st.st_uid, 1000);
		ck_assert_int_eq(st.st_gid, 1000);
	}
	free(p);
	p = str_printf("%s/templates/hostname.tpl", dest);
	ck_assert_int_eq(access(p, R_OK), 0);
	free(p);
	p = str_printf("%s/metadata.yaml", dest);
	ck_assert_int_eq(access(p, R_OK), 0);
	free(p);
	p = str_printf("%s/ignored-extra", dest);
	ck_assert_int_ne(access(p, F_OK), 0);

	/* Unpacking again into the same place is refused, and changes nothing. */
	fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(
		image_unpack(unit_tmpdir,
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", fd,
			     &err),
		-EEXIST);
	error_clear(&err);
	close(fd);
	free(p);
	p = str_printf("%s/rootfs/bin/busybox", dest);
	ck_assert_int_eq(access(p, F_OK), 0);
}
END_TEST

/* --- import and delete ------------------------------------------------------------------- */

static struct db *db_open_ok(void)
{
	autofree char *path = path_in_tmp("lodge.db");
	struct error err = ERROR_INIT;
	struct db *db = NULL;

	ck_assert_msg(db_open(path, &db, &err) == 0, "%s", error_message(&err));
	return db;
}

static char *sha256_file(const char *path)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return hex_encode(md, len);
}

static int import_file(struct db *db, const char *path, struct db_image **ret, struct error *err)
{
	struct image_upload up = { .fd = open(path, O_RDONLY | O_CLOEXEC), .filename = "x.tar.gz" };
	autojson json_t *props = json_pack("{s:s}", "extra", "yes");
	int r;

	up.properties = props;
	ck_assert_int_ge(up.fd, 0);
	r = image_import(db, unit_tmpdir, &up, ret, NULL, NULL, err);
	close(up.fd);
	return r;
}

START_TEST(test_import_good_then_duplicate_then_delete)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autofree char *archive = path_in_tmp("good.tar.gz");
	autofree char *fp = NULL, *stored = NULL;
	autoclean(db_image_freep) struct db_image *img = NULL, *again = NULL, *got = NULL;
	struct db_image_alias *alias = NULL;
	struct db_image **list = NULL;
	size_t n = 0;
	struct error err = ERROR_INIT;

	archive_build(archive, good_entries, ARRAY_SIZE(good_entries));
	fp = sha256_file(archive);
	ck_assert_msg(import_file(db, archive, &img, &err) == 0, "%s", error_message(&err));
	ck_assert_str_eq(img->fingerprint, fp);
	ck_assert_str_eq(img->architecture, "x86_64");
	ck_assert_str_eq(json_get_str(img->properties, "os"), "busybox");
	ck_assert_str_eq(json_get_str(img->properties, "extra"), "yes");
	stored = str_printf("%s/images/%s", unit_tmpdir, fp);
	ck_assert_int_eq(access(stored, R_OK), 0);

	/* Prefix lookups resolve; what is not hex is never looked up. */
	ck_assert_int_eq(db_image_get(db, "%", &got, &err), -ENOENT);
	error_clear(&err);
	{
		autofree char *prefix = xstrndup(fp, 12);

		ck_assert_int_eq(db_image_get(db, prefix, &got, &err), 0);
		ck_assert_str_eq(got->fingerprint, fp);
	}

	ck_assert_int_eq(import_file(db, archive, &again, &err), -EEXIST);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "already exists"));
	error_clear(&err);

	ck_assert_int_eq(db_image_alias_create(db, "bb", fp, "container", "", &err), 0);
	ck_assert_int_eq(db_image_alias_create(db, "bb", fp, "container", "", &err), -EEXIST);
	error_clear(&err);
	ck_assert_int_eq(image_delete(db, unit_tmpdir, fp, &err), 0);
	ck_assert_int_ne(access(stored, F_OK), 0);
	ck_assert_int_eq(db_image_list(db, &list, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	db_images_free(list, n);
	ck_assert_int_eq(db_image_alias_get(db, "bb", &alias, &err), -ENOENT);
	error_clear(&err);
	ck_assert_int_eq(image_delete(db, unit_tmpdir, fp, &err), -ENOENT);
	error_clear(&err);
}
END_TEST

START_TEST(test_import_hostile_leaves_nothing)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autofree char *archive = path_in_tmp("hostile.tar.gz");
	autofree char *images = path_in_tmp("images");
	struct db_image *img = NULL;
	struct db_image **list = NULL;
	size_t n = 0;
	struct error err = ERROR_INIT;
	const struct entry_spec e[] = {
		META_ENTRY, ROOTFS_DIR, { .path = "rootfs/../../x", .type = AE_IFREG, .data = "x" }
	};

	archive_build(archive, e, ARRAY_SIZE(e));
	ck_assert_int_eq(import_file(db, archive, &img, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "contains '..'"));
	error_clear(&err);
	ck_assert_ptr_null(img);
	ck_assert(dir_is_empty(images));
	ck_assert_int_eq(db_image_list(db, &list, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	db_images_free(list, n);
}
END_TEST

START_TEST(test_import_multipart_split)
{
	autoclean(db_closep) struct db *db = db_open_ok();
	autofree char *meta = path_in_tmp("meta.tar.gz"), *rootfs = path_in_tmp("rootfs.tar.gz");
	autofree char *body = path_in_tmp("body"), *meta_data = NULL, *rootfs_data = NULL;
	autofree char *expected = NULL;
	autoclean(db_image_freep) struct db_image *img = NULL;
	const struct entry_spec me[] = { META_ENTRY };
	const struct entry_spec re[] = { { .path = "bin", .type = AE_IFDIR, .perm = 0755 },
					 { .path = "bin/sh", .type = AE_IFREG, .data = "sh" } };
	struct image_upload up = { .content_type = "multipart/form-data; boundary=XyZ" };
	struct strbuf sb = STRBUF_INIT;
	struct error err = ERROR_INIT;
	size_t meta_len = 0, rootfs_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int fd;

	archive_build(meta, me, ARRAY_SIZE(me));
	archive_build(rootfs, re, ARRAY_SIZE(re));
	ck_assert_int_eq(read_file(meta, 1 << 20, &meta_data, &meta_len, NULL), 0);
	ck_assert_int_eq(read_file(rootfs, 1 << 20, &rootfs_data, &rootfs_len, NULL), 0);
	strbuf_adds(&sb, "--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"; "
			 "filename=\"meta.tar.gz\"\r\n\r\n");
	strbuf_add(&sb, meta_data, meta_len);
	strbuf_adds(&sb, "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"rootfs\"; "
			 "filename=\"rootfs.tar.gz\"\r\n\r\n");
	strbuf_add(&sb, rootfs_data, rootfs_len);
	strbuf_adds(&sb, "\r\n--XyZ--\r\n");
	fd = open(body, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_eq(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
	strbuf_release(&sb);

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, meta_data, meta_len);
	EVP_DigestUpdate(ctx, rootfs_data, rootfs_len);
	EVP_DigestFinal_ex(ctx, md, &md_len);
	EVP_MD_CTX_free(ctx);
	expected = hex_encode(md, md_len);

	up.fd = fd;
	ck_assert_msg(image_import(db, unit_tmpdir, &up, &img, NULL, NULL, &err) == 0, "%s",
		      error_message(&err));
	close(fd);
	ck_assert_str_eq(img->fingerprint, expected);
	ck_assert_str_eq(img->filename, "rootfs.tar.gz");
	ck_assert_int_eq(img->size, meta_len + rootfs_len);

	/* And it unpacks: metadata from one file, rootfs/ from the other. */
	{
		autofree char *dest = path_in_tmp("dest"), *sh = path_in_tmp("dest/rootfs/bin/sh");
		int dfd;

		ck_assert_int_eq(mkdir(dest, 0755), 0);
		dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_msg(image_unpack(unit_tmpdir, expected, dfd, &err) == 0, "%s",
			      error_message(&err));
		close(dfd);
		ck_assert_int_eq(access(sh, R_OK), 0);
	}
}
END_TEST

START_TEST(test_apply_changes)
{
	struct db_image img = { .properties = json_pack("{s:s}", "a", "1"),
				.profiles = json_pack("[s]", "default"),
				.public = true };
	autojson json_t *patch = json_pack("{s:{s:s}}", "properties", "b", "2");
	autojson json_t *put = json_pack("{s:{s:s},s:s}", "properties", "c", "3", "expires_at",
					 "2030-01-01T00:00:00Z");
	autojson json_t *bad = json_pack("{s:{s:i}}", "properties", "c", 3);
	struct error err = ERROR_INIT;

	ck_assert_int_eq(image_apply_changes(&img, patch, true, &err), 0);
	ck_assert_str_eq(json_get_str(img.properties, "a"), "1");
	ck_assert_str_eq(json_get_str(img.properties, "b"), "2");
	ck_assert(img.public);
	ck_assert_int_eq(image_apply_changes(&img, put, false, &err), 0);
	ck_assert_ptr_null(json_object_get(img.properties, "a"));
	ck_assert(!img.public);
	ck_assert_int_eq(img.expires_at, 1893456000);
	ck_assert_int_eq(image_apply_changes(&img, bad, false, &err), -EINVAL);
	error_clear(&err);
	ck_assert_str_eq(json_get_str(img.properties, "c"), "3");
	json_decref(img.properties);
	json_decref(img.profiles);
}
END_TEST

START_TEST(test_alias_names)
{
	ck_assert_int_eq(image_alias_name_check("busybox", NULL), 0);
	ck_assert_int_eq(image_alias_name_check("debian/12", NULL), 0);
	ck_assert_int_eq(image_alias_name_check("debian/12/cloud", NULL), 0);
	ck_assert_int_eq(image_alias_name_check("", NULL), -EINVAL);
	ck_assert_int_eq(image_alias_name_check("/a", NULL), -EINVAL);
	ck_assert_int_eq(image_alias_name_check("a/", NULL), -EINVAL);
	ck_assert_int_eq(image_alias_name_check("a//b", NULL), -EINVAL);
	ck_assert_int_eq(image_alias_name_check("a/../b", NULL), -EINVAL);
	ck_assert_int_eq(image_alias_name_check("..", NULL), -EINVAL);
	ck_assert_int_eq(image_alias_name_check("a\nb", NULL), -EINVAL);
}
END_TEST

START_TEST(test_compression_names)
{
	ck_assert_int_eq(image_compression_check(NULL, NULL), 0);
	ck_assert_int_eq(image_compression_check("xz", NULL), 0);
	ck_assert_int_eq(image_compression_check("zstd", NULL), 0);
	ck_assert_int_eq(image_compression_check("none", NULL), 0);
	ck_assert_int_eq(image_compression_check("pigz -9", NULL), -EINVAL);
	ck_assert_int_eq(image_compression_check("squashfs", NULL), -EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("images");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_metadata_good);
	tcase_add_test(tc, test_metadata_architecture_aliases);
	tcase_add_test(tc, test_metadata_refused);
	tcase_add_test(tc, test_metadata_huge_and_deep);
	tcase_add_test(tc, test_archive_dotdot);
	tcase_add_test(tc, test_archive_absolute);
	tcase_add_test(tc, test_archive_symlink_then_file);
	tcase_add_test(tc, test_archive_relative_symlink_escape);
	tcase_add_test(tc, test_archive_hardlink_outside);
	tcase_add_test(tc, test_archive_hardlink_to_metadata);
	tcase_add_test(tc, test_archive_device_node);
	tcase_add_test(tc, test_archive_missing_metadata);
	tcase_add_test(tc, test_archive_bombs);
	tcase_add_test(tc, test_archive_lying_header);
	tcase_add_test(tc, test_archive_garbage);
	tcase_add_test(tc, test_archive_good_unpacks);
	tcase_add_test(tc, test_import_good_then_duplicate_then_delete);
	tcase_add_test(tc, test_import_hostile_leaves_nothing);
	tcase_add_test(tc, test_import_multipart_split);
	tcase_add_test(tc, test_apply_changes);
	tcase_add_test(tc, test_alias_names);
	tcase_add_test(tc, test_compression_names);
	suite_add_tcase(s, tc);
	return s;
}
