/* lodge info [--resources]: the server's information as YAML (GET /1.0), or the host's
 * hardware (GET /1.0/resources) as `lxc info --resources` prints it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* Field accessors printing like Go's %v of the zero value when a field is missing. */
static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_get_str(obj, key);

	return s ? s : "";
}

static long long int_of(const json_t *obj, const char *key)
{
	long long v = 0;

	(void)json_get_int(obj, key, &v);
	return v;
}

static const char *bool_of(const json_t *obj, const char *key)
{
	bool v = false;

	(void)json_get_bool(obj, key, &v);
	return v ? "true" : "false";
}

static void print_size(const char *prefix, const char *label, uint64_t bytes)
{
	autofree char *s = cli_size_iec(bytes, 2);

	printf("%s%s: %s\n", prefix, label, s);
}

static void print_joined(const char *prefix, const char *label, const json_t *array)
{
	json_t *v;
	size_t i;

	printf("%s%s: ", prefix, label);
	for (i = 0; i < json_array_size(array) && (v = json_array_get(array, i)); i++) {
		printf("%s%s", i > 0 ? ", " : "", json_is_string(v) ? json_string_value(v) : "");
	}
	printf("\n");
}

static void render_cpu(const json_t *cpu, const char *prefix)
{
	const json_t *cache = json_object_get(cpu, "cache");
	const json_t *cores = json_object_get(cpu, "cores");
	json_t *core, *thread, *c;
	size_t i, k;

	if (!str_is_empty(json_get_str(cpu, "vendor")))
		printf("%sVendor: %s\n", prefix, str_of(cpu, "vendor"));
	if (!str_is_empty(json_get_str(cpu, "name")))
		printf("%sName: %s\n", prefix, str_of(cpu, "name"));

	if (json_is_array(cache)) {
		printf("%sCaches:\n", prefix);
		for (i = 0; i < json_array_size(cache) && (c = json_array_get(cache, i)); i++) {
			autofree char *size = cli_size_iec((uint64_t)int_of(c, "size"), 0);

			printf("%s  - Level %lld (type: %s): %s\n", prefix, int_of(c, "level"),
			       str_of(c, "type"), size);
		}
	}

	printf("%sCores:\n", prefix);
	for (i = 0; i < json_array_size(cores) && (core = json_array_get(cores, i)); i++) {
		const json_t *threads = json_object_get(core, "threads");

		printf("%s  - Core %lld\n", prefix, int_of(core, "core"));
		printf("%s    Frequency: %lldMhz\n", prefix, int_of(core, "frequency"));
		printf("%s    Threads:\n", prefix);
		for (k = 0; k < json_array_size(threads) && (thread = json_array_get(threads, k));
		     k++) {
			printf("%s      - %lld (id: %lld, online: %s, NUMA node: %lld)\n", prefix,
			       int_of(thread, "thread"), int_of(thread, "id"),
			       bool_of(thread, "online"), int_of(thread, "numa_node"));
		}
	}

	if (int_of(cpu, "frequency") > 0) {
		if (int_of(cpu, "frequency_turbo") > 0 && int_of(cpu, "frequency_minimum") > 0)
			printf("%sFrequency: %lldMhz (min: %lldMhz, max: %lldMhz)\n", prefix,
			       int_of(cpu, "frequency"), int_of(cpu, "frequency_minimum"),
			       int_of(cpu, "frequency_turbo"));
		else
			printf("%sFrequency: %lldMhz\n", prefix, int_of(cpu, "frequency"));
	}
}

/* "Vendor: Intel Corporation (8086)", printed only when the name is known. */
static void print_named_id(const char *prefix, const char *label, const json_t *obj,
			   const char *name_key, const char *id_key)
{
	if (!str_is_empty(json_get_str(obj, name_key)))
		printf("%s%s: %s (%s)\n", prefix, label, str_of(obj, name_key),
		       str_of(obj, id_key));
}

static void render_pci_common(const json_t *card, const char *prefix, bool initial)
{
	if (initial)
		printf("%s", prefix);
	printf("NUMA node: %lld\n", int_of(card, "numa_node"));
	print_named_id(prefix, "Vendor", card, "vendor", "vendor_id");
	print_named_id(prefix, "Product", card, "product", "product_id");
	if (!str_is_empty(json_get_str(card, "pci_address")))
		printf("%sPCI address: %s\n", prefix, str_of(card, "pci_address"));
	print_named_id(prefix, "Driver", card, "driver", "driver_version");
}

static int mdev_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void render_gpu(const json_t *gpu, const char *prefix, bool initial)
{
	const json_t *drm = json_object_get(gpu, "drm");
	const json_t *nvidia = json_object_get(gpu, "nvidia");
	const json_t *sriov = json_object_get(gpu, "sriov");
	const json_t *vfs = json_object_get(sriov, "vfs");
	const json_t *mdev = json_object_get(gpu, "mdev");
	json_t *vf;
	size_t i;

	render_pci_common(gpu, prefix, initial);

	if (json_is_object(drm)) {
		printf("%sDRM:\n", prefix);
		printf("%s  ID: %lld\n", prefix, int_of(drm, "id"));
		print_named_id(prefix, "  Card", drm, "card_name", "card_device");
		print_named_id(prefix, "  Control", drm, "control_name", "control_device");
		print_named_id(prefix, "  Render", drm, "render_name", "render_device");
	}

	if (json_is_object(nvidia)) {
		printf("%sNVIDIA information:\n", prefix);
		printf("%s  Architecture: %s\n", prefix, str_of(nvidia, "architecture"));
		printf("%s  Brand: %s\n", prefix, str_of(nvidia, "brand"));
		printf("%s  Model: %s\n", prefix, str_of(nvidia, "model"));
		printf("%s  CUDA Version: %s\n", prefix, str_of(nvidia, "cuda_version"));
		printf("%s  NVRM Version: %s\n", prefix, str_of(nvidia, "nvrm_version"));
		printf("%s  UUID: %s\n", prefix, str_of(nvidia, "uuid"));
	}

	if (json_is_object(sriov)) {
		printf("%sSR-IOV information:\n", prefix);
		printf("%s  Current number of VFs: %lld\n", prefix, int_of(sriov, "current_vfs"));
		printf("%s  Maximum number of VFs: %lld\n", prefix, int_of(sriov, "maximum_vfs"));
		if (json_array_size(vfs) > 0) {
			autofree char *sub = str_printf("%s    ", prefix);

			printf("%s  VFs: %lld\n", prefix, int_of(sriov, "maximum_vfs"));
			for (i = 0; i < json_array_size(vfs) && (vf = json_array_get(vfs, i));
			     i++) {
				printf("%s  - ", prefix);
				render_gpu(vf, sub, false);
			}
		}
	}

	if (json_is_object(mdev)) {
		size_t n = json_object_size(mdev);
		autofree const char **keys = xcalloc(n + 1, sizeof(*keys));

		printf("%sMdev profiles:\n", prefix);
		i = 0;
		for (void *it = json_object_iter((json_t *)mdev); it;
		     it = json_object_iter_next((json_t *)mdev, it))
			keys[i++] = json_object_iter_key(it);
		qsort(keys, n, sizeof(*keys), mdev_key_cmp);
		for (i = 0; i < n; i++) {
			const json_t *profile = json_object_get(mdev, keys[i]);
			const char *desc = json_get_str(profile, "description");

			printf("%s  - %s (%lld available)\n", prefix, keys[i],
			       int_of(profile, "available"));
			while (!str_is_empty(desc)) {
				size_t len = strcspn(desc, "\n");

				printf("%s      %.*s\n", prefix, (int)len, desc);
				desc += len + (desc[len] == '\n');
			}
		}
	}
}

static void render_port(const json_t *port, const char *prefix)
{
	const json_t *ib = json_object_get(port, "infiniband");

	printf("%s  - Port %lld (%s)\n", prefix, int_of(port, "port"), str_of(port, "protocol"));
	printf("%s    ID: %s\n", prefix, str_of(port, "id"));
	if (!str_is_empty(json_get_str(port, "address")))
		printf("%s    Address: %s\n", prefix, str_of(port, "address"));
	if (json_is_array(json_object_get(port, "supported_modes")))
		print_joined(prefix, "    Supported modes",
			     json_object_get(port, "supported_modes"));
	if (json_is_array(json_object_get(port, "supported_ports")))
		print_joined(prefix, "    Supported ports",
			     json_object_get(port, "supported_ports"));
	if (!str_is_empty(json_get_str(port, "port_type")))
		printf("%s    Port type: %s\n", prefix, str_of(port, "port_type"));
	if (!str_is_empty(json_get_str(port, "transceiver_type")))
		printf("%s    Transceiver type: %s\n", prefix, str_of(port, "transceiver_type"));
	printf("%s    Auto negotiation: %s\n", prefix, bool_of(port, "auto_negotiation"));
	printf("%s    Link detected: %s\n", prefix, bool_of(port, "link_detected"));
	if (int_of(port, "link_speed") > 0)
		printf("%s    Link speed: %lldMbit/s (%s duplex)\n", prefix,
		       int_of(port, "link_speed"), str_of(port, "link_duplex"));
	if (json_is_object(ib)) {
		printf("%s    Infiniband:\n", prefix);
		print_named_id(prefix, "      IsSM", ib, "issm_name", "issm_device");
		print_named_id(prefix, "      MAD", ib, "mad_name", "mad_device");
		print_named_id(prefix, "      Verb", ib, "verb_name", "verb_device");
	}
}

static void render_nic(const json_t *nic, const char *prefix, bool initial)
{
	const json_t *ports = json_object_get(nic, "ports");
	const json_t *sriov = json_object_get(nic, "sriov");
	const json_t *vfs = json_object_get(sriov, "vfs");
	json_t *v;
	size_t i;

	render_pci_common(nic, prefix, initial);

	if (json_array_size(ports) > 0) {
		printf("%sPorts:\n", prefix);
		for (i = 0; i < json_array_size(ports) && (v = json_array_get(ports, i)); i++) {
			render_port(v, prefix);
		}
	}

	if (json_is_object(sriov)) {
		printf("%sSR-IOV information:\n", prefix);
		printf("%s  Current number of VFs: %lld\n", prefix, int_of(sriov, "current_vfs"));
		printf("%s  Maximum number of VFs: %lld\n", prefix, int_of(sriov, "maximum_vfs"));
		if (json_array_size(vfs) > 0) {
			autofree char *sub = str_printf("%s    ", prefix);

			printf("%s  VFs: %lld\n", prefix, int_of(sriov, "maximum_vfs"));
			for (i = 0; i < json_array_size(vfs) && (v = json_array_get(vfs, i)); i++) {
				printf("%s  - ", prefix);
				render_nic(v, sub, false);
			}
		}
	}
}

static void render_disk(const json_t *disk, const char *prefix, bool initial)
{
	const json_t *parts = json_object_get(disk, "partitions");
	json_t *p;
	size_t i;

	if (initial)
		printf("%s", prefix);
	printf("NUMA node: %lld\n", int_of(disk, "numa_node"));
	printf("%sID: %s\n", prefix, str_of(disk, "id"));
	printf("%sDevice: %s\n", prefix, str_of(disk, "device"));
	if (!str_is_empty(json_get_str(disk, "model")))
		printf("%sModel: %s\n", prefix, str_of(disk, "model"));
	if (!str_is_empty(json_get_str(disk, "type")))
		printf("%sType: %s\n", prefix, str_of(disk, "type"));
	print_size(prefix, "Size", (uint64_t)int_of(disk, "size"));
	if (!str_is_empty(json_get_str(disk, "wwn")))
		printf("%sWWN: %s\n", prefix, str_of(disk, "wwn"));
	printf("%sRead-Only: %s\n", prefix, bool_of(disk, "read_only"));
	printf("%sRemovable: %s\n", prefix, bool_of(disk, "removable"));

	if (json_array_size(parts) > 0) {
		printf("%sPartitions:\n", prefix);
		for (i = 0; i < json_array_size(parts) && (p = json_array_get(parts, i)); i++) {
			autofree char *sub = str_printf("%s    ", prefix);

			printf("%s  - Partition %lld\n", prefix, int_of(p, "partition"));
			printf("%s    ID: %s\n", prefix, str_of(p, "id"));
			printf("%s    Device: %s\n", prefix, str_of(p, "device"));
			printf("%s    Read-Only: %s\n", prefix, bool_of(p, "read_only"));
			print_size(sub, "Size", (uint64_t)int_of(p, "size"));
		}
	}
}

static void render_memory(const json_t *mem)
{
	const json_t *nodes = json_object_get(mem, "nodes");
	long long total = int_of(mem, "total"), used = int_of(mem, "used");
	json_t *node;
	size_t i;

	printf("\nMemory:\n");
	if (int_of(mem, "hugepages_total") > 0) {
		printf("  Hugepages:\n");
		print_size(
			"    ", "Free",
			(uint64_t)(int_of(mem, "hugepages_total") - int_of(mem, "hugepages_used")));
		print_size("    ", "Used", (uint64_t)int_of(mem, "hugepages_used"));
		print_size("    ", "Total", (uint64_t)int_of(mem, "hugepages_total"));
	}

	if (json_array_size(nodes) > 1) {
		printf("  NUMA nodes:\n");
		for (i = 0; i < json_array_size(nodes) && (node = json_array_get(nodes, i)); i++) {
			printf("    Node %lld:\n", int_of(node, "numa_node"));
			if (int_of(node, "hugepages_total") > 0) {
				printf("      Hugepages:\n");
				print_size("        ", "Free",
					   (uint64_t)(int_of(node, "hugepages_total") -
						      int_of(node, "hugepages_used")));
				print_size("        ", "Used",
					   (uint64_t)int_of(node, "hugepages_used"));
				print_size("        ", "Total",
					   (uint64_t)int_of(node, "hugepages_total"));
			}
			print_size("      ", "Free",
				   (uint64_t)(int_of(node, "total") - int_of(node, "used")));
			print_size("      ", "Used", (uint64_t)int_of(node, "used"));
			print_size("      ", "Total", (uint64_t)int_of(node, "total"));
		}
	}

	print_size("  ", "Free", (uint64_t)(total - used));
	print_size("  ", "Used", (uint64_t)used);
	print_size("  ", "Total", (uint64_t)total);
}

/* One device class: "GPU:" for a single card, "GPUs:" with "Card N:" for several. */
static void render_cards(const json_t *cards, const char *one, const char *many, const char *item,
			 void (*render)(const json_t *, const char *, bool))
{
	json_t *card;
	size_t i;

	if (json_array_size(cards) == 1) {
		printf("\n%s:\n", one);
		render(json_array_get(cards, 0), "  ", true);
	} else if (json_array_size(cards) > 1) {
		printf("\n%s:\n", many);
		for (i = 0; i < json_array_size(cards) && (card = json_array_get(cards, i)); i++) {
			printf("  %s %zu:\n", item, i);
			render(card, "    ", true);
		}
	}
}

static void render_resources(const json_t *res)
{
	const json_t *cpu = json_object_get(res, "cpu");
	const json_t *sockets = json_object_get(cpu, "sockets");
	json_t *socket;
	size_t i;

	if (json_array_size(sockets) == 1) {
		printf("CPU (%s):\n", str_of(cpu, "architecture"));
		render_cpu(json_array_get(sockets, 0), "  ");
	} else if (json_array_size(sockets) > 1) {
		printf("CPUs (%s):\n", str_of(cpu, "architecture"));
		for (i = 0; i < json_array_size(sockets) && (socket = json_array_get(sockets, i));
		     i++) {
			printf("  Socket %lld:\n", int_of(socket, "socket"));
			render_cpu(socket, "    ");
		}
	}

	render_memory(json_object_get(res, "memory"));
	render_cards(json_object_get(json_object_get(res, "gpu"), "cards"), "GPU", "GPUs", "Card",
		     render_gpu);
	render_cards(json_object_get(json_object_get(res, "network"), "cards"), "NIC", "NICs",
		     "Card", render_nic);
	render_cards(json_object_get(json_object_get(res, "storage"), "disks"), "Disk", "Disks",
		     "Disk", render_disk);
}

static int info_resources(struct cli *cli, struct error *err)
{
	autojson json_t *res = NULL;
	bool v2 = false;
	int r;

	r = cli_server_has_extension(cli, "resources_v2", &v2, err);
	if (r < 0)
		return r;
	if (!v2)
		return error_set(err, -EOPNOTSUPP,
				 "The server doesn't implement the newer v2 resources API");

	r = lxd_get(cli_lxd(cli), "/1.0/resources", &res, err);
	if (r < 0)
		return r;
	/* An explicit --format prints the data; otherwise the text lxc prints. */
	if (cli->format_given)
		return cli_print_document(cli, res, err);
	render_resources(res);
	return 0;
}

/* units.GetByteSizeString: decimal units, as lxc prints network counters. */
static char *size_si(long long bytes)
{
	static const char *const units[] = { "kB", "MB", "GB", "TB", "PB", "EB" };
	double value = (double)bytes;

	if (bytes < 1000)
		return str_printf("%lldB", bytes);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		value /= 1000;
		if (value < 1000 || i == ARRAY_SIZE(units) - 1)
			return str_printf("%.2f%s", value, units[i]);
	}
	return xstrdup("");
}

/* A time as lxc prints it, or NULL when unset (Go's zero time or the epoch). */
static char *time_if_set(const char *rfc3339)
{
	if (!rfc3339 || str_has_prefix(rfc3339, "0001-01-01") ||
	    str_has_prefix(rfc3339, "1970-01-01"))
		return NULL;
	return cli_time_short(rfc3339);
}

static void render_usage_line(struct strbuf *sb, const json_t *obj, const char *key,
			      const char *label)
{
	autofree char *size = NULL;
	long long v = 0;

	if (!json_get_int(obj, key, &v) || v == 0)
		return;
	size = cli_size_iec((uint64_t)v, 2);
	strbuf_addf(sb, "    %s: %s\n", label, size);
}

static void render_network(const json_t *network)
{
	const char *nic;
	json_t *net;

	if (json_object_size(network) == 0)
		return;
	printf("  Network usage:\n");
	json_object_foreach((json_t *)network, nic, net)
	{
		const json_t *counters = json_object_get(net, "counters");
		const json_t *addrs = json_object_get(net, "addresses");
		autofree char *state = xstrdup(str_of(net, "state"));
		autofree char *rx = size_si(int_of(counters, "bytes_received"));
		autofree char *tx = size_si(int_of(counters, "bytes_sent"));

		for (char *p = state; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		printf("    %s:\n", nic);
		printf("      Type: %s\n", str_of(net, "type"));
		printf("      State: %s\n", state);
		if (!str_is_empty(json_get_str(net, "host_name")))
			printf("      Host interface: %s\n", str_of(net, "host_name"));
		if (!str_is_empty(json_get_str(net, "hwaddr")))
			printf("      MAC address: %s\n", str_of(net, "hwaddr"));
		if (int_of(net, "mtu") != 0)
			printf("      MTU: %lld\n", int_of(net, "mtu"));
		printf("      Bytes received: %s\n", rx);
		printf("      Bytes sent: %s\n", tx);
		printf("      Packets received: %lld\n", int_of(counters, "packets_received"));
		printf("      Packets sent: %lld\n", int_of(counters, "packets_sent"));
		printf("      IP addresses:\n");
		for (size_t i = 0; i < json_array_size(addrs); i++) {
			const json_t *a = json_array_get(addrs, i);
			bool inet = streq(str_of(a, "family"), "inet");

			printf("        %s:%s%s/%s (%s)\n", str_of(a, "family"), inet ? "  " : " ",
			       str_of(a, "address"), str_of(a, "netmask"), str_of(a, "scope"));
		}
	}
}

static void render_state(const json_t *state)
{
	const json_t *disk = json_object_get(state, "disk");
	const json_t *memory = json_object_get(state, "memory");
	struct strbuf sb = STRBUF_INIT;
	const char *key;
	json_t *d;

	printf("\nResources:\n");
	printf("  Processes: %lld\n", int_of(state, "processes"));

	json_object_foreach((json_t *)disk, key, d)
	{
		render_usage_line(&sb, d, "usage", key);
	}
	if (sb.len > 0)
		printf("  Disk usage:\n%s", strbuf_str(&sb));
	strbuf_reset(&sb);

	if (int_of(json_object_get(state, "cpu"), "usage") != 0)
		printf("  CPU usage:\n    CPU usage (in seconds): %lld\n",
		       int_of(json_object_get(state, "cpu"), "usage") / 1000000000);

	render_usage_line(&sb, memory, "usage", "Memory (current)");
	render_usage_line(&sb, memory, "usage_peak", "Memory (peak)");
	render_usage_line(&sb, memory, "swap_usage", "Swap (current)");
	render_usage_line(&sb, memory, "swap_usage_peak", "Swap (peak)");
	if (sb.len > 0)
		printf("  Memory usage:\n%s", strbuf_str(&sb));
	strbuf_release(&sb);

	render_network(json_object_get(state, "network"));
}

static void render_snapshots(const json_t *snaps)
{
	autoclean(table_freep) struct table *t = NULL;
	autofree char *s = NULL;

	if (json_array_size(snaps) == 0)
		return;
	t = table_new((const char *[]){ "NAME", "TAKEN AT", "EXPIRES AT", "STATEFUL", NULL });
	for (size_t i = 0; i < json_array_size(snaps); i++) {
		const json_t *snap = json_array_get(snaps, i);
		const char *name = str_of(snap, "name");
		const char *slash = strrchr(name, '/');
		autofree char *taken = time_if_set(json_get_str(snap, "created_at"));
		autofree char *expires = time_if_set(json_get_str(snap, "expires_at"));

		table_add_row(t, (const char *[]){ slash ? slash + 1 : name, taken ? taken : " ",
						   expires ? expires : " ",
						   json_is_true(json_object_get(snap, "stateful"))
							   ? "YES"
							   : "NO" });
	}
	table_sort(t, 0);
	s = table_render(t, TABLE_STYLE_BOX);
	printf("\nSnapshots:\n%s", s);
}

static int info_log(struct lxd_client *lxd, const char *name, const char *type, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *path = NULL;
	int r;

	if (!streq(type, "container") && !streq(type, "virtual-machine"))
		return error_set(err, -EINVAL, "Unsupported instance type: %s", type);
	path = cli_instance_path(name,
				 streq(type, "container") ? "/logs/lxc.log" : "/logs/qemu.log");
	r = lxd_do(lxd, &(struct http_request){ .method = "GET", .target = path }, &resp, err);
	if (r < 0)
		return r;
	printf("\nLog:\n\n%.*s\n", (int)resp.body_len, resp.body ? resp.body : "");
	return 0;
}

/* lxc info NAME: GET /1.0/instances/NAME?recursion=1 (state, snapshots) printed as text. */
static int info_instance(struct cli *cli, const char *arg, struct error *err)
{
	autojson json_t *inst = NULL;
	autofree char *path = NULL;
	autofree char *status = NULL;
	autofree char *created = NULL;
	autofree char *used = NULL;
	struct lxd_client *lxd;
	const json_t *state;
	const char *name, *type;
	bool clustered = false;
	int r;

	r = cli_instance_target(cli, arg, &lxd, &name, err);
	if (r < 0)
		return r;
	if (strchr(name, '/'))
		return error_set(err, -EINVAL, "Invalid instance name '%s'", name);
	path = cli_instance_path(name, "?recursion=1");
	r = lxd_get(lxd, path, &inst, err);
	if (r < 0)
		return r;
	state = json_object_get(inst, "state");
	type = str_is_empty(json_get_str(inst, "type")) ? "container" : json_get_str(inst, "type");
	status = xstrdup(str_of(inst, "status"));
	for (char *p = status; *p; p++)
		*p = (char)toupper((unsigned char)*p);

	printf("Name: %s\n", str_of(inst, "name"));
	printf("Status: %s\n", status);
	printf("Type: %s%s\n", type,
	       json_is_true(json_object_get(inst, "ephemeral")) ? " (ephemeral)" : "");
	printf("Architecture: %s\n", str_of(inst, "architecture"));
	if (lxd == cli_lxd(cli)) {
		const json_t *server = NULL;

		if (cli_server(cli, &server, NULL) == 0)
			(void)json_get_bool(json_object_get(server, "environment"),
					    "server_clustered", &clustered);
	}
	if (clustered && !str_is_empty(json_get_str(inst, "location")))
		printf("Location: %s\n", str_of(inst, "location"));
	if (int_of(state, "pid") != 0)
		printf("PID: %lld\n", int_of(state, "pid"));
	created = time_if_set(json_get_str(inst, "created_at"));
	if (created)
		printf("Created: %s\n", created);
	used = time_if_set(json_get_str(inst, "last_used_at"));
	if (used)
		printf("Last Used: %s\n", used);
	if (int_of(state, "pid") != 0)
		render_state(state);
	render_snapshots(json_object_get(inst, "snapshots"));
	if (cli_flag_bool(cli, "show-log"))
		return info_log(lxd, name, type, err);
	return 0;
}

static int info_run(struct cli *cli, struct error *err)
{
	const json_t *server = NULL;
	int r;

	if (cli->n_args == 1 && !str_has_suffix(cli->args[0], ":"))
		return info_instance(cli, cli->args[0], err);
	if (cli->n_args == 1) {
		struct lxd_client *lxd;
		const char *name;

		r = cli_target(cli, cli->args[0], &lxd, &name, err);
		if (r < 0)
			return r;
	}
	if (cli_flag_bool(cli, "resources"))
		return info_resources(cli, err);

	r = cli_server(cli, &server, err);
	if (r < 0)
		return r;
	return cli_print_document(cli, server, err);
}

const struct command command_info = {
	.name = "info",
	.args = "[<remote>:][<instance>]",
	.summary = "Show instance or server information",
	.description =
		"With an instance name, prints its status, resources and snapshots (and with\n"
		"--show-log its lxc.log). Without, prints what GET /1.0 returns as YAML; with\n"
		"--resources, the host's CPUs, memory, GPUs, network cards and disks.",
	.flags =
		(const struct cli_flag[]){
			{ "resources", 0, CLI_FLAG_BOOL, NULL,
			  "Show the resources available to the server" },
			{ "show-log", 0, CLI_FLAG_BOOL, NULL,
			  "Show the instance's last 100 log lines" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.formats = CLI_FORMATS_DOCUMENT,
	.default_format = CLI_FORMAT_YAML,
	.min_args = 0,
	.max_args = 1,
	.run = info_run,
};
