#include "daemon/hwdb.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "lib/fs.h"
#include "lib/macro.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

/* pci.ids is about 1.4 MiB today; leave room to grow. */
#define HWDB_MAX ((size_t)32 * 1024 * 1024)

const char *const hwdb_pci_paths[] = {
	"/usr/share/hwdata/pci.ids",
	"/usr/share/misc/pci.ids",
	NULL,
};

const char *const hwdb_usb_paths[] = {
	"/usr/share/misc/usb.ids",
	"/usr/share/hwdata/usb.ids",
	NULL,
};

char *hwdb_load(const char *const *paths)
{
	for (const char *const *p = paths; *p; p++) {
		char *data = NULL;

		if (read_file(*p, HWDB_MAX, &data, NULL, NULL) == 0)
			return data;
	}

	return NULL;
}

/* Entries read "<id>  <name>", the name after two spaces. Returns the name or NULL. */
static const char *entry_match(const char *line, size_t len, const char *id)
{
	size_t idlen = strlen(id);

	if (idlen == 0 || len < idlen + 2 || strncasecmp(line, id, idlen) != 0)
		return NULL;
	if (line[idlen] != ' ' || line[idlen + 1] != ' ')
		return NULL;

	return line + idlen + 2;
}

static char *entry_name(const char *name, const char *end)
{
	while (name < end && *name == ' ')
		name++;
	while (end > name && (end[-1] == ' ' || end[-1] == '\r'))
		end--;
	return xstrndup(name, (size_t)(end - name));
}

int hwdb_lookup(const char *db, const char *id, const char *sub_id, char **ret_name,
		char **ret_sub_name)
{
	autofree char *name = NULL;
	char *sub_name = NULL;
	bool in_entry = false;

	if (!db)
		return -ENOENT;

	for (const char *line = db; *line;) {
		const char *end = strchr(line, '\n');
		const char *next = end ? end + 1 : line + strlen(line);
		size_t len;
		const char *found;

		if (!end)
			end = next;
		len = (size_t)(end - line);

		if (len == 0 || line[0] == '#') {
			/* Blank lines and comments do not end an entry's list of children. */
		} else if (line[0] != '\t') {
			if (in_entry)
				break;
			found = entry_match(line, len, id);
			if (found) {
				name = entry_name(found, end);
				in_entry = true;
				if (!sub_id)
					break;
			}
		} else if (in_entry && line[1] != '\t') {
			found = entry_match(line + 1, len - 1, sub_id);
			if (found) {
				sub_name = entry_name(found, end);
				break;
			}
		}

		line = next;
	}

	if (!name)
		return -ENOENT;

	*ret_name = take_ptr(name);
	if (ret_sub_name)
		*ret_sub_name = sub_name;
	else
		free(sub_name);
	return 0;
}
