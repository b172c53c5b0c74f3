/* instance/instance.c: the instance model: records, profile expansion, the API object. */
#include "instance/instance.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "db/db-instances.h"
#include "db/db-profiles.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/str.h"

#include "lib/banned.h"

const char *const instance_type_names[] = {
	[INSTANCE_CONTAINER] = "container",
	[INSTANCE_VM] = "virtual-machine",
};

const char *instance_status_name(enum instance_status status)
{
	switch (status) {
	case INSTANCE_STOPPED:
		return "Stopped";
	case INSTANCE_RUNNING:
		return "Running";
	case INSTANCE_FROZEN:
		return "Frozen";
	case INSTANCE_ERROR:
		return "Error";
	}
	return "Unknown";
}

int instance_type_parse(const char *s, enum instance_type *ret)
{
	if (str_is_empty(s) || streq(s, "container")) {
		*ret = INSTANCE_CONTAINER;
		return 0;
	}
	if (streq(s, "virtual-machine")) {
		*ret = INSTANCE_VM;
		return 0;
	}
	return -EINVAL;
}

const struct instance_driver *instance_driver_for(enum instance_type type)
{
	if (type == INSTANCE_CONTAINER)
		return &instance_driver_lxc;
	return NULL;
}

/* As LXD: a hostname label, 1..63 of [A-Za-z0-9-], not starting or ending with '-', not
 * all digits. It names directories, cgroups and the container's hostname. */
bool instance_name_is_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	bool digits = true;

	if (len == 0 || len > 63 || name[0] == '-' || name[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '-')
			return false;
		if (!isdigit(c))
			digits = false;
	}
	return !digits;
}

void instance_free(struct instance *inst)
{
	if (!inst)
		return;
	free(inst->name);
	free(inst->project);
	free(inst->architecture);
	free(inst->description);
	json_decref(inst->config);
	json_decref(inst->devices);
	json_decref(inst->profiles);
	json_decref(inst->expanded_config);
	json_decref(inst->expanded_devices);
	free(inst->rootfs);
	free(inst);
}

static json_t *object_or_empty(json_t *j)
{
	return json_is_object(j) ? json_incref(j) : json_object();
}

int instance_from_row(const json_t *row, struct instance **ret, struct error *err)
{
	autoclean(instance_freep) struct instance *inst = xcalloc(1, sizeof(*inst));
	long long v = 0;
	int r;

	inst->name = xstrdup(json_get_str(row, "name") ? json_get_str(row, "name") : "");
	inst->project = xstrdup("default");
	r = instance_type_parse(json_get_str(row, "type"), &inst->type);
	if (r < 0)
		return error_set(err, -EINVAL, "Instance '%s' has an unknown type", inst->name);
	inst->architecture = xstrdup(json_get_str(row, "architecture") ?: "");
	inst->description = xstrdup(json_get_str(row, "description") ?: "");
	(void)json_get_bool(row, "ephemeral", &inst->ephemeral);
	(void)json_get_bool(row, "stateful", &inst->stateful);
	inst->config = object_or_empty(json_object_get(row, "config"));
	inst->devices = object_or_empty(json_object_get(row, "devices"));
	inst->profiles = json_is_array(json_object_get(row, "profiles"))
				 ? json_incref(json_object_get(row, "profiles"))
				 : json_array();
	if (json_get_int(row, "id", &v))
		inst->id = v;
	if (json_get_int(row, "created_at", &v))
		inst->created_at = v;
	if (json_get_int(row, "last_used_at", &v))
		inst->last_used_at = v;
	inst->driver = instance_driver_for(inst->type);
	*ret = take_ptr(inst);
	return 0;
}

json_t *instance_to_row(const struct instance *inst)
{
	json_t *row = json_object();

	json_object_set_new(row, "name", json_string(inst->name));
	json_object_set_new(row, "type", json_string(instance_type_names[inst->type]));
	json_object_set_new(row, "architecture", json_string(inst->architecture));
	json_object_set_new(row, "description", json_string(inst->description));
	json_object_set_new(row, "ephemeral", json_boolean(inst->ephemeral));
	json_object_set_new(row, "stateful", json_boolean(inst->stateful));
	json_object_set(row, "config", inst->config);
	json_object_set(row, "devices", inst->devices);
	json_object_set(row, "profiles", inst->profiles);
	json_object_set_new(row, "created_at", json_integer(inst->created_at));
	return row;
}

/* Profiles from known (name → profile, see instance_profiles_load()) or, when NULL, from
 * the database, then config and devices on top. */
static int expand(struct db *db, const json_t *known, const json_t *profiles, const json_t *config,
		  const json_t *devices, json_t **ret_config, json_t **ret_devices,
		  struct error *err)
{
	autojson json_t *c = json_object(), *d = json_object();
	size_t i;
	json_t *p;
	int r;

	json_array_foreach((json_t *)profiles, i, p)
	{
		autojson json_t *prof = NULL;

		if (!json_is_string(p))
			return error_set(err, -EINVAL, "Profile names must be strings");
		if (known) {
			prof = json_incref(json_object_get(known, json_string_value(p)));
			if (!prof)
				return error_set(err, -ENOENT, "Profile '%s' not found",
						 json_string_value(p));
		} else {
			r = db_profile_get(db, json_string_value(p), &prof, err);
			if (r < 0)
				return r;
		}
		json_object_update(c, json_object_get(prof, "config"));
		json_object_update(d, json_object_get(prof, "devices"));
	}
	json_object_update(c, (json_t *)config);
	json_object_update(d, (json_t *)devices);
	*ret_config = take_ptr(c);
	*ret_devices = take_ptr(d);
	return 0;
}

int instance_expand_with(struct db *db, const json_t *profiles, const json_t *config,
			 const json_t *devices, json_t **ret_config, json_t **ret_devices,
			 struct error *err)
{
	return expand(db, NULL, profiles, config, devices, ret_config, ret_devices, err);
}

static int expand_instance(struct db *db, const json_t *known, struct instance *inst,
			   struct error *err)
{
	json_t *c = NULL, *d = NULL;
	int r;

	r = expand(db, known, inst->profiles, inst->config, inst->devices, &c, &d, err);
	if (r < 0)
		return r;
	json_decref(inst->expanded_config);
	json_decref(inst->expanded_devices);
	inst->expanded_config = c;
	inst->expanded_devices = d;
	return 0;
}

int instance_expand(struct db *db, struct instance *inst, struct error *err)
{
	return expand_instance(db, NULL, inst, err);
}

int instance_profiles_load(struct db *db, json_t **ret, struct error *err)
{
	autojson json_t *list = NULL;
	json_t *map, *p;
	size_t i;
	int r;

	r = db_profile_list(db, &list, err);
	if (r < 0)
		return r;
	map = json_object();
	json_array_foreach(list, i, p) if (json_get_str(p, "name"))
		json_object_set(map, json_get_str(p, "name"), p);
	*ret = map;
	return 0;
}

int instance_expand_known(const json_t *profiles, struct instance *inst, struct error *err)
{
	return expand_instance(NULL, profiles, inst, err);
}

int instance_load(struct db *db, const char *name, struct instance **ret, struct error *err)
{
	autojson json_t *row = NULL;
	struct instance *inst = NULL;
	int r;

	if (!instance_name_is_valid(name))
		return error_set(err, -ENOENT, "Instance '%s' not found", name);
	r = db_instance_get(db, name, &row, err);
	if (r < 0)
		return r;
	r = instance_from_row(row, &inst, err);
	if (r < 0)
		return r;
	r = instance_expand(db, inst, err);
	if (r < 0) {
		instance_free(inst);
		return r;
	}
	*ret = inst;
	return 0;
}

const json_t *instance_root_device(const struct instance *inst)
{
	return instance_devices_root(inst->expanded_devices);
}

const json_t *instance_devices_root(const json_t *devices)
{
	const char *name;
	json_t *dev;

	json_object_foreach((json_t *)devices, name, dev)
	{
		const char *path = json_get_str(dev, "path");

		if (streq(json_get_str(dev, "type") ?: "", "disk") && path && streq(path, "/"))
			return dev;
	}
	return NULL;
}

const char *instance_root_pool(const struct instance *inst)
{
	const json_t *dev = instance_root_device(inst);

	return dev ? json_get_str(dev, "pool") : NULL;
}

json_t *instance_to_json(const struct instance *inst, enum instance_status status)
{
	json_t *j = json_object();

	json_object_set_new(j, "architecture", json_string(inst->architecture));
	json_object_set(j, "config", inst->config);
	json_object_set(j, "devices", inst->devices);
	json_object_set_new(j, "ephemeral", json_boolean(inst->ephemeral));
	json_object_set(j, "profiles", inst->profiles);
	json_object_set_new(j, "stateful", json_boolean(inst->stateful));
	json_object_set_new(j, "description", json_string(inst->description));
	json_object_set_new(j, "created_at", json_time(inst->created_at, 0));
	json_object_set(j, "expanded_config", inst->expanded_config);
	json_object_set(j, "expanded_devices", inst->expanded_devices);
	json_object_set_new(j, "name", json_string(inst->name));
	json_object_set_new(j, "status", json_string(instance_status_name(status)));
	json_object_set_new(j, "status_code", json_integer(status));
	json_object_set_new(j, "last_used_at", json_time(inst->last_used_at, 0));
	json_object_set_new(j, "location", json_string("none"));
	json_object_set_new(j, "type", json_string(instance_type_names[inst->type]));
	json_object_set_new(j, "project", json_string(inst->project));
	return j;
}

/* The part of the instance a PUT replaces and an ETag covers, as LXD computes it. */
json_t *instance_etag_source(const struct instance *inst)
{
	json_t *j = json_object();

	json_object_set_new(j, "architecture", json_string(inst->architecture));
	json_object_set(j, "config", inst->config);
	json_object_set(j, "devices", inst->devices);
	json_object_set_new(j, "ephemeral", json_boolean(inst->ephemeral));
	json_object_set(j, "profiles", inst->profiles);
	json_object_set_new(j, "description", json_string(inst->description));
	return j;
}
