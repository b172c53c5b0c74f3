/* images/archive.h: what the archive checker (archive.c), the unpacker (unpack.c) and the
 * store (store.c) share. Internal to images/.
 *
 * Both the checker and the unpacker classify every entry through image_entry_classify(),
 * so the rules (paths, types, sections, limits) are written once; the unpacker applies
 * them again rather than trusting that the checker ran.
 */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "images/images.h"

/* Deepest path an archive entry may have; keeps the unpacker's recursion bounded. */
#define IMAGE_MAX_PATH_DEPTH 256

/* Reads an archive file through libarchive, hashing and reporting progress as it goes. */
struct image_reader {
	struct archive *a;
	int fd;
	uint64_t size;	   /* of the file */
	uint64_t consumed; /* bytes read from it */
	EVP_MD_CTX *sha;   /* NULL unless hashing */
	image_progress_fn progress;
	void *progress_data;
	uint64_t progress_base, progress_total, progress_next;
	unsigned char *buf;
};

/* Opens fd (read from its start) as a tar archive, optionally compressed with gzip, xz,
 * lzma, bzip2 or zstd; with sha set (not taken), every byte read is also hashed. */
int image_reader_open(struct image_reader *r, int fd, EVP_MD_CTX *sha, struct error *err);
/* Reads the rest of the file into the hash (the archive may end before the file does). */
int image_reader_drain(struct image_reader *r, struct error *err);
void image_reader_close(struct image_reader *r);

/* The unpacked-bytes cap for an archive of archive_size bytes under limits. */
uint64_t image_limits_cap(const struct image_limits *limits, uint64_t archive_size);

enum image_section {
	IMAGE_SECTION_SKIP, /* not part of what an image unpacks to */
	IMAGE_SECTION_METADATA_YAML,
	IMAGE_SECTION_TEMPLATES,
	IMAGE_SECTION_ROOTFS,
	IMAGE_SECTION_ROOTFS_IMG,
};

struct image_entry {
	enum image_section section;
	char *path;	     /* where it unpacks, relative to the destination: "rootfs/bin/sh" */
	mode_t type;	     /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO */
	char *hardlink;	     /* destination path of a hard link's target, else NULL */
	const char *symlink; /* a symlink's target (borrowed from the archive entry) */
	uint64_t data_size;  /* bytes of data it unpacks to (sparse holes excluded) */
};

/* Checks and classifies archive entry e of an archive of kind: -EINVAL naming the entry for
 * absolute paths, "..", paths nested deeper than IMAGE_MAX_PATH_DEPTH, device nodes,
 * sockets, links leaving their section, a relative symlink climbing above the root, or a
 * type its section does not allow. */
int image_entry_classify(struct archive_entry *e, enum image_archive_kind kind,
			 struct image_entry *ret, struct error *err);
void image_entry_release(struct image_entry *entry);

/* image_archive_check() that also hashes the whole file into sha (may be NULL). */
int image_archive_check_hash(int fd, enum image_archive_kind kind,
			     const struct image_limits *limits, EVP_MD_CTX *sha,
			     struct image_archive_info *ret, struct error *err);

/* What the first bytes of a stored file say it is. */
enum image_file_format {
	IMAGE_FILE_UNKNOWN,
	IMAGE_FILE_TAR, /* compressed or not */
	IMAGE_FILE_SQUASHFS,
	IMAGE_FILE_QCOW2,
};

enum image_file_format image_file_format(int fd);

/* Lists the squashfs file fd with `unsquashfs -lln` (its output kept in a temporary file
 * in tmp_dirfd) and refuses it (-EINVAL) when it holds a device node or exceeds limits
 * (NULL: the defaults). Blocks. */
int image_squashfs_check(int fd, int tmp_dirfd, const struct image_limits *limits,
			 struct error *err);

/* Runs argv[0] (an absolute path) with argv, from directory cwd_fd (-1: unchanged), with
 * stdout going to out_fd (-1: captured with stderr), without CAP_MKNOD. Captures up to 64
 * KiB of stderr into *ret_output (may be NULL). Returns the exit status (0..255) or a
 * negative errno when it could not run. Blocks. */
int image_run(const char *const *argv, int cwd_fd, int out_fd, char **ret_output,
	      struct error *err);
