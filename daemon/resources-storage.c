/* The `storage` section of GET /1.0/resources: disks and their partitions, from sysfs, udev's
 * database and its /dev/disk links (LXD's lxd/resources/storage.go). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/resources-internal.h"
#include "daemon/sysfs.h"
#include "lib/fs.h"
#include "lib/str.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

#define SYS_CLASS_BLOCK	    "/sys/class/block"
#define DEV_DISK_BY_PATH    "/dev/disk/by-path"
#define DEV_DISK_BY_ID	    "/dev/disk/by-id"
#define RUN_UDEV_DATA	    "/run/udev/data"
#define UDEV_DATA_MAX	    ((size_t)256 * 1024)
#define CDROM_NO_MEDIA_SIZE (0x1fffffULL * 512)

/* The value of property key ("ID_SERIAL_SHORT") in a udev database entry, or NULL. */
static char *udev_property(const char *data, const char *key)
{
	size_t keylen = strlen(key);

	for (const char *line = data; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *next = end ? end + 1 : NULL;

		if (!end)
			end = line + strlen(line);
		if (str_has_prefix(line, "E:") && (size_t)(end - line) > keylen + 2 &&
		    strncmp(line + 2, key, keylen) == 0 && line[2 + keylen] == '=')
			return xstrndup(line + 3 + keylen, (size_t)(end - line - 3 - keylen));
		line = next;
	}

	return NULL;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* udev writes bytes that do not belong in a device name as "\x20"; NULL on a bad escape. */
static char *udev_decode(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] == 'x') {
			int hi = hex_digit(p[2]);
			int lo = hi < 0 ? -1 : hex_digit(p[3]);

			if (lo < 0 || (hi == 0 && lo == 0)) {
				strbuf_release(&sb);
				return NULL;
			}
			strbuf_addch(&sb, (char)(hi * 16 + lo));
			p += 3;
		} else {
			strbuf_addch(&sb, *p);
		}
	}

	return strbuf_detach(&sb);
}

static char *strip_spaces(char *s)
{
	size_t len;

	while (*s == ' ')
		s++;
	len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
	return s;
}

/* The name of the last link in dir (sorted) that resolves to /dev/<name>, as LXD keeps the
 * last one it sees; NULL without one. */
static char *disk_link(const char *dir, const char *name)
{
	autoclean(sysfs_list_freep) char **links = NULL;
	autofree char *dev = str_printf("/dev/%s", name);
	char *found = NULL;

	if (sysfs_list(dir, &links) < 0)
		return NULL;

	for (char **l = links; *l; l++) {
		autofree char *link = sysfs_path(dir, *l);
		autofree char *target = realpath(link, NULL);

		if (target && streq(target, dev)) {
			free(found);
			found = xstrdup(*l);
		}
	}

	return found;
}

struct disk {
	char *model;
	char *type;
	char *wwn;
	char *serial;
	char *firmware_version;
	uint64_t rpm;
};

static void disk_release(struct disk *d)
{
	free(d->model);
	free(d->type);
	free(d->wwn);
	free(d->serial);
	free(d->firmware_version);
}

static void replace(char **field, char *value)
{
	free(*field);
	*field = value;
}

/* A property's value, or NULL when udev has none or an empty one. */
static char *udev_value(const char *data, const char *key)
{
	char *value = udev_property(data, key);

	if (value && !*value) {
		free(value);
		return NULL;
	}
	return value;
}

static bool udev_is(const char *data, const char *key, const char *expected)
{
	autofree char *value = udev_property(data, key);

	return value && streq(value, expected);
}

/* What only udev knows: the bus more precisely, serial, model as the drive reports it. */
static void disk_read_udev(const char *device_number, struct disk *disk)
{
	autofree char *path = str_printf(RUN_UDEV_DATA "/b%s", device_number);
	autofree char *data = NULL;
	autofree char *revision = NULL;
	autofree char *serial = NULL;
	autofree char *model_enc = NULL;
	autofree char *model = NULL;
	autofree char *rpm = NULL;

	if (read_file(path, UDEV_DATA_MAX, &data, NULL, NULL) < 0)
		return;

	if (udev_is(data, "ID_CDROM", "1"))
		replace(&disk->type, xstrdup("cdrom"));
	else if (udev_is(data, "ID_USB_DRIVER", "usb-storage"))
		replace(&disk->type, xstrdup("usb"));
	else if (udev_is(data, "ID_ATA_SATA", "1"))
		replace(&disk->type, xstrdup("sata"));

	revision = udev_value(data, "ID_REVISION");
	if (revision && str_is_empty(disk->firmware_version))
		replace(&disk->firmware_version, take_ptr(revision));

	serial = udev_value(data, "ID_SERIAL_SHORT");
	if (serial)
		replace(&disk->serial, take_ptr(serial));

	/* ID_MODEL has '_' for spaces; the encoded form keeps the drive's own text. */
	model_enc = udev_value(data, "ID_MODEL_ENC");
	model = udev_value(data, "ID_MODEL");
	if (model_enc) {
		autofree char *decoded = udev_decode(model_enc);

		if (decoded)
			replace(&disk->model, xstrdup(strip_spaces(decoded)));
		else if (model)
			replace(&disk->model, take_ptr(model));
	} else if (model) {
		replace(&disk->model, take_ptr(model));
	}

	rpm = udev_value(data, "ID_ATA_ROTATION_RATE_RPM");
	if (rpm && disk->rpm == 0)
		(void)parse_u64(rpm, &disk->rpm);
}

static json_t *partitions_json(const char *name, char **entries)
{
	autofree char *disk_path = sysfs_path(SYS_CLASS_BLOCK, name);
	json_t *partitions = json_array();

	for (char **e = entries; *e; e++) {
		autofree char *path = NULL;
		autofree char *dev = NULL;
		uint64_t number, ro = 0, sectors = 0;
		json_t *part;

		/* A partition is a child of its disk with a "partition" number. */
		if (!str_has_prefix(*e, name) || !sysfs_exists(disk_path, *e))
			continue;
		path = sysfs_path(SYS_CLASS_BLOCK, *e);
		if (sysfs_read_u64(path, "partition", &number) < 0)
			continue;
		dev = sysfs_read_str(path, "dev");
		(void)sysfs_read_u64(path, "ro", &ro);
		(void)sysfs_read_u64(path, "size", &sectors);

		part = json_object();
		res_put_str(part, "id", *e);
		res_put_str(part, "device", dev);
		res_put_bool(part, "read_only", ro == 1);
		res_put_u64(part, "size", sectors * 512);
		res_put_u64(part, "partition", number);
		(void)json_array_append_new(partitions, part);
	}

	return partitions;
}

/* A disk, or NULL for what LXD leaves out: multipath members (no "dev") and rbd devices. */
static json_t *disk_json(const char *name, char **entries)
{
	autofree char *path = sysfs_path(SYS_CLASS_BLOCK, name);
	autofree char *device = sysfs_path(path, "device");
	autofree char *dev = sysfs_read_str(path, "dev");
	autofree char *queue = sysfs_path(path, "queue");
	autofree char *pci_address = NULL;
	autofree char *usb_address = NULL;
	autofree char *device_path = NULL;
	autofree char *device_id = NULL;
	autoclean(disk_release) struct disk disk = { 0 };
	uint64_t ro = 0, sectors = 0, removable = 0, block_size = 0, rotational;
	int64_t numa = -1;
	json_t *obj;

	if (!dev)
		return NULL;

	disk.type = sysfs_link_name(device, "subsystem");
	if (disk.type && streq(disk.type, "rbd"))
		return NULL;
	disk.firmware_version = sysfs_read_str(device, "firmware_rev");
	disk.model = sysfs_read_str(device, "model");
	disk.wwn = sysfs_read_str(path, "wwid");
	pci_address = resources_pci_address(device);
	usb_address = resources_usb_address(device);
	if (sysfs_read_i64(device, "numa_node", &numa) < 0 || numa < 0)
		numa = 0;
	(void)sysfs_read_u64(path, "ro", &ro);
	(void)sysfs_read_u64(path, "size", &sectors);
	(void)sysfs_read_u64(path, "removable", &removable);
	/* LXD asks the device node (BLKPBSZGET); sysfs has the same value without opening it. */
	(void)sysfs_read_u64(queue, "physical_block_size", &block_size);

	if (str_has_prefix(name, "sr") && removable == 1) {
		replace(&disk.type, xstrdup("cdrom"));
		/* Most drives report this size whatever the media. */
		if (sectors * 512 == CDROM_NO_MEDIA_SIZE)
			sectors = 0;
	}

	device_path = disk_link(DEV_DISK_BY_PATH, name);
	device_id = disk_link(DEV_DISK_BY_ID, name);
	disk_read_udev(dev, &disk);
	/* Without a reported speed, "rotational" makes it 1 (spinning) or 0. */
	if (disk.rpm == 0 && sysfs_read_u64(queue, "rotational", &rotational) == 0)
		disk.rpm = rotational;

	obj = json_object();
	res_put_str(obj, "id", name);
	res_put_str(obj, "device", dev);
	res_put_str_nonempty(obj, "model", disk.model);
	res_put_str_nonempty(obj, "type", disk.type);
	res_put_bool(obj, "read_only", ro == 1);
	res_put_u64(obj, "size", sectors * 512);
	res_put_bool(obj, "removable", removable == 1);
	res_put_str_nonempty(obj, "wwn", disk.wwn);
	res_put_u64(obj, "numa_node", (uint64_t)numa);
	res_put_str_nonempty(obj, "device_path", device_path);
	res_put_u64(obj, "block_size", block_size);
	res_put_str_nonempty(obj, "firmware_version", disk.firmware_version);
	res_put_u64(obj, "rpm", disk.rpm);
	res_put_str_nonempty(obj, "serial", disk.serial);
	res_put_str(obj, "device_id", device_id);
	res_put_new(obj, "partitions", partitions_json(name, entries));
	res_put_str_nonempty(obj, "pci_address", pci_address);
	res_put_str_nonempty(obj, "usb_address", usb_address);
	return obj;
}

int resources_storage_get(const struct resources_ctx *ctx, json_t **ret, struct error *err)
{
	autoclean(sysfs_list_freep) char **entries = NULL;
	json_t *disks, *storage, *disk;
	uint64_t total = 0;
	int r;

	r = resources_list(SYS_CLASS_BLOCK, &entries, err);
	if (r < 0)
		return r;

	/* Disks have a "device"; partitions, loop, zram, device-mapper and md devices do not. */
	disks = json_array();
	for (char **e = entries; *e; e++) {
		autofree char *path = sysfs_path(SYS_CLASS_BLOCK, *e);

		if (!sysfs_exists(path, "device"))
			continue;
		disk = disk_json(*e, entries);
		if (disk)
			(void)json_array_append_new(disks, disk);
	}

	/* LXD counts partitions in the total too. */
	for (size_t i = 0; i < json_array_size(disks); i++)
		total += 1 +
			 json_array_size(json_object_get(json_array_get(disks, i), "partitions"));

	storage = json_object();
	res_put_new(storage, "disks", disks);
	res_put_u64(storage, "total", total);
	*ret = storage;
	return 0;
}
