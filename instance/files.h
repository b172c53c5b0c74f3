/* instance/files.h: reading and writing files inside an instance's root filesystem,
 * resolved so that no path, ".." or symlink can reach outside it (instance/files.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/error.h"

enum instance_file_type {
	INSTANCE_FILE_REGULAR,
	INSTANCE_FILE_DIRECTORY,
	INSTANCE_FILE_SYMLINK,
};

extern const char *const instance_file_type_names[]; /* "file", "directory", "symlink" */

/* "" / "file", "directory", "symlink" (X-LXD-type). */
int instance_file_type_parse(const char *s, enum instance_file_type *ret);

struct instance_file_info {
	enum instance_file_type type;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	time_t mtime;
	uint64_t size;
};

/* The root filesystem of an unprivileged container is mounted on the host through an
 * idmapped mount: container uid N shows as host uid base+N, and host root (unmapped there)
 * may not create files in it. Before touching such a root, a thread takes on the mapped root
 * identity with instance_files_become(base) (fsuid/fsgid, file capabilities kept), and the
 * functions below translate owners by shift = base. Thread-local; shift 0 is a no-op. */
struct instance_files_creds {
	uint32_t shift;
};

int instance_files_become(uint32_t shift, struct instance_files_creds *saved,
			  struct error *err);
void instance_files_restore(const struct instance_files_creds *saved);

/* Looks up path under rootfd. A regular file: *ret_fd opened for reading. A symlink:
 * *ret_target (not followed). A directory: *ret_entries, an array of names. */
int instance_file_get(int rootfd, uint32_t shift, const char *path,
		      struct instance_file_info *info, int *ret_fd, char **ret_target,
		      json_t **ret_entries, struct error *err);

struct instance_file_put {
	enum instance_file_type type;
	int content_fd;	    /* regular files: read to its end; -1 for empty */
	const char *target; /* symlinks */
	int64_t uid, gid;   /* -1: keep an existing file's, else 0 */
	int mode;	    /* -1: keep, else 0644 (files) / 0755 (directories) */
	bool append;
};

/* Creates or replaces path under rootfd. A symlink in the last component is replaced, never
 * written through. */
int instance_file_put(int rootfd, uint32_t shift, const char *path,
		      const struct instance_file_put *put, struct error *err);

/* Removes a file, symlink or empty directory. */
int instance_file_delete(int rootfd, const char *path, struct error *err);
