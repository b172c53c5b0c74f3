/* images/images.h: the image store.
 *
 * Images live under $LODGE_DIR/images, content-addressed by their SHA-256 fingerprint:
 *
 *	images/<fp>          a unified tarball (metadata.yaml, templates/, rootfs/ or
 *	                     rootfs.img), or the metadata tarball of a split image
 *	images/<fp>.rootfs   the root filesystem of a split image: squashfs or a tarball
 *	                     (containers), a disk image (virtual machines)
 *
 * The fingerprint is the SHA-256 of the unified file, or of metadata || rootfs for split
 * images, as LXD computes it. Every archive is validated before it is accepted (paths,
 * links, file types, sizes, metadata.yaml) and unpacked without ever following a path
 * string that came from it.
 *
 * Functions that touch files block on disk I/O: the daemon calls them from operations.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/db-images.h"
#include "lib/error.h"

struct db;

/* metadata.yaml is refused beyond this size. */
#define IMAGE_METADATA_MAX (1u << 20)

/* What an archive may unpack to. Effective cap on the unpacked bytes: max_unpacked, and
 * no more than max(unpacked_floor, max_ratio * archive size), which stops compression
 * bombs and lying headers alike. Sparse files count their data only. */
struct image_limits {
	uint64_t max_entries;
	uint64_t max_unpacked;
	uint64_t unpacked_floor;
	uint64_t max_ratio;
};

/* 1M entries, 256 GiB, 1 GiB floor, ratio 100. */
extern const struct image_limits image_limits_default;

/* metadata.yaml, validated. */
struct image_metadata {
	char *architecture;    /* canonical name: "x86_64", "aarch64", ... */
	int64_t creation_date; /* unix seconds, never 0 */
	int64_t expiry_date;   /* unix seconds, 0: none */
	json_t *properties;    /* object of strings, never NULL */
	json_t *templates;     /* object: absolute path -> {"when": [strings],
				* "create_only": bool, "template": file name under templates/,
				* "properties": object of strings}; never NULL */
};

void image_metadata_free(struct image_metadata *m);
DEFINE_FREEP(struct image_metadata, image_metadata_free)

/* Parses and validates the len bytes of a metadata.yaml. -EINVAL with a message naming the
 * problem (malformed YAML, aliases, a missing or unknown architecture, a missing creation
 * date, a property that is not a string, a template outside templates/), -EFBIG beyond
 * IMAGE_METADATA_MAX. Pure. */
int image_metadata_parse(const char *data, size_t len, struct image_metadata **ret,
			 struct error *err);

/* Reads and parses dirfd/metadata.yaml (an unpacked image), without following symlinks. */
int image_metadata_load_at(int dirfd, struct image_metadata **ret, struct error *err);

/* The canonical architecture name for name or one of its aliases ("amd64" -> "x86_64"),
 * NULL when unknown. */
const char *image_architecture_canonical(const char *name);

enum image_archive_kind {
	IMAGE_ARCHIVE_UNIFIED,	/* metadata.yaml + templates/ + rootfs/ (or rootfs.img) */
	IMAGE_ARCHIVE_METADATA, /* split image: metadata.yaml + templates/ */
	IMAGE_ARCHIVE_ROOTFS,	/* split image: a tarball of the root filesystem itself */
};

/* What image_archive_check() learnt. */
struct image_archive_info {
	struct image_metadata *metadata; /* NULL for IMAGE_ARCHIVE_ROOTFS */
	const char *type;		 /* "container" or "virtual-machine" (unified) */
	uint64_t entries;
	uint64_t unpacked;
};

void image_archive_info_release(struct image_archive_info *info);

/* Reads the whole tar archive at fd (any of gzip, xz, lzma, bzip2, zstd or none) and
 * refuses it with -EINVAL naming the entry when an entry has an absolute path or "..", a
 * hard link or a path leaves the image or passes through a symlink, a relative symlink
 * climbs above the root, an entry is a device node or a socket, or the limits (NULL:
 * image_limits_default) are exceeded; metadata.yaml must be present (unified, metadata)
 * and valid. fd is read from its start; its position is left anywhere. Blocks. */
int image_archive_check(int fd, enum image_archive_kind kind, const struct image_limits *limits,
			struct image_archive_info *ret, struct error *err);

/* The upload of one image, as POST /1.0/images receives it. */
struct image_upload {
	int fd;			  /* the raw body, positioned anywhere; not taken */
	const char *content_type; /* multipart/form-data means split; NULL: unified */
	const char *filename;	  /* X-LXD-filename, may be NULL */
	const char *fingerprint;  /* X-LXD-fingerprint: must match when set */
	bool public;
	json_t *properties; /* object of strings applied over metadata.yaml's, may be NULL */
	json_t *profiles;   /* array of profile names, NULL: ["default"] */
	/* Images pulled from another server: */
	bool cached;	       /* pulled to launch an instance, not asked for by name */
	bool auto_update;      /* refreshed from update_source */
	json_t *update_source; /* {"server", "protocol", "alias", "certificate", ...}, NULL */
};

/* Stores an uploaded image: splits a multipart body into its metadata and rootfs parts,
 * validates the archives and metadata.yaml, places the files under lodge_dir/images and
 * inserts the database row, all or nothing. On success *ret is the new image (caller
 * frees). -EEXIST when an image with the same fingerprint exists; -EINVAL naming what is
 * wrong with the upload. ret_fingerprint and ret_size (may be NULL) are filled as soon as
 * they are known, even on failure (LXD reports them in the operation either way; the
 * caller frees *ret_fingerprint). Blocks. */
int image_import(struct db *db, const char *lodge_dir, const struct image_upload *up,
		 struct db_image **ret, char **ret_fingerprint, uint64_t *ret_size,
		 struct error *err);

/* Same, with explicit limits (tests). */
int image_import_limited(struct db *db, const char *lodge_dir, const struct image_upload *up,
			 const struct image_limits *limits, struct db_image **ret,
			 char **ret_fingerprint, uint64_t *ret_size, struct error *err);

/* Deletes an image: its database row and aliases, then its files. -ENOENT when unknown.
 * Whoever keeps copies derived from an image (storage's unpacked volumes) removes them
 * before calling this. Blocks. */
int image_delete(struct db *db, const char *lodge_dir, const char *fingerprint, struct error *err);

/* Progress of an unpack: bytes of the stored files read so far, out of total. Called on
 * the unpacking thread, at most every 1% or so. */
typedef void (*image_progress_fn)(void *data, uint64_t done, uint64_t total);

/* Materialises image fingerprint (a full fingerprint, as stored) into dest_dirfd:
 * metadata.yaml, templates/ and rootfs/ (containers) or rootfs.img (virtual machines).
 * dest_dirfd must not already hold any of those. Every entry is created relative to
 * dest_dirfd without following symlinks, keeps its owner, mode, mtime and the user.* and
 * security.capability xattrs; device nodes are refused. Split squashfs root filesystems
 * are unpacked by unsquashfs (run without CAP_MKNOD). On failure nothing is left in
 * dest_dirfd. Blocks: milliseconds for busybox, seconds for a distribution. */
int image_unpack(const char *lodge_dir, const char *fingerprint, int dest_dirfd, struct error *err);
int image_unpack_progress(const char *lodge_dir, const char *fingerprint, int dest_dirfd,
			  image_progress_fn progress, void *data, struct error *err);

/* The files of a stored image, opened for reading: *ret_meta always, *ret_rootfs (-1 for
 * unified images) for split ones. -ENOENT when the image's file is missing. */
int image_files_open(const char *lodge_dir, const char *fingerprint, int *ret_meta, int *ret_rootfs,
		     struct error *err);

/* The file name extension LXD gives the stored file at fd on export (".tar.gz",
 * ".tar.xz", ".squashfs", ".qcow2", ...; "" when unknown), from its first bytes. */
const char *image_file_extension(int fd);

/* What publish packs: an instance's volume and root filesystem, as mounted. */
struct image_pack_args {
	const char *vol_path;	  /* holds the instance's metadata.yaml and templates/, if any */
	const char *rootfs_path;  /* the root filesystem, mounted */
	uint32_t shift;		  /* ids on rootfs_path are the container's plus shift */
	const char *architecture; /* for a new metadata.yaml, when the instance has none */
	const json_t *properties; /* NULL: metadata.yaml's stay */
	int64_t expires_at;	  /* unix seconds, 0: metadata.yaml's stays */
	const char *compression;  /* NULL or "": gzip; see image_compression_check() */
};

/* -EINVAL unless name is a compression publish knows: none, gzip, bzip2, lzma, xz, zstd
 * (NULL or "": the default). Pure. */
int image_compression_check(const char *name, struct error *err);

/* Writes a unified image tarball (metadata.yaml with a new creation date, templates/,
 * rootfs/) to out_fd. progress (may be NULL) gets the bytes of file data packed so far
 * (total 0 until the end). Blocks: seconds for a distribution. */
int image_pack(const struct image_pack_args *a, int out_fd, image_progress_fn progress, void *data,
	       struct error *err);

/* The simplestreams catalogue of the public images (images/streams.c): *ret_index is
 * streams/v1/index.json, *ret_images streams/v1/images.json (new references). Blocks: the
 * first time a split image is listed its parts are hashed. */
int image_streams_build(struct db *db, const char *lodge_dir, json_t **ret_index,
			json_t **ret_images, struct error *err);

/* Opens the file that streams/v1/images/<fingerprint>/<file> names, for a public image
 * only; -ENOENT otherwise. */
int image_streams_file_open(struct db *db, const char *lodge_dir, const char *fingerprint,
			    const char *file, int *ret_fd, struct error *err);

/* The SHA-256 of the whole file at fd (read with pread), as lower-case hex (caller frees).
 * Blocks. */
int image_file_sha256(int fd, char **ret, struct error *err);

/* Writes the split image meta + rootfs to out as the multipart/form-data body LXD sends
 * and receives ("metadata" and "rootfs" or "rootfs.img" parts, file names from the
 * fingerprint), with boundary. Blocks. */
int image_multipart_write(int meta, int rootfs, const char *type, const char *fingerprint, int out,
			  const char *boundary, struct error *err);

/* Where an image is pulled from (POST /1.0/images with source type "image"). */
struct image_pull_source {
	const char *server;	 /* "https://host[:port][/path]" */
	const char *protocol;	 /* "lxd" (NULL) or "simplestreams" */
	const char *alias;	 /* the alias to look up, or NULL and: */
	const char *fingerprint; /* a fingerprint (prefix) */
	const char *certificate; /* the server's certificate (PEM), pinned; NULL: CA store */
	const char *secret;	 /* for a private image on an LXD server */
	const char *image_type;	 /* "container" (NULL) or "virtual-machine" */
};

/* The source an ImagesPost or InstancesPost "source" object describes (strings point
 * into source), and the update_source recorded for an image pulled from it (new
 * reference). */
struct image_pull_source image_pull_source_of(const json_t *source);
json_t *image_pull_update_source(const struct image_pull_source *src);

/* What a simplestreams products document offers for one image. */
struct image_ss_choice {
	const json_t *meta, *root; /* the items: metadata (or combined), root (NULL if none) */
	const char *fingerprint;   /* the image's fingerprint, as the items give it */
	const char *version;	   /* NULL: nothing matched */
};

/* The newest version, among the products (images.json's "products" object) for host_arch
 * (a canonical name) whose aliases list holds name or whose fingerprint starts with it,
 * that has a usable item set for a container (or a VM when vm); pointers borrowed from
 * products. best->version NULL when none. Pure: server bytes go through here. */
void image_simplestreams_choose(const json_t *products, const char *name, bool vm,
				const char *host_arch, struct image_ss_choice *best);

/* Copies an image from another server (see images/pull.c) into the store, with what opts
 * says of the new image (public, properties, profiles, cached, auto_update,
 * update_source; its fd, content type and fingerprint are ignored). An image already
 * stored is returned as it is. *ret is the image (caller frees). Errors name the server's
 * problem: -ENOENT when it has no such image, -EPERM when its certificate does not match,
 * -EIO for a file that does not match its hash. Blocks: network and disk. */
int image_pull(struct db *db, const char *lodge_dir, const struct image_pull_source *src,
	       const struct image_upload *opts, struct db_image **ret, struct error *err);

/* `lxc image import https://...` (source type "url", LXD's "direct" protocol): GET url (the
 * server verified by the system CAs) must answer with LXD-Image-Hash (the fingerprint) and
 * LXD-Image-URL headers; the file there is downloaded and imported like an upload, its
 * fingerprint checked. An image already stored is returned as it is. Blocks. */
int image_pull_url(struct db *db, const char *lodge_dir, const char *url,
		   const struct image_upload *opts, struct db_image **ret, struct error *err);

/* Refreshes the image from its update_source (an image pulled from another server): pulls
 * what its alias names now. When that is a new image, it takes the old one's aliases,
 * public flag, profiles, cached and auto_update state, and *ret_new is its fingerprint
 * (caller frees); NULL when the image is up to date or has no source. The old image is
 * left for the caller to delete. Blocks: network and disk. */
int image_refresh(struct db *db, const char *lodge_dir, const char *fingerprint, char **ret_new,
		  struct error *err);

/* What the periodic image task should do at now: *ret_expire lists the cached images unused
 * (last used, or uploaded if never) for more than cache_expiry_sec (0: never expire),
 * *ret_refresh the other images with auto_update and a source server (arrays of
 * fingerprints, new references). */
int image_maintenance_plan(struct db *db, int64_t now, int64_t cache_expiry_sec,
			   json_t **ret_refresh, json_t **ret_expire, struct error *err);

/* The API object (GET /1.0/images/<fp>), with aliases (db_image_alias array, n_aliases).
 * New reference. */
json_t *image_to_json(const struct db_image *img, struct db_image_alias *const *aliases,
		      size_t n_aliases);

/* Applies the body of PUT (patch false: absent fields take their defaults, as LXD) or
 * PATCH (patch true: only the fields present change; properties merge) /1.0/images/<fp> to
 * img: public, auto_update, properties, profiles, expires_at. -EINVAL naming a bad field,
 * img untouched then. Pure; the caller stores img with db_image_update(). */
int image_apply_changes(struct db_image *img, const json_t *body, bool patch, struct error *err);

/* Validates an image's properties (an object of strings) or profiles (a list of valid
 * names) from a request body; *ret is a copy. -EINVAL naming the problem. Pure. */
int image_properties_parse(const json_t *v, json_t **ret, struct error *err);
int image_profiles_parse(const json_t *v, json_t **ret, struct error *err);

/* Parses an RFC 3339 time as clients send it ("2026-11-23T11:08:37Z", fractions and
 * offsets allowed) into unix seconds; Go's zero time "0001-01-01T00:00:00Z" gives 0.
 * -EINVAL when malformed. */
int image_time_parse(const char *s, int64_t *ret);

/* True when s is a plausible fingerprint or fingerprint prefix: 1..64 lower-case hex. */
bool image_fingerprint_prefix_is_valid(const char *s);
/* True when s is a full fingerprint: 64 lower-case hex. */
bool image_fingerprint_is_valid(const char *s);

/* Validates an alias name: 1..255 bytes, single line, words separated by single '/'
 * ("debian/12"), none of them "." or "..". */
int image_alias_name_check(const char *name, struct error *err);
