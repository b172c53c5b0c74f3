/* instance/instance-config.c: the instance config keys and device types, as LXD names them.
 *
 * The one place that decides whether an instance config is acceptable: every path that
 * writes one (create, PUT, PATCH, copy, restore, a profile change) ends in
 * instance_config_validate() on the expanded result. A key not listed here is refused
 * (raw.lxc included: it would let a client write arbitrary LXC config).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "instance/instance.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/str.h"
#include "network/network.h"

#include "lib/banned.h"

/* limits.cpu: a count ("2") or a set of CPUs ("0-1,3"). */
static int validate_cpu_set(const char *value, struct error *err)
{
	for (const char *p = value; *p; p++)
		if (!strchr("0123456789,-", *p))
			return error_set(err, -EINVAL, "expected a CPU count or a set like 0-1,3");
	if (value[0] == ',' || value[0] == '-')
		return error_set(err, -EINVAL, "expected a CPU count or a set like 0-1,3");
	return 0;
}

/* limits.cpu.allowance: "50%" or "25ms/100ms". */
static int validate_cpu_allowance(const char *value, struct error *err)
{
	const char *slash = strchr(value, '/');
	uint64_t v;

	if (str_has_suffix(value, "%")) {
		autofree char *n = xstrndup(value, strlen(value) - 1);

		if (parse_u64(n, &v) < 0 || v == 0 || v > 100)
			return error_set(err, -EINVAL,
					 "expected a percentage between 1%% and 100%%");
		return 0;
	}
	if (slash && str_has_suffix(slash, "ms") && slash > value + 2 &&
	    strncmp(slash - 2, "ms", 2) == 0) {
		autofree char *a = xstrndup(value, (size_t)(slash - value) - 2);
		autofree char *b = xstrndup(slash + 1, strlen(slash + 1) - 2);
		uint64_t w;

		if (parse_u64(a, &v) == 0 && parse_u64(b, &w) == 0 && v > 0 && w > 0)
			return 0;
	}
	return error_set(err, -EINVAL, "expected a percentage (50%%) or a time slice (25ms/100ms)");
}

/* limits.memory: a size ("512MiB") or a percentage of the host's memory ("50%"). */
static int validate_memory(const char *value, struct error *err)
{
	uint64_t v;

	if (str_has_suffix(value, "%")) {
		autofree char *n = xstrndup(value, strlen(value) - 1);

		if (parse_u64(n, &v) < 0 || v == 0 || v > 100)
			return error_set(err, -EINVAL, "expected a size or a percentage");
		return 0;
	}
	if (parse_size(value, &v) < 0 || v < 4096)
		return error_set(err, -EINVAL, "expected a size such as 512MiB, or a percentage");
	return 0;
}

CONFIG_VALIDATE_ONE_OF(validate_memory_enforce, "hard", "soft")

static const struct config_key instance_keys[] = {
	{ .name = "boot.autostart", .type = CONFIG_TYPE_BOOL },
	{ .name = "boot.autostart.delay", .type = CONFIG_TYPE_INT },
	{ .name = "boot.autostart.priority", .type = CONFIG_TYPE_INT },
	{ .name = "boot.host_shutdown_timeout", .type = CONFIG_TYPE_INT },
	{ .name = "boot.stop.priority", .type = CONFIG_TYPE_INT },
	{ .name = "limits.cpu", .type = CONFIG_TYPE_STRING, .validate = validate_cpu_set },
	{ .name = "limits.cpu.allowance",
	  .type = CONFIG_TYPE_STRING,
	  .validate = validate_cpu_allowance },
	{ .name = "limits.cpu.priority", .type = CONFIG_TYPE_INT },
	{ .name = "limits.memory", .type = CONFIG_TYPE_STRING, .validate = validate_memory },
	{ .name = "limits.memory.enforce",
	  .type = CONFIG_TYPE_STRING,
	  .validate = validate_memory_enforce },
	{ .name = "limits.memory.swap", .type = CONFIG_TYPE_BOOL },
	{ .name = "limits.memory.swap.priority", .type = CONFIG_TYPE_INT },
	{ .name = "limits.processes", .type = CONFIG_TYPE_INT },
	{ .name = "linux.kernel_modules", .type = CONFIG_TYPE_STRING },
	{ .name = "security.privileged", .type = CONFIG_TYPE_BOOL },
	{ .name = "security.nesting", .type = CONFIG_TYPE_BOOL },
	{ .name = "security.idmap.isolated", .type = CONFIG_TYPE_BOOL },
	{ .name = "security.idmap.base", .type = CONFIG_TYPE_INT },
	{ .name = "security.idmap.size", .type = CONFIG_TYPE_INT },
	{ .name = "security.protection.delete", .type = CONFIG_TYPE_BOOL },
	{ .name = "security.protection.shift", .type = CONFIG_TYPE_BOOL },
	{ .name = "snapshots.schedule", .type = CONFIG_TYPE_STRING },
	{ .name = "snapshots.schedule.stopped", .type = CONFIG_TYPE_BOOL },
	{ .name = "snapshots.pattern", .type = CONFIG_TYPE_STRING },
	{ .name = "snapshots.expiry", .type = CONFIG_TYPE_STRING },
	{ .name = "cloud-init.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "environment.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "image.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "volatile.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{},
};

const struct config_schema instance_config_schema = {
	.what = "instance",
	.keys = instance_keys,
};

/* Device types and the keys each takes. Values are single-line strings. */
static const struct {
	const char *type;
	const char *const *keys;
} device_types[] = {
	{ "disk", (const char *const[]){ "path", "source", "pool", "readonly", "size", "recursive",
					 "shift", "required", "propagation", NULL } },
	{ "nic", (const char *const[]){ "name", "network", "nictype", "parent", "hwaddr", "mtu",
					"host_name", "ipv4.address", "ipv6.address", "vlan",
					"limits.ingress", "limits.egress", "limits.max",
					"security.mac_filtering", "boot.priority", NULL } },
	{ "unix-char", (const char *const[]){ "source", "path", "major", "minor", "uid", "gid",
					      "mode", "required", NULL } },
	{ "unix-block", (const char *const[]){ "source", "path", "major", "minor", "uid", "gid",
					       "mode", "required", NULL } },
	{ "none", (const char *const[]){ NULL } },
};

bool instance_ifname_is_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > 15 || streq(name, ".") || streq(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static bool address_is_valid(const char *s, int family)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(family, s, buf) == 1;
}

int instance_nic_validate(const char *name, const json_t *dev, struct error *err)
{
	const char *network = json_get_str(dev, "network");
	const char *nictype = json_get_str(dev, "nictype");
	const char *parent = json_get_str(dev, "parent");
	const char *hwaddr = json_get_str(dev, "hwaddr");
	const char *mtu = json_get_str(dev, "mtu");
	const char *host_name = json_get_str(dev, "host_name");
	const char *ipv4 = json_get_str(dev, "ipv4.address");
	const char *ipv6 = json_get_str(dev, "ipv6.address");
	bool bridged = !nictype || streq(nictype, "bridged");
	uint64_t v;

	if (!network && !nictype)
		return error_set(err, -EINVAL,
				 "Device '%s': nic devices need 'network' or 'nictype'", name);
	if (nictype && !streq(nictype, "bridged") && !streq(nictype, "macvlan") &&
	    !streq(nictype, "p2p") && !streq(nictype, "physical"))
		return error_set(err, -EINVAL, "Device '%s': unsupported nictype '%s'", name,
				 nictype);
	if (network && !object_name_is_valid(network))
		return error_set(err, -EINVAL, "Device '%s': invalid network name", name);
	if (network && !bridged)
		return error_set(err, -EINVAL,
				 "Device '%s': 'network' goes with nictype 'bridged' only", name);
	if (parent && !instance_ifname_is_valid(parent))
		return error_set(err, -EINVAL, "Device '%s': invalid parent '%s'", name, parent);
	if (nictype && streq(nictype, "p2p") && parent)
		return error_set(err, -EINVAL, "Device '%s': a p2p nic takes no 'parent'", name);
	if (nictype && !streq(nictype, "p2p") && !parent && !network)
		return error_set(err, -EINVAL, "Device '%s': nictype '%s' needs a 'parent'", name,
				 nictype);
	if (json_get_str(dev, "name") && !instance_ifname_is_valid(json_get_str(dev, "name")))
		return error_set(err, -EINVAL, "Device '%s': invalid interface name '%s'", name,
				 json_get_str(dev, "name"));
	if (hwaddr && !network_hwaddr_is_valid(hwaddr))
		return error_set(
			err, -EINVAL,
			"Device '%s': invalid 'hwaddr' '%s': expected a unicast MAC address", name,
			hwaddr);
	if (mtu && (parse_u64(mtu, &v) < 0 || v < 68 || v > 65535))
		return error_set(err, -EINVAL, "Device '%s': invalid 'mtu': expected 68 to 65535",
				 name);
	if (host_name && !(bridged || streq(nictype, "p2p")))
		return error_set(err, -EINVAL, "Device '%s': a %s nic has no 'host_name'", name,
				 nictype);
	if (host_name && !instance_ifname_is_valid(host_name))
		return error_set(err, -EINVAL, "Device '%s': invalid 'host_name' '%s'", name,
				 host_name);
	if ((ipv4 || ipv6) && !bridged)
		return error_set(err, -EINVAL,
				 "Device '%s': static addresses go with nictype 'bridged' only",
				 name);
	if (ipv4 && !address_is_valid(ipv4, AF_INET))
		return error_set(
			err, -EINVAL,
			"Device '%s': invalid 'ipv4.address' '%s': expected an IPv4 address", name,
			ipv4);
	if (ipv6 && !address_is_valid(ipv6, AF_INET6))
		return error_set(
			err, -EINVAL,
			"Device '%s': invalid 'ipv6.address' '%s': expected an IPv6 address", name,
			ipv6);
	return 0;
}

static bool strv_contains(const char *const *v, const char *s)
{
	for (; *v; v++)
		if (streq(*v, s))
			return true;
	return false;
}

/* A path inside the instance: absolute, no "..", no empty or "." components. */
static int device_path_check(const char *dev, const char *key, const char *path, bool absolute,
			     struct error *err)
{
	autofree char *copy = xstrdup(path);
	char *save = NULL;

	if (absolute && path[0] != '/')
		return error_set(err, -EINVAL, "Device '%s': '%s' must be an absolute path", dev,
				 key);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (streq(c, "..") || streq(c, "."))
			return error_set(err, -EINVAL,
					 "Device '%s': '%s' may not contain '.' or '..'", dev, key);
	return 0;
}

static int device_validate(const char *name, const json_t *dev, struct error *err)
{
	const char *type = json_get_str(dev, "type");
	const char *const *keys = NULL;
	const char *key;
	json_t *value;
	bool b;
	int r;

	if (!object_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid device name '%s'", name);
	if (!json_is_object(dev))
		return error_set(err, -EINVAL, "Device '%s' must be an object", name);
	if (!type)
		return error_set(err, -EINVAL, "Device '%s' has no type", name);
	for (size_t i = 0; i < ARRAY_SIZE(device_types); i++)
		if (streq(device_types[i].type, type))
			keys = device_types[i].keys;
	if (!keys)
		return error_set(err, -EINVAL, "Device '%s': unsupported device type '%s'", name,
				 type);

	json_object_foreach((json_t *)dev, key, value)
	{
		const char *v = json_string_value(value);

		if (streq(key, "type"))
			continue;
		if (!strv_contains(keys, key))
			return error_set(err, -EINVAL,
					 "Device '%s': unknown key '%s' for type '%s'", name, key,
					 type);
		if (!v)
			return error_set(err, -EINVAL, "Device '%s': '%s' must be a string", name,
					 key);
		if (!config_value_is_safe(v))
			return error_set(err, -EINVAL, "Device '%s': invalid characters in '%s'",
					 name, key);
	}

	if (streq(type, "disk")) {
		const char *path = json_get_str(dev, "path");
		const char *source = json_get_str(dev, "source");
		const char *ro = json_get_str(dev, "readonly");

		if (!path)
			return error_set(err, -EINVAL, "Device '%s': disk devices need a 'path'",
					 name);
		r = device_path_check(name, "path", path, true, err);
		if (r < 0)
			return r;
		if (!streq(path, "/") && !source)
			return error_set(err, -EINVAL, "Device '%s': disk devices need a 'source'",
					 name);
		if (source && !json_get_str(dev, "pool")) {
			r = device_path_check(name, "source", source, true, err);
			if (r < 0)
				return r;
		}
		if (streq(path, "/") && !json_get_str(dev, "pool"))
			return error_set(err, -EINVAL, "Device '%s': the root disk needs a 'pool'",
					 name);
		if (json_get_str(dev, "pool") && !object_name_is_valid(json_get_str(dev, "pool")))
			return error_set(err, -EINVAL, "Device '%s': invalid pool name", name);
		if (ro && parse_bool(ro, &b) < 0)
			return error_set(err, -EINVAL, "Device '%s': 'readonly' must be a boolean",
					 name);
	} else if (streq(type, "nic")) {
		r = instance_nic_validate(name, dev, err);
		if (r < 0)
			return r;
	} else if (streq(type, "unix-char") || streq(type, "unix-block")) {
		const char *path = json_get_str(dev, "path");
		const char *source = json_get_str(dev, "source");

		if (!path && !source)
			return error_set(err, -EINVAL, "Device '%s': needs 'path' or 'source'",
					 name);
		if (path) {
			r = device_path_check(name, "path", path, true, err);
			if (r < 0)
				return r;
		}
		if (source) {
			r = device_path_check(name, "source", source, true, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int instance_devices_validate(const json_t *devices, struct error *err)
{
	const char *name;
	json_t *dev;
	int r;

	if (!devices || json_is_null(devices))
		return 0;
	if (!json_is_object(devices))
		return error_set(err, -EINVAL, "Devices must be an object");
	json_object_foreach((json_t *)devices, name, dev)
	{
		r = device_validate(name, dev, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int instance_config_validate(const json_t *config, const json_t *devices, bool need_root,
			     struct error *err)
{
	const char *name, *key;
	json_t *dev, *value;
	unsigned roots = 0;
	int r;

	json_object_foreach((json_t *)config, key, value)
	{
		r = config_validate(&instance_config_schema, key, json_string_value(value), err);
		if (r < 0)
			return r;
	}
	r = instance_devices_validate(devices, err);
	if (r < 0)
		return r;
	json_object_foreach((json_t *)devices, name, dev)
	{
		const char *path = json_get_str(dev, "path");

		if (streq(json_get_str(dev, "type"), "disk") && path && streq(path, "/"))
			roots++;
	}
	if (need_root && roots == 0)
		return error_set(
			err, -EINVAL,
			"No root device could be found: add a disk device with path '/' and a pool");
	if (roots > 1)
		return error_set(err, -EINVAL, "More than one root disk device");
	return 0;
}
