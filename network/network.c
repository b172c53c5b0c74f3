/* network/network.c: the managed network model (see network.h); the only file that calls
 * through struct network_driver. */
#include "network/network.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db-networks.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "network/iface.h"
#include "network/subnet.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define DEFAULT_NETWORK "lodgebr0"
#define DEFAULT_PROFILE "default"
#define DEFAULT_NIC	"eth0"

static const struct network_driver *const network_drivers[] = {
	&network_driver_bridge,
};

/* One reconfiguration at a time: two requests must not both pick the same free subnet,
 * nor interleave `ip`, `nft` and dnsmasq changes to one network. */
static pthread_mutex_t network_lock = PTHREAD_MUTEX_INITIALIZER;

static void network_unlockp(pthread_mutex_t **m)
{
	if (*m)
		pthread_mutex_unlock(*m);
}

#define NETWORK_LOCK_GUARD()                                                          \
	autoclean(network_unlockp) _unused_ pthread_mutex_t *network_lock_guard_ = ({ \
		pthread_mutex_lock(&network_lock);                                    \
		&network_lock;                                                        \
	})

void network_free(struct network *net)
{
	if (!net)
		return;
	free(net->name);
	free(net->type);
	free(net->description);
	free(net->status);
	json_decref(net->config);
	free(net->state_dir);
	free(net);
}

const struct network_driver *network_driver_find(const char *type)
{
	if (!type || !*type)
		type = "bridge";
	for (size_t i = 0; i < ARRAY_SIZE(network_drivers); i++)
		if (streq(network_drivers[i]->name, type))
			return network_drivers[i];
	return NULL;
}

bool network_name_is_valid(const char *name)
{
	return iface_name_is_valid(name);
}

bool network_hwaddr_is_valid(const char *hwaddr)
{
	unsigned first;

	if (!hwaddr || strlen(hwaddr) != 17)
		return false;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2 ? hwaddr[i] != ':' : !isxdigit((unsigned char)hwaddr[i]))
			return false;
	}
	if (sscanf(hwaddr, "%2x", &first) != 1)
		return false;
	return (first & 1) == 0; /* not multicast */
}

char *network_hwaddr_new(void)
{
	unsigned char b[3] = { 0 };

	/* getrandom() of a few bytes does not fail once the pool is ready; zeros would still
	 * be a valid address. */
	(void)getrandom(b, sizeof(b), 0);
	return str_printf("00:16:3e:%02x:%02x:%02x", b[0], b[1], b[2]);
}

static char *network_state_dir(const struct network_env *env, const char *name)
{
	return str_printf("%s/networks/%s", env->dir, name);
}

static int network_from_db(const struct network_env *env, struct db_network *row,
			   struct network **ret, struct error *err)
{
	struct network *net;
	const struct network_driver *driver = network_driver_find(row->type);

	if (!driver)
		return error_set(err, -EOPNOTSUPP, "Network '%s' has unsupported type '%s'",
				 row->name, row->type);
	net = xcalloc(1, sizeof(*net));
	net->id = row->id;
	net->name = take_ptr(row->name);
	net->type = take_ptr(row->type);
	net->description = take_ptr(row->description);
	net->status = take_ptr(row->status);
	net->config = take_ptr(row->config);
	net->driver = driver;
	net->state_dir = network_state_dir(env, net->name);
	*ret = net;
	return 0;
}

int network_load(const struct network_env *env, const char *name, struct network **ret,
		 struct error *err)
{
	autoclean(db_network_freep) struct db_network *row = NULL;
	int r;

	if (!network_name_is_valid(name))
		return error_set(err, -ENOENT, "Network not found");
	r = db_network_get(env->db, name, &row, err);
	if (r < 0)
		return r;
	return network_from_db(env, row, ret, err);
}

/* True when a device attaches to network name: a nic naming it as its network, or as the
 * parent of a bridged or macvlan nic. */
static bool device_uses_network(const json_t *dev, const char *name)
{
	if (!streq_ptr(json_get_str(dev, "type"), "nic"))
		return false;
	if (streq_ptr(json_get_str(dev, "network"), name))
		return true;
	return streq_ptr(json_get_str(dev, "parent"), name);
}

int network_used_by(const struct network_env *env, const char *name, json_t **ret,
		    struct error *err)
{
	autojson json_t *owners = NULL;
	json_t *used = json_array();
	size_t i;
	json_t *owner;
	int r;

	r = db_network_device_owners(env->db, &owners, err);
	if (r < 0) {
		json_decref(used);
		return r;
	}
	json_array_foreach(owners, i, owner)
	{
		const char *kind = json_get_str(owner, "kind");
		const char *dev_name;
		json_t *dev;

		json_object_foreach(json_object_get(owner, "devices"), dev_name, dev)
		{
			if (!device_uses_network(dev, name))
				continue;
			(void)json_array_append_new(
				used,
				json_sprintf("/1.0/%s/%s",
					     streq(kind, "profile") ? "profiles" : "instances",
					     json_get_str(owner, "name")));
			break;
		}
	}
	*ret = used;
	return 0;
}

/* LXD sends an empty used_by as null (a nil Go slice). */
static json_t *used_by_api(json_t *used_by)
{
	if (json_array_size(used_by) > 0)
		return used_by;
	json_decref(used_by);
	return json_null();
}

static json_t *network_to_json(const struct network *net, json_t *used_by)
{
	json_t *j = json_pack("{s:O, s:s, s:s, s:s, s:o, s:b, s:s, s:[s]}", "config", net->config,
			      "description", net->description, "name", net->name, "type",
			      net->driver->name, "used_by", used_by_api(used_by), "managed", true,
			      "status", net->status, "locations", "none");

	if (!j)
		abort();
	return j;
}

static json_t *iface_to_json(const struct network_env *env, const char *name)
{
	json_t *used_by = NULL;
	json_t *j;

	if (network_used_by(env, name, &used_by, NULL) < 0)
		used_by = json_array();
	j = json_pack("{s:{}, s:s, s:s, s:s, s:o, s:b, s:s, s:n}", "config", "description", "",
		      "name", name, "type", iface_kind(name), "used_by", used_by_api(used_by),
		      "managed", false, "status", "", "locations");
	if (!j)
		abort();
	return j;
}

static json_t *network_etag_source(const struct network *net)
{
	return json_pack("{s:s, s:s, s:O}", "name", net->name, "description", net->description,
			 "config", net->config);
}

int network_get_json(const struct network_env *env, const char *name, json_t **ret,
		     json_t **ret_etag_source, struct error *err)
{
	autoclean(network_freep) struct network *net = NULL;
	json_t *used_by = NULL;
	int r;

	if (!network_name_is_valid(name))
		return error_set(err, -ENOENT, "Network not found");
	r = network_load(env, name, &net, err);
	if (r == -ENOENT && iface_exists(name)) {
		error_clear(err);
		*ret = iface_to_json(env, name);
		if (ret_etag_source)
			*ret_etag_source = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	r = network_used_by(env, name, &used_by, err);
	if (r < 0)
		return r;
	*ret = network_to_json(net, used_by);
	if (ret_etag_source)
		*ret_etag_source = network_etag_source(net);
	return 0;
}

static void db_network_list_free(struct db_network **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_network_free(list[i]);
	free(list);
}

int network_list_json(const struct network_env *env, bool recursion, json_t **ret,
		      struct error *err)
{
	struct db_network **rows = NULL;
	autojson json_t *ifaces = NULL;
	autojson json_t *managed = json_array();
	json_t *list = json_array();
	size_t n = 0, i;
	json_t *iface;
	int r;

	r = db_network_list(env->db, &rows, &n, err);
	if (r < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		autoclean(network_freep) struct network *net = NULL;
		json_t *used_by = NULL;

		(void)json_array_append_new(managed, json_string(rows[i]->name));
		if (!recursion) {
			(void)json_array_append_new(
				list, json_sprintf("/1.0/networks/%s", rows[i]->name));
			continue;
		}
		r = network_from_db(env, rows[i], &net, err);
		if (r < 0)
			goto fail;
		r = network_used_by(env, net->name, &used_by, err);
		if (r < 0)
			goto fail;
		(void)json_array_append_new(list, network_to_json(net, used_by));
	}

	/* The host's own interfaces follow, unmanaged, as LXD lists them. */
	if (iface_list(&ifaces, NULL) < 0)
		ifaces = json_array();
	json_array_foreach(ifaces, i, iface)
	{
		const char *name = json_string_value(iface);
		bool is_managed = false;
		size_t k;
		json_t *m;

		json_array_foreach(managed, k, m)
		{
			if (streq(json_string_value(m), name))
				is_managed = true;
		}
		if (is_managed || !iface_name_is_valid(name))
			continue;
		(void)json_array_append_new(list, recursion
							  ? iface_to_json(env, name)
							  : json_sprintf("/1.0/networks/%s", name));
	}
	db_network_list_free(rows, n);
	*ret = list;
	return 0;

fail:
	db_network_list_free(rows, n);
	json_decref(list);
	return r;
}

int network_state_json(const struct network_env *env, const char *name, json_t **ret,
		       struct error *err)
{
	if (!network_name_is_valid(name))
		return error_set(err, -ENOENT, "Network not found");
	return iface_state(name, ret, err);
}

int network_leases_json(const struct network_env *env, const char *name, json_t **ret,
			struct error *err)
{
	autoclean(network_freep) struct network *net = NULL;
	int r;

	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (!net->driver->leases)
		return error_set(err, -EOPNOTSUPP, "Network '%s' of type '%s' has no leases", name,
				 net->driver->name);
	return net->driver->leases(net, ret, err);
}

/* --- changes --------------------------------------------------------------------------- */

struct subnet_set {
	struct subnet *items;
	size_t n;
};

static void subnet_set_release(struct subnet_set *s)
{
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

static void subnet_set_add(struct subnet_set *s, const struct subnet *items, size_t n)
{
	if (n == 0)
		return;
	s->items = xrealloc(s->items, (s->n + n) * sizeof(*s->items));
	memcpy(s->items + s->n, items, n * sizeof(*items));
	s->n += n;
}

/* The subnets of every managed network but except, each with its network's name. */
static int networks_subnets(const struct network_env *env, const char *except,
			    struct subnet_set *ret, json_t *names, struct error *err)
{
	struct db_network **rows = NULL;
	size_t n = 0;
	int r;

	r = db_network_list(env->db, &rows, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct network_driver *driver = network_driver_find(rows[i]->type);
		struct subnet *items = NULL;
		size_t n_items = 0;

		if (!driver || (except && streq(rows[i]->name, except)))
			continue;
		driver->subnets(rows[i]->config, &items, &n_items);
		subnet_set_add(ret, items, n_items);
		for (size_t k = 0; k < n_items; k++)
			(void)json_array_append_new(names, json_string(rows[i]->name));
		free(items);
	}
	db_network_list_free(rows, n);
	return 0;
}

static bool host_has_ipv6(void)
{
	autofree char *text = NULL;

	if (read_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", 64, &text, NULL, NULL) < 0)
		return false;
	return str_has_prefix(text, "0");
}

/* True when s is one of the n subnets in list. */
static bool subnet_in(const struct subnet *s, const struct subnet *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].family == s->family && list[i].prefix == s->prefix &&
		    memcmp(list[i].addr, s->addr, sizeof(s->addr)) == 0)
			return true;
	return false;
}

/* Fills the defaults of config and resolves "auto" (driver), then refuses subnets that
 * overlap another network's or one in use on the host. old is the current config on an
 * update: subnets it already had are not checked again. */
static int network_config_complete(const struct network_env *env, const char *name,
				   const struct network_driver *driver, const json_t *old,
				   json_t *config, struct error *err)
{
	autoclean(subnet_set_release) struct subnet_set nets = { NULL, 0 };
	autoclean(subnet_set_release) struct subnet_set all = { NULL, 0 };
	autojson json_t *net_names = json_array();
	struct subnet *host = NULL, *mine = NULL, *before = NULL;
	size_t n_host = 0, n_mine = 0, n_before = 0;
	struct network_fill_ctx ctx;
	int r;

	r = networks_subnets(env, name, &nets, net_names, err);
	if (r < 0)
		return r;
	/* The bridge's own routes and addresses are not a conflict with itself. */
	r = iface_used_subnets(name, &host, &n_host, err);
	if (r < 0)
		return r;
	subnet_set_add(&all, nets.items, nets.n);
	subnet_set_add(&all, host, n_host);

	ctx = (struct network_fill_ctx){ .used = all.items,
					 .n_used = all.n,
					 .host_has_ipv6 = host_has_ipv6() };
	r = driver->config_fill(name, old, config, &ctx, err);
	if (r < 0)
		goto out;

	driver->subnets(config, &mine, &n_mine);
	if (old)
		driver->subnets(old, &before, &n_before);
	for (size_t i = 0; i < n_mine; i++) {
		autofree char *text = subnet_to_string(&mine[i]);

		if (subnet_in(&mine[i], before, n_before))
			continue;
		for (size_t k = 0; k < nets.n; k++)
			if (subnet_overlaps(&mine[i], &nets.items[k])) {
				r = error_set(err, -EEXIST, "Subnet %s overlaps network '%s'", text,
					      json_string_value(json_array_get(net_names, k)));
				goto out;
			}
		for (size_t k = 0; k < n_host; k++)
			if (subnet_overlaps(&mine[i], &host[k])) {
				autofree char *other = subnet_to_string(&host[k]);

				r = error_set(err, -EEXIST,
					      "Subnet %s overlaps %s, already in use on the host",
					      text, other);
				goto out;
			}
	}
	r = 0;
out:
	free(host);
	free(mine);
	free(before);
	return r;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Removes a network's state directory and what it holds (leases, static leases). */
static void network_state_dir_remove(const char *path)
{
	if (nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "Failed to remove '%s', ignoring", path);
}

int network_create(const struct network_env *env, const char *name, const char *type,
		   const char *description, const json_t *config, struct error *err)
{
	NETWORK_LOCK_GUARD();
	const struct network_driver *driver = network_driver_find(type);
	autoclean(network_freep) struct network *net = NULL;
	autojson json_t *normalized = NULL;
	struct db_network *row = NULL;
	int r;

	if (!network_name_is_valid(name))
		return error_set(
			err, -EINVAL,
			"Invalid network name '%s': 1 to 15 letters, digits, '-', '_' or '.', not starting with '-' or '.'",
			name && config_value_is_safe(name) ? name : "");
	if (!driver)
		return error_set(err, -EINVAL, "Network type '%s' is not supported",
				 config_value_is_safe(type) ? type : "");
	if (description && !config_value_is_safe(description))
		return error_set(err, -EINVAL,
				 "Invalid description: control characters are not allowed");

	r = config_normalize(driver->schema, config, &normalized, err);
	if (r < 0)
		return r;
	r = db_network_get(env->db, name, &row, NULL);
	db_network_free(row);
	if (r == 0)
		return error_set(err, -EEXIST, "Network '%s' already exists", name);
	if (iface_exists(name))
		return error_set(err, -EEXIST,
				 "An interface called '%s' already exists on the host", name);
	r = network_config_complete(env, name, driver, NULL, normalized, err);
	if (r < 0)
		return r;

	r = db_network_insert(env->db, name, driver->name, description ? description : "",
			      normalized, err);
	if (r < 0)
		return r;
	r = network_load(env, name, &net, err);
	if (r < 0)
		goto undo_insert;
	r = driver->start(net, err);
	if (r < 0)
		goto undo_start;
	log_info("Created network '%s'", name);
	return 0;

undo_start:
	(void)driver->stop(net, NULL);
	network_state_dir_remove(net->state_dir);
undo_insert:
	(void)db_network_delete(env->db, name, NULL);
	return r;
}

int network_update(const struct network_env *env, const char *name, const char *description,
		   const json_t *config, bool patch, struct error *err)
{
	NETWORK_LOCK_GUARD();
	autoclean(network_freep) struct network *net = NULL;
	autojson json_t *next = NULL;
	json_t *old;
	const char *desc;
	int r;

	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (description && !config_value_is_safe(description))
		return error_set(err, -EINVAL,
				 "Invalid description: control characters are not allowed");
	if (patch)
		r = config_patch(net->driver->schema, net->config, config, &next, err);
	else
		r = config_replace(net->driver->schema, net->config, config, &next, err);
	if (r < 0)
		return r;
	r = network_config_complete(env, name, net->driver, net->config, next, err);
	if (r < 0)
		return r;

	desc = description ? description : patch ? net->description : "";
	r = db_network_update(env->db, name, desc, next, err);
	if (r < 0)
		return r;
	old = net->config;
	net->config = json_incref(next);
	r = net->driver->start(net, err);
	if (r < 0)
		goto undo_update;
	json_decref(old);
	return 0;

undo_update:
	(void)db_network_update(env->db, name, net->description, old, NULL);
	json_decref(net->config);
	net->config = old;
	(void)net->driver->start(net, NULL);
	return r;
}

/* -EBUSY naming the first user of network name, 0 when nothing uses it. */
static int network_check_unused(const struct network_env *env, const char *name, const char *action,
				struct error *err)
{
	autojson json_t *used_by = NULL;
	int r;

	r = network_used_by(env, name, &used_by, err);
	if (r < 0)
		return r;
	if (json_array_size(used_by) > 0)
		return error_set(err, -EBUSY, "Cannot %s network '%s': it is in use by %s", action,
				 name, json_string_value(json_array_get(used_by, 0)));
	return 0;
}

int network_rename(const struct network_env *env, const char *name, const char *new_name,
		   struct error *err)
{
	NETWORK_LOCK_GUARD();
	autoclean(network_freep) struct network *net = NULL;
	autoclean(network_freep) struct network *renamed = NULL;
	autofree char *new_dir = NULL;
	struct db_network *row = NULL;
	int r;

	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (!network_name_is_valid(new_name))
		return error_set(err, -EINVAL, "Invalid network name '%s'",
				 new_name && config_value_is_safe(new_name) ? new_name : "");
	r = db_network_get(env->db, new_name, &row, NULL);
	db_network_free(row);
	if (r == 0)
		return error_set(err, -EEXIST, "Network '%s' already exists", new_name);
	if (iface_exists(new_name))
		return error_set(err, -EEXIST,
				 "An interface called '%s' already exists on the host", new_name);
	r = network_check_unused(env, name, "rename", err);
	if (r < 0)
		return r;

	r = net->driver->stop(net, err);
	if (r < 0)
		return r;
	r = db_network_rename(env->db, name, new_name, err);
	if (r < 0)
		goto undo_stop;
	new_dir = network_state_dir(env, new_name);
	if (rename(net->state_dir, new_dir) < 0 && errno != ENOENT) {
		r = error_errno(err, -errno, "Failed to rename '%s'", net->state_dir);
		goto undo_rename;
	}
	r = network_load(env, new_name, &renamed, err);
	if (r == 0)
		r = renamed->driver->start(renamed, err);
	if (r < 0) {
		if (renamed)
			(void)renamed->driver->stop(renamed, NULL);
		(void)rename(new_dir, net->state_dir);
		goto undo_rename;
	}
	log_info("Renamed network '%s' to '%s'", name, new_name);
	return 0;

undo_rename:
	(void)db_network_rename(env->db, new_name, name, NULL);
undo_stop:
	(void)net->driver->start(net, NULL);
	return r;
}

int network_delete(const struct network_env *env, const char *name, struct error *err)
{
	NETWORK_LOCK_GUARD();
	autoclean(network_freep) struct network *net = NULL;
	int r;

	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	r = network_check_unused(env, name, "delete", err);
	if (r < 0)
		return r;
	r = net->driver->stop(net, err);
	if (r < 0)
		return r;
	network_state_dir_remove(net->state_dir);
	r = db_network_delete(env->db, name, err);
	if (r < 0)
		return r;
	log_info("Deleted network '%s'", name);
	return 0;
}

int network_start_all(const struct network_env *env)
{
	NETWORK_LOCK_GUARD();
	struct db_network **rows = NULL;
	struct error err = ERROR_INIT;
	size_t n = 0;
	int failed = 0;
	int r;

	r = db_network_list(env->db, &rows, &n, &err);
	if (r < 0) {
		log_error("Failed to list networks: %s", error_message(&err));
		error_clear(&err);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		autoclean(network_freep) struct network *net = NULL;
		autofree char *name = xstrdup(rows[i]->name);

		r = network_from_db(env, rows[i], &net, &err);
		if (r == 0)
			r = net->driver->start(net, &err);
		if (r < 0) {
			log_error("Failed to start network '%s': %s", name, error_message(&err));
			failed++;
		} else {
			log_debug("Started network '%s'", name);
		}
		error_clear(&err);
	}
	db_network_list_free(rows, n);
	return failed;
}

/* True when devices (an object) holds a nic. */
static bool devices_have_nic(const json_t *devices)
{
	const char *dev_name;
	json_t *dev;

	json_object_foreach((json_t *)devices, dev_name, dev)
	{
		if (streq_ptr(json_get_str(dev, "type"), "nic"))
			return true;
	}
	return false;
}

int network_default_init(const struct network_env *env, struct error *err)
{
	struct db_network **rows = NULL;
	autojson json_t *config = NULL;
	autojson json_t *devices = NULL;
	size_t n = 0;
	int r;

	r = db_network_list(env->db, &rows, &n, err);
	if (r < 0)
		return r;
	db_network_list_free(rows, n);
	if (n > 0)
		return 0;

	config = json_pack("{s:s, s:s}", "ipv4.address", "auto", "ipv4.nat", "true");
	if (host_has_ipv6())
		(void)json_object_set_new(config, "ipv6.address", json_string("auto"));
	else
		(void)json_object_set_new(config, "ipv6.address", json_string("none"));
	r = network_create(env, DEFAULT_NETWORK, "bridge", "", config, err);
	if (r < 0)
		return r;

	r = db_profile_devices_get(env->db, DEFAULT_PROFILE, &devices, err);
	if (r == -ENOENT) {
		error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	if (devices_have_nic(devices) || json_object_get(devices, DEFAULT_NIC))
		return 0;
	(void)json_object_set_new(devices, DEFAULT_NIC,
				  json_pack("{s:s, s:s, s:s}", "type", "nic", "network",
					    DEFAULT_NETWORK, "name", DEFAULT_NIC));
	return db_profile_devices_set(env->db, DEFAULT_PROFILE, devices, err);
}

/* --- nics ------------------------------------------------------------------------------ */

void network_nic_info_release(struct network_nic_info *info)
{
	free(info->parent);
	free(info->ipv4_gw);
	free(info->ipv6_gw);
	free(info->dns_domain);
	memset(info, 0, sizeof(*info));
}

static char *config_gateway(const json_t *config, const char *key, int family)
{
	const char *value = json_get_str(config, key);
	struct subnet s;

	if (!value || subnet_parse(value, family, &s) < 0)
		return NULL;
	return subnet_address_to_string(&s);
}

int network_nic_info(const struct network_env *env, const char *name, struct network_nic_info *ret,
		     struct error *err)
{
	autoclean(network_freep) struct network *net = NULL;
	int r;

	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (!streq(net->driver->name, "bridge"))
		return error_set(err, -EOPNOTSUPP, "Network '%s' of type '%s' takes no nics", name,
				 net->driver->name);
	*ret = (struct network_nic_info){
		.parent = xstrdup(net->name),
		.mtu = (unsigned)config_get_int(net->driver->schema, net->config, "bridge.mtu"),
		.ipv4_gw = config_gateway(net->config, "ipv4.address", AF_INET),
		.ipv6_gw = config_gateway(net->config, "ipv6.address", AF_INET6),
		.dns_domain = xstrdup(config_get(net->driver->schema, net->config, "dns.domain")),
	};
	return 0;
}

static int nic_check_address(const struct network *net, const json_t *nic, const char *key,
			     const char *net_key, int family, struct error *err)
{
	const char *value = json_get_str(nic, key);
	struct subnet addr, gw;

	if (!value)
		return 0;
	if (subnet_parse_address(value, family, &addr) < 0)
		return error_set(err, -EINVAL, "Invalid value for '%s': expected an IPv%d address",
				 key, family == AF_INET ? 4 : 6);
	if (!json_get_str(net->config, net_key) ||
	    subnet_parse(json_get_str(net->config, net_key), family, &gw) < 0)
		return error_set(err, -EINVAL,
				 "Invalid value for '%s': network '%s' has no IPv%d subnet", key,
				 net->name, family == AF_INET ? 4 : 6);
	if (!subnet_contains(&gw, &addr))
		return error_set(err, -EINVAL, "Invalid value for '%s': %s is not in %s", key,
				 value, json_get_str(net->config, net_key));
	addr.prefix = gw.prefix;
	if (memcmp(addr.addr, gw.addr, sizeof(addr.addr)) == 0 ||
	    subnet_is_network_or_broadcast(&addr))
		return error_set(err, -EINVAL,
				 "Invalid value for '%s': %s is the network's own address", key,
				 value);
	return 0;
}

int network_nic_validate(const struct network_env *env, const json_t *nic, struct error *err)
{
	autoclean(network_freep) struct network *net = NULL;
	const char *name = json_get_str(nic, "network");
	const char *parent = json_get_str(nic, "parent");
	const char *nictype = json_get_str(nic, "nictype");
	const char *hwaddr = json_get_str(nic, "hwaddr");
	bool fixed = json_get_str(nic, "ipv4.address") || json_get_str(nic, "ipv6.address");
	int r;

	/* A bridged nic on a parent= bridge: a managed network's is checked as network=. */
	if (!name && parent && nictype && streq(nictype, "bridged")) {
		r = network_load(env, parent, &net, NULL);
		if (r == -ENOENT && fixed)
			return error_set(err, -EINVAL,
					 "Static addresses need a managed network: '%s' is not one",
					 parent);
		name = r == 0 ? parent : NULL;
		network_free(take_ptr(net));
	}
	if (!name)
		return 0;
	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (hwaddr && !network_hwaddr_is_valid(hwaddr))
		return error_set(err, -EINVAL,
				 "Invalid value for 'hwaddr': expected a unicast MAC address");
	/* dnsmasq hands out only what it serves: IPv4 leases, and no DHCPv6 (IPv6 is SLAAC,
	 * ra-stateless; LXD too needs ipv6.dhcp.stateful, which lodge has not yet). */
	if (json_get_str(nic, "ipv4.address") &&
	    !config_get_bool(net->driver->schema, net->config, "ipv4.dhcp"))
		return error_set(
			err, -EINVAL,
			"Cannot use 'ipv4.address': DHCP is off on network '%s' (ipv4.dhcp)",
			net->name);
	if (json_get_str(nic, "ipv6.address"))
		return error_set(err, -EINVAL,
				 "Cannot use 'ipv6.address': network '%s' gives IPv6 addresses by "
				 "SLAAC, not stateful DHCPv6",
				 net->name);
	return nic_check_address(net, nic, "ipv4.address", "ipv4.address", AF_INET, err);
}

int network_lease_set(const struct network_env *env, const char *name, const char *owner,
		      const struct network_lease *lease, struct error *err)
{
	NETWORK_LOCK_GUARD();
	autoclean(network_freep) struct network *net = NULL;
	int r;

	if (!object_name_is_valid(owner))
		return error_set(err, -EINVAL, "Invalid lease owner '%s'",
				 owner && config_value_is_safe(owner) ? owner : "");
	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (!net->driver->lease_set)
		return error_set(err, -EOPNOTSUPP, "Network '%s' has no static leases", name);
	return net->driver->lease_set(net, owner, lease, 1, err);
}

int network_lease_remove(const struct network_env *env, const char *name, const char *owner,
			 struct error *err)
{
	NETWORK_LOCK_GUARD();
	autoclean(network_freep) struct network *net = NULL;
	int r;

	if (!object_name_is_valid(owner))
		return error_set(err, -EINVAL, "Invalid lease owner");
	r = network_load(env, name, &net, err);
	if (r < 0)
		return r;
	if (!net->driver->lease_remove)
		return 0;
	return net->driver->lease_remove(net, owner, err);
}

/* The managed network a nic is on: `network=`, or a `parent=` that names one. */
static const char *nic_network(const json_t *dev, const json_t *networks)
{
	const char *type = json_get_str(dev, "type");
	const char *nictype = json_get_str(dev, "nictype");
	const char *name = json_get_str(dev, "network");
	size_t i;
	json_t *v;

	/* Only a bridged nic is on the bridge, where dnsmasq serves. */
	if (!type || !streq(type, "nic") || (nictype && !streq(nictype, "bridged")))
		return NULL;
	if (!name)
		name = json_get_str(dev, "parent");
	json_array_foreach(networks, i, v)
	{
		if (name && streq(json_string_value(v), name))
			return name;
	}
	return NULL;
}

/* The leases of instance's nics on network: a new array of *ret_n (pointing into
 * devices and config). */
static struct network_lease *instance_leases(const char *instance, const json_t *config,
					     const json_t *devices, const char *network,
					     const json_t *networks, size_t *ret_n)
{
	struct network_lease *leases = NULL;
	const char *devname;
	json_t *dev;
	size_t n = 0;

	json_object_foreach((json_t *)devices, devname, dev)
	{
		autofree char *hw_key = str_printf("volatile.%s.hwaddr", devname);
		const char *on = nic_network(dev, networks);
		const char *hwaddr = json_get_str(dev, "hwaddr");

		if (!on || !streq(on, network))
			continue;
		if (!hwaddr)
			hwaddr = json_get_str(config, hw_key);
		if (!hwaddr)
			continue;
		leases = xrealloc(leases, (n + 1) * sizeof(*leases));
		leases[n] = (struct network_lease){
			.hwaddr = hwaddr,
			.ipv4 = json_get_str(dev, "ipv4.address"),
			.ipv6 = json_get_str(dev, "ipv6.address"),
			/* Two nics on one network: only the first answers to the name. */
			.hostname = n == 0 ? instance : NULL,
		};
		n++;
	}
	*ret_n = n;
	return leases;
}

int network_instance_sync(const struct network_env *env, const char *instance, const json_t *config,
			  const json_t *devices, struct error *err)
{
	NETWORK_LOCK_GUARD();
	struct db_network **rows = NULL;
	autojson json_t *names = json_array();
	size_t n_rows = 0, i;
	int r;

	if (!object_name_is_valid(instance))
		return error_set(err, -EINVAL, "Invalid lease owner '%s'",
				 config_value_is_safe(instance) ? instance : "");
	r = db_network_list(env->db, &rows, &n_rows, err);
	if (r < 0)
		return r;
	for (i = 0; i < n_rows; i++)
		(void)json_array_append_new(names, json_string(rows[i]->name));
	/* Every network is brought up to date even when one fails: the first error is kept. */
	for (i = 0; i < n_rows; i++) {
		autoclean(network_freep) struct network *net = NULL;
		autofree struct network_lease *leases = NULL;
		struct error e = ERROR_INIT;
		size_t n = 0;
		int k;

		k = network_from_db(env, rows[i], &net, &e);
		if (k == 0 && net->driver->lease_set) {
			if (devices)
				leases = instance_leases(instance, config, devices, net->name,
							 names, &n);
			k = n > 0 ? net->driver->lease_set(net, instance, leases, n, &e)
				  : net->driver->lease_remove(net, instance, &e);
		}
		if (k < 0 && r == 0)
			r = error_set(err, k, "%s", error_message(&e));
		error_clear(&e);
	}
	db_network_list_free(rows, n_rows);
	return r;
}
