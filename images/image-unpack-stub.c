/* images/image-unpack-stub.c: TEMPORARY. A minimal image_unpack() so that storage can be
 * built and tested before the images module lands; the images engineer's implementation
 * replaces this file at merge (delete it then, and its line in Makefile.am).
 *
 * It extracts the unified tarball <lodge_dir>/images/<fingerprint> (LXD's image store
 * layout) with libarchive. libarchive extracts relative to the working directory, so the
 * extraction runs in a forked child that changes into dest_dirfd; it refuses absolute
 * paths, ".." and writes through symlinks.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images/images.h"
#include "lib/str.h"

#include "lib/banned.h"

static int extract(const char *tarball)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *entry;
	int r;

	archive_read_support_filter_all(in);
	archive_read_support_format_all(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
						    ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open_filename(in, tarball, 65536) != ARCHIVE_OK)
		return EIO;
	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		if (archive_write_header(out, entry) != ARCHIVE_OK)
			return EIO;
		if (archive_entry_size(entry) > 0) {
			const void *buf;
			size_t size;
			la_int64_t off;

			while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK)
					return EIO;
			if (r != ARCHIVE_EOF)
				return EIO;
		}
		if (archive_write_finish_entry(out) != ARCHIVE_OK)
			return EIO;
	}
	if (r != ARCHIVE_EOF)
		return EIO;
	archive_read_free(in);
	archive_write_free(out);
	return 0;
}

int image_unpack(const char *lodge_dir, const char *fingerprint, int dest_dirfd, struct error *err)
{
	autofree char *tarball = str_printf("%s/images/%s", lodge_dir, fingerprint);
	int status = 0;
	pid_t pid;

	if (access(tarball, R_OK) < 0)
		return error_errno(err, -errno, "Image '%s' is not in the image store",
				   fingerprint);
	pid = fork();
	if (pid < 0)
		return error_errno(err, -errno, "Failed to fork");
	if (pid == 0)
		_exit(fchdir(dest_dirfd) < 0 ? EBADF : extract(tarball));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return error_set(err, -EIO, "Failed to unpack image '%s'", fingerprint);
	return 0;
}
