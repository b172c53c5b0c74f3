#include "daemon/resources.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "daemon/hwdb.h"
#include "daemon/resources-internal.h"
#include "daemon/sysfs.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

#define SYS_CPU	   "/sys/devices/system/cpu"
#define SYS_NODE   "/sys/devices/system/node"
#define SYS_MEMORY "/sys/devices/system/memory"
#define SYS_DMI	   "/sys/class/dmi/id"

/* /proc/cpuinfo grows with the CPU count, about 1.5 KiB each on x86. */
#define CPUINFO_MAX ((size_t)64 * 1024 * 1024)
#define MEMINFO_MAX ((size_t)1024 * 1024)

/* --- JSON the way Go's encoding/json writes LXD's structs ------------------------------ */

static json_t *json_str_sanitized(const char *s)
{
	autofree char *copy = NULL;
	json_t *j;

	j = json_string(s ? s : "");
	if (j)
		return j;

	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(copy);
}

void res_put_new(json_t *obj, const char *key, json_t *value)
{
	if (value)
		(void)json_object_set_new(obj, key, value);
}

void res_put_array_nonempty(json_t *obj, const char *key, json_t *array)
{
	if (json_array_size(array) > 0)
		res_put_new(obj, key, array);
	else
		json_decref(array);
}

void res_put_str(json_t *obj, const char *key, const char *value)
{
	res_put_new(obj, key, json_str_sanitized(value));
}

void res_put_str_nonempty(json_t *obj, const char *key, const char *value)
{
	if (!str_is_empty(value))
		res_put_str(obj, key, value);
}

void res_put_u64(json_t *obj, const char *key, uint64_t value)
{
	res_put_new(obj, key, json_integer(value > LLONG_MAX ? LLONG_MAX : (json_int_t)value));
}

void res_put_u64_nonzero(json_t *obj, const char *key, uint64_t value)
{
	if (value != 0)
		res_put_u64(obj, key, value);
}

void res_put_bool(json_t *obj, const char *key, bool value)
{
	res_put_new(obj, key, json_boolean(value));
}

int resources_list(const char *dir, char ***ret, struct error *err)
{
	int r;

	r = sysfs_list(dir, ret);
	if (r == -ENOENT) {
		*ret = xcalloc(1, sizeof(char *));
		return 0;
	}
	if (r < 0)
		return error_errno(err, r, "Failed to list '%s'", dir);
	return r;
}

/* --- Devices: what network cards, GPUs and PCI devices share ---------------------------- */

static char *parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return NULL;
	return xstrndup(path, (size_t)(slash - path));
}

char *resources_pci_address(const char *path)
{
	autofree char *target = NULL;
	autofree char *subsystem = NULL;
	const char *slash;

	if (!sysfs_exists(path, "subsystem"))
		return NULL;

	target = realpath(path, NULL);
	if (!target)
		return NULL;

	subsystem = sysfs_link_name(target, "subsystem");
	if (subsystem && streq(subsystem, "virtio")) {
		/* A virtio device sits on the PCI function that transports it. */
		char *parent = parent_dir(target);

		if (!parent)
			return NULL;
		free(target);
		target = parent;
		free(subsystem);
		subsystem = sysfs_link_name(target, "subsystem");
	}
	if (!subsystem || !streq(subsystem, "pci"))
		return NULL;

	slash = strrchr(target, '/');
	return xstrdup(slash ? slash + 1 : target);
}

char *resources_usb_address(const char *path)
{
	autofree char *dir = realpath(path, NULL);

	if (!dir || !strstr(dir, "/usb"))
		return NULL;

	while (!str_is_empty(dir) && !streq(dir, "/")) {
		uint64_t bus, dev;
		char *parent;

		if (sysfs_read_u64(dir, "busnum", &bus) == 0 &&
		    sysfs_read_u64(dir, "devnum", &dev) == 0)
			return str_printf("%llu:%llu", (unsigned long long)bus,
					  (unsigned long long)dev);

		parent = parent_dir(dir);
		free(dir);
		dir = parent;
	}

	return NULL;
}

static char *read_hex_id(const char *path, const char *name)
{
	autofree char *id = sysfs_read_str(path, name);

	if (!id)
		return NULL;
	return xstrdup(str_has_prefix(id, "0x") ? id + 2 : id);
}

void resources_device_read(const struct resources_ctx *ctx, const char *path, bool ids,
			   struct device_info *info)
{
	int64_t numa = -1;

	*info = (struct device_info){ 0 };

	if (sysfs_exists(path, "sriov_numvfs")) {
		info->sriov = true;
		(void)sysfs_read_u64(path, "sriov_totalvfs", &info->sriov_maximum);
		(void)sysfs_read_u64(path, "sriov_numvfs", &info->sriov_current);
	}

	/* Devices outside any NUMA node say -1. */
	if (sysfs_read_i64(path, "numa_node", &numa) == 0 && numa > 0)
		info->numa_node = (uint64_t)numa;

	if (ids) {
		info->vendor_id = read_hex_id(path, "vendor");
		info->product_id = read_hex_id(path, "device");
		if (info->vendor_id)
			(void)hwdb_lookup(ctx->pci_db, info->vendor_id, info->product_id,
					  &info->vendor, info->product_id ? &info->product : NULL);
	}

	info->driver = sysfs_link_name(path, "driver");
	if (info->driver) {
		autofree char *driver = sysfs_path(path, "driver");

		/* Built-in drivers have no module version: LXD reports the kernel's. */
		info->driver_version = sysfs_read_str(driver, "module/version");
		if (!info->driver_version)
			info->driver_version = xstrdup(ctx->uts.release);
	}
}

void resources_device_release(struct device_info *info)
{
	free(info->driver);
	free(info->driver_version);
	free(info->vendor_id);
	free(info->product_id);
	free(info->vendor);
	free(info->product);
	*info = (struct device_info){ 0 };
}

json_t *resources_sriov_json(const struct device_info *info)
{
	json_t *sriov;

	if (!info->sriov)
		return NULL;

	sriov = json_object();
	res_put_u64(sriov, "current_vfs", info->sriov_current);
	res_put_u64(sriov, "maximum_vfs", info->sriov_maximum);
	return sriov;
}

uint64_t resources_cards_attach_vfs(json_t *cards, json_t *vfs)
{
	uint64_t total = 0;

	for (size_t i = 0; i < json_array_size(cards); i++) {
		json_t *card = json_array_get(cards, i);
		json_t *sriov = json_object_get(card, "sriov");
		const char *address = json_get_str(card, "pci_address");
		json_t *list;

		total++;
		if (!sriov)
			continue;

		list = json_array();
		for (size_t j = 0; j < json_array_size(vfs); j++) {
			json_t *vf = json_array_get(vfs, j);
			const char *parent = json_get_str(vf, "parent");

			if (address && parent && streq(address, parent))
				(void)json_array_append(list, json_object_get(vf, "card"));
		}
		total += json_array_size(list);
		res_put_new(sriov, "vfs", list);
	}

	return total;
}

/* --- CPU ------------------------------------------------------------------------------ */

struct cpu_thread {
	int64_t id; /* the N of cpuN */
	uint64_t socket;
	uint64_t die;
	uint64_t core;
	uint64_t numa_node;
	bool online;
	bool isolated;
};

/* True when id is in a kernel CPU list such as "0-3,8,10-11". */
static bool cpulist_contains(const char *list, int64_t id)
{
	const char *p = list;

	while (p && *p) {
		char *end;
		long long lo, hi;

		lo = strtoll(p, &end, 10);
		if (end == p)
			return false;
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = strtoll(p, &end, 10);
			if (end == p)
				return false;
		}
		if (id >= lo && id <= hi)
			return true;
		p = *end == ',' ? end + 1 : NULL;
	}

	return false;
}

/* The topology value, or 0 where the architecture does not report it (-1), as LXD does. */
static uint64_t cpu_topology(const char *cpu, const char *name)
{
	autofree char *dir = sysfs_path(cpu, "topology");
	int64_t value = -1;

	if (sysfs_read_i64(dir, name, &value) < 0 || value < 0)
		return 0;
	return (uint64_t)value;
}

/* A CPU's NUMA node is the nodeN link in its directory (pointing at a node with numastat);
 * without one, the machine has a single node. */
static uint64_t cpu_numa_node(const char *cpu)
{
	autoclean(sysfs_list_freep) char **entries = NULL;

	if (sysfs_list(cpu, &entries) < 0)
		return 0;

	for (char **e = entries; *e; e++) {
		autofree char *node = NULL;
		uint64_t number;

		if (!str_has_prefix(*e, "node") || parse_u64(*e + 4, &number) < 0)
			continue;
		node = sysfs_path(cpu, *e);
		if (sysfs_exists(node, "numastat"))
			return number;
	}

	return 0;
}

static int cpu_thread_compare(const void *a, const void *b)
{
	const struct cpu_thread *x = a, *y = b;

	if (x->socket != y->socket)
		return x->socket < y->socket ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	if (x->die != y->die)
		return x->die < y->die ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/* The value for key in the /proc/cpuinfo block of processor, or NULL. */
static char *cpuinfo_value(const char *cpuinfo, int64_t processor, const char *key)
{
	bool in_block = false;

	for (const char *line = cpuinfo; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *next = end ? end + 1 : NULL;
		const char *colon;
		autofree char *k = NULL;
		autofree char *v = NULL;

		if (!end)
			end = line + strlen(line);
		colon = memchr(line, ':', (size_t)(end - line));
		if (!colon) {
			/* A blank line ends a processor's block. */
			in_block = false;
			line = next;
			continue;
		}

		k = xstrndup(line, (size_t)(colon - line));
		v = xstrndup(colon + 1, (size_t)(end - colon - 1));
		k[strcspn(k, "\t")] = '\0';
		for (size_t n = strlen(k); n > 0 && k[n - 1] == ' '; n--)
			k[n - 1] = '\0';

		if (streq(k, "processor")) {
			int64_t number;

			in_block = parse_i64(v + strspn(v, " \t"), &number) == 0 &&
				   number == processor;
		} else if (in_block && streq(k, key)) {
			char *value = v + strspn(v, " \t");

			return xstrdup(value);
		}

		line = next;
	}

	return NULL;
}

static json_t *cpu_cache_json(const char *cpu)
{
	autofree char *dir = sysfs_path(cpu, "cache");
	autoclean(sysfs_list_freep) char **entries = NULL;
	json_t *caches;

	if (sysfs_list(dir, &entries) < 0)
		return NULL;

	caches = json_array();
	for (char **e = entries; *e; e++) {
		autofree char *index = sysfs_path(dir, *e);
		autofree char *size = NULL;
		autofree char *type = NULL;
		uint64_t level, bytes = 0;
		json_t *cache;

		if (sysfs_read_u64(index, "level", &level) < 0)
			continue;

		/* The kernel writes sizes as "48K". */
		size = sysfs_read_str(index, "size");
		if (size) {
			uint64_t multiplier = 1;

			if (str_has_suffix(size, "K")) {
				multiplier = 1024;
				size[strlen(size) - 1] = '\0';
			}
			if (parse_u64(size, &bytes) == 0)
				bytes *= multiplier;
			else
				bytes = 0;
		}
		type = sysfs_read_str(index, "type");

		cache = json_object();
		res_put_u64(cache, "level", level);
		res_put_str(cache, "type", type ? type : "Unknown");
		res_put_u64(cache, "size", bytes);
		(void)json_array_append_new(caches, cache);
	}

	return caches;
}

/* In MHz; sysfs counts kHz. 0 when the file is missing. */
static uint64_t cpu_freq(const char *cpu, const char *name, const char *fallback)
{
	autofree char *dir = sysfs_path(cpu, "cpufreq");
	uint64_t khz = 0;

	if (sysfs_read_u64(dir, name, &khz) < 0 && fallback)
		(void)sysfs_read_u64(dir, fallback, &khz);
	return khz / 1000;
}

/* One socket from its threads, sorted by core, die and id. */
static json_t *cpu_socket_json(const struct cpu_thread *threads, size_t n, const char *cpuinfo)
{
	autofree char *cpu = NULL;
	autofree char *name = NULL;
	autofree char *vendor = NULL;
	uint64_t freq_sum = 0, freq_count = 0;
	int64_t first = threads[0].id;
	json_t *socket, *cores;

	/* The socket's lowest-numbered CPU speaks for it. */
	for (size_t i = 1; i < n; i++)
		if (threads[i].id < first)
			first = threads[i].id;
	cpu = str_printf(SYS_CPU "/cpu%lld", (long long)first);

	if (cpuinfo) {
		vendor = cpuinfo_value(cpuinfo, first, "vendor_id");
		name = cpuinfo_value(cpuinfo, first, "model name");
		if (!name)
			name = cpuinfo_value(cpuinfo, first, "cpu"); /* POWER */
	}

	cores = json_array();
	for (size_t i = 0; i < n;) {
		autofree char *core_cpu = str_printf(SYS_CPU "/cpu%lld", (long long)threads[i].id);
		uint64_t freq = cpu_freq(core_cpu, "scaling_cur_freq", NULL);
		json_t *core = json_object();
		json_t *list = json_array();
		size_t end = i;

		while (end < n && threads[end].core == threads[i].core &&
		       threads[end].die == threads[i].die) {
			json_t *thread = json_object();

			res_put_new(thread, "id", json_integer(threads[end].id));
			res_put_u64(thread, "numa_node", threads[end].numa_node);
			res_put_u64(thread, "thread", end - i);
			res_put_bool(thread, "online", threads[end].online);
			res_put_bool(thread, "isolated", threads[end].isolated);
			(void)json_array_append_new(list, thread);
			end++;
		}

		res_put_u64(core, "core", threads[i].core);
		res_put_u64(core, "die", threads[i].die);
		res_put_new(core, "threads", list);
		res_put_u64_nonzero(core, "frequency", freq);
		(void)json_array_append_new(cores, core);

		if (freq > 0) {
			freq_sum += freq;
			freq_count++;
		}
		i = end;
	}

	socket = json_object();
	res_put_str_nonempty(socket, "name", name);
	res_put_str_nonempty(socket, "vendor", vendor);
	res_put_u64(socket, "socket", threads[0].socket);
	res_put_new(socket, "cache", cpu_cache_json(cpu));
	res_put_new(socket, "cores", cores);
	res_put_u64_nonzero(socket, "frequency", freq_count ? freq_sum / freq_count : 0);
	res_put_u64_nonzero(socket, "frequency_minimum",
			    cpu_freq(cpu, "cpuinfo_min_freq", "scaling_min_freq"));
	res_put_u64_nonzero(socket, "frequency_turbo",
			    cpu_freq(cpu, "cpuinfo_max_freq", "scaling_max_freq"));
	return socket;
}

static int cpu_get(const struct resources_ctx *ctx, json_t **ret, struct error *err)
{
	autoclean(sysfs_list_freep) char **entries = NULL;
	autofree struct cpu_thread *threads = NULL;
	autofree char *isolated = sysfs_read_str(SYS_CPU, "isolated");
	autofree char *cpuinfo = NULL;
	json_t *cpu, *sockets;
	size_t n = 0;
	int r;

	r = sysfs_list(SYS_CPU, &entries);
	if (r < 0)
		return error_errno(err, r, "Failed to list '%s'", SYS_CPU);
	threads = xcalloc((size_t)r, sizeof(*threads));

	/* Without /proc/cpuinfo the sockets only lose their names. */
	(void)read_file("/proc/cpuinfo", CPUINFO_MAX, &cpuinfo, NULL, NULL);

	for (char **e = entries; *e; e++) {
		autofree char *path = NULL;
		struct cpu_thread *t = &threads[n];
		uint64_t online = 1;
		int64_t id;

		if (!str_has_prefix(*e, "cpu") || parse_i64(*e + 3, &id) < 0)
			continue;
		path = sysfs_path(SYS_CPU, *e);
		if (!sysfs_exists(path, "topology"))
			continue;

		t->id = id;
		t->socket = cpu_topology(path, "physical_package_id");
		t->core = cpu_topology(path, "core_id");
		t->die = cpu_topology(path, "die_id");
		t->numa_node = cpu_numa_node(path);
		/* The boot CPU usually cannot go offline and has no "online" file. */
		(void)sysfs_read_u64(path, "online", &online);
		t->online = online != 0;
		t->isolated = isolated && cpulist_contains(isolated, id);
		n++;
	}
	qsort(threads, n, sizeof(*threads), cpu_thread_compare);

	sockets = json_array();
	for (size_t i = 0; i < n;) {
		size_t end = i;

		while (end < n && threads[end].socket == threads[i].socket)
			end++;
		(void)json_array_append_new(sockets,
					    cpu_socket_json(threads + i, end - i, cpuinfo));
		i = end;
	}

	cpu = json_object();
	res_put_str(cpu, "architecture", ctx->uts.machine);
	res_put_new(cpu, "sockets", sockets);
	res_put_u64(cpu, "total", n);
	*ret = cpu;
	return 0;
}

/* --- Memory --------------------------------------------------------------------------- */

struct meminfo {
	uint64_t total;
	uint64_t free;
	uint64_t used; /* per NUMA node only */
	uint64_t cached;
	uint64_t buffers;
	uint64_t hugepages_total; /* pages */
	uint64_t hugepages_free;  /* pages */
	uint64_t hugepages_size;  /* bytes */
};

/* Reads /proc/meminfo or a node's meminfo, whose lines start with "Node 0 ". Values in kB
 * become bytes; page counts stay counts. */
static int meminfo_read(const char *path, struct meminfo *ret)
{
	autofree char *data = NULL;
	struct meminfo info = { 0 };
	int r;

	r = read_file(path, MEMINFO_MAX, &data, NULL, NULL);
	if (r < 0)
		return r;

	for (char *line = data; line && *line;) {
		char *end = strchr(line, '\n');
		char *colon, *key, *value;
		uint64_t number;

		if (end)
			*end = '\0';
		colon = strchr(line, ':');
		if (colon) {
			*colon = '\0';
			key = strrchr(line, ' ');
			key = key ? key + 1 : line;
			value = colon + 1 + strspn(colon + 1, " \t");
			if (str_has_suffix(value, " kB")) {
				value[strlen(value) - 3] = '\0';
				if (parse_u64(value, &number) < 0)
					number = 0;
				number *= 1024;
			} else if (parse_u64(value, &number) < 0) {
				number = 0;
			}

			if (streq(key, "MemTotal"))
				info.total = number;
			else if (streq(key, "MemFree"))
				info.free = number;
			else if (streq(key, "MemUsed"))
				info.used = number;
			else if (streq(key, "Cached"))
				info.cached = number;
			else if (streq(key, "Buffers"))
				info.buffers = number;
			else if (streq(key, "HugePages_Total"))
				info.hugepages_total = number;
			else if (streq(key, "HugePages_Free"))
				info.hugepages_free = number;
			else if (streq(key, "Hugepagesize"))
				info.hugepages_size = number;
		}
		line = end ? end + 1 : NULL;
	}

	*ret = info;
	return 0;
}

/* MemTotal leaves out what the kernel reserved for itself; like LXD, count the memory blocks
 * that are online instead, when the kernel lists them (memory hotplug). 0 otherwise. */
static uint64_t memory_blocks_total(const char *dir)
{
	autoclean(sysfs_list_freep) char **entries = NULL;
	autofree char *hex = sysfs_read_str(SYS_MEMORY, "block_size_bytes");
	unsigned long long block_size;
	uint64_t count = 0;
	char *end;

	if (!hex)
		return 0;
	errno = 0;
	block_size = strtoull(hex, &end, 16);
	if (errno != 0 || end == hex || *end != '\0' || block_size == 0)
		return 0;

	if (sysfs_list(dir, &entries) < 0)
		return 0;

	for (char **e = entries; *e; e++) {
		autofree char *block = NULL;
		autofree char *online = NULL;

		if (!str_has_prefix(*e, "memory"))
			continue;
		block = sysfs_path(dir, *e);
		online = sysfs_read_str(block, "online");
		if (online && streq(online, "1"))
			count++;
	}

	return count * block_size;
}

static json_t *memory_nodes_json(uint64_t hugepages_size)
{
	autoclean(sysfs_list_freep) char **entries = NULL;
	json_t *nodes = json_array();

	if (sysfs_list(SYS_NODE, &entries) < 0)
		return nodes;

	for (char **e = entries; *e; e++) {
		autofree char *path = sysfs_path(SYS_NODE, *e);
		autofree char *meminfo = NULL;
		struct meminfo info;
		uint64_t number, blocks;
		json_t *node;

		if (!str_has_prefix(*e, "node") || parse_u64(*e + 4, &number) < 0)
			continue;
		meminfo = sysfs_path(path, "meminfo");
		if (meminfo_read(meminfo, &info) < 0)
			continue;

		blocks = memory_blocks_total(path);
		node = json_object();
		res_put_u64(node, "numa_node", number);
		res_put_u64(node, "hugepages_used",
			    (info.hugepages_total - info.hugepages_free) * hugepages_size);
		res_put_u64(node, "hugepages_total", info.hugepages_total * hugepages_size);
		res_put_u64(node, "used", info.used);
		res_put_u64(node, "total", blocks ? blocks : info.total);
		(void)json_array_append_new(nodes, node);
	}

	return nodes;
}

static int memory_get(json_t **ret, struct error *err)
{
	struct meminfo info;
	uint64_t total, blocks, unused;
	json_t *memory;
	int r;

	r = meminfo_read("/proc/meminfo", &info);
	if (r < 0)
		return error_errno(err, r, "Failed to read '/proc/meminfo'");

	blocks = memory_blocks_total(SYS_MEMORY);
	total = blocks ? blocks : info.total;
	unused = info.free + info.cached + info.buffers;

	memory = json_object();
	if (sysfs_exists(NULL, SYS_NODE))
		res_put_new(memory, "nodes", memory_nodes_json(info.hugepages_size));
	res_put_u64(memory, "hugepages_total", info.hugepages_total * info.hugepages_size);
	res_put_u64(memory, "hugepages_used",
		    (info.hugepages_total - info.hugepages_free) * info.hugepages_size);
	res_put_u64(memory, "hugepages_size", info.hugepages_size);
	res_put_u64(memory, "used", total > unused ? total - unused : 0);
	res_put_u64(memory, "total", total);
	*ret = memory;
	return 0;
}

/* --- System --------------------------------------------------------------------------- */

static bool file_contains(const char *path, const char *needle)
{
	autofree char *data = NULL;

	if (read_file(path, CPUINFO_MAX, &data, NULL, NULL) < 0)
		return false;
	return strstr(data, needle) != NULL;
}

/* Container managers tell init "container=<name>" (systemd's convention). Reading init's
 * environment needs privileges; without them we cannot tell. */
static bool init_has_container_env(void)
{
	autofree char *data = NULL;
	size_t len = 0;

	if (read_file("/proc/1/environ", MEMINFO_MAX, &data, &len, NULL) < 0)
		return false;

	for (size_t i = 0; i < len; i += strlen(data + i) + 1)
		if (str_has_prefix(data + i, "container="))
			return true;
	return false;
}

/* LXD asks systemd-detect-virt; we look at the same signs it does, without running it. */
static const char *system_type(void)
{
	static const char *const vm_vendors[] = {
		"QEMU",		"KVM",
		"VMware",	"VMW",
		"innotek GmbH", "VirtualBox",
		"Xen",		"Bochs",
		"Parallels",	"BHYVE",
		"Amazon EC2",	"Google Compute Engine",
		"OpenStack",	"Microsoft Corporation Virtual Machine",
		NULL,
	};
	autofree char *vendor = sysfs_read_str(SYS_DMI, "sys_vendor");
	autofree char *product = sysfs_read_str(SYS_DMI, "product_name");
	autofree char *board = sysfs_read_str(SYS_DMI, "board_vendor");
	autofree char *both = NULL;

	if (sysfs_exists(NULL, "/run/systemd/container") || sysfs_exists(NULL, "/.dockerenv") ||
	    sysfs_exists(NULL, "/run/.containerenv") ||
	    (sysfs_exists(NULL, "/proc/vz") && !sysfs_exists(NULL, "/proc/bc")) ||
	    init_has_container_env())
		return "container";

	if (sysfs_exists(NULL, "/sys/hypervisor/type") ||
	    file_contains("/proc/cpuinfo", " hypervisor"))
		return "virtual-machine";

	both = str_printf("%s %s", vendor ? vendor : "", product ? product : "");
	for (const char *const *v = vm_vendors; *v; v++) {
		if ((vendor && str_has_prefix(vendor, *v)) ||
		    (board && str_has_prefix(board, *v)) ||
		    (product && str_has_prefix(product, *v)) || str_has_prefix(both, *v))
			return "virtual-machine";
	}

	return "physical";
}

/* The DMTF SMBIOS chassis types, as LXD names them. */
static const char *const chassis_types[] = {
	[0x1] = "Other",
	[0x2] = "Unknown",
	[0x3] = "Desktop",
	[0x4] = "Low Profile Desktop",
	[0x5] = "Pizza Box",
	[0x6] = "Mini Tower",
	[0x7] = "Tower",
	[0x8] = "Portable",
	[0x9] = "Laptop",
	[0xA] = "Notebook",
	[0xB] = "Hand Held",
	[0xC] = "Docking Station",
	[0xD] = "All in One",
	[0xE] = "Sub Notebook",
	[0xF] = "Space-saving",
	[0x10] = "Lunch Box",
	[0x11] = "Main Server Chassis",
	[0x12] = "Expansion Chassis",
	[0x13] = "SubChassis",
	[0x14] = "Bus Expansion Chassis",
	[0x15] = "Peripheral Chassis",
	[0x16] = "RAID Chassis",
	[0x17] = "Rack Mount Chassis",
	[0x18] = "Sealed-case PC",
	[0x19] = "Multi-system chassis",
	[0x1A] = "Compact PCI",
	[0x1B] = "Advanced TCA",
	[0x1C] = "Blade",
	[0x1D] = "Blade Enclosure",
	[0x1E] = "Tablet",
	[0x1F] = "Convertible",
	[0x20] = "Detachable",
	[0x21] = "IoT Gateway",
	[0x22] = "Embedded PC",
	[0x23] = "Mini PC",
	[0x24] = "Stick PC",
};

/* A DMI string; serial numbers and the UUID are readable by root only, "" otherwise. */
static void put_dmi(json_t *obj, const char *key, const char *attribute)
{
	autofree char *value = sysfs_read_str(SYS_DMI, attribute);

	res_put_str(obj, key, value);
}

static json_t *system_json(void)
{
	json_t *system = json_object();
	json_t *firmware = json_object();
	json_t *chassis = json_object();
	json_t *board = json_object();
	const char *chassis_type = "";
	uint64_t type;

	put_dmi(system, "uuid", "product_uuid");
	put_dmi(system, "vendor", "sys_vendor");
	put_dmi(system, "product", "product_name");
	put_dmi(system, "family", "product_family");
	put_dmi(system, "version", "product_version");
	put_dmi(system, "sku", "product_sku");
	put_dmi(system, "serial", "product_serial");
	res_put_str(system, "type", system_type());

	put_dmi(firmware, "vendor", "bios_vendor");
	put_dmi(firmware, "date", "bios_date");
	put_dmi(firmware, "version", "bios_version");
	res_put_new(system, "firmware", firmware);

	if (sysfs_read_u64(SYS_DMI, "chassis_type", &type) == 0 &&
	    type < ARRAY_SIZE(chassis_types) && chassis_types[type])
		chassis_type = chassis_types[type];
	put_dmi(chassis, "vendor", "chassis_vendor");
	res_put_str(chassis, "type", chassis_type);
	put_dmi(chassis, "serial", "chassis_serial");
	put_dmi(chassis, "version", "chassis_version");
	res_put_new(system, "chassis", chassis);

	put_dmi(board, "vendor", "board_vendor");
	put_dmi(board, "product", "board_name");
	put_dmi(board, "serial", "board_serial");
	put_dmi(board, "version", "board_version");
	res_put_new(system, "motherboard", board);

	return system;
}

/* --- All of it ------------------------------------------------------------------------ */

static void resources_ctx_release(struct resources_ctx *ctx)
{
	free(ctx->pci_db);
	free(ctx->usb_db);
}

int resources_get(json_t **ret, struct error *err)
{
	autoclean(resources_ctx_release) struct resources_ctx ctx = { 0 };
	autojson json_t *res = json_object();
	json_t *section = NULL;
	int r;

	if (uname(&ctx.uts) < 0)
		return error_errno(err, -errno, "Failed to get the kernel's name");
	ctx.pci_db = hwdb_load(hwdb_pci_paths);
	ctx.usb_db = hwdb_load(hwdb_usb_paths);

	r = cpu_get(&ctx, &section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve CPU information");
		return r;
	}
	res_put_new(res, "cpu", section);

	r = memory_get(&section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve memory information");
		return r;
	}
	res_put_new(res, "memory", section);

	r = resources_gpu_get(&ctx, &section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve GPU information");
		return r;
	}
	res_put_new(res, "gpu", section);

	r = resources_network_get(&ctx, &section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve network information");
		return r;
	}
	res_put_new(res, "network", section);

	r = resources_storage_get(&ctx, &section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve storage information");
		return r;
	}
	res_put_new(res, "storage", section);

	r = resources_usb_get(&ctx, &section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve USB information");
		return r;
	}
	res_put_new(res, "usb", section);

	r = resources_pci_get(&ctx, &section, err);
	if (r < 0) {
		(void)error_prefix(err, "Failed to retrieve PCI information");
		return r;
	}
	res_put_new(res, "pci", section);

	res_put_new(res, "system", system_json());

	*ret = take_ptr(res);
	return 0;
}
