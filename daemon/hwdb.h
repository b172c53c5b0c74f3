/* daemon/hwdb.h: names of PCI and USB vendors, products and classes, from the pci.ids and
 * usb.ids files that distributions ship (packages pciutils/hwdata and usbutils).
 *
 * LXD looks names up the same way; when no database is installed, names stay empty.
 */
#pragma once

/* Where LXD (through the pcidb and usbid Go packages) looks, in order. NULL-terminated. */
extern const char *const hwdb_pci_paths[];
extern const char *const hwdb_usb_paths[];

/* The text of the first database in paths that can be read, or NULL. Blocks on reading a
 * file of a few MiB. The caller frees. */
char *hwdb_load(const char *const *paths);

/* Looks up id ("1af4", or "C 03" for a USB class) among the top-level entries of db and, when
 * sub_id is not NULL, sub_id ("1000", or "01" for a subclass) among that entry's children.
 * Ids compare without regard to case. Returns 0 with *ret_name set (and *ret_sub_name set,
 * or NULL when the child is unknown), or -ENOENT when id is unknown. db may be NULL (no
 * database): -ENOENT. ret_sub_name may be NULL when sub_id is. The caller frees the names. */
int hwdb_lookup(const char *db, const char *id, const char *sub_id, char **ret_name,
		char **ret_sub_name);
