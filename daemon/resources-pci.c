/* The `gpu`, `pci` and `usb` sections of GET /1.0/resources (LXD's lxd/resources/gpu.go,
 * pci.go and usb.go). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/hwdb.h"
#include "daemon/resources-internal.h"
#include "daemon/sysfs.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

#define SYS_CLASS_DRM	 "/sys/class/drm"
#define SYS_BUS_USB	 "/sys/bus/usb/devices"
#define PROC_NVIDIA_GPUS "/proc/driver/nvidia/gpus"

/* --- GPU ------------------------------------------------------------------------------ */

static json_t *gpu_drm_json(const char *device)
{
	autofree char *drm = sysfs_path(device, "drm");
	autoclean(sysfs_list_freep) char **entries = NULL;
	json_t *obj;
	uint64_t id = 0;
	autofree char *card_name = NULL;
	autofree char *card_dev = NULL;
	autofree char *control_name = NULL;
	autofree char *control_dev = NULL;
	autofree char *render_name = NULL;
	autofree char *render_dev = NULL;

	if (sysfs_list(drm, &entries) < 0)
		return NULL;

	for (char **e = entries; *e; e++) {
		autofree char *path = sysfs_path(drm, *e);

		if (str_has_prefix(*e, "card") && parse_u64(*e + 4, &id) == 0) {
			free(card_name);
			free(card_dev);
			card_name = xstrdup(*e);
			card_dev = sysfs_read_str(path, "dev");
		} else if (str_has_prefix(*e, "controlD")) {
			free(control_name);
			free(control_dev);
			control_name = xstrdup(*e);
			control_dev = sysfs_read_str(path, "dev");
		} else if (str_has_prefix(*e, "renderD")) {
			free(render_name);
			free(render_dev);
			render_name = xstrdup(*e);
			render_dev = sysfs_read_str(path, "dev");
		}
	}

	obj = json_object();
	res_put_u64(obj, "id", id);
	res_put_str(obj, "card_name", card_name);
	res_put_str(obj, "card_device", card_dev);
	res_put_str_nonempty(obj, "control_name", control_name);
	res_put_str_nonempty(obj, "control_device", control_dev);
	res_put_str_nonempty(obj, "render_name", render_name);
	res_put_str_nonempty(obj, "render_device", render_dev);
	return obj;
}

/* Mediated device types a GPU offers (Intel GVT-g, NVIDIA vGPU), by type name. */
static json_t *gpu_mdev_json(const char *device)
{
	autofree char *dir = sysfs_path(device, "mdev_supported_types");
	autoclean(sysfs_list_freep) char **types = NULL;
	json_t *map;

	if (sysfs_list(dir, &types) < 0)
		return NULL;

	map = json_object();
	for (char **t = types; *t; t++) {
		autofree char *path = sysfs_path(dir, *t);
		autofree char *devices_dir = sysfs_path(path, "devices");
		autofree char *api = sysfs_read_str(path, "device_api");
		autofree char *description = sysfs_read_str(path, "description");
		autofree char *name = sysfs_read_str(path, "name");
		autoclean(sysfs_list_freep) char **devices = NULL;
		uint64_t available = 0;
		json_t *mdev = json_object();
		json_t *list = json_array();

		(void)sysfs_read_u64(path, "available_instances", &available);
		if (sysfs_list(devices_dir, &devices) >= 0)
			for (char **d = devices; *d; d++)
				(void)json_array_append_new(list, json_string(*d));

		res_put_str(mdev, "api", api);
		res_put_u64(mdev, "available", available);
		res_put_str_nonempty(mdev, "name", name);
		res_put_str_nonempty(mdev, "description", description);
		res_put_new(mdev, "devices", list);
		res_put_new(map, *t, mdev);
	}

	return map;
}

/* What the NVIDIA driver tells in /proc about the card at pci_address, or NULL. LXD prefers
 * nvidia-container-cli, which also knows the CUDA and driver versions; we run no tools. */
static json_t *gpu_nvidia_json(const char *pci_address)
{
	autofree char *path = str_printf(PROC_NVIDIA_GPUS "/%s/information", pci_address);
	autofree char *data = NULL;
	autofree char *model = NULL;
	autofree char *minor = NULL;
	autofree char *brand = NULL;
	autofree char *card_name = NULL;
	autofree char *card_dev = NULL;
	json_t *obj;

	if (read_file(path, (size_t)64 * 1024, &data, NULL, NULL) < 0)
		return NULL;

	for (char *line = data; line && *line;) {
		char *end = strchr(line, '\n');
		char *colon;

		if (end)
			*end = '\0';
		colon = strchr(line, ':');
		if (colon) {
			char *value = colon + 1 + strspn(colon + 1, " \t");

			*colon = '\0';
			if (streq(line, "Model"))
				model = xstrdup(value);
			else if (streq(line, "Device Minor"))
				minor = xstrdup(value);
		}
		line = end ? end + 1 : NULL;
	}

	if (model)
		brand = xstrndup(model, strcspn(model, " "));
	if (minor) {
		card_name = str_printf("nvidia%s", minor);
		card_dev = str_printf("195:%s", minor);
	}

	obj = json_object();
	res_put_str(obj, "brand", brand);
	res_put_str(obj, "model", model);
	res_put_str(obj, "card_name", card_name);
	res_put_str(obj, "card_device", card_dev);
	return obj;
}

static bool is_dir(const char *dir, const char *name)
{
	autofree char *path = sysfs_path(dir, name);
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static json_t *gpu_card_json(const struct resources_ctx *ctx, const char *device,
			     const char *pci_address, unsigned depth)
{
	autofree char *usb_address = NULL;
	struct device_info info;
	bool usb;
	json_t *card;

	/* Some drivers hang the card one level further down. */
	if (depth < 4 && is_dir(device, "device")) {
		autofree char *nested = sysfs_path(device, "device");

		return gpu_card_json(ctx, nested, pci_address, depth + 1);
	}

	usb = sysfs_exists(device, "device/busnum");
	if (usb) {
		autofree char *usb_device = sysfs_path(device, "device");

		usb_address = resources_usb_address(usb_device);
	}
	resources_device_read(ctx, device, !usb, &info);

	card = json_object();
	res_put_str_nonempty(card, "driver", info.driver);
	res_put_str_nonempty(card, "driver_version", info.driver_version);
	res_put_new(card, "drm", gpu_drm_json(device));
	res_put_new(card, "sriov", resources_sriov_json(&info));
	if (info.driver && streq(info.driver, "nvidia") && pci_address)
		res_put_new(card, "nvidia", gpu_nvidia_json(pci_address));
	res_put_new(card, "mdev", gpu_mdev_json(device));
	res_put_u64(card, "numa_node", info.numa_node);
	res_put_str_nonempty(card, "pci_address", pci_address);
	res_put_str_nonempty(card, "vendor", info.vendor);
	res_put_str_nonempty(card, "vendor_id", info.vendor_id);
	res_put_str_nonempty(card, "product", info.product);
	res_put_str_nonempty(card, "product_id", info.product_id);
	res_put_str_nonempty(card, "usb_address", usb_address);

	resources_device_release(&info);
	return card;
}

static void gpu_card_add(json_t *cards, json_t *vfs, const char *device, json_t *card)
{
	autofree char *parent = NULL;
	json_t *vf;

	if (!sysfs_exists(device, "physfn")) {
		(void)json_array_append_new(cards, card);
		return;
	}

	parent = sysfs_link_name(device, "physfn");
	vf = json_object();
	res_put_str(vf, "parent", parent);
	res_put_new(vf, "card", card);
	(void)json_array_append_new(vfs, vf);
}

int resources_gpu_get(const struct resources_ctx *ctx, json_t **ret, struct error *err)
{
	autoclean(sysfs_list_freep) char **drm = NULL;
	autoclean(sysfs_list_freep) char **functions = NULL;
	autojson json_t *known = json_object();
	autojson json_t *vfs = json_array();
	json_t *cards, *gpu;
	uint64_t total;
	int r;

	r = resources_list(SYS_CLASS_DRM, &drm, err);
	if (r < 0)
		return r;
	r = resources_list(SYS_BUS_PCI, &functions, err);
	if (r < 0)
		return r;

	/* Cards with a DRM driver first ("card0", not "card0-HDMI-A-1" or "renderD128"). */
	cards = json_array();
	for (char **e = drm; *e; e++) {
		autofree char *path = sysfs_path(SYS_CLASS_DRM, *e);
		autofree char *device = sysfs_path(path, "device");
		autofree char *pci_address = NULL;

		if (!str_has_prefix(*e, "card") || !sysfs_exists(path, "dev"))
			continue;

		pci_address = resources_pci_address(device);
		if (pci_address) {
			if (json_object_get(known, pci_address))
				continue;
			(void)json_object_set_new(known, pci_address, json_true());
		}
		gpu_card_add(cards, vfs, device, gpu_card_json(ctx, device, pci_address, 0));
	}

	/* Then display controllers without one. */
	for (char **e = functions; *e; e++) {
		autofree char *device = sysfs_path(SYS_BUS_PCI, *e);
		autofree char *class = NULL;

		if (json_object_get(known, *e))
			continue;
		class = sysfs_read_str(device, "class");
		if (!class || !str_has_prefix(class, "0x03"))
			continue;
		gpu_card_add(cards, vfs, device, gpu_card_json(ctx, device, *e, 0));
	}

	total = resources_cards_attach_vfs(cards, vfs);
	gpu = json_object();
	res_put_new(gpu, "cards", cards);
	res_put_u64(gpu, "total", total);
	*ret = gpu;
	return 0;
}

/* --- PCI ------------------------------------------------------------------------------ */

static uint64_t pci_iommu_group(const char *device)
{
	autofree char *group = sysfs_link_name(device, "iommu_group");
	uint64_t number = 0;

	if (!group || parse_u64(group, &number) < 0)
		return 0;
	return number;
}

int resources_pci_get(const struct resources_ctx *ctx, json_t **ret, struct error *err)
{
	autoclean(sysfs_list_freep) char **functions = NULL;
	json_t *devices, *pci;
	int r;

	r = resources_list(SYS_BUS_PCI, &functions, err);
	if (r < 0)
		return r;

	devices = json_array();
	for (char **e = functions; *e; e++) {
		autofree char *path = sysfs_path(SYS_BUS_PCI, *e);
		struct device_info info;
		json_t *device = json_object();

		resources_device_read(ctx, path, true, &info);
		res_put_str(device, "driver", info.driver);
		res_put_str(device, "driver_version", info.driver_version);
		res_put_u64(device, "numa_node", info.numa_node);
		res_put_str(device, "pci_address", *e);
		res_put_str(device, "vendor", info.vendor);
		res_put_str(device, "vendor_id", info.vendor_id);
		res_put_str(device, "product", info.product);
		res_put_str(device, "product_id", info.product_id);
		res_put_u64(device, "iommu_group", pci_iommu_group(path));
		/* LXD decodes the Vital Product Data (sysfs "vpd", readable by root) into
		 * product_name and entries; we do not yet, so it stays empty. */
		res_put_new(device, "vpd", json_object());
		(void)json_array_append_new(devices, device);
		resources_device_release(&info);
	}

	pci = json_object();
	res_put_new(pci, "devices", devices);
	res_put_u64(pci, "total", json_array_size(devices));
	*ret = pci;
	return 0;
}

/* --- USB ------------------------------------------------------------------------------ */

static int read_hex(const char *dir, const char *name, uint64_t *ret)
{
	autofree char *s = sysfs_read_str(dir, name);
	unsigned long long value;
	char *end;

	if (str_is_empty(s))
		return -ENOENT;
	errno = 0;
	value = strtoull(s, &end, 16);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = value;
	return 0;
}

/* An id as sysfs writes it, without the "0x" some attributes carry. */
static char *read_hex_str(const char *dir, const char *name)
{
	autofree char *s = sysfs_read_str(dir, name);

	if (!s)
		return NULL;
	return xstrdup(str_has_prefix(s, "0x") ? s + 2 : s);
}

static json_t *usb_interface_json(const struct resources_ctx *ctx, const char *path)
{
	autofree char *driver = sysfs_link_name(path, "driver");
	autofree char *driver_version = NULL;
	autofree char *class_id = NULL;
	autofree char *subclass_id = NULL;
	autofree char *class = NULL;
	autofree char *subclass = NULL;
	uint64_t class_number = 0, subclass_number = 0, number = 0;
	json_t *iface = json_object();

	if (read_hex(path, "bInterfaceClass", &class_number) == 0) {
		class_id = str_printf("C %02llx", (unsigned long long)class_number);
		subclass_id = read_hex(path, "bInterfaceSubClass", &subclass_number) == 0 &&
					      subclass_number > 0
				      ? str_printf("%02llx", (unsigned long long)subclass_number)
				      : NULL;
		(void)hwdb_lookup(ctx->usb_db, class_id, subclass_id, &class,
				  subclass_id ? &subclass : NULL);
	}
	(void)read_hex(path, "bInterfaceNumber", &number);
	if (driver) {
		autofree char *link = sysfs_path(path, "driver");

		driver_version = sysfs_read_str(link, "module/version");
		if (!driver_version)
			driver_version = xstrdup(ctx->uts.release);
	}

	res_put_str(iface, "class", class);
	res_put_u64(iface, "class_id", class_number);
	res_put_str(iface, "driver", driver);
	res_put_str(iface, "driver_version", driver_version);
	res_put_u64(iface, "number", number);
	res_put_str(iface, "subclass", subclass);
	res_put_u64(iface, "subclass_id", subclass_number);
	return iface;
}

static json_t *usb_device_json(const struct resources_ctx *ctx, const char *name)
{
	autofree char *path = sysfs_path(SYS_BUS_USB, name);
	autofree char *vendor_id = read_hex_str(path, "idVendor");
	autofree char *product_id = read_hex_str(path, "idProduct");
	autofree char *product = sysfs_read_str(path, "product");
	autofree char *vendor = NULL;
	autofree char *db_product = NULL;
	autofree char *speed = sysfs_read_str(path, "speed");
	autoclean(sysfs_list_freep) char **entries = NULL;
	uint64_t bus = 0, dev = 0;
	json_t *device = json_object();
	json_t *interfaces = json_array();

	(void)sysfs_read_u64(path, "busnum", &bus);
	(void)sysfs_read_u64(path, "devnum", &dev);
	if (vendor_id)
		(void)hwdb_lookup(ctx->usb_db, vendor_id, product_id, &vendor,
				  product_id ? &db_product : NULL);

	/* Interfaces are the subdirectories named "<device>:<config>.<interface>". */
	if (sysfs_list(path, &entries) >= 0) {
		for (char **e = entries; *e; e++) {
			autofree char *iface = NULL;

			if (!str_has_prefix(*e, name) || !is_dir(path, *e))
				continue;
			iface = sysfs_path(path, *e);
			(void)json_array_append_new(interfaces, usb_interface_json(ctx, iface));
		}
	}

	res_put_u64(device, "bus_address", bus);
	res_put_u64(device, "device_address", dev);
	res_put_new(device, "interfaces", interfaces);
	res_put_str(device, "vendor", vendor);
	res_put_str(device, "vendor_id", vendor_id);
	res_put_str(device, "product", product ? product : db_product);
	res_put_str(device, "product_id", product_id);
	res_put_new(device, "speed", json_real(speed ? strtod(speed, NULL) : 0.0));
	return device;
}

int resources_usb_get(const struct resources_ctx *ctx, json_t **ret, struct error *err)
{
	autoclean(sysfs_list_freep) char **entries = NULL;
	json_t *devices, *usb;
	int r;

	r = resources_list(SYS_BUS_USB, &entries, err);
	if (r < 0)
		return r;

	devices = json_array();
	for (char **e = entries; *e; e++) {
		autofree char *path = sysfs_path(SYS_BUS_USB, *e);
		uint64_t class;

		/* Devices have a bus number; interfaces do not. Hubs are left out. */
		if (!sysfs_exists(path, "busnum"))
			continue;
		if (read_hex(path, "bDeviceClass", &class) == 0 && class == 9)
			continue;
		(void)json_array_append_new(devices, usb_device_json(ctx, *e));
	}

	usb = json_object();
	res_put_new(usb, "devices", devices);
	res_put_u64(usb, "total", json_array_size(devices));
	*ret = usb;
	return 0;
}
