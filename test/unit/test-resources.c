#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "daemon/hwdb.h"
#include "daemon/resources.h"
#include "daemon/sysfs.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

static json_t *resources(void)
{
	struct error err = ERROR_INIT;
	json_t *res = NULL;
	int r;

	r = resources_get(&res, &err);
	ck_assert_msg(r == 0, "resources_get: %s", error_message(&err));
	ck_assert_ptr_nonnull(res);
	error_clear(&err);
	return res;
}

/* --- The shape of the answer, transcribed from the LXD OpenAPI spec -------------------- */

/* type: 's' string, 'i' signed integer, 'u' unsigned integer, 'b' boolean, 'n' number,
 * 'o' object of definition ref, 'a' array of ref (or of strings when ref is NULL),
 * 'm' map of ref (or of strings). required: Go writes the key even when empty. */
struct field {
	const char *name;
	char type;
	bool required;
	const char *ref;
};

struct definition {
	const char *name;
	const struct field *fields;
};

#define END                          \
	{                            \
		NULL, 0, false, NULL \
	}

static const struct field f_resources[] = {
	{ "cpu", 'o', true, "ResourcesCPU" },
	{ "memory", 'o', true, "ResourcesMemory" },
	{ "gpu", 'o', true, "ResourcesGPU" },
	{ "network", 'o', true, "ResourcesNetwork" },
	{ "storage", 'o', true, "ResourcesStorage" },
	{ "usb", 'o', true, "ResourcesUSB" },
	{ "pci", 'o', true, "ResourcesPCI" },
	{ "system", 'o', true, "ResourcesSystem" },
	END,
};
static const struct field f_cpu[] = {
	{ "architecture", 's', true, NULL },
	{ "sockets", 'a', true, "ResourcesCPUSocket" },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_cpu_socket[] = {
	{ "name", 's', false, NULL },
	{ "vendor", 's', false, NULL },
	{ "socket", 'u', true, NULL },
	{ "cache", 'a', false, "ResourcesCPUCache" },
	{ "cores", 'a', true, "ResourcesCPUCore" },
	{ "frequency", 'u', false, NULL },
	{ "frequency_minimum", 'u', false, NULL },
	{ "frequency_turbo", 'u', false, NULL },
	END,
};
static const struct field f_cpu_cache[] = {
	{ "level", 'u', true, NULL },
	{ "type", 's', true, NULL },
	{ "size", 'u', true, NULL },
	END,
};
static const struct field f_cpu_core[] = {
	{ "core", 'u', true, NULL },
	{ "die", 'u', true, NULL },
	{ "threads", 'a', true, "ResourcesCPUThread" },
	{ "frequency", 'u', false, NULL },
	END,
};
static const struct field f_cpu_thread[] = {
	{ "id", 'i', true, NULL },	 { "numa_node", 'u', true, NULL },
	{ "thread", 'u', true, NULL },	 { "online", 'b', true, NULL },
	{ "isolated", 'b', true, NULL }, END,
};
static const struct field f_gpu[] = {
	{ "cards", 'a', true, "ResourcesGPUCard" },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_gpu_card[] = {
	{ "driver", 's', false, NULL },
	{ "driver_version", 's', false, NULL },
	{ "drm", 'o', false, "ResourcesGPUCardDRM" },
	{ "sriov", 'o', false, "ResourcesGPUCardSRIOV" },
	{ "nvidia", 'o', false, "ResourcesGPUCardNvidia" },
	{ "mdev", 'm', false, "ResourcesGPUCardMdev" },
	{ "numa_node", 'u', true, NULL },
	{ "pci_address", 's', false, NULL },
	{ "vendor", 's', false, NULL },
	{ "vendor_id", 's', false, NULL },
	{ "product", 's', false, NULL },
	{ "product_id", 's', false, NULL },
	{ "usb_address", 's', false, NULL },
	END,
};
static const struct field f_gpu_drm[] = {
	{ "id", 'u', true, NULL },
	{ "card_name", 's', true, NULL },
	{ "card_device", 's', true, NULL },
	{ "control_name", 's', false, NULL },
	{ "control_device", 's', false, NULL },
	{ "render_name", 's', false, NULL },
	{ "render_device", 's', false, NULL },
	END,
};
static const struct field f_gpu_sriov[] = {
	{ "current_vfs", 'u', true, NULL },
	{ "maximum_vfs", 'u', true, NULL },
	{ "vfs", 'a', true, "ResourcesGPUCard" },
	END,
};
static const struct field f_gpu_nvidia[] = {
	{ "cuda_version", 's', false, NULL },
	{ "nvrm_version", 's', false, NULL },
	{ "brand", 's', true, NULL },
	{ "model", 's', true, NULL },
	{ "uuid", 's', false, NULL },
	{ "architecture", 's', false, NULL },
	{ "card_name", 's', true, NULL },
	{ "card_device", 's', true, NULL },
	END,
};
static const struct field f_gpu_mdev[] = {
	{ "api", 's', true, NULL },	{ "available", 'u', true, NULL },
	{ "name", 's', false, NULL },	{ "description", 's', false, NULL },
	{ "devices", 'a', true, NULL }, END,
};
static const struct field f_memory[] = {
	{ "nodes", 'a', false, "ResourcesMemoryNode" },
	{ "hugepages_total", 'u', true, NULL },
	{ "hugepages_used", 'u', true, NULL },
	{ "hugepages_size", 'u', true, NULL },
	{ "used", 'u', true, NULL },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_memory_node[] = {
	{ "numa_node", 'u', true, NULL },	{ "hugepages_used", 'u', true, NULL },
	{ "hugepages_total", 'u', true, NULL }, { "used", 'u', true, NULL },
	{ "total", 'u', true, NULL },		END,
};
static const struct field f_network[] = {
	{ "cards", 'a', true, "ResourcesNetworkCard" },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_network_card[] = {
	{ "driver", 's', false, NULL },
	{ "driver_version", 's', false, NULL },
	{ "ports", 'a', false, "ResourcesNetworkCardPort" },
	{ "sriov", 'o', false, "ResourcesNetworkCardSRIOV" },
	{ "numa_node", 'u', true, NULL },
	{ "pci_address", 's', false, NULL },
	{ "vendor", 's', false, NULL },
	{ "vendor_id", 's', false, NULL },
	{ "product", 's', false, NULL },
	{ "product_id", 's', false, NULL },
	{ "firmware_version", 's', false, NULL },
	{ "usb_address", 's', false, NULL },
	END,
};
static const struct field f_network_port[] = {
	{ "id", 's', true, NULL },
	{ "address", 's', false, NULL },
	{ "port", 'u', true, NULL },
	{ "protocol", 's', true, NULL },
	{ "supported_modes", 'a', false, NULL },
	{ "supported_ports", 'a', false, NULL },
	{ "port_type", 's', false, NULL },
	{ "transceiver_type", 's', false, NULL },
	{ "auto_negotiation", 'b', true, NULL },
	{ "link_detected", 'b', true, NULL },
	{ "link_speed", 'u', false, NULL },
	{ "link_duplex", 's', false, NULL },
	{ "infiniband", 'o', false, "ResourcesNetworkCardPortInfiniband" },
	END,
};
static const struct field f_network_ib[] = {
	{ "issm_name", 's', false, NULL },
	{ "issm_device", 's', false, NULL },
	{ "mad_name", 's', false, NULL },
	{ "mad_device", 's', false, NULL },
	{ "verb_name", 's', false, NULL },
	{ "verb_device", 's', false, NULL },
	END,
};
static const struct field f_network_sriov[] = {
	{ "current_vfs", 'u', true, NULL },
	{ "maximum_vfs", 'u', true, NULL },
	{ "vfs", 'a', true, "ResourcesNetworkCard" },
	END,
};
static const struct field f_storage[] = {
	{ "disks", 'a', true, "ResourcesStorageDisk" },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_storage_disk[] = {
	{ "id", 's', true, NULL },
	{ "device", 's', true, NULL },
	{ "model", 's', false, NULL },
	{ "type", 's', false, NULL },
	{ "read_only", 'b', true, NULL },
	{ "size", 'u', true, NULL },
	{ "removable", 'b', true, NULL },
	{ "wwn", 's', false, NULL },
	{ "numa_node", 'u', true, NULL },
	{ "device_path", 's', false, NULL },
	{ "block_size", 'u', true, NULL },
	{ "firmware_version", 's', false, NULL },
	{ "rpm", 'u', true, NULL },
	{ "serial", 's', false, NULL },
	{ "device_id", 's', true, NULL },
	{ "partitions", 'a', true, "ResourcesStorageDiskPartition" },
	{ "pci_address", 's', false, NULL },
	{ "usb_address", 's', false, NULL },
	END,
};
static const struct field f_storage_partition[] = {
	{ "id", 's', true, NULL },	  { "device", 's', true, NULL },
	{ "read_only", 'b', true, NULL }, { "size", 'u', true, NULL },
	{ "partition", 'u', true, NULL }, END,
};
static const struct field f_usb[] = {
	{ "devices", 'a', true, "ResourcesUSBDevice" },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_usb_device[] = {
	{ "bus_address", 'u', true, NULL },
	{ "device_address", 'u', true, NULL },
	{ "interfaces", 'a', true, "ResourcesUSBDeviceInterface" },
	{ "vendor", 's', true, NULL },
	{ "vendor_id", 's', true, NULL },
	{ "product", 's', true, NULL },
	{ "product_id", 's', true, NULL },
	{ "speed", 'n', true, NULL },
	END,
};
static const struct field f_usb_interface[] = {
	{ "class", 's', true, NULL },	    { "class_id", 'u', true, NULL },
	{ "driver", 's', true, NULL },	    { "driver_version", 's', true, NULL },
	{ "number", 'u', true, NULL },	    { "subclass", 's', true, NULL },
	{ "subclass_id", 'u', true, NULL }, END,
};
static const struct field f_pci[] = {
	{ "devices", 'a', true, "ResourcesPCIDevice" },
	{ "total", 'u', true, NULL },
	END,
};
static const struct field f_pci_device[] = {
	{ "driver", 's', true, NULL },
	{ "driver_version", 's', true, NULL },
	{ "numa_node", 'u', true, NULL },
	{ "pci_address", 's', true, NULL },
	{ "vendor", 's', true, NULL },
	{ "vendor_id", 's', true, NULL },
	{ "product", 's', true, NULL },
	{ "product_id", 's', true, NULL },
	{ "iommu_group", 'u', true, NULL },
	{ "vpd", 'o', true, "ResourcesPCIVPD" },
	END,
};
static const struct field f_pci_vpd[] = {
	{ "product_name", 's', false, NULL },
	{ "entries", 'm', false, NULL },
	END,
};
static const struct field f_system[] = {
	{ "uuid", 's', true, NULL },
	{ "vendor", 's', true, NULL },
	{ "product", 's', true, NULL },
	{ "family", 's', true, NULL },
	{ "version", 's', true, NULL },
	{ "sku", 's', true, NULL },
	{ "serial", 's', true, NULL },
	{ "type", 's', true, NULL },
	{ "firmware", 'o', true, "ResourcesSystemFirmware" },
	{ "chassis", 'o', true, "ResourcesSystemChassis" },
	{ "motherboard", 'o', true, "ResourcesSystemMotherboard" },
	END,
};
static const struct field f_system_firmware[] = {
	{ "vendor", 's', true, NULL },
	{ "date", 's', true, NULL },
	{ "version", 's', true, NULL },
	END,
};
static const struct field f_system_chassis[] = {
	{ "vendor", 's', true, NULL },
	{ "type", 's', true, NULL },
	{ "serial", 's', true, NULL },
	{ "version", 's', true, NULL },
	END,
};
static const struct field f_system_board[] = {
	{ "vendor", 's', true, NULL },
	{ "product", 's', true, NULL },
	{ "serial", 's', true, NULL },
	{ "version", 's', true, NULL },
	END,
};

static const struct definition definitions[] = {
	{ "Resources", f_resources },
	{ "ResourcesCPU", f_cpu },
	{ "ResourcesCPUSocket", f_cpu_socket },
	{ "ResourcesCPUCache", f_cpu_cache },
	{ "ResourcesCPUCore", f_cpu_core },
	{ "ResourcesCPUThread", f_cpu_thread },
	{ "ResourcesGPU", f_gpu },
	{ "ResourcesGPUCard", f_gpu_card },
	{ "ResourcesGPUCardDRM", f_gpu_drm },
	{ "ResourcesGPUCardSRIOV", f_gpu_sriov },
	{ "ResourcesGPUCardNvidia", f_gpu_nvidia },
	{ "ResourcesGPUCardMdev", f_gpu_mdev },
	{ "ResourcesMemory", f_memory },
	{ "ResourcesMemoryNode", f_memory_node },
	{ "ResourcesNetwork", f_network },
	{ "ResourcesNetworkCard", f_network_card },
	{ "ResourcesNetworkCardPort", f_network_port },
	{ "ResourcesNetworkCardPortInfiniband", f_network_ib },
	{ "ResourcesNetworkCardSRIOV", f_network_sriov },
	{ "ResourcesStorage", f_storage },
	{ "ResourcesStorageDisk", f_storage_disk },
	{ "ResourcesStorageDiskPartition", f_storage_partition },
	{ "ResourcesUSB", f_usb },
	{ "ResourcesUSBDevice", f_usb_device },
	{ "ResourcesUSBDeviceInterface", f_usb_interface },
	{ "ResourcesPCI", f_pci },
	{ "ResourcesPCIDevice", f_pci_device },
	{ "ResourcesPCIVPD", f_pci_vpd },
	{ "ResourcesSystem", f_system },
	{ "ResourcesSystemFirmware", f_system_firmware },
	{ "ResourcesSystemChassis", f_system_chassis },
	{ "ResourcesSystemMotherboard", f_system_board },
};

static const struct field *definition_fields(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(definitions); i++)
		if (streq(definitions[i].name, name))
			return definitions[i].fields;
	ck_abort_msg("No definition '%s' in the test's table", name);
	return NULL;
}

static void check_definition(const char *def, const json_t *obj, const char *where);

static void check_value(const struct field *f, const json_t *value, const char *where)
{
	switch (f->type) {
	case 's':
		ck_assert_msg(json_is_string(value), "%s is not a string", where);
		break;
	case 'i':
		ck_assert_msg(json_is_integer(value), "%s is not an integer", where);
		break;
	case 'u':
		ck_assert_msg(json_is_integer(value) && json_integer_value(value) >= 0,
			      "%s is not an unsigned integer", where);
		break;
	case 'b':
		ck_assert_msg(json_is_boolean(value), "%s is not a boolean", where);
		break;
	case 'n':
		ck_assert_msg(json_is_number(value), "%s is not a number", where);
		break;
	case 'o':
		ck_assert_msg(json_is_object(value), "%s is not an object", where);
		check_definition(f->ref, value, where);
		break;
	case 'a':
		ck_assert_msg(json_is_array(value), "%s is not an array", where);
		for (size_t i = 0; i < json_array_size(value); i++) {
			autofree char *at = str_printf("%s[%zu]", where, i);
			json_t *item = json_array_get(value, i);

			if (f->ref) {
				ck_assert_msg(json_is_object(item), "%s is not an object", at);
				check_definition(f->ref, item, at);
			} else {
				ck_assert_msg(json_is_string(item), "%s is not a string", at);
			}
		}
		break;
	case 'm':
		ck_assert_msg(json_is_object(value), "%s is not a map", where);
		for (void *it = json_object_iter((json_t *)value); it;
		     it = json_object_iter_next((json_t *)value, it)) {
			const char *key = json_object_iter_key(it);
			json_t *item = json_object_iter_value(it);
			autofree char *at = str_printf("%s.%s", where, key);

			if (f->ref)
				check_definition(f->ref, item, at);
			else
				ck_assert_msg(json_is_string(item), "%s is not a string", at);
		}
		break;
	default:
		ck_abort_msg("Bad type '%c' in the test's table", f->type);
	}
}

/* Every key is in the spec with the spec's type; every key Go always writes is there. */
static void check_definition(const char *def, const json_t *obj, const char *where)
{
	const struct field *fields = definition_fields(def);

	for (void *it = json_object_iter((json_t *)obj); it;
	     it = json_object_iter_next((json_t *)obj, it)) {
		const char *key = json_object_iter_key(it);
		json_t *value = json_object_iter_value(it);
		autofree char *at = str_printf("%s.%s", where, key);
		const struct field *f = fields;

		while (f->name && !streq(f->name, key))
			f++;
		ck_assert_msg(f->name != NULL, "%s is not in %s", at, def);
		check_value(f, value, at);
	}

	for (const struct field *f = fields; f->name; f++)
		ck_assert_msg(!f->required || json_object_get(obj, f->name), "%s.%s is missing",
			      where, f->name);
}

START_TEST(test_resources_match_spec)
{
	autojson json_t *res = resources();

	check_definition("Resources", res, "resources");
}
END_TEST

/* --- What this host has ------------------------------------------------------------- */

START_TEST(test_cpu_threads_match_sysconf)
{
	autojson json_t *res = resources();
	json_t *cpu = json_object_get(res, "cpu");
	json_t *sockets = json_object_get(cpu, "sockets");
	long long total = 0, threads = 0;
	struct utsname uts;

	ck_assert(json_get_int(cpu, "total", &total));
	ck_assert_int_eq(total, sysconf(_SC_NPROCESSORS_CONF));

	for (size_t i = 0; i < json_array_size(sockets); i++) {
		json_t *cores = json_object_get(json_array_get(sockets, i), "cores");

		for (size_t j = 0; j < json_array_size(cores); j++) {
			json_t *list = json_object_get(json_array_get(cores, j), "threads");

			for (size_t k = 0; k < json_array_size(list); k++) {
				long long number = -1;

				ck_assert(json_get_int(json_array_get(list, k), "thread", &number));
				ck_assert_int_eq(number, (long long)k);
				threads++;
			}
		}
	}
	ck_assert_int_eq(threads, total);

	ck_assert_int_eq(uname(&uts), 0);
	ck_assert_str_eq(json_get_str(cpu, "architecture"), uts.machine);
}
END_TEST

static uint64_t meminfo_total(void)
{
	autofree char *data = NULL;
	const char *line;
	char *end;
	unsigned long long kb;

	ck_assert_int_eq(read_file("/proc/meminfo", (size_t)1 << 20, &data, NULL, NULL), 0);
	line = strstr(data, "MemTotal:");
	ck_assert_ptr_nonnull(line);
	kb = strtoull(line + strlen("MemTotal:"), &end, 10);
	ck_assert(str_has_prefix(end, " kB\n"));
	return (uint64_t)kb * 1024;
}

/* What LXD counts instead of MemTotal, when the kernel lists memory blocks. */
static uint64_t memory_blocks_total(void)
{
	autoclean(sysfs_list_freep) char **entries = NULL;
	autofree char *hex = sysfs_read_str("/sys/devices/system/memory", "block_size_bytes");
	uint64_t count = 0;

	if (!hex || sysfs_list("/sys/devices/system/memory", &entries) < 0)
		return 0;
	for (char **e = entries; *e; e++) {
		autofree char *dir = str_printf("/sys/devices/system/memory/%s", *e);
		uint64_t online = 0;

		if (str_has_prefix(*e, "memory") && sysfs_read_u64(dir, "online", &online) == 0 &&
		    online == 1)
			count++;
	}
	return count * strtoull(hex, NULL, 16);
}

START_TEST(test_memory_total_matches_meminfo)
{
	autojson json_t *res = resources();
	json_t *memory = json_object_get(res, "memory");
	uint64_t meminfo = meminfo_total();
	uint64_t blocks = memory_blocks_total();
	long long total = 0, used = 0;

	ck_assert(json_get_int(memory, "total", &total));
	ck_assert(json_get_int(memory, "used", &used));

	/* Like LXD, the total counts the memory the kernel reserved for itself (not in
	 * MemTotal) when memory blocks are listed; MemTotal otherwise. */
	if (blocks > 0) {
		ck_assert_uint_eq((uint64_t)total, blocks);
		ck_assert_uint_ge((uint64_t)total, meminfo);
	} else {
		ck_assert_uint_eq((uint64_t)total, meminfo);
	}
	ck_assert_int_le(used, total);
}
END_TEST

static bool is_mac(const char *s)
{
	if (!s || strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

START_TEST(test_network_ports_are_macs)
{
	autojson json_t *res = resources();
	autojson json_t *seen = json_object();
	autoclean(sysfs_list_freep) char **netdevs = NULL;
	json_t *network = json_object_get(res, "network");
	json_t *cards = json_object_get(network, "cards");
	long long total = 0;

	for (size_t i = 0; i < json_array_size(cards); i++) {
		json_t *ports = json_object_get(json_array_get(cards, i), "ports");

		for (size_t j = 0; j < json_array_size(ports); j++) {
			json_t *port = json_array_get(ports, j);
			const char *protocol = json_get_str(port, "protocol");
			const char *id = json_get_str(port, "id");
			const char *address = json_get_str(port, "address");

			if (protocol && streq(protocol, "ethernet"))
				ck_assert_msg(is_mac(address), "Port '%s' has address '%s'", id,
					      address ? address : "(none)");
			(void)json_object_set_new(seen, id, json_true());
		}
	}
	ck_assert(json_get_int(network, "total", &total));
	ck_assert_int_ge(total, (long long)json_array_size(cards));

	/* Every interface backed by a device is some card's port; virtual ones are not. */
	ck_assert_int_ge(sysfs_list("/sys/class/net", &netdevs), 0);
	for (char **e = netdevs; *e; e++) {
		autofree char *path = str_printf("/sys/class/net/%s", *e);

		if (sysfs_exists(path, "device"))
			ck_assert_msg(json_object_get(seen, *e), "Interface '%s' is missing", *e);
		else
			ck_assert_msg(!json_object_get(seen, *e), "Interface '%s' is virtual", *e);
	}
}
END_TEST

START_TEST(test_storage_lists_disks_not_partitions)
{
	autojson json_t *res = resources();
	autojson json_t *ids = json_object();
	autoclean(sysfs_list_freep) char **blocks = NULL;
	json_t *storage = json_object_get(res, "storage");
	json_t *disks = json_object_get(storage, "disks");
	long long total = 0, counted = 0;

	for (size_t i = 0; i < json_array_size(disks); i++) {
		json_t *disk = json_array_get(disks, i);

		counted += 1 + (long long)json_array_size(json_object_get(disk, "partitions"));
		(void)json_object_set_new(ids, json_get_str(disk, "id"), json_true());
	}
	ck_assert(json_get_int(storage, "total", &total));
	ck_assert_int_eq(total, counted);

	/* Disks are the block devices with a device behind them: not loop, zram or
	 * partitions; and not rbd, which is no local disk. */
	if (sysfs_list("/sys/class/block", &blocks) < 0)
		return;
	for (char **e = blocks; *e; e++) {
		autofree char *path = str_printf("/sys/class/block/%s", *e);
		autofree char *device = str_printf("%s/device", path);
		autofree char *subsystem = sysfs_link_name(device, "subsystem");
		bool is_disk = sysfs_exists(path, "device") && sysfs_exists(path, "dev") &&
			       !(subsystem && streq(subsystem, "rbd"));

		ck_assert_msg(!is_disk || json_object_get(ids, *e), "Disk '%s' is missing", *e);
		ck_assert_msg(is_disk || !json_object_get(ids, *e), "'%s' is no disk", *e);
	}
}
END_TEST

START_TEST(test_pci_lists_every_function)
{
	autojson json_t *res = resources();
	autoclean(sysfs_list_freep) char **functions = NULL;
	json_t *pci = json_object_get(res, "pci");
	int n = sysfs_list("/sys/bus/pci/devices", &functions);
	long long total = 0;

	ck_assert(json_get_int(pci, "total", &total));
	ck_assert_int_eq(total, n < 0 ? 0 : n);
	ck_assert_int_eq(total, (long long)json_array_size(json_object_get(pci, "devices")));
}
END_TEST

START_TEST(test_system_type)
{
	autojson json_t *res = resources();
	const char *type = json_get_str(json_object_get(res, "system"), "type");

	ck_assert_ptr_nonnull(type);
	ck_assert_msg(streq(type, "physical") || streq(type, "virtual-machine") ||
			      streq(type, "container"),
		      "Unexpected system type '%s'", type);
}
END_TEST

/* --- Hardware names ----------------------------------------------------------------- */

static const char ids_fixture[] = "# comment\n"
				  "1af4  Red Hat, Inc.\n"
				  "\t1000  Virtio network device\n"
				  "\t\t1af4 0001  Virtio network device\n"
				  "# a comment inside the list\n"
				  "\t1001  Virtio block device\n"
				  "1b36  Red Hat, Inc.\n"
				  "\t0001  QEMU PCI-PCI bridge\n"
				  "C 03  Human Interface Device\n"
				  "\t01  Boot Interface Subclass\n";

START_TEST(test_hwdb_lookup)
{
	autofree char *vendor = NULL;
	autofree char *product = NULL;
	autofree char *missing = NULL;
	autofree char *class = NULL;
	autofree char *subclass = NULL;
	autofree char *other = NULL;
	char *none = NULL;

	ck_assert_int_eq(hwdb_lookup(ids_fixture, "1af4", "1001", &vendor, &product), 0);
	ck_assert_str_eq(vendor, "Red Hat, Inc.");
	ck_assert_str_eq(product, "Virtio block device");

	/* Ids of another vendor, or a subsystem line, are no match. */
	ck_assert_int_eq(hwdb_lookup(ids_fixture, "1AF4", "0001", &missing, &none), 0);
	ck_assert_ptr_null(none);

	ck_assert_int_eq(hwdb_lookup(ids_fixture, "C 03", "01", &class, &subclass), 0);
	ck_assert_str_eq(class, "Human Interface Device");
	ck_assert_str_eq(subclass, "Boot Interface Subclass");

	ck_assert_int_eq(hwdb_lookup(ids_fixture, "8086", NULL, &other, NULL), -ENOENT);
	ck_assert_int_eq(hwdb_lookup(NULL, "1af4", NULL, &other, NULL), -ENOENT);
	ck_assert_ptr_null(other);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("resources");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_resources_match_spec);
	tcase_add_test(tc, test_cpu_threads_match_sysconf);
	tcase_add_test(tc, test_memory_total_matches_meminfo);
	tcase_add_test(tc, test_network_ports_are_macs);
	tcase_add_test(tc, test_storage_lists_disks_not_partitions);
	tcase_add_test(tc, test_pci_lists_every_function);
	tcase_add_test(tc, test_system_type);
	tcase_add_test(tc, test_hwdb_lookup);
	suite_add_tcase(s, tc);
	return s;
}
