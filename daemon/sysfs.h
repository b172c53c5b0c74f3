/* daemon/sysfs.h: small readers for sysfs and procfs attributes.
 *
 * Each reader takes a directory and a name below it (dir may be NULL when name is the whole
 * path). An attribute that is missing or unreadable is an ordinary answer on real hardware,
 * so readers report it as NULL or a negative errno and never fill a struct error. All of them
 * block on the read; sysfs and procfs answer from memory, so the wait is short.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/macro.h"

/* The attribute's contents without leading and trailing white space, or NULL when it cannot
 * be read. The caller frees. */
char *sysfs_read_str(const char *dir, const char *name);

/* A decimal number with optional surrounding white space. Returns 0, or -errno when the file
 * cannot be read, -EINVAL / -ERANGE when it holds no such number; *ret is left alone then. */
int sysfs_read_u64(const char *dir, const char *name, uint64_t *ret);
int sysfs_read_i64(const char *dir, const char *name, int64_t *ret);

/* True when the path exists; a dangling symlink counts, as LXD's checks count it. */
bool sysfs_exists(const char *dir, const char *name);

/* The last component of the path that a symlink resolves to ("virtio_net" for a device's
 * "driver" link), or NULL when it does not resolve. The caller frees. */
char *sysfs_link_name(const char *dir, const char *name);

/* The entry names of a directory, without "." and "..", sorted by strcmp(), in a
 * NULL-terminated vector. Returns the count or -errno; free with sysfs_list_free(). */
int sysfs_list(const char *dir, char ***ret);
void sysfs_list_free(char **list);
DEFINE_FREEP(char *, sysfs_list_free)

/* dir and name joined with '/' (name alone when dir is NULL); never NULL. */
char *sysfs_path(const char *dir, const char *name);
