#include "daemon/sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/fs.h"
#include "lib/str.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

/* sysfs attributes fit in a page; procfs files such as /proc/cpuinfo do not, and have their
 * own readers. */
#define SYSFS_ATTR_MAX ((size_t)64 * 1024)

char *sysfs_path(const char *dir, const char *name)
{
	if (!dir)
		return xstrdup(name);
	return str_printf("%s/%s", dir, name);
}

static char *strip(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
			   s[len - 1] == '\r' || s[len - 1] == '\0'))
		s[--len] = '\0';
	return s;
}

char *sysfs_read_str(const char *dir, const char *name)
{
	autofree char *path = sysfs_path(dir, name);
	autofree char *data = NULL;
	int r;

	r = read_file(path, SYSFS_ATTR_MAX, &data, NULL, NULL);
	if (r < 0)
		return NULL;

	return xstrdup(strip(data));
}

int sysfs_read_u64(const char *dir, const char *name, uint64_t *ret)
{
	autofree char *path = sysfs_path(dir, name);
	autofree char *data = NULL;
	int r;

	r = read_file(path, SYSFS_ATTR_MAX, &data, NULL, NULL);
	if (r < 0)
		return r;

	return parse_u64(strip(data), ret);
}

int sysfs_read_i64(const char *dir, const char *name, int64_t *ret)
{
	autofree char *path = sysfs_path(dir, name);
	autofree char *data = NULL;
	int r;

	r = read_file(path, SYSFS_ATTR_MAX, &data, NULL, NULL);
	if (r < 0)
		return r;

	return parse_i64(strip(data), ret);
}

bool sysfs_exists(const char *dir, const char *name)
{
	autofree char *path = sysfs_path(dir, name);
	struct stat st;

	return lstat(path, &st) == 0;
}

char *sysfs_link_name(const char *dir, const char *name)
{
	autofree char *path = sysfs_path(dir, name);
	autofree char *target = realpath(path, NULL);
	const char *slash;

	if (!target)
		return NULL;

	slash = strrchr(target, '/');
	return xstrdup(slash ? slash + 1 : target);
}

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sysfs_list(const char *dir, char ***ret)
{
	DIR *d = opendir(dir);
	char **list = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;

	if (!d)
		return -errno;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (n + 2 > alloc) {
			alloc = alloc ? alloc * 2 : 16;
			list = xrealloc(list, alloc * sizeof(*list));
		}
		list[n++] = xstrdup(de->d_name);
	}
	if (errno != 0) {
		int r = -errno;

		(void)closedir(d);
		list = xrealloc(list, (n + 1) * sizeof(*list));
		list[n] = NULL;
		sysfs_list_free(list);
		return r;
	}
	(void)closedir(d);

	list = xrealloc(list, (n + 1) * sizeof(*list));
	list[n] = NULL;
	qsort(list, n, sizeof(*list), name_compare);
	*ret = list;
	return n > INT_MAX ? INT_MAX : (int)n;
}

void sysfs_list_free(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}
