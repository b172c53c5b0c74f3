/* daemon/init.c: `lodged init --auto` and `--preseed` (daemon/init.h). */
#include "daemon/init.h"

#include <errno.h>
#include <string.h>

#include "lib/config.h"
#include "lib/json.h"
#include "lib/lxd-client.h"
#include "lib/str.h"

#include "lib/banned.h"

#define DEFAULT_POOL	"default"
#define DEFAULT_NETWORK "lodgebr0"
#define DEFAULT_PROFILE "default"

/* One kind of preseed entry: its key, the collection it goes to, and what it may hold. */
struct preseed_kind {
	const char *key;	/* "networks" */
	const char *what;	/* "network", for messages */
	const char *collection; /* "/1.0/networks" */
	const char *const *fields;
};

static const struct preseed_kind kinds[] = {
	{ "storage_pools", "storage pool", "/1.0/storage-pools",
	  (const char *const[]){ "name", "driver", "description", "config", "project", NULL } },
	{ "networks", "network", "/1.0/networks",
	  (const char *const[]){ "name", "type", "description", "config", "project", NULL } },
	{ "profiles", "profile", "/1.0/profiles",
	  (const char *const[]){ "name", "description", "config", "devices", "project", NULL } },
};

static bool strv_has(const char *const *v, const char *s)
{
	for (; *v; v++)
		if (streq(*v, s))
			return true;
	return false;
}

/* A map of strings (config), or of maps of strings when nested (devices). */
static int string_map_check(const json_t *map, bool nested, const char *what, struct error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(map))
		return error_set(err, -EINVAL, "Invalid preseed: %s must be a map", what);
	json_object_foreach((json_t *)map, key, v)
	{
		if (!config_value_is_safe(key))
			return error_set(err, -EINVAL,
					 "Invalid preseed: %s has a key with control characters",
					 what);
		if (nested) {
			autofree char *inner = str_printf("%s '%s'", what, key);
			int r = string_map_check(v, false, inner, err);

			if (r < 0)
				return r;
		} else if (!json_is_string(v)) {
			return error_set(err, -EINVAL, "Invalid preseed: %s '%s' must be a string",
					 what, key);
		}
	}
	return 0;
}

/* A YAML null, as yaml_in_parse() gives it: a string. */
static bool is_null(const json_t *v)
{
	const char *s = json_string_value(v);

	return json_is_null(v) || (s && (!*s || streq(s, "null") || streq(s, "~")));
}

static bool is_default_project(const json_t *v)
{
	return is_null(v) || (json_is_string(v) && streq(json_string_value(v), "default"));
}

static int entry_check(const struct preseed_kind *k, const json_t *entry, struct error *err)
{
	const char *name = json_get_str(entry, "name");
	const char *field;
	json_t *v;
	int r;

	if (!json_is_object(entry))
		return error_set(err, -EINVAL, "Invalid preseed: each of %s must be a map", k->key);
	if (!name || !object_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid preseed: a %s without a valid name",
				 k->what);
	json_object_foreach((json_t *)entry, field, v)
	{
		autofree char *what = str_printf("the %s of %s '%s'", field, k->what, name);

		if (!strv_has(k->fields, field))
			return error_set(err, -EINVAL,
					 "Invalid preseed: unknown key '%s' in %s '%s'",
					 config_value_is_safe(field) ? field : "", k->what, name);
		if (streq(field, "project") && !is_default_project(v))
			r = error_set(
				err, -EINVAL,
				"Invalid preseed: %s '%s' is in a project: only 'default' exists",
				k->what, name);
		else if (streq(field, "config") || streq(field, "devices"))
			r = string_map_check(v, streq(field, "devices"), what, err);
		else if (!json_is_string(v))
			r = error_set(err, -EINVAL, "Invalid preseed: %s must be a string", what);
		else
			r = 0;
		if (r < 0)
			return r;
	}
	return 0;
}

/* What `lxd init --dump` writes besides the supported keys: `cluster: null`, and the
 * default project. Anything more is refused. */
static int extra_check(const char *key, const json_t *v, struct error *err)
{
	size_t i;
	json_t *p;

	if (streq(key, "cluster") && is_null(v))
		return 0;
	if (streq(key, "projects") && json_is_array(v)) {
		json_array_foreach(v, i, p)
		{
			if (!json_is_object(p) || !is_default_project(json_object_get(p, "name")))
				return error_set(
					err, -EINVAL,
					"Invalid preseed: projects are not supported (only "
					"'default' exists)");
		}
		return 0;
	}
	return error_set(err, -EINVAL,
			 "Invalid preseed: '%s' is not supported (only config, storage_pools, "
			 "networks and profiles)",
			 config_value_is_safe(key) ? key : "");
}

int init_preseed_check(const json_t *preseed, struct error *err)
{
	const char *key;
	json_t *v;

	if (is_null(preseed))
		return 0; /* an empty document */
	if (!json_is_object(preseed))
		return error_set(err, -EINVAL, "Invalid preseed: expected a map at the top");
	json_object_foreach((json_t *)preseed, key, v)
	{
		const struct preseed_kind *k = NULL;
		size_t i;
		json_t *entry;
		int r;

		if (streq(key, "config")) {
			r = string_map_check(v, false, "config", err);
			if (r < 0)
				return r;
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(kinds); i++)
			if (streq(kinds[i].key, key))
				k = &kinds[i];
		if (!k) {
			r = extra_check(key, v, err);
			if (r < 0)
				return r;
			continue;
		}
		if (!json_is_array(v))
			return error_set(err, -EINVAL, "Invalid preseed: %s must be a list", key);
		json_array_foreach(v, i, entry)
		{
			r = entry_check(k, entry, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Sends a request; an async reply is waited for. */
static int send_request(struct lxd_client *c, const char *method, const char *path,
			const json_t *body, struct error *err)
{
	struct lxd_response resp = LXD_RESPONSE_INIT;
	json_t *op = NULL;
	int r;

	r = lxd_query(c, method, path, body, NULL, &resp, err);
	if (r == 0 && resp.type == LXD_RESPONSE_ASYNC && resp.operation)
		r = lxd_operation_wait(c, resp.operation, -1, &op, err);
	json_decref(op);
	lxd_response_release(&resp);
	return r;
}

/* Creates the entry, or merges it into the one that exists. */
static int entry_apply(struct lxd_client *c, const struct preseed_kind *k, const json_t *entry,
		       struct error *err)
{
	const char *name = json_get_str(entry, "name");
	autofree char *path = str_printf("%s/%s", k->collection, name);
	autojson json_t *current = NULL;
	autojson json_t *patch = NULL;
	int r;

	autojson json_t *create = json_deep_copy(entry);

	/* Only the default project exists: the field was checked and says nothing more. */
	(void)json_object_del(create, "project");
	r = lxd_get(c, path, &current, err);
	if (r == -ENOENT) {
		error_clear(err);
		r = send_request(c, "POST", k->collection, create, err);
	} else if (r == 0) {
		/* type and driver cannot change: they go only with a create. */
		patch = json_deep_copy(create);
		(void)json_object_del(patch, "name");
		(void)json_object_del(patch, "type");
		(void)json_object_del(patch, "driver");
		r = send_request(c, "PATCH", path, patch, err);
	}
	if (r < 0)
		return error_prefix(err, "Failed to apply %s '%s'", k->what, name);
	return 0;
}

int init_preseed_apply(const char *socket_path, const json_t *preseed, struct error *err)
{
	autoclean(lxd_client_freep) struct lxd_client *c = lxd_client_new(socket_path);
	const json_t *config = json_object_get(preseed, "config");
	int r;

	r = init_preseed_check(preseed, err);
	if (r < 0)
		return r;
	if (config && json_object_size(config) > 0) {
		autojson json_t *body = json_pack("{s:O}", "config", config);

		r = send_request(c, "PATCH", "/1.0", body, err);
		if (r < 0)
			return error_prefix(err, "Failed to update the server config");
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t j;
		json_t *entry;

		json_array_foreach(json_object_get(preseed, kinds[i].key), j, entry)
		{
			r = entry_apply(c, &kinds[i], entry, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* True when a list of objects (GET ?recursion=1) has one that pred accepts. */
static bool list_has(const json_t *list, bool (*pred)(const json_t *item))
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (pred(item))
			return true;
	}
	return false;
}

static bool is_any(const json_t *item)
{
	(void)item;
	return true;
}

static bool is_managed(const json_t *item)
{
	bool managed = false;

	(void)json_get_bool(item, "managed", &managed);
	return managed;
}

static bool device_is(const json_t *devices, const char *type, const char *path)
{
	const char *name;
	json_t *dev;

	json_object_foreach((json_t *)devices, name, dev)
	{
		const char *t = json_get_str(dev, "type");

		if (t && streq(t, type) && (!path || streq_ptr(json_get_str(dev, "path"), path)))
			return true;
	}
	return false;
}

int init_auto_preseed(const char *socket_path, json_t **ret, struct error *err)
{
	autoclean(lxd_client_freep) struct lxd_client *c = lxd_client_new(socket_path);
	autojson json_t *pools = NULL, *networks = NULL, *profile = NULL;
	autojson json_t *preseed = json_object();
	autojson json_t *devices = json_object();
	const json_t *have;
	int r;

	r = lxd_get(c, "/1.0/storage-pools?recursion=1", &pools, err);
	if (r == 0)
		r = lxd_get(c, "/1.0/networks?recursion=1", &networks, err);
	if (r == 0)
		r = lxd_get(c, "/1.0/profiles/" DEFAULT_PROFILE, &profile, err);
	if (r < 0)
		return r;

	if (!list_has(pools, is_any))
		(void)json_object_set_new(
			preseed, "storage_pools",
			json_pack("[{s:s, s:s}]", "name", DEFAULT_POOL, "driver", "dir"));
	/* The network's addresses are chosen by the daemon ("auto", NAT on). */
	if (!list_has(networks, is_managed))
		(void)json_object_set_new(
			preseed, "networks",
			json_pack("[{s:s, s:s}]", "name", DEFAULT_NETWORK, "type", "bridge"));

	have = json_object_get(profile, "devices");
	if (!device_is(have, "disk", "/")) {
		const json_t *pool = json_array_get(pools, 0);
		const char *pool_name = pool ? json_get_str(pool, "name") : DEFAULT_POOL;

		(void)json_object_set_new(devices, "root",
					  json_pack("{s:s, s:s, s:s}", "type", "disk", "path", "/",
						    "pool", pool_name ? pool_name : DEFAULT_POOL));
	}
	if (!device_is(have, "nic", NULL) && !json_object_get(have, "eth0")) {
		const char *network = DEFAULT_NETWORK;
		size_t i;
		json_t *n;

		/* An existing managed network, else the one made above. */
		json_array_foreach(networks, i, n)
		{
			if (is_managed(n) && json_get_str(n, "name")) {
				network = json_get_str(n, "name");
				break;
			}
		}
		(void)json_object_set_new(devices, "eth0",
					  json_pack("{s:s, s:s, s:s}", "type", "nic", "network",
						    network, "name", "eth0"));
	}
	if (json_object_size(devices) > 0)
		(void)json_object_set_new(
			preseed, "profiles",
			json_pack("[{s:s, s:O}]", "name", DEFAULT_PROFILE, "devices", devices));
	*ret = take_ptr(preseed);
	return 0;
}
