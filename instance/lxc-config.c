/* The LXC config file of a container, built from its expanded config and devices.
 *
 * We write the whole file ourselves instead of including /usr/share/lxc/config/common.conf:
 * that file pulls in lxcfs's mount and post-stop hooks (the latter a 0.5 s sleep on every
 * stop) and settings for AppArmor profiles this host does not have. What it sets that we
 * need (capability drops, the device allow list, seccomp, autodev) is written below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "instance/instance.h"
#include "instance/lxc.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "network/network.h"

#include "lib/banned.h"

#define CPUSET_MAX 1024

/* Devices every container may use, as common.conf allows them (mknod of any node, but
 * no read or write of other nodes), plus fuse and tun as LXD does. */
static const char *const default_device_rules[] = {
	"c *:* m",     "b *:* m",      "c 1:3 rwm",    "c 1:5 rwm", "c 1:7 rwm",
	"c 5:0 rwm",   "c 5:1 rwm",    "c 5:2 rwm",    "c 1:8 rwm", "c 1:9 rwm",
	"c 136:* rwm", "c 10:229 rwm", "c 10:200 rwm",
};

/* Host paths bind-mounted when present, as LXD does. */
static const char *const default_mounts[] = {
	"/sys/fs/fuse/connections sys/fs/fuse/connections none rbind,create=dir,optional 0 0",
	"/dev/fuse dev/fuse none bind,create=file,optional 0 0",
	"/dev/net/tun dev/net/tun none bind,create=file,optional 0 0",
};

const char *lxc_seccomp_profile(void)
{
	/* LXD's default deny list, and the keyring calls: keyrings are not namespaced, and
	 * ENOSYS makes systemd and others fall back cleanly. */
	return "2\n"
	       "denylist\n"
	       "reject_force_umount  # comment this to allow umount -f;  not recommended\n"
	       "[all]\n"
	       "kexec_load errno 38\n"
	       "kexec_file_load errno 38\n"
	       "open_by_handle_at errno 38\n"
	       "init_module errno 38\n"
	       "finit_module errno 38\n"
	       "delete_module errno 38\n"
	       "keyctl errno 38\n"
	       "add_key errno 38\n"
	       "request_key errno 38\n";
}

/* --- small helpers ------------------------------------------------------------------- */

/* Appends "key = value"; every line of the file goes through here or conf_add_entry(). */
static int conf_add(struct strbuf *sb, const char *key, const char *value, struct error *err)
{
	if (!config_value_is_safe(key) || !config_value_is_safe(value))
		return error_set(
			err, -EINVAL,
			"Refusing to write LXC config key '%s': control characters are not allowed",
			config_value_is_safe(key) ? key : "?");
	strbuf_addf(sb, "%s = %s\n", key, value);
	return 0;
}

static int conf_addf(struct strbuf *sb, const char *key, struct error *err, const char *fmt, ...)
	_printf_(4, 5);
static int conf_addf(struct strbuf *sb, const char *key, struct error *err, const char *fmt, ...)
{
	autofree char *value = NULL;
	va_list ap;

	va_start(ap, fmt);
	value = str_vprintf(fmt, ap);
	va_end(ap);
	return conf_add(sb, key, value, err);
}

/* A path as one field of an fstab line: liblxc reads lxc.mount.entry with getmntent(),
 * which undoes octal escapes, so spaces and backslashes are escaped. */
static char *fstab_escape(const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = path; *p; p++) {
		if (*p == ' ')
			strbuf_adds(&sb, "\\040");
		else if (*p == '\\')
			strbuf_adds(&sb, "\\134");
		else
			strbuf_addch(&sb, *p);
	}
	return strbuf_detach(&sb);
}

static const char *config_str(const json_t *config, const char *key)
{
	const char *v = json_get_str(config, key);

	return v && *v ? v : NULL;
}

static bool config_true(const json_t *config, const char *key)
{
	const char *v = config_str(config, key);
	bool b = false;

	return v && parse_bool(v, &b) == 0 && b;
}

/* A boolean key with a default; -EINVAL naming it when it does not parse. */
static int bool_key(const json_t *obj, const char *key, bool def, const char *what, bool *ret,
		    struct error *err)
{
	const char *v = config_str(obj, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	if (parse_bool(v, ret) < 0)
		return error_set(err, -EINVAL, "Invalid value for '%s'%s: expected true or false",
				 key, what);
	return 0;
}

/* --- CPU sets -------------------------------------------------------------------------- */

static int cpuset_parse(const char *s, unsigned char bits[CPUSET_MAX])
{
	autofree char *copy = xstrdup(s);
	char *save = NULL;
	int n = 0;

	memset(bits, 0, CPUSET_MAX);
	if (!*s || str_has_suffix(s, ",") || s[0] == ',' || strstr(s, ",,"))
		return -EINVAL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		uint64_t lo, hi;

		if (dash) {
			*dash = '\0';
			if (parse_u64(tok, &lo) < 0 || parse_u64(dash + 1, &hi) < 0)
				return -EINVAL;
		} else {
			if (parse_u64(tok, &lo) < 0)
				return -EINVAL;
			hi = lo;
		}
		if (lo > hi || hi >= CPUSET_MAX)
			return -EINVAL;
		for (uint64_t c = lo; c <= hi; c++) {
			n += !bits[c];
			bits[c] = 1;
		}
	}
	return n;
}

static char *cpuset_format(const unsigned char bits[CPUSET_MAX])
{
	struct strbuf sb = STRBUF_INIT;

	for (int c = 0; c < CPUSET_MAX; c++) {
		int end = c;

		if (!bits[c])
			continue;
		while (end + 1 < CPUSET_MAX && bits[end + 1])
			end++;
		if (sb.len)
			strbuf_addch(&sb, ',');
		if (end == c)
			strbuf_addf(&sb, "%d", c);
		else
			strbuf_addf(&sb, "%d-%d", c, end);
		c = end;
	}
	return strbuf_detach(&sb);
}

int lxc_limit_cpuset(const char *value, const char *online, char **ret, struct error *err)
{
	unsigned char online_bits[CPUSET_MAX], want[CPUSET_MAX];
	uint64_t count;
	int n_online, n;

	n_online = cpuset_parse(online, online_bits);
	if (n_online <= 0)
		return error_set(err, -EIO, "Cannot read the host's online CPUs ('%s')", online);

	/* As LXD: a bare number is a count, anything with ',' or '-' is a set. */
	if (parse_u64(value, &count) == 0) {
		if (count == 0)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu': at least one CPU is needed");
		memset(want, 0, sizeof(want));
		for (int c = 0; c < CPUSET_MAX && count > 0; c++) {
			if (online_bits[c]) {
				want[c] = 1;
				count--;
			}
		}
		*ret = cpuset_format(want);
		return 0;
	}

	n = cpuset_parse(value, want);
	if (n <= 0)
		return error_set(
			err, -EINVAL,
			"Invalid value for 'limits.cpu': expected a number of CPUs or a set such as '0-1,3'");
	for (int c = 0; c < CPUSET_MAX; c++)
		if (want[c] && !online_bits[c])
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu': CPU %d is not online on this host",
				c);
	*ret = cpuset_format(want);
	return 0;
}

/* --- CPU time -------------------------------------------------------------------------- */

/* A Go duration with one unit ("25ms", "1s", "500us") in microseconds. */
static int parse_duration_us(const char *s, int64_t *ret)
{
	static const struct {
		const char *unit;
		double us;
	} units[] = { { "ns", 0.001 }, { "us", 1 }, { "µs", 1 }, { "ms", 1000 }, { "s", 1000000 } };
	char *end = NULL;
	double v;

	if (!*s || !(*s >= '0' && *s <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (streq(end, units[i].unit)) {
			double us = v * units[i].us;

			if (us > 1e12)
				return -ERANGE;
			*ret = (int64_t)us;
			return 0;
		}
	}
	return -EINVAL;
}

int lxc_limit_cpu(const char *allowance, const char *priority, bool v2, struct lxc_cpu_limit *ret,
		  struct error *err)
{
	/* LXD's ParseCPU(): shares start at the maximum, lose one per step of priority below
	 * 10, and a percentage scales them; a time allowance is a hard quota. */
	int64_t max_shares = v2 ? 100 : 1024;
	struct lxc_cpu_limit lim = { .shares = 0, .quota_us = -1, .period_us = 100000 };
	uint64_t prio = 10;

	if (priority) {
		if (parse_u64(priority, &prio) < 0 || prio > 10)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu.priority': expected 0 to 10");
	}
	lim.shares -= (int64_t)(10 - prio);

	if (allowance && str_has_suffix(allowance, "%")) {
		autofree char *num = xstrndup(allowance, strlen(allowance) - 1);
		uint64_t percent;

		if (parse_u64(num, &percent) < 0 || percent == 0 || percent > 100)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu.allowance': expected a percentage from 1%% to 100%%");
		lim.shares += (int64_t)((double)max_shares / 100.0 * (double)percent);
	} else if (allowance) {
		const char *slash = strchr(allowance, '/');
		autofree char *quota_s = NULL;
		int64_t quota, period;

		if (!slash)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu.allowance': expected a percentage ('50%%') or a time slice ('25ms/100ms')");
		quota_s = xstrndup(allowance, (size_t)(slash - allowance));
		if (parse_duration_us(quota_s, &quota) < 0 ||
		    parse_duration_us(slash + 1, &period) < 0)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu.allowance': expected a time slice such as '25ms/100ms'");
		/* The kernel's bounds for cfs_quota_us and cfs_period_us. */
		if (quota < 1000 || period < 1000 || period > 1000000)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.cpu.allowance': the quota must be at least 1ms and the period from 1ms to 1s");
		lim.quota_us = quota;
		lim.period_us = period;
		lim.shares += max_shares;
	} else {
		lim.shares += max_shares;
	}
	if (lim.shares < (v2 ? 1 : 2))
		lim.shares = v2 ? 1 : 2;
	*ret = lim;
	return 0;
}

/* --- memory ---------------------------------------------------------------------------- */

int lxc_limit_memory(const char *value, uint64_t host_total, uint64_t *ret, struct error *err)
{
	uint64_t bytes;

	if (str_has_suffix(value, "%")) {
		autofree char *num = xstrndup(value, strlen(value) - 1);
		uint64_t percent;

		if (parse_u64(num, &percent) < 0 || percent == 0 || percent > 100)
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.memory': expected a size ('512MiB') or a percentage from 1%% to 100%%");
		bytes = (uint64_t)((unsigned __int128)host_total * percent / 100);
	} else if (parse_size(value, &bytes) < 0) {
		return error_set(
			err, -EINVAL,
			"Invalid value for 'limits.memory': expected a size ('512MiB') or a percentage ('50%%')");
	}
	/* Below a few MiB not even init starts; refuse rather than OOM-kill at once. */
	if (bytes < (4ULL << 20))
		return error_set(err, -EINVAL,
				 "Invalid value for 'limits.memory': at least 4MiB is needed");
	*ret = bytes;
	return 0;
}

/* --- cgroup items ---------------------------------------------------------------------- */

void lxc_cgroup_items_release(struct lxc_cgroup_items *items)
{
	for (size_t i = 0; i < items->n; i++)
		free(items->items[i].value);
	free(items->items);
	items->items = NULL;
	items->n = 0;
}

static void item_add(struct lxc_cgroup_items *items, enum cgroup_version version, const char *key,
		     const char *limit, char *value)
{
	struct lxc_cgroup_item *it;

	items->items = xrealloc(items->items, (items->n + 1) * sizeof(*items->items));
	it = &items->items[items->n++];
	it->version = version;
	(void)snprintf_ok(it->key, sizeof(it->key), "%s", key);
	it->value = value;
	it->limit = limit;
}

/* The version to write a limit with, or an error saying the host cannot apply it. */
static int controller_for(const struct cgroup_info *cg, enum cgroup_controller c, const char *limit,
			  enum cgroup_version *ret, struct error *err)
{
	*ret = cg->controllers[c];
	if (*ret == CGROUP_UNAVAILABLE)
		return error_set(
			err, -EOPNOTSUPP,
			"Cannot apply '%s': the %s cgroup controller is not available on this host (%s cgroup layout)",
			limit, cgroup_controller_names[c], cgroup_layout_names[cg->layout]);
	return 0;
}

static int items_cpu(const json_t *config, const struct cgroup_info *cg,
		     const struct lxc_host *host, bool reset, struct lxc_cgroup_items *items,
		     struct error *err)
{
	const char *cpus = config_str(config, "limits.cpu");
	const char *allowance = config_str(config, "limits.cpu.allowance");
	const char *priority = config_str(config, "limits.cpu.priority");
	enum cgroup_version v;
	struct lxc_cpu_limit lim = { 0 };
	int r;

	if (cpus || (reset && cg->controllers[CGROUP_CPUSET] != CGROUP_UNAVAILABLE)) {
		char *set = NULL;

		r = controller_for(cg, CGROUP_CPUSET, "limits.cpu", &v, err);
		if (r < 0)
			return r;
		if (cpus) {
			r = lxc_limit_cpuset(cpus, host->cpus_online, &set, err);
			if (r < 0)
				return r;
		} else {
			set = xstrdup(host->cpus_online);
		}
		item_add(items, v, "cpuset.cpus", "limits.cpu", set);
	}

	if (allowance || priority || (reset && cg->controllers[CGROUP_CPU] != CGROUP_UNAVAILABLE)) {
		const char *what = allowance ? "limits.cpu.allowance" : "limits.cpu.priority";

		r = controller_for(cg, CGROUP_CPU, what, &v, err);
		if (r < 0)
			return r;
		r = lxc_limit_cpu(allowance, priority, v == CGROUP_V2, &lim, err);
		if (r < 0)
			return r;
		if (v == CGROUP_V1) {
			item_add(items, v, "cpu.shares", what,
				 str_printf("%lld", (long long)lim.shares));
			/* The period first: the kernel checks the quota against it. */
			item_add(items, v, "cpu.cfs_period_us", what,
				 str_printf("%lld", (long long)lim.period_us));
			item_add(items, v, "cpu.cfs_quota_us", what,
				 str_printf("%lld", (long long)lim.quota_us));
		} else {
			item_add(items, v, "cpu.weight", what,
				 str_printf("%lld", (long long)lim.shares));
			if (lim.quota_us < 0)
				item_add(items, v, "cpu.max", what,
					 str_printf("max %lld", (long long)lim.period_us));
			else
				item_add(items, v, "cpu.max", what,
					 str_printf("%lld %lld", (long long)lim.quota_us,
						    (long long)lim.period_us));
		}
	}
	return 0;
}

static int items_memory(const json_t *config, const struct cgroup_info *cg,
			const struct lxc_host *host, bool reset, struct lxc_cgroup_items *items,
			struct error *err)
{
	const char *memory = config_str(config, "limits.memory");
	const char *enforce = config_str(config, "limits.memory.enforce");
	enum cgroup_version v;
	uint64_t bytes = 0;
	bool swap, soft = false;
	int r;

	r = bool_key(config, "limits.memory.swap", true, "", &swap, err);
	if (r < 0)
		return r;
	if (enforce) {
		if (!streq(enforce, "hard") && !streq(enforce, "soft"))
			return error_set(
				err, -EINVAL,
				"Invalid value for 'limits.memory.enforce': expected 'hard' or 'soft'");
		soft = streq(enforce, "soft");
	}
	if (!memory && swap && !(reset && cg->controllers[CGROUP_MEMORY] != CGROUP_UNAVAILABLE))
		return 0;

	r = controller_for(cg, CGROUP_MEMORY, memory ? "limits.memory" : "limits.memory.swap", &v,
			   err);
	if (r < 0)
		return r;
	if (memory) {
		r = lxc_limit_memory(memory, host->memory_total, &bytes, err);
		if (r < 0)
			return r;
	}

	if (v == CGROUP_V1) {
		char *hard = memory && !soft ? str_printf("%llu", (unsigned long long)bytes)
					     : xstrdup("-1");
		char *softv = memory && soft ? str_printf("%llu", (unsigned long long)bytes)
					     : xstrdup("-1");

		if (memory || reset) {
			item_add(items, v, "memory.limit_in_bytes", "limits.memory", hard);
			item_add(items, v, "memory.soft_limit_in_bytes", "limits.memory", softv);
		} else {
			free(hard);
			free(softv);
		}
		if (cg->swap_accounting && (!swap || reset))
			/* memsw counts memory and swap together: equal to the hard limit means
			 * no swap at all. It must stay >= memory.limit_in_bytes. */
			item_add(items, v, "memory.memsw.limit_in_bytes", "limits.memory.swap",
				 !swap && memory && !soft
					 ? str_printf("%llu", (unsigned long long)bytes)
					 : xstrdup("-1"));
		if (!swap || reset)
			item_add(items, v, "memory.swappiness", "limits.memory.swap",
				 xstrdup(swap ? "60" : "0"));
	} else {
		if (memory || reset) {
			item_add(items, v, "memory.max", "limits.memory",
				 memory && !soft ? str_printf("%llu", (unsigned long long)bytes)
						 : xstrdup("max"));
			item_add(items, v, "memory.high", "limits.memory",
				 memory && soft ? str_printf("%llu", (unsigned long long)bytes)
						: xstrdup("max"));
		}
		if (cg->swap_accounting && (!swap || reset))
			item_add(items, v, "memory.swap.max", "limits.memory.swap",
				 xstrdup(swap ? "max" : "0"));
	}
	return 0;
}

static int items_processes(const json_t *config, const struct cgroup_info *cg, bool reset,
			   struct lxc_cgroup_items *items, struct error *err)
{
	const char *procs = config_str(config, "limits.processes");
	enum cgroup_version v;
	uint64_t n;
	int r;

	if (!procs && !(reset && cg->controllers[CGROUP_PIDS] != CGROUP_UNAVAILABLE))
		return 0;
	r = controller_for(cg, CGROUP_PIDS, "limits.processes", &v, err);
	if (r < 0)
		return r;
	if (procs && (parse_u64(procs, &n) < 0 || n == 0 || n > INT32_MAX))
		return error_set(
			err, -EINVAL,
			"Invalid value for 'limits.processes': expected a positive number");
	item_add(items, v, "pids.max", "limits.processes",
		 procs ? str_printf("%llu", (unsigned long long)n) : xstrdup("max"));
	return 0;
}

int lxc_cgroup_items_build(const json_t *config, const struct cgroup_info *cgroups,
			   const struct lxc_host *host, bool reset, struct lxc_cgroup_items *ret,
			   struct error *err)
{
	struct lxc_cgroup_items items = { 0 };
	int r;

	r = items_cpu(config, cgroups, host, reset, &items, err);
	if (r == 0)
		r = items_memory(config, cgroups, host, reset, &items, err);
	if (r == 0)
		r = items_processes(config, cgroups, reset, &items, err);
	if (r < 0) {
		lxc_cgroup_items_release(&items);
		return r;
	}
	*ret = items;
	return 0;
}

bool lxc_cgroup_value_matches(const char *key, const char *written, const char *read)
{
	autofree char *got = xstrdup(read);
	size_t len = strlen(got);
	int64_t w, g;

	while (len && (got[len - 1] == '\n' || got[len - 1] == ' '))
		got[--len] = '\0';
	if (streq(written, got))
		return true;
	if (streq(key, "cpuset.cpus")) {
		unsigned char a[CPUSET_MAX], b[CPUSET_MAX];

		return cpuset_parse(written, a) > 0 && cpuset_parse(got, b) > 0 &&
		       memcmp(a, b, sizeof(a)) == 0;
	}
	if (parse_i64(written, &w) < 0 || parse_i64(got, &g) < 0)
		return false;
	/* v1 shows "unlimited" as the largest page-aligned long. */
	if (w == -1)
		return g >= (INT64_MAX / 4096) * 4096 - 4096;
	/* Memory limits are rounded down to whole pages. */
	return g <= w && w - g < 65536 && str_has_prefix(key, "memory.");
}

/* --- misc ------------------------------------------------------------------------------ */

void lxc_mac_generate(char buf[18])
{
	unsigned char b[3] = { 0 };

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		abort(); /* the kernel always has 3 random bytes after boot */
	(void)snprintf_ok(buf, 18, "00:16:3e:%02x:%02x:%02x", b[0], b[1], b[2]);
}

void lxc_veth_name_generate(char buf[13])
{
	autofree char *hex = random_hex(4);

	(void)snprintf_ok(buf, 13, "veth%s", hex);
}

static const char *const nictype_names[] = {
	[LXC_NIC_BRIDGED] = "bridged",
	[LXC_NIC_MACVLAN] = "macvlan",
	[LXC_NIC_P2P] = "p2p",
	[LXC_NIC_PHYSICAL] = "physical",
};

int lxc_nictype_of(const json_t *dev)
{
	const char *type = json_get_str(dev, "type");
	const char *nictype = json_get_str(dev, "nictype");

	if (!type || !streq(type, "nic"))
		return -1;
	/* network= alone: a managed network, a bridge (network/). */
	if (!nictype)
		return json_get_str(dev, "network") ? LXC_NIC_BRIDGED : -1;
	for (size_t i = 0; i < ARRAY_SIZE(nictype_names); i++)
		if (streq(nictype, nictype_names[i]))
			return (int)i;
	return -1;
}

/* The nic types liblxc makes a MAC address for (physical keeps its own) and those with a
 * host end (a veth). */
static bool nictype_has_mac(int t)
{
	return t == LXC_NIC_BRIDGED || t == LXC_NIC_MACVLAN || t == LXC_NIC_P2P;
}

static bool nictype_has_host_end(int t)
{
	return t == LXC_NIC_BRIDGED || t == LXC_NIC_P2P;
}

static void volatile_set(json_t *config, json_t *expanded, const char *key, const char *value)
{
	if (config)
		(void)json_object_set_new(config, key, json_string(value));
	if (expanded && expanded != config)
		(void)json_object_set_new(expanded, key, json_string(value));
}

int lxc_volatile_fill(json_t *config, json_t *expanded, const json_t *devices)
{
	const char *name;
	json_t *dev;
	int added = 0;

	json_object_foreach((json_t *)devices, name, dev)
	{
		autofree char *hw_key = str_printf("volatile.%s.hwaddr", name);
		autofree char *host_key = str_printf("volatile.%s.host_name", name);
		int t = lxc_nictype_of(dev);

		if (!nictype_has_mac(t))
			continue;
		if (!json_get_str(dev, "hwaddr") && !config_str(expanded, hw_key)) {
			char mac[18];

			lxc_mac_generate(mac);
			volatile_set(config, expanded, hw_key, mac);
			added++;
		}
		if (nictype_has_host_end(t) && !json_get_str(dev, "host_name") &&
		    !config_str(expanded, host_key)) {
			char veth[13];

			lxc_veth_name_generate(veth);
			volatile_set(config, expanded, host_key, veth);
			added++;
		}
	}
	return added;
}

/* --- devices --------------------------------------------------------------------------- */

/* Device names end up in file names (devices_dir/unix.<name>) and messages. */
static bool device_name_is_valid(const char *name)
{
	if (!*name || name[0] == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* A container path as an lxc.mount.entry target: absolute and normalized (no ".", "..",
 * "//"), written relative to the rootfs, escaped. */
static int mount_target(const char *devname, const char *path, char **ret, struct error *err)
{
	struct error verr = ERROR_INIT;

	if (config_validate_abspath(path, &verr) < 0 || streq(path, "/")) {
		error_clear(&verr);
		return error_set(
			err, -EINVAL,
			"Invalid 'path' of device '%s': expected an absolute path without '.' or '..' components",
			devname);
	}
	if (ret)
		*ret = fstab_escape(path + 1);
	return 0;
}

static int check_keys(const char *devname, const json_t *dev, const char *const *allowed,
		      struct error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)dev, key, v)
	{
		bool ok = false;

		for (const char *const *a = allowed; *a && !ok; a++)
			ok = streq(key, *a);
		if (!ok)
			return error_set(err, -EOPNOTSUPP,
					 "Device '%s': key '%s' is not supported by the lxc driver",
					 devname, key);
	}
	return 0;
}

int lxc_disk_resolve(const char *devname, const json_t *dev, const json_t *volume_paths, bool idmap,
		     struct lxc_disk *ret, struct error *err)
{
	static const char *const allowed[] = { "type",	   "path",	"source",   "readonly",
					       "optional", "recursive", "required", "pool",
					       "size",	   NULL };
	const char *path = json_get_str(dev, "path");
	const char *source = json_get_str(dev, "source");
	struct lxc_disk d = { .source = source };
	struct error verr = ERROR_INIT;
	bool optional = false, required = true;
	struct stat st;
	int r;

	r = check_keys(devname, dev, allowed, err);
	if (r < 0)
		return r;
	if (!path)
		return error_set(err, -EINVAL, "Device '%s' needs a 'path'", devname);
	r = mount_target(devname, path, NULL, err);
	if (r < 0)
		return r;
	d.path = path;
	if (!source)
		return error_set(err, -EINVAL, "Device '%s' needs a 'source'", devname);
	r = bool_key(dev, "readonly", false, " of a disk", &d.readonly, err);
	if (r == 0)
		r = bool_key(dev, "optional", false, " of a disk", &optional, err);
	if (r == 0)
		r = bool_key(dev, "required", !optional, " of a disk", &required, err);
	if (r == 0)
		r = bool_key(dev, "recursive", false, " of a disk", &d.recursive, err);
	if (r < 0)
		return r;
	d.required = required;

	/* A custom volume, mounted by the storage layer; shifted into the container's ids by
	 * an idmapped bind, so an unprivileged container can write to it. */
	if (json_get_str(dev, "pool")) {
		d.source = json_get_str(volume_paths, devname);
		if (!d.source)
			return error_set(err, -ENOENT,
					 "Device '%s': storage volume '%s' is not available",
					 devname, source);
		d.is_dir = true;
		d.idmap = idmap;
		d.recursive = false;
		*ret = d;
		return 0;
	}
	if (config_validate_abspath(source, &verr) < 0) {
		error_clear(&verr);
		return error_set(
			err, -EINVAL,
			"Invalid 'source' of device '%s': expected an absolute path without '.' or '..' components",
			devname);
	}
	if (stat(source, &st) < 0) {
		if (errno == ENOENT && !required) {
			d.absent = true;
			*ret = d;
			return 0;
		}
		return error_errno(err, -errno, "Source '%s' of device '%s' is not usable", source,
				   devname);
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return error_set(err, -EOPNOTSUPP,
				 "Device '%s': only directories and files can be mounted, not '%s'",
				 devname, source);
	d.is_dir = S_ISDIR(st.st_mode);
	*ret = d;
	return 0;
}

static int device_disk(struct strbuf *sb, const struct lxc_conf_input *in, const char *devname,
		       const json_t *dev, struct error *err)
{
	const char *path = json_get_str(dev, "path");
	autofree char *target = NULL;
	autofree char *src = NULL;
	struct lxc_disk d;
	int r;

	/* The root disk is the rootfs the storage layer mounted for us. */
	if (path && streq(path, "/"))
		return 0;
	r = lxc_disk_resolve(devname, dev, in->volume_paths, in->idmap != NULL, &d, err);
	if (r < 0 || d.absent)
		return r;
	r = mount_target(devname, d.path, &target, err);
	if (r < 0)
		return r;
	src = fstab_escape(d.source);
	if (json_get_str(dev, "pool"))
		return conf_addf(sb, "lxc.mount.entry", err, "%s %s none bind,create=dir%s%s 0 0",
				 src, target, d.readonly ? ",ro" : "",
				 d.idmap ? ",idmap=container" : "");
	return conf_addf(sb, "lxc.mount.entry", err, "%s %s none %s,create=%s%s%s 0 0", src, target,
			 d.recursive ? "rbind" : "bind", d.is_dir ? "dir" : "file",
			 d.readonly ? ",ro" : "", d.required ? "" : ",optional");
}

static int parse_octal_mode(const char *s, unsigned *ret)
{
	unsigned mode = 0;

	if (!*s || strlen(s) > 4)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		mode = mode * 8 + (unsigned)(*p - '0');
	}
	*ret = mode & 0777;
	return 0;
}

static int device_unix(struct strbuf *sb, const struct lxc_conf_input *in, const char *devname,
		       const json_t *dev, bool block, struct lxc_conf *conf, struct error *err)
{
	static const char *const allowed[] = { "type", "path", "source", "major",    "minor",
					       "uid",  "gid",  "mode",	 "required", NULL };
	const char *source = json_get_str(dev, "source");
	const char *path = json_get_str(dev, "path");
	const char *s;
	autofree char *target = NULL;
	autofree char *node_path = NULL;
	autofree char *node_escaped = NULL;
	uint64_t major = 0, minor = 0, uid = 0, gid = 0;
	unsigned mode = 0660;
	struct lxc_node *node;
	bool required;
	int r;

	r = check_keys(devname, dev, allowed, err);
	if (r < 0)
		return r;
	r = bool_key(dev, "required", true, " of a unix device", &required, err);
	if (r < 0)
		return r;
	if (!path)
		path = source;
	if (!path)
		return error_set(err, -EINVAL, "Device '%s' needs a 'path' or a 'source'", devname);
	r = mount_target(devname, path, &target, err);
	if (r < 0)
		return r;

	if (json_get_str(dev, "major") || json_get_str(dev, "minor")) {
		if (!json_get_str(dev, "major") || !json_get_str(dev, "minor") ||
		    parse_u64(json_get_str(dev, "major"), &major) < 0 ||
		    parse_u64(json_get_str(dev, "minor"), &minor) < 0 || major > 4095 ||
		    minor > 1048575)
			return error_set(err, -EINVAL,
					 "Device '%s' needs both a valid 'major' and 'minor'",
					 devname);
	} else {
		struct error verr = ERROR_INIT;
		struct stat st;

		if (!source || config_validate_abspath(source, &verr) < 0) {
			error_clear(&verr);
			return error_set(
				err, -EINVAL,
				"Device '%s' needs 'major' and 'minor' or an absolute 'source'",
				devname);
		}
		if (stat(source, &st) < 0) {
			if (errno == ENOENT && !required)
				return 0;
			return error_errno(err, -errno, "Source '%s' of device '%s' is not usable",
					   source, devname);
		}
		if (block ? !S_ISBLK(st.st_mode) : !S_ISCHR(st.st_mode))
			return error_set(err, -EINVAL,
					 "Source '%s' of device '%s' is not a %s device", source,
					 devname, block ? "block" : "character");
		major = major(st.st_rdev);
		minor = minor(st.st_rdev);
	}
	if ((s = json_get_str(dev, "uid")) && parse_u64(s, &uid) < 0)
		return error_set(err, -EINVAL, "Invalid 'uid' of device '%s'", devname);
	if ((s = json_get_str(dev, "gid")) && parse_u64(s, &gid) < 0)
		return error_set(err, -EINVAL, "Invalid 'gid' of device '%s'", devname);
	if ((s = json_get_str(dev, "mode")) && parse_octal_mode(s, &mode) < 0)
		return error_set(err, -EINVAL,
				 "Invalid 'mode' of device '%s': expected octal such as 0660",
				 devname);
	if (in->idmap) {
		if (uid >= in->idmap->uid.count || gid >= in->idmap->gid.count)
			return error_set(
				err, -EINVAL,
				"Device '%s': uid and gid must be inside the container's id map",
				devname);
		uid += in->idmap->uid.base;
		gid += in->idmap->gid.base;
	}

	/* The node lives on the host and is bind-mounted: an unprivileged container may not
	 * mknod, and a bind mount keeps the host's ownership (mapped above). */
	node_path = str_printf("%s/unix.%s", in->devices_dir, devname);
	node_escaped = fstab_escape(node_path);
	r = conf_addf(sb, "lxc.mount.entry", err, "%s %s none bind,create=file 0 0", node_escaped,
		      target);
	if (r < 0)
		return r;
	if (in->cgroups->controllers[CGROUP_DEVICES] != CGROUP_UNAVAILABLE) {
		r = conf_addf(sb,
			      in->cgroups->controllers[CGROUP_DEVICES] == CGROUP_V2
				      ? "lxc.cgroup2.devices.allow"
				      : "lxc.cgroup.devices.allow",
			      err, "%c %llu:%llu rwm", block ? 'b' : 'c', (unsigned long long)major,
			      (unsigned long long)minor);
		if (r < 0)
			return r;
	}

	conf->nodes = xrealloc(conf->nodes, (conf->n_nodes + 1) * sizeof(*conf->nodes));
	node = &conf->nodes[conf->n_nodes++];
	*node = (struct lxc_node){
		.path = take_ptr(node_path),
		.block = block,
		.major = (unsigned)major,
		.minor = (unsigned)minor,
		.mode = mode,
		.uid = uid,
		.gid = gid,
	};
	return 0;
}

int lxc_nic_resolve(const json_t *config, const char *devname, const json_t *dev,
		    struct lxc_nic *ret, struct error *err)
{
	/* ipv4.address and ipv6.address are static DHCP leases (network/), not lxc keys. */
	static const char *const allowed[] = { "type",	       "nictype",   "parent",
					       "network",      "name",	    "hwaddr",
					       "mtu",	       "host_name", "ipv4.address",
					       "ipv6.address", NULL };
	const char *nictype = json_get_str(dev, "nictype");
	const char *link = json_get_str(dev, "parent");
	const char *name = json_get_str(dev, "name");
	const char *hwaddr = json_get_str(dev, "hwaddr");
	const char *host_name = json_get_str(dev, "host_name");
	autofree char *hw_key = str_printf("volatile.%s.hwaddr", devname);
	autofree char *host_key = str_printf("volatile.%s.host_name", devname);
	int t = lxc_nictype_of(dev);
	int r;

	if (t < 0)
		return error_set(err, -EOPNOTSUPP,
				 "Device '%s': nictype '%s' is not supported by the lxc driver "
				 "(bridged, macvlan, p2p, physical)",
				 devname, nictype ? nictype : "");
	r = check_keys(devname, dev, allowed, err);
	if (r == 0)
		r = instance_nic_validate(devname, dev, err);
	if (r < 0)
		return r;
	/* A managed network is a bridge of the same name (network/). */
	if (t == LXC_NIC_BRIDGED && (!link || !*link))
		link = json_get_str(dev, "network");
	if (!name)
		name = devname;
	if (!instance_ifname_is_valid(name))
		return error_set(err, -EINVAL, "Invalid interface name '%s' of device '%s'", name,
				 devname);
	if (link && !instance_ifname_is_valid(link))
		return error_set(err, -EINVAL, "Device '%s': invalid bridge '%s'", devname, link);
	if (!hwaddr && nictype_has_mac(t))
		hwaddr = config_str(config, hw_key);
	if (nictype_has_mac(t) && (!hwaddr || !network_hwaddr_is_valid(hwaddr)))
		return error_set(err, -EINVAL,
				 "Device '%s' has no valid MAC address ('hwaddr' or '%s')", devname,
				 hw_key);
	if (!host_name && nictype_has_host_end(t))
		host_name = config_str(config, host_key);
	if (host_name && !instance_ifname_is_valid(host_name))
		return error_set(err, -EINVAL, "Invalid '%s' of device '%s'", host_key, devname);
	*ret = (struct lxc_nic){ .type = (enum lxc_nictype)t,
				 .link = link,
				 .name = name,
				 .hwaddr = hwaddr,
				 .host_name = host_name,
				 .mtu = json_get_str(dev, "mtu") };
	return 0;
}

static int device_nic(struct strbuf *sb, const struct lxc_conf_input *in, const char *devname,
		      const json_t *dev, unsigned index, struct error *err)
{
	static const char *const lxc_types[] = {
		[LXC_NIC_BRIDGED] = "veth",
		[LXC_NIC_MACVLAN] = "macvlan",
		[LXC_NIC_P2P] = "veth",
		[LXC_NIC_PHYSICAL] = "phys",
	};
	struct lxc_nic nic;
	char key[64];
	int r;

	r = lxc_nic_resolve(in->config, devname, dev, &nic, err);
	if (r < 0)
		return r;
#define NET_KEY(suffix) (snprintf_ok(key, sizeof(key), "lxc.net.%u.%s", index, suffix), key)
	r = conf_add(sb, NET_KEY("type"), lxc_types[nic.type], err);
	if (r == 0)
		r = conf_add(sb, NET_KEY("flags"), "up", err);
	if (r == 0 && nic.link)
		r = conf_add(sb, NET_KEY("link"), nic.link, err);
	if (r == 0 && nic.type == LXC_NIC_MACVLAN)
		r = conf_add(sb, NET_KEY("macvlan.mode"), "bridge", err);
	if (r == 0)
		r = conf_add(sb, NET_KEY("name"), nic.name, err);
	if (r == 0 && nic.hwaddr)
		r = conf_add(sb, NET_KEY("hwaddr"), nic.hwaddr, err);
	if (r == 0 && nic.host_name)
		r = conf_add(sb, NET_KEY("veth.pair"), nic.host_name, err);
	if (r == 0 && nic.mtu)
		r = conf_add(sb, NET_KEY("mtu"), nic.mtu, err);
#undef NET_KEY
	return r;
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int devices_add(struct strbuf *sb, const struct lxc_conf_input *in, struct lxc_conf *conf,
		       struct error *err)
{
	const char **names;
	size_t n = 0, i = 0;
	unsigned nic_index = 0;
	const char *name;
	json_t *dev;
	int r = 0;

	if (!in->devices)
		return 0;
	n = json_object_size(in->devices);
	names = xcalloc(n, sizeof(*names));
	json_object_foreach((json_t *)in->devices, name, dev) names[i++] = name;
	/* Device order decides lxc.net.N numbering: keep it stable, as LXD sorts them. */
	qsort(names, n, sizeof(*names), strcmp_ptr);

	for (i = 0; i < n && r == 0; i++) {
		const char *type;

		dev = json_object_get(in->devices, names[i]);
		type = json_get_str(dev, "type");
		if (!type)
			r = error_set(err, -EINVAL, "Device '%s' has no type", names[i]);
		else if (streq(type, "none"))
			continue;
		else if (streq(type, "disk"))
			r = device_disk(sb, in, names[i], dev, err);
		else if (streq(type, "nic"))
			r = device_nic(sb, in, names[i], dev, nic_index++, err);
		else if (streq(type, "unix-char") || streq(type, "unix-block"))
			r = device_unix(sb, in, names[i], dev, streq(type, "unix-block"), conf,
					err);
		else
			r = error_set(err, -EOPNOTSUPP,
				      "Device '%s': type '%s' is not supported by the lxc driver",
				      names[i], type);
	}
	free(names);
	return r;
}

/* --- the whole file -------------------------------------------------------------------- */

/* Every key and value of the config and devices must be a single-line string before any of
 * them is looked at: the config that is written is the config that was checked. */
static int input_check(const struct lxc_conf_input *in, struct error *err)
{
	const char *key, *dname, *dkey;
	json_t *v, *dev, *dv;

	json_object_foreach((json_t *)in->config, key, v)
	{
		if (!config_value_is_safe(key))
			return error_set(
				err, -EINVAL,
				"Invalid configuration key: control characters are not allowed");
		if (!json_is_string(v) || !config_value_is_safe(json_string_value(v)))
			return error_set(
				err, -EINVAL,
				"Invalid value for '%s': control characters (such as line breaks) are not allowed",
				key);
	}
	if (!in->devices)
		return 0;
	json_object_foreach((json_t *)in->devices, dname, dev)
	{
		if (!config_value_is_safe(dname) || !device_name_is_valid(dname))
			return error_set(
				err, -EINVAL,
				"Invalid device name: only letters, digits and '-', '_', '.' are allowed");
		if (!json_is_object(dev))
			return error_set(err, -EINVAL, "Device '%s' is not an object", dname);
		json_object_foreach(dev, dkey, dv)
		{
			if (!config_value_is_safe(dkey))
				return error_set(
					err, -EINVAL,
					"Invalid key in device '%s': control characters are not allowed",
					dname);
			if (!json_is_string(dv) || !config_value_is_safe(json_string_value(dv)))
				return error_set(
					err, -EINVAL,
					"Invalid value for '%s' of device '%s': control characters (such as line breaks) are not allowed",
					dkey, dname);
		}
	}
	return 0;
}

static int base_add(struct strbuf *sb, const struct lxc_conf_input *in, struct error *err)
{
	autofree char *log_file = str_printf("%s/lxc.log", in->log_dir);
	autofree char *console_file = str_printf("%s/console.log", in->log_dir);
	int r;

	strbuf_addf(sb, "# Written by lodged at every start of instance '%s'; changes are lost.\n",
		    in->hostname);
	r = conf_add(sb, "lxc.uts.name", in->hostname, err);
	if (r == 0)
		r = conf_addf(sb, "lxc.rootfs.path", err, "dir:%s", in->rootfs);
	if (r == 0 && in->rootfs_idmapped)
		r = conf_add(sb, "lxc.rootfs.options", "idmap=container", err);
	if (r == 0)
		r = conf_add(sb, "lxc.log.file", log_file, err);
	if (r == 0)
		r = conf_add(sb, "lxc.log.level", "warn", err);
	if (r == 0)
		r = conf_add(sb, "lxc.console.logfile", console_file, err);
	if (r == 0)
		r = conf_add(sb, "lxc.console.size", "auto", err);
	if (r == 0)
		r = conf_add(sb, "lxc.console.rotate", "1", err);
	if (r == 0)
		r = conf_add(sb, "lxc.console.buffer.size", "auto", err);
	if (r == 0)
		r = conf_add(sb, "lxc.autodev", "1", err);
	if (r == 0)
		r = conf_add(sb, "lxc.pty.max", "1024", err);
	if (r == 0)
		r = conf_add(sb, "lxc.tty.max", "0", err);
	/* No lxc.signal.halt, as LXD: liblxc then sends SIGPWR, or SIGRTMIN+3 to an init
	 * that blocks it (systemd, which ignores SIGPWR). */
	if (r == 0)
		r = conf_add(sb, "lxc.cap.drop",
			     "sys_time sys_module sys_rawio mac_admin mac_override", err);
	/* TODO: write an AppArmor profile when the host has AppArmor; liblxc's generated one
	 * is the closest to LXD's. */
	if (r == 0)
		r = conf_add(sb, "lxc.apparmor.profile",
			     in->host->apparmor ? "generated" : "unconfined", err);
	if (r == 0 && in->host->apparmor && config_true(in->config, "security.nesting"))
		r = conf_add(sb, "lxc.apparmor.allow_nesting", "1", err);
	if (r == 0)
		r = conf_add(sb, "lxc.seccomp.profile", in->seccomp_path, err);
	if (r == 0)
		r = conf_add(sb, "lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed", err);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(default_mounts); i++)
		r = conf_add(sb, "lxc.mount.entry", default_mounts[i], err);
	/* LXD's nesting: proc and sys mounted once more, uncovered, so that a nested
	 * container manager may mount them (the kernel refuses if none is fully visible). */
	if (r == 0 && config_true(in->config, "security.nesting")) {
		r = conf_add(sb, "lxc.mount.entry",
			     "proc dev/.lxc/proc proc create=dir,optional 0 0", err);
		if (r == 0)
			r = conf_add(sb, "lxc.mount.entry",
				     "sys dev/.lxc/sys sysfs create=dir,optional 0 0", err);
	}
	return r;
}

static int idmap_add(struct strbuf *sb, const struct lxc_conf_input *in, struct error *err)
{
	int r;

	if (!in->idmap)
		return 0;
	r = conf_addf(sb, "lxc.idmap", err, "u 0 %llu %llu",
		      (unsigned long long)in->idmap->uid.base,
		      (unsigned long long)in->idmap->uid.count);
	if (r == 0)
		r = conf_addf(sb, "lxc.idmap", err, "g 0 %llu %llu",
			      (unsigned long long)in->idmap->gid.base,
			      (unsigned long long)in->idmap->gid.count);
	return r;
}

static int cgroups_add(struct strbuf *sb, const struct lxc_conf_input *in, struct error *err)
{
	enum cgroup_version devices = in->cgroups->controllers[CGROUP_DEVICES];
	struct lxc_cgroup_items items = { 0 };
	int r = 0;

	if (devices != CGROUP_UNAVAILABLE) {
		const char *deny = devices == CGROUP_V2 ? "lxc.cgroup2.devices.deny"
							: "lxc.cgroup.devices.deny";
		const char *allow = devices == CGROUP_V2 ? "lxc.cgroup2.devices.allow"
							 : "lxc.cgroup.devices.allow";

		r = conf_add(sb, deny, "a", err);
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(default_device_rules); i++)
			r = conf_add(sb, allow, default_device_rules[i], err);
		if (r < 0)
			return r;
	}

	r = lxc_cgroup_items_build(in->config, in->cgroups, in->host, false, &items, err);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < items.n; i++) {
		autofree char *key = str_printf(
			"%s.%s", items.items[i].version == CGROUP_V2 ? "lxc.cgroup2" : "lxc.cgroup",
			items.items[i].key);

		r = conf_add(sb, key, items.items[i].value, err);
	}
	lxc_cgroup_items_release(&items);
	return r;
}

/* environment.<NAME> keys: the environment of the container's init, as LXD. */
static int environment_add(struct strbuf *sb, const struct lxc_conf_input *in, struct error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)in->config, key, v)
	{
		const char *name;
		bool ok;
		int r;

		if (!str_has_prefix(key, "environment."))
			continue;
		name = key + strlen("environment.");
		ok = *name != '\0';
		for (const char *p = name; *p && ok; p++)
			ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9' && p != name) || *p == '_';
		if (!ok)
			return error_set(
				err, -EINVAL,
				"Invalid key '%s': environment variable names are letters, digits and '_'",
				key);
		r = conf_addf(sb, "lxc.environment", err, "%s=%s", name, json_string_value(v));
		if (r < 0)
			return r;
	}
	return 0;
}

void lxc_conf_release(struct lxc_conf *conf)
{
	free(conf->text);
	for (size_t i = 0; i < conf->n_nodes; i++)
		free(conf->nodes[i].path);
	free(conf->nodes);
	*conf = (struct lxc_conf){ 0 };
}

int lxc_conf_build(const struct lxc_conf_input *in, struct lxc_conf *ret, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct lxc_conf conf = { 0 };
	int r;

	r = input_check(in, err);
	if (r == 0 && config_str(in->config, "raw.lxc"))
		r = error_set(err, -EOPNOTSUPP, "'raw.lxc' is not supported by the lxc driver");
	if (r == 0)
		r = base_add(&sb, in, err);
	if (r == 0)
		r = idmap_add(&sb, in, err);
	if (r == 0)
		r = cgroups_add(&sb, in, err);
	if (r == 0)
		r = environment_add(&sb, in, err);
	if (r == 0)
		r = devices_add(&sb, in, &conf, err);
	if (r < 0) {
		strbuf_release(&sb);
		lxc_conf_release(&conf);
		return r;
	}
	conf.text = strbuf_detach(&sb);
	*ret = conf;
	return 0;
}

int lxc_host_detect(struct lxc_host *ret, struct error *err)
{
	autofree char *online = NULL;
	autofree char *meminfo = NULL;
	autofree char *aa = NULL;
	struct lxc_host host = { 0 };
	const char *p;
	int r;

	r = read_file("/sys/devices/system/cpu/online", 4096, &online, NULL, err);
	if (r < 0)
		return r;
	online[strcspn(online, "\n")] = '\0';
	if (!snprintf_ok(host.cpus_online, sizeof(host.cpus_online), "%s", online))
		return error_set(err, -E2BIG, "Too many CPU ranges online");

	r = read_file("/proc/meminfo", 1 << 16, &meminfo, NULL, err);
	if (r < 0)
		return r;
	p = strstr(meminfo, "MemTotal:");
	if (p) {
		unsigned long long kib = strtoull(p + strlen("MemTotal:"), NULL, 10);

		host.memory_total = kib * 1024;
	}
	if (host.memory_total == 0)
		return error_set(err, -EIO,
				 "Cannot read the host's memory size from /proc/meminfo");

	if (read_file("/sys/module/apparmor/parameters/enabled", 64, &aa, NULL, NULL) == 0)
		host.apparmor = aa[0] == 'Y';
	*ret = host;
	return 0;
}
