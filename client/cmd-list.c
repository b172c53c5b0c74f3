/* lodge list [<remote>:] [<filter>...]: instances as `lxc list` of LXD 5.0 shows them, from
 * GET /1.0/instances?recursion=2 (state and snapshots in one request, the container_full
 * extension). Columns are lxc's shorthand letters or "[config:|devices:]key[:name[:width]]";
 * filters are a name (prefix or anchored regex), "key=value" on the expanded config
 * (dotted prefixes allowed: "s.privileged=true") or a shorthand: type, status,
 * architecture, location, ipv4, ipv6. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define LIST_COLUMNS_DEFAULT "ns46tSL"

struct column;
typedef char *(*column_data_fn)(const struct column *col, const json_t *inst);

struct column {
	const char *title;
	column_data_fn data;
	/* Custom columns: the config or device key and the width cut (-1: none). */
	char *key;
	bool device;
	long max_width;
};

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static char *upper(const char *s)
{
	char *u = xstrdup(str_or_empty(s));

	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

static bool is_active(const json_t *inst)
{
	const char *status = json_get_str(inst, "status");

	return status && !streq(status, "Stopped") && !streq(status, "Error");
}

static const json_t *active_state(const json_t *inst)
{
	const json_t *state = json_object_get(inst, "state");

	return is_active(inst) && json_is_object(state) ? state : NULL;
}

static int strcmp_reverse(const void *a, const void *b)
{
	return strcmp(*(const char *const *)b, *(const char *const *)a);
}

/* "10.0.3.5 (eth0)" lines, newest sort first as lxc does (reverse string order). */
static char *addresses(const json_t *inst, const char *family)
{
	const json_t *state = active_state(inst);
	struct strbuf sb = STRBUF_INIT;
	char **lines = NULL;
	size_t n = 0;
	const char *nic;
	json_t *net;

	json_object_foreach(json_object_get(state, "network"), nic, net)
	{
		const json_t *addrs = json_object_get(net, "addresses");

		if (streq_ptr(json_get_str(net, "type"), "loopback"))
			continue;
		for (size_t i = 0; i < json_array_size(addrs); i++) {
			const json_t *a = json_array_get(addrs, i);
			const char *scope = str_or_empty(json_get_str(a, "scope"));

			if (streq(scope, "link") || streq(scope, "local") ||
			    !streq_ptr(json_get_str(a, "family"), family))
				continue;
			lines = xrealloc(lines, (n + 1) * sizeof(*lines));
			lines[n++] = str_printf("%s (%s)", str_or_empty(json_get_str(a, "address")),
						nic);
		}
	}
	if (n > 1)
		qsort(lines, n, sizeof(*lines), strcmp_reverse);
	strbuf_adds(&sb, "");
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(&sb, "%s%s", i > 0 ? "\n" : "", lines[i]);
		free(lines[i]);
	}
	free(lines);
	return strbuf_detach(&sb);
}

static char *col_name(const struct column *col, const json_t *inst)
{
	return xstrdup(str_or_empty(json_get_str(inst, "name")));
}

static char *col_state(const struct column *col, const json_t *inst)
{
	return upper(json_get_str(inst, "status"));
}

static char *col_ipv4(const struct column *col, const json_t *inst)
{
	return addresses(inst, "inet");
}

static char *col_ipv6(const struct column *col, const json_t *inst)
{
	return addresses(inst, "inet6");
}

static char *col_type(const struct column *col, const json_t *inst)
{
	autofree char *type =
		upper(str_is_empty(json_get_str(inst, "type")) ? "container"
							       : json_get_str(inst, "type"));

	if (json_is_true(json_object_get(inst, "ephemeral")))
		return str_printf("%s (EPHEMERAL)", type);
	return take_ptr(type);
}

static char *col_snapshots(const struct column *col, const json_t *inst)
{
	return str_printf("%zu", json_array_size(json_object_get(inst, "snapshots")));
}

static char *state_int(const json_t *inst, const char *key)
{
	const json_t *state = active_state(inst);
	long long v = 0;

	if (!state)
		return xstrdup("");
	(void)json_get_int(state, key, &v);
	return str_printf("%lld", v);
}

static char *col_pid(const struct column *col, const json_t *inst)
{
	return state_int(inst, "pid");
}

static char *col_processes(const struct column *col, const json_t *inst)
{
	return state_int(inst, "processes");
}

static char *col_profiles(const struct column *col, const json_t *inst)
{
	const json_t *profiles = json_object_get(inst, "profiles");
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, "");
	for (size_t i = 0; i < json_array_size(profiles); i++)
		strbuf_addf(&sb, "%s%s", i > 0 ? "\n" : "",
			    str_or_empty(json_string_value(json_array_get(profiles, i))));
	return strbuf_detach(&sb);
}

static char *col_architecture(const struct column *col, const json_t *inst)
{
	return xstrdup(str_or_empty(json_get_str(inst, "architecture")));
}

static char *col_description(const struct column *col, const json_t *inst)
{
	return xstrdup(str_or_empty(json_get_str(inst, "description")));
}

static char *col_project(const struct column *col, const json_t *inst)
{
	return xstrdup(str_or_empty(json_get_str(inst, "project")));
}

static char *col_location(const struct column *col, const json_t *inst)
{
	return xstrdup(str_or_empty(json_get_str(inst, "location")));
}

/* Go's zero time "0001-01-01T00:00:00Z" and the Unix epoch count as unset. */
static char *time_column(const char *rfc3339)
{
	if (!rfc3339 || str_has_prefix(rfc3339, "0001-01-01") ||
	    str_has_prefix(rfc3339, "1970-01-01"))
		return xstrdup("");
	return cli_time_short(rfc3339);
}

static char *col_created(const struct column *col, const json_t *inst)
{
	return time_column(json_get_str(inst, "created_at"));
}

static char *col_last_used(const struct column *col, const json_t *inst)
{
	return time_column(json_get_str(inst, "last_used_at"));
}

static char *col_pool(const struct column *col, const json_t *inst)
{
	const char *name;
	json_t *dev;

	json_object_foreach(json_object_get(inst, "expanded_devices"), name, dev)
	{
		if (streq_ptr(json_get_str(dev, "type"), "disk") &&
		    streq_ptr(json_get_str(dev, "path"), "/"))
			return xstrdup(str_or_empty(json_get_str(dev, "pool")));
	}
	return xstrdup("");
}

static char *col_memory(const struct column *col, const json_t *inst)
{
	long long usage = 0;

	if (!json_get_int(json_object_get(active_state(inst), "memory"), "usage", &usage) ||
	    usage <= 0)
		return xstrdup("");
	return cli_size_iec((uint64_t)usage, 2);
}

static char *col_memory_percent(const struct column *col, const json_t *inst)
{
	const char *limit = json_get_str(json_object_get(inst, "expanded_config"), "limits.memory");
	long long usage = 0;
	uint64_t max = 0;

	if (!json_get_int(json_object_get(active_state(inst), "memory"), "usage", &usage) ||
	    usage <= 0 || str_is_empty(limit) || strchr(limit, '%') ||
	    parse_size(limit, &max) < 0 || max == 0)
		return xstrdup("");
	return str_printf("%.1f%%", (double)usage / (double)max * 100);
}

static char *col_cpu(const struct column *col, const json_t *inst)
{
	long long usage = 0;

	if (!json_get_int(json_object_get(active_state(inst), "cpu"), "usage", &usage) ||
	    usage <= 0)
		return xstrdup("");
	return str_printf("%llds", usage / 1000000000);
}

static char *col_disk(const struct column *col, const json_t *inst)
{
	const json_t *disk = json_object_get(json_object_get(inst, "state"), "disk");
	long long usage = 0;

	if (!json_get_int(json_object_get(disk, "root"), "usage", &usage) || usage <= 0)
		return xstrdup("");
	return cli_size_iec((uint64_t)usage, 2);
}

static char *base_image(const json_t *inst, bool full)
{
	const char *fp = json_get_str(json_object_get(inst, "config"), "volatile.base_image");

	if (!fp)
		return xstrdup("");
	return full ? xstrdup(fp) : xstrndup(fp, 12);
}

static char *col_image(const struct column *col, const json_t *inst)
{
	return base_image(inst, false);
}

static char *col_image_full(const struct column *col, const json_t *inst)
{
	return base_image(inst, true);
}

/* A config key (the instance's own value, else the expanded one) or "device.key". */
static char *col_custom(const struct column *col, const json_t *inst)
{
	const char *v = NULL;

	if (col->device) {
		const char *dot = strchr(col->key, '.');
		autofree char *dev = dot ? xstrndup(col->key, (size_t)(dot - col->key)) : NULL;

		if (dot && !strchr(dot + 1, '.') && dev) {
			v = json_get_str(json_object_get(json_object_get(inst, "devices"), dev),
					 dot + 1);
			if (!v)
				v = json_get_str(
					json_object_get(json_object_get(inst, "expanded_devices"),
							dev),
					dot + 1);
		}
	} else {
		v = json_get_str(json_object_get(inst, "config"), col->key);
		if (!v)
			v = json_get_str(json_object_get(inst, "expanded_config"), col->key);
	}
	v = str_or_empty(v);
	if (col->max_width > 0 && strlen(v) > (size_t)col->max_width)
		return xstrndup(v, (size_t)col->max_width);
	return xstrdup(v);
}

static const struct shorthand {
	char letter;
	const char *title;
	column_data_fn data;
} shorthands[] = {
	{ '4', "IPV4", col_ipv4 },
	{ '6', "IPV6", col_ipv6 },
	{ 'a', "ARCHITECTURE", col_architecture },
	{ 'b', "STORAGE POOL", col_pool },
	{ 'c', "CREATED AT", col_created },
	{ 'd', "DESCRIPTION", col_description },
	{ 'D', "DISK USAGE", col_disk },
	{ 'e', "PROJECT", col_project },
	{ 'f', "BASE IMAGE", col_image },
	{ 'F', "BASE IMAGE", col_image_full },
	{ 'l', "LAST USED AT", col_last_used },
	{ 'm', "MEMORY USAGE", col_memory },
	{ 'M', "MEMORY USAGE%", col_memory_percent },
	{ 'n', "NAME", col_name },
	{ 'N', "PROCESSES", col_processes },
	{ 'p', "PID", col_pid },
	{ 'P', "PROFILES", col_profiles },
	{ 'S', "SNAPSHOTS", col_snapshots },
	{ 's', "STATE", col_state },
	{ 't', "TYPE", col_type },
	{ 'u', "CPU USAGE", col_cpu },
	{ 'L', "LOCATION", col_location },
};

struct columns {
	struct column *v;
	size_t n;
};

static void columns_release(struct columns *cols)
{
	for (size_t i = 0; i < cols->n; i++)
		free(cols->v[i].key);
	free(cols->v);
}

static struct column *columns_add(struct columns *cols)
{
	cols->v = xrealloc(cols->v, (cols->n + 1) * sizeof(*cols->v));
	cols->v[cols->n] = (struct column){ .max_width = -1 };
	return &cols->v[cols->n++];
}

static int parse_custom_column(struct columns *cols, const char *entry, struct error *err)
{
	autofree char *copy = xstrdup(entry);
	char *fields[4] = { 0 };
	size_t n = 0;
	char *p = copy;
	struct column *col;
	bool device = false;
	int64_t width = -1;

	for (;;) {
		char *colon = strchr(p, ':');

		if (n == ARRAY_SIZE(fields))
			return error_set(err, -EINVAL,
					 "Invalid config key column format (too many fields): '%s'",
					 entry);
		fields[n++] = p;
		if (!colon)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	if ((streq(fields[0], "config") || streq(fields[0], "devices")) && n > 1) {
		device = streq(fields[0], "devices");
		for (size_t i = 1; i < n; i++)
			fields[i - 1] = fields[i];
		n--;
	}
	if (n > 3)
		return error_set(err, -EINVAL,
				 "Invalid config key column format (too many fields): '%s'", entry);
	if (n > 1 && str_is_empty(fields[1]) && n != 3)
		return error_set(
			err, -EINVAL,
			"Invalid name in '%s', empty string is only allowed when defining maxWidth",
			entry);
	if (n > 2) {
		if (parse_i64(fields[2], &width) < 0)
			return error_set(err, -EINVAL,
					 "Invalid max width (must be an integer) '%s' in '%s'",
					 fields[2], entry);
		if (width < -1)
			return error_set(
				err, -EINVAL,
				"Invalid max width (must -1, 0 or a positive integer) '%s' in '%s'",
				fields[2], entry);
	}

	col = columns_add(cols);
	col->key = xstrdup(fields[0]);
	col->title = n > 1 && !str_is_empty(fields[1]) ? entry + (fields[1] - copy) : NULL;
	col->device = device;
	col->data = col_custom;
	col->max_width = width == 0 ? -2 : (long)width;
	return 0;
}

static int parse_columns(const char *spec, bool clustered, struct columns *cols, struct error *err)
{
	autofree char *copy = NULL;
	bool is_default = streq(spec, LIST_COLUMNS_DEFAULT);
	char *entry, *next;
	int r;

	if (!clustered && !is_default && strchr(spec, 'L') && !strchr(spec, '.'))
		return error_set(err, -EINVAL, "Can't specify column L when not clustered");

	copy = xstrdup(spec);
	for (entry = copy; entry; entry = next) {
		next = strchr(entry, ',');
		if (next)
			*next++ = '\0';
		if (*entry == '\0')
			return error_set(
				err, -EINVAL,
				"Empty column entry (redundant, leading or trailing command) in '%s'",
				spec);
		if (strchr(entry, '.')) {
			r = parse_custom_column(cols, spec + (entry - copy), err);
			if (r < 0)
				return r;
			continue;
		}
		for (const char *c = entry; *c; c++) {
			const struct shorthand *s = NULL;

			if (*c == 'L' && !clustered)
				continue;
			for (size_t i = 0; i < ARRAY_SIZE(shorthands); i++) {
				if (shorthands[i].letter == *c)
					s = &shorthands[i];
			}
			if (!s)
				return error_set(err, -EINVAL,
						 "Unknown column shorthand char '%c' in '%s'", *c,
						 entry);
			*columns_add(cols) = (struct column){ .title = s->title,
							      .data = s->data,
							      .max_width = -1 };
		}
	}
	return 0;
}

/* --- filters ------------------------------------------------------------------------------ */

/* An anchored ERE match ("^v$" unless the value holds ^ or $); -1 when value is no regex. */
static int regex_match(const char *value, const char *s)
{
	autofree char *anchored = strpbrk(value, "^$") ? xstrdup(value) : str_printf("^%s$", value);
	regex_t re;
	int m;

	if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	m = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

/* "s.priv" matches "security.privileged": as many dotted parts, each a prefix. */
static bool dot_prefix_match(const char *shortk, const char *full)
{
	for (;;) {
		size_t ls = strcspn(shortk, "."), lf = strcspn(full, ".");

		if (ls > lf || strncmp(shortk, full, ls) != 0)
			return false;
		shortk += ls;
		full += lf;
		if (*shortk == '\0' || *full == '\0')
			return *shortk == *full;
		shortk++;
		full++;
	}
}

static bool match_net(const json_t *inst, const char *query, const char *family)
{
	const json_t *state = json_object_get(inst, "state");
	unsigned char want[16], have[16];
	autofree char *net = xstrdup(query);
	char *slash = strchr(net, '/');
	int af = streq(family, "inet") ? AF_INET : AF_INET6;
	int64_t prefix = -1;
	const char *nic;
	json_t *n;

	if (slash) {
		*slash = '\0';
		if (parse_i64(slash + 1, &prefix) < 0 || prefix < 0 ||
		    prefix > (af == AF_INET ? 32 : 128) || inet_pton(af, net, want) != 1)
			prefix = -1;
	}
	json_object_foreach(json_object_get(state, "network"), nic, n)
	{
		const json_t *addrs = json_object_get(n, "addresses");

		for (size_t i = 0; i < json_array_size(addrs); i++) {
			const json_t *a = json_array_get(addrs, i);
			const char *addr = str_or_empty(json_get_str(a, "address"));

			if (!streq_ptr(json_get_str(a, "family"), family))
				continue;
			if (streq(addr, query))
				return true;
			if (prefix >= 0 && inet_pton(af, addr, have) == 1) {
				size_t bytes = (size_t)prefix / 8;
				unsigned bits = (unsigned)prefix % 8;

				if (memcmp(want, have, bytes) == 0 &&
				    (bits == 0 ||
				     ((want[bytes] ^ have[bytes]) & (0xff00 >> bits) & 0xff) == 0))
					return true;
			}
		}
	}
	return false;
}

static bool match_shorthand_one(const char *key, const char *value, const json_t *inst)
{
	if (streq(key, "type"))
		return strcasecmp(str_or_empty(json_get_str(inst, "type")), value) == 0;
	if (streq(key, "status"))
		return strcasecmp(str_or_empty(json_get_str(inst, "status")), value) == 0;
	if (streq(key, "architecture"))
		return strcasecmp(str_or_empty(json_get_str(inst, "architecture")), value) == 0;
	if (streq(key, "location"))
		return strcasecmp(str_or_empty(json_get_str(inst, "location")), value) == 0;
	if (streq(key, "ipv4"))
		return match_net(inst, value, "inet");
	return match_net(inst, value, "inet6");
}

/* -1: key is no shorthand; else whether one of the comma-separated values matches. */
static int match_shorthand(const char *key, const char *value, const json_t *inst)
{
	static const char *const keys[] = { "type",	"status", "architecture",
					    "location", "ipv4",	  "ipv6" };
	autofree char *lower = xstrdup(key);
	autofree char *values = xstrdup(value);
	bool known = false;

	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		known = known || streq(keys[i], lower);
	if (!known)
		return -1;
	for (char *v = values, *next; v; v = next) {
		next = strchr(v, ',');
		if (next)
			*next++ = '\0';
		if (match_shorthand_one(lower, v, inst))
			return 1;
	}
	return 0;
}

static bool should_show(char *const *filters, size_t n, const json_t *inst)
{
	const json_t *expanded = json_object_get(inst, "expanded_config");
	const char *name = str_or_empty(json_get_str(inst, "name"));

	for (size_t i = 0; i < n; i++) {
		const char *filter = filters[i];
		const char *eq = strchr(filter, '=');

		if (eq) {
			autofree char *key = xstrndup(filter, (size_t)(eq - filter));
			const char *value = eq + 1, *k;
			bool found = false;
			json_t *v;

			if (match_shorthand(key, value, inst) == 1)
				continue;
			json_object_foreach((json_t *)expanded, k, v)
			{
				const char *cv = str_or_empty(json_string_value(v));
				int m;

				if (!dot_prefix_match(key, k))
					continue;
				m = regex_match(value, cv);
				if (m < 0) {
					if (!streq(value, cv))
						return false;
					found = true;
					break;
				}
				if (m == 1) {
					found = true;
					break;
				}
			}
			if (streq(str_or_empty(json_get_str(expanded, key)), value))
				continue;
			if (!found)
				return false;
		} else if (regex_match(filter, name) != 1 && !str_has_prefix(name, filter)) {
			return false;
		}
	}
	return true;
}

/* --- the command -------------------------------------------------------------------------- */

/* Go's RFC 3339 with nanoseconds, trailing zeros trimmed ("...:16Z", "...:16.5Z"), as
 * lxc re-encodes the times it received; anything unparsable stays as it was. */
static json_t *go_time(const json_t *v)
{
	long long sec;
	long nsec;
	char frac[16];
	size_t len;
	autofree char *base = NULL;
	char *dot;

	if (!json_is_string(v) || lxd_time_parse(json_string_value(v), &sec, &nsec) < 0)
		return json_deep_copy(v);
	base = time_format_rfc3339(sec, 0);
	dot = strpbrk(base, ".Z");
	if (!dot)
		return json_deep_copy(v);
	*dot = '\0';
	if (nsec == 0)
		return json_sprintf("%sZ", base);
	(void)snprintf_ok(frac, sizeof(frac), "%09ld", nsec);
	for (len = strlen(frac); len > 0 && frac[len - 1] == '0'; len--)
		frac[len - 1] = '\0';
	return json_sprintf("%s.%sZ", base, frac);
}

/* obj with the keys in order first (those it has), then the others as they came. */
static json_t *reorder(const json_t *obj, const char *const *order)
{
	json_t *out = json_object();
	const char *key;
	json_t *v;

	for (const char *const *k = order; *k; k++) {
		if (json_object_get(obj, *k))
			json_object_set(out, *k, json_object_get(obj, *k));
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		if (!json_object_get(out, key))
			json_object_set(out, key, v);
	}
	return out;
}

/* The instance as lxc prints it for --format json|yaml: lxc decodes the server's objects
 * into Go structs and encodes them again, so fields come in the structs' order, maps
 * (config, devices, the state's network) with sorted keys, and times in Go's format. In
 * YAML, yaml.v2 writes a nil slice as [] and a nil map as {}. */
static json_t *go_order(const json_t *inst, bool yaml)
{
	static const char *const state_order[] = { "status",	"status_code", "disk",
						   "memory",	"network",     "pid",
						   "processes", "cpu",	       NULL };
	static const char *const full_order[] = { "backups", "state", "snapshots", NULL };
	static const struct {
		const char *key;
		int levels;
	} maps[] = { { "config", 1 },
		     { "devices", 2 },
		     { "expanded_config", 1 },
		     { "expanded_devices", 2 } };
	autojson json_t *copy = json_deep_copy(inst);
	json_t *state = json_object_get(copy, "state");
	json_t *out;

	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		const json_t *m = json_object_get(copy, maps[i].key);

		if (json_is_object(m))
			json_object_set_new(copy, maps[i].key, cli_json_sorted(m, maps[i].levels));
	}
	json_object_set_new(copy, "created_at", go_time(json_object_get(copy, "created_at")));
	json_object_set_new(copy, "last_used_at", go_time(json_object_get(copy, "last_used_at")));
	if (yaml && json_is_null(json_object_get(copy, "backups")))
		json_object_set_new(copy, "backups", json_array());
	if (yaml && json_is_object(state) && json_is_null(json_object_get(state, "network")))
		json_object_set_new(state, "network", json_object());
	if (json_is_object(state)) {
		if (json_is_object(json_object_get(state, "network")))
			json_object_set_new(state, "network",
					    cli_json_sorted(json_object_get(state, "network"), 1));
		json_object_set_new(copy, "state", reorder(state, state_order));
	}
	/* The Instance fields as the server sent them, then InstanceFull's own. */
	out = json_object();
	{
		const char *key;
		json_t *v;

		json_object_foreach(copy, key, v)
		{
			if (!streq(key, "backups") && !streq(key, "state") &&
			    !streq(key, "snapshots"))
				json_object_set(out, key, v);
		}
	}
	for (const char *const *k = full_order; *k; k++) {
		if (json_object_get(copy, *k))
			json_object_set(out, *k, json_object_get(copy, *k));
	}
	return out;
}

static int list_run(struct cli *cli, struct error *err)
{
	autoclean(columns_release) struct columns cols = { 0 };
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *instances = NULL;
	autojson json_t *shown = json_array();
	autofree const char **titles = NULL;
	autofree char **filters = xcalloc(cli->n_args + 1, sizeof(*filters));
	struct lxd_client *lxd = cli_lxd(cli);
	const char *spec = cli_flag_string(cli, "columns");
	const json_t *server = NULL;
	bool clustered = false;
	size_t n_filters = 0;
	int r;

	for (size_t i = 0; i < cli->n_args; i++) {
		const char *name;

		/* "[remote:]" or "[remote:]name" first, as lxc reads it. */
		if (i == 0 && strchr(cli->args[0], ':') && !strchr(cli->args[0], '=')) {
			r = cli_target(cli, cli->args[0], &lxd, &name, err);
			if (r < 0)
				return r;
			if (*name)
				filters[n_filters++] = (char *)name;
			continue;
		}
		filters[n_filters++] = cli->args[i];
	}

	if (cli_flag_bool(cli, "fast")) {
		if (spec && !streq(spec, LIST_COLUMNS_DEFAULT))
			return error_set(err, -EINVAL, "Can't specify --fast with --columns");
		spec = "nsacPt";
	}
	if (!spec)
		spec = LIST_COLUMNS_DEFAULT;
	if (lxd == cli_lxd(cli)) {
		r = cli_server(cli, &server, err);
		if (r < 0)
			return r;
		(void)json_get_bool(json_object_get(server, "environment"), "server_clustered",
				    &clustered);
	}
	r = parse_columns(spec, clustered, &cols, err);
	if (r < 0)
		return r;

	r = lxd_get(lxd, "/1.0/instances?recursion=2", &instances, err);
	if (r < 0)
		return r;

	titles = xcalloc(cols.n + 1, sizeof(*titles));
	for (size_t i = 0; i < cols.n; i++)
		titles[i] = cols.v[i].title ? cols.v[i].title : cols.v[i].key;
	t = table_new(titles);
	for (size_t i = 0; i < json_array_size(instances); i++) {
		const json_t *inst = json_array_get(instances, i);
		autofree char **cells = NULL;

		if (!should_show(filters, n_filters, inst))
			continue;
		json_array_append_new(shown, go_order(inst, cli->format == CLI_FORMAT_YAML));
		cells = xcalloc(cols.n + 1, sizeof(*cells));
		for (size_t c = 0; c < cols.n; c++) {
			struct column col = cols.v[c];

			if (col.max_width == -2)
				col.max_width = (long)strlen(titles[c]);
			cells[c] = col.data(&col, inst);
		}
		table_add_row(t, (const char *const *)cells);
		for (size_t c = 0; c < cols.n; c++)
			free(cells[c]);
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, shown, err);
}

const struct command command_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.args = "[<remote>:] [<filter>...]",
	.summary = "List instances",
	.description =
		"Default column layout: ns46tS; fast column layout: nsacPt.\n\n"
		"Filters: a name prefix or regular expression (\"web\", \".*web.*01$\"), a config\n"
		"key=value (\"security.privileged=true\", abbreviated \"s.privileged=true\") or a\n"
		"shorthand: type=, status=, architecture=, location=, ipv4=, ipv6= (values\n"
		"separated by ',').\n\n"
		"Column letters: 4 IPv4, 6 IPv6, a architecture, b storage pool, c created,\n"
		"d description, D disk usage, e project, f/F base image, l last used, m memory,\n"
		"M memory %, n name, N processes, p PID, P profiles, s state, S snapshots, t type,\n"
		"u CPU usage, L location; or \"[config:|devices:]key[:name][:maxWidth]\".",
	.flags =
		(const struct cli_flag[]){
			{ "columns", 'c', CLI_FLAG_STRING, "COLUMNS", "Columns" },
			{ "fast", 0, CLI_FLAG_BOOL, NULL, "Fast mode (same as --columns=nsacPt)" },
			{ "format", 'f', CLI_FLAG_STRING, "FORMAT",
			  "Format (csv|json|table|yaml)" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.min_args = 0,
	.max_args = -1,
	.run = list_run,
};
