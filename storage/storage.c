/* storage/storage.c: pools and volumes over their drivers (see storage.h). The only file
 * that calls through pool->driver. */
#include "storage/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db-storage.h"
#include "images/images.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "storage/tree.h"

#include "lib/banned.h"

const char *const storage_volume_type_names[] = {
	[STORAGE_VOLUME_CONTAINER] = "container", [STORAGE_VOLUME_VM] = "virtual-machine",
	[STORAGE_VOLUME_IMAGE] = "image",	  [STORAGE_VOLUME_CUSTOM] = "custom",
	[_STORAGE_VOLUME_TYPE_MAX] = NULL,
};

/* lvm and ceph (later issues) each add a file and a line here. */
static const struct storage_driver *const storage_drivers[] = {
	&storage_driver_dir,
	&storage_driver_btrfs,
};

static const struct config_key storage_volume_keys[] = {
	{ .name = "size", .type = CONFIG_TYPE_SIZE },
	{ .name = "security.shifted", .type = CONFIG_TYPE_BOOL },
	{ .name = "security.unmapped", .type = CONFIG_TYPE_BOOL },
	{ .name = "security.shared", .type = CONFIG_TYPE_BOOL },
	{ .name = "volatile.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{},
};

const struct config_schema storage_volume_schema = { "storage volume", storage_volume_keys };

/* The key that records which image an instance volume clones. */
#define BASE_IMAGE_KEY "volatile.base_image"

int storage_volume_type_from_name(const char *name, enum storage_volume_type *ret,
				  struct error *err)
{
	for (int t = 0; t < _STORAGE_VOLUME_TYPE_MAX; t++)
		if (name && streq(name, storage_volume_type_names[t])) {
			*ret = (enum storage_volume_type)t;
			return 0;
		}
	if (name && config_value_is_safe(name))
		return error_set(err, -EINVAL, "Invalid storage volume type '%s'", name);
	return error_set(err, -EINVAL, "Invalid storage volume type");
}

const struct storage_driver *storage_driver_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(storage_drivers); i++)
		if (name && streq(storage_drivers[i]->name, name))
			return storage_drivers[i];
	return NULL;
}

json_t *storage_drivers_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ARRAY_SIZE(storage_drivers); i++)
		(void)json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "Name",
							 storage_drivers[i]->name, "Version",
							 storage_drivers[i]->version, "Remote",
							 storage_drivers[i]->remote));
	return a;
}

int storage_name_check(const char *what, const char *name, struct error *err)
{
	if (object_name_is_valid(name))
		return 0;
	if (name && config_value_is_safe(name))
		return error_set(err, -EINVAL, "Invalid %s name '%s'", what, name);
	return error_set(err, -EINVAL, "Invalid %s name", what);
}

/* A JSON string of s, which it frees. */
static json_t *json_string_own(char *s)
{
	json_t *j = json_string(s);

	free(s);
	return j;
}

/* Whether a and b (either may be NULL) are the same string, or both absent. */
static bool str_eq_null(const char *a, const char *b)
{
	return a ? b && streq(a, b) : !b;
}

static long long now_sec(void)
{
	return (long long)time(NULL);
}

/* ---- pools ---------------------------------------------------------------------------- */

void storage_volume_free(struct storage_volume *vol)
{
	if (!vol)
		return;
	free(vol->name);
	free(vol->description);
	free(vol->content_type);
	json_decref(vol->config);
	free(vol);
}

void storage_pool_free(struct storage_pool *pool)
{
	if (!pool)
		return;
	if (pool->driver && pool->driver->pool_release)
		pool->driver->pool_release(pool);
	free(pool->lodge_dir);
	free(pool->name);
	free(pool->description);
	json_decref(pool->config);
	free(pool->status);
	free(pool);
}

static struct storage_pool *pool_new(struct db *db, const char *lodge_dir, const char *name,
				     const struct storage_driver *driver)
{
	struct storage_pool *pool = xcalloc(1, sizeof(*pool));

	pool->db = db;
	pool->lodge_dir = xstrdup(lodge_dir);
	pool->name = xstrdup(name);
	pool->driver = driver;
	pool->description = xstrdup("");
	pool->status = xstrdup("Created");
	return pool;
}

int storage_pool_load(struct db *db, const char *lodge_dir, const char *name,
		      struct storage_pool **ret, struct error *err)
{
	autoclean(db_storage_pool_freep) struct db_storage_pool *row = NULL;
	const struct storage_driver *driver;
	struct storage_pool *pool;
	int r;

	r = storage_name_check("storage pool", name, err);
	if (r < 0)
		return r;
	r = db_storage_pool_get(db, name, &row, err);
	if (r < 0)
		return r;
	driver = storage_driver_find(row->driver);
	if (!driver)
		return error_set(err, -EOPNOTSUPP,
				 "Storage pool '%s' uses driver '%s', which this lodge lacks", name,
				 row->driver);

	pool = pool_new(db, lodge_dir, name, driver);
	pool->id = row->id;
	free(pool->description);
	pool->description = take_ptr(row->description);
	pool->config = take_ptr(row->config);
	free(pool->status);
	pool->status = take_ptr(row->status);
	*ret = pool;
	return 0;
}

/* Makes the pool usable by this object before a driver call that touches its storage. */
static int pool_mount(struct storage_pool *pool, struct error *err)
{
	int r;

	if (pool->mounted)
		return 0;
	r = pool->driver->pool_mount(pool, err);
	if (r < 0)
		return r;
	pool->mounted = true;
	return 0;
}

/* The canonical form of a pool source, for comparing: its real path when it exists. */
static char *source_canonical(const char *source)
{
	char *real = realpath(source, NULL);

	return real ? real : xstrdup(source);
}

/* True when path a is b or lies beneath it. */
static bool path_is_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/' || streq(b, "/"));
}

/* Refuses a source another pool holds: the same path or device, or a directory inside
 * (or around) another pool's. */
static int pool_source_check(struct storage_pool *pool, struct error *err)
{
	autofree char *mine = source_canonical(json_get_str(pool->config, "source"));
	autojson json_t *names = NULL;
	size_t i;
	json_t *n;
	int r;

	r = db_storage_pool_names(pool->db, &names, err);
	if (r < 0)
		return r;
	json_array_foreach(names, i, n)
	{
		autoclean(storage_pool_freep) struct storage_pool *other = NULL;
		autofree char *theirs = NULL;
		const char *source;

		if (storage_pool_load(pool->db, pool->lodge_dir, json_string_value(n), &other,
				      NULL) < 0)
			continue;
		source = json_get_str(other->config, "source");
		if (str_is_empty(source))
			continue;
		theirs = source_canonical(source);
		if (path_is_within(mine, theirs) || path_is_within(theirs, mine))
			return error_set(err, -EINVAL,
					 "Source '%s' is already used by storage pool '%s'",
					 json_get_str(pool->config, "source"), other->name);
	}
	return 0;
}

int storage_pool_create(struct db *db, const char *lodge_dir, const char *name,
			const char *driver_name, const char *description, const json_t *config,
			struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(db_storage_pool_freep) struct db_storage_pool *existing = NULL;
	const struct storage_driver *driver;
	int r;

	r = storage_name_check("storage pool", name, err);
	if (r < 0)
		return r;
	driver = storage_driver_find(driver_name);
	if (!driver) {
		if (str_is_empty(driver_name))
			return error_set(err, -EINVAL, "No storage driver given");
		if (!config_value_is_safe(driver_name))
			return error_set(err, -EINVAL, "Storage driver not supported");
		return error_set(err, -EINVAL, "Storage driver '%s' is not supported", driver_name);
	}
	r = db_storage_pool_get(db, name, &existing, NULL);
	if (r == 0)
		return error_set(err, -EEXIST, "Storage pool '%s' already exists", name);

	pool = pool_new(db, lodge_dir, name, driver);
	free(pool->description);
	pool->description = xstrdup(description ? description : "");
	r = config_normalize(driver->pool_schema, config, &pool->config, err);
	if (r < 0)
		return r;
	r = driver->pool_init(pool, err);
	if (r < 0)
		return r;
	r = pool_source_check(pool, err);
	if (r < 0)
		return r;

	r = driver->pool_create(pool, err);
	if (r < 0)
		return r;
	pool->mounted = true;

	r = db_storage_pool_insert(db, name, driver->name, pool->description, pool->config,
				   &pool->id, err);
	if (r < 0)
		goto undo_create;
	log_debug("Created storage pool '%s' (%s)", name, driver->name);
	return 0;

undo_create:
	(void)driver->pool_delete(pool, NULL);
	return r;
}

/* The API URL of a volume (or volume snapshot) of pool. */
static char *volume_url(const struct storage_pool *pool, enum storage_volume_type type,
			const char *name)
{
	const char *slash = strchr(name, '/');
	autofree char *vol = slash ? xstrndup(name, (size_t)(slash - name)) : xstrdup(name);

	switch (type) {
	case STORAGE_VOLUME_CONTAINER:
	case STORAGE_VOLUME_VM:
		if (slash)
			return str_printf("/1.0/instances/%s/snapshots/%s", vol, slash + 1);
		return str_printf("/1.0/instances/%s", vol);
	case STORAGE_VOLUME_IMAGE:
		return str_printf("/1.0/images/%s", vol);
	case STORAGE_VOLUME_CUSTOM:
	case _STORAGE_VOLUME_TYPE_MAX:
		break;
	}
	if (slash)
		return str_printf("/1.0/storage-pools/%s/volumes/custom/%s/snapshots/%s",
				  pool->name, vol, slash + 1);
	return str_printf("/1.0/storage-pools/%s/volumes/custom/%s", pool->name, vol);
}

static int volume_type_of_row(const struct db_storage_volume *row, enum storage_volume_type *ret)
{
	return storage_volume_type_from_name(row->type, ret, NULL);
}

/* Adds the URLs of the pool's volumes (snapshots included) to urls; images only when
 * with_images. */
static int pool_volume_urls(struct storage_pool *pool, bool with_images, json_t *urls,
			    struct error *err)
{
	struct db_storage_volume_list list = { NULL, 0 };
	int r;

	r = db_storage_volume_list(pool->db, pool->id, NULL, NULL, &list, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < list.n; i++) {
		struct db_storage_volume_list snaps = { NULL, 0 };
		enum storage_volume_type type;

		if (volume_type_of_row(list.items[i], &type) < 0)
			continue;
		if (type == STORAGE_VOLUME_IMAGE && !with_images)
			continue;
		(void)json_array_append_new(
			urls, json_string_own(volume_url(pool, type, list.items[i]->name)));
		r = db_storage_volume_list(pool->db, pool->id, list.items[i]->type,
					   list.items[i]->name, &snaps, err);
		if (r < 0)
			break;
		for (size_t j = 0; j < snaps.n; j++)
			(void)json_array_append_new(
				urls,
				json_string_own(volume_url(pool, type, snaps.items[j]->name)));
		db_storage_volume_list_release(&snaps);
	}
	db_storage_volume_list_release(&list);
	return r < 0 ? r : 0;
}

static int pool_profile_urls(struct storage_pool *pool, json_t *urls, struct error *err)
{
	autojson json_t *profiles = NULL;
	size_t i;
	json_t *p;
	int r;

	r = db_storage_pool_profiles(pool->db, pool->name, &profiles, err);
	if (r < 0)
		return r;
	json_array_foreach(profiles, i, p)
	{
		autofree char *url = str_printf("/1.0/profiles/%s", json_string_value(p));

		(void)json_array_append_new(urls, json_string(url));
	}
	return 0;
}

int storage_pool_used_by(struct storage_pool *pool, json_t **ret, struct error *err)
{
	autojson json_t *urls = json_array();
	int r;

	r = pool_volume_urls(pool, true, urls, err);
	if (r < 0)
		return r;
	r = pool_profile_urls(pool, urls, err);
	if (r < 0)
		return r;
	*ret = take_ptr(urls);
	return 0;
}

/* "a, b, c" of a JSON array of strings, for messages. */
static char *strings_join(const json_t *array)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *s;

	json_array_foreach(array, i, s)
	{
		strbuf_addf(&sb, "%s%s", i ? ", " : "", json_string_value(s));
	}
	return strbuf_detach(&sb);
}

int storage_pool_delete(struct storage_pool *pool, struct error *err)
{
	struct db_storage_volume_list images = { NULL, 0 };
	autojson json_t *users = json_array();
	int r;

	/* Image volumes are caches, deleted with the pool; anything else is in use. */
	r = pool_volume_urls(pool, false, users, err);
	if (r >= 0)
		r = pool_profile_urls(pool, users, err);
	if (r < 0)
		return r;
	if (json_array_size(users) > 0) {
		autofree char *list = strings_join(users);

		return error_set(err, -EBUSY, "Storage pool '%s' is currently in use by: %s",
				 pool->name, list);
	}

	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	r = db_storage_volume_list(pool->db, pool->id, "image", NULL, &images, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < images.n && r >= 0; i++) {
		struct storage_volume vol = { .type = STORAGE_VOLUME_IMAGE,
					      .name = images.items[i]->name,
					      .config = images.items[i]->config };

		r = pool->driver->volume_delete(pool, &vol, err);
		if (r >= 0)
			r = db_storage_volume_delete(pool->db, images.items[i]->id, err);
	}
	db_storage_volume_list_release(&images);
	if (r < 0)
		return r;

	r = pool->driver->pool_delete(pool, err);
	if (r < 0)
		return r;
	pool->mounted = false;
	r = db_storage_pool_delete(pool->db, pool->id, err);
	if (r < 0)
		return r;
	log_debug("Deleted storage pool '%s'", pool->name);
	return 0;
}

int storage_pool_update(struct storage_pool *pool, const char *description, const json_t *config,
			bool patch, struct error *err)
{
	autojson json_t *next = NULL;
	const char *old_source, *new_source;
	int r;

	if (patch)
		r = config_patch(pool->driver->pool_schema, pool->config, config, &next, err);
	else
		r = config_replace(pool->driver->pool_schema, pool->config, config, &next, err);
	if (r < 0)
		return r;

	/* The source is where the volumes are: it cannot move under them. A PUT that leaves
	 * it out keeps it (lxc storage edit sends the whole config, others may not). */
	old_source = json_get_str(pool->config, "source");
	new_source = json_get_str(next, "source");
	if (!new_source && old_source)
		(void)json_object_set_new(next, "source", json_string(old_source));
	else if (new_source && (!old_source || !streq(old_source, new_source)))
		return error_set(err, -EINVAL, "The source of storage pool '%s' cannot be changed",
				 pool->name);

	/* The loop file's size is fixed once made (growing it is a later step). */
	if (!str_eq_null(json_get_str(pool->config, "size"), json_get_str(next, "size")))
		return error_set(err, -EOPNOTSUPP,
				 "The size of storage pool '%s' cannot be changed yet", pool->name);

	if (!description)
		description = pool->description;
	r = db_storage_pool_update(pool->db, pool->id, description, next, err);
	if (r < 0)
		return r;

	json_decref(pool->config);
	pool->config = take_ptr(next);
	if (description != pool->description) {
		free(pool->description);
		pool->description = xstrdup(description);
	}
	return 0;
}

int storage_pool_resources(struct storage_pool *pool, struct storage_resources *ret,
			   struct error *err)
{
	int r;

	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	return pool->driver->pool_resources(pool, ret, err);
}

int storage_pool_to_json(struct storage_pool *pool, json_t **ret, struct error *err)
{
	autojson json_t *used_by = NULL;
	json_t *j;
	int r;

	r = storage_pool_used_by(pool, &used_by, err);
	if (r < 0)
		return r;

	j = json_object();
	(void)json_object_set_new(j, "config", json_deep_copy(pool->config));
	(void)json_object_set_new(j, "description", json_string(pool->description));
	(void)json_object_set_new(j, "name", json_string(pool->name));
	(void)json_object_set_new(j, "driver", json_string(pool->driver->name));
	/* LXD sends null, not [], for an unused pool. */
	(void)json_object_set_new(j, "used_by",
				  json_array_size(used_by) ? take_ptr(used_by) : json_null());
	(void)json_object_set_new(j, "status", json_string(pool->status));
	(void)json_object_set_new(j, "locations", json_pack("[s]", "none"));
	*ret = j;
	return 0;
}

int storage_pools_list_json(struct db *db, const char *lodge_dir, bool full, json_t **ret,
			    struct error *err)
{
	autojson json_t *names = NULL, *out = json_array();
	size_t i;
	json_t *name;
	int r;

	r = db_storage_pool_names(db, &names, err);
	if (r < 0)
		return r;
	json_array_foreach(names, i, name)
	{
		autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
		json_t *j = NULL;

		if (!full) {
			autofree char *url =
				str_printf("/1.0/storage-pools/%s", json_string_value(name));

			(void)json_array_append_new(out, json_string(url));
			continue;
		}
		r = storage_pool_load(db, lodge_dir, json_string_value(name), &pool, err);
		if (r < 0)
			return r;
		r = storage_pool_to_json(pool, &j, err);
		if (r < 0)
			return r;
		(void)json_array_append_new(out, j);
	}
	*ret = take_ptr(out);
	return 0;
}

/* Mounts the pools whose storage needs a host mount (a btrfs loop file after a reboot);
 * a pool that fails is logged and stays unavailable, the others come up. */
static void pools_mount_all(struct db *db, const char *lodge_dir, const json_t *names)
{
	size_t i;
	json_t *n;

	json_array_foreach(names, i, n)
	{
		autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
		struct error e = ERROR_INIT;

		if (storage_pool_load(db, lodge_dir, json_string_value(n), &pool, &e) == 0 &&
		    pool->driver->pool_unmount && pool_mount(pool, &e) < 0)
			log_error("Failed to mount storage pool '%s': %s", pool->name,
				  error_message(&e));
		error_clear(&e);
	}
}

int storage_default_init(struct db *db, const char *lodge_dir, struct error *err)
{
	autojson json_t *names = NULL;
	int r;

	r = db_storage_pool_names(db, &names, err);
	if (r < 0)
		return r;
	if (json_array_size(names) > 0) {
		pools_mount_all(db, lodge_dir, names);
		return 0;
	}

	r = storage_pool_create(db, lodge_dir, "default", "dir", "", NULL, err);
	if (r < 0)
		return error_prefix(err, "Failed to create the default storage pool");
	r = db_profile_root_disk_ensure(db, "default", "default", err);
	if (r < 0)
		return error_prefix(err, "Failed to give the default profile a root disk");
	log_info("Created storage pool 'default' (dir)");
	return 0;
}

/* ---- volumes -------------------------------------------------------------------------- */

static struct storage_volume *volume_from_row(struct db_storage_volume *row,
					      enum storage_volume_type type)
{
	struct storage_volume *vol = xcalloc(1, sizeof(*vol));

	vol->id = row->id;
	vol->type = type;
	vol->name = take_ptr(row->name);
	vol->description = take_ptr(row->description);
	vol->content_type = take_ptr(row->content_type);
	vol->config = take_ptr(row->config);
	vol->created_at = row->created_at;
	return vol;
}

/* Checks an image fingerprint a caller gave: image volumes are named by it. */
static int fingerprint_check(const char *fingerprint, struct error *err)
{
	if (image_fingerprint_is_valid(fingerprint))
		return 0;
	if (fingerprint && config_value_is_safe(fingerprint))
		return error_set(err, -EINVAL, "Invalid image fingerprint '%s'", fingerprint);
	return error_set(err, -EINVAL, "Invalid image fingerprint");
}

/* Checks the name of a volume of type, or "<vol>/<snap>". An image volume is named by its
 * image's full fingerprint: 64 hex digits, one more than an object name may have. */
static int volume_name_check(enum storage_volume_type type, const char *name, struct error *err)
{
	const char *slash = name ? strchr(name, '/') : NULL;
	autofree char *vol = NULL;

	if (type == STORAGE_VOLUME_IMAGE)
		return fingerprint_check(name, err);
	if (!slash)
		return storage_name_check("storage volume", name, err);
	vol = xstrndup(name, (size_t)(slash - name));
	if (!object_name_is_valid(vol) || !object_name_is_valid(slash + 1))
		return storage_name_check("storage volume", "/", err);
	return 0;
}

int storage_volume_load(struct storage_pool *pool, enum storage_volume_type type, const char *name,
			struct storage_volume **ret, struct error *err)
{
	autoclean(db_storage_volume_freep) struct db_storage_volume *row = NULL;
	int r;

	r = volume_name_check(type, name, err);
	if (r < 0)
		return r;
	r = db_storage_volume_get(pool->db, pool->id, storage_volume_type_names[type], name, &row,
				  err);
	if (r < 0)
		return r;
	*ret = volume_from_row(row, type);
	return 0;
}

/* Records vol (a volume just made by the driver); undoes the driver's work if that fails. */
static int volume_record(struct storage_pool *pool, struct storage_volume *vol, struct error *err)
{
	struct db_storage_volume row = {
		.pool_id = pool->id,
		.type = (char *)storage_volume_type_names[vol->type],
		.name = vol->name,
		.description = vol->description,
		.content_type = vol->content_type,
		.config = vol->config,
		.created_at = vol->created_at,
	};
	int r;

	r = db_storage_volume_insert(pool->db, &row, &vol->id, err);
	if (r < 0) {
		if (strchr(vol->name, '/'))
			(void)pool->driver->snapshot_delete(pool, vol, strchr(vol->name, '/') + 1,
							    NULL);
		else
			(void)pool->driver->volume_delete(pool, vol, NULL);
	}
	return r;
}

/* Fails with -EEXIST naming the volume when the pool has it already. */
static int volume_check_absent(struct storage_pool *pool, enum storage_volume_type type,
			       const char *name, struct error *err)
{
	autoclean(db_storage_volume_freep) struct db_storage_volume *row = NULL;
	int r;

	r = db_storage_volume_get(pool->db, pool->id, storage_volume_type_names[type], name, &row,
				  NULL);
	if (r == 0)
		return error_set(err, -EEXIST,
				 "Storage volume '%s' of type '%s' already exists in pool '%s'",
				 name, storage_volume_type_names[type], pool->name);
	return 0;
}

static int volume_apply_size(struct storage_pool *pool, const struct storage_volume *vol,
			     struct error *err)
{
	const char *size = json_get_str(vol->config, "size");
	uint64_t bytes = 0;

	if (str_is_empty(size))
		return 0;
	if (parse_size(size, &bytes) < 0)
		return error_set(err, -EINVAL, "Invalid value for 'size'");
	if (!pool->driver->volume_set_quota) {
		log_warn("Storage driver '%s' cannot enforce size '%s' of volume '%s', ignoring",
			 pool->driver->name, size, vol->name);
		return 0;
	}
	return pool->driver->volume_set_quota(pool, vol, bytes, err);
}

/* A new volume takes the pool's "volume.<key>" defaults for the keys it does not set. */
static void volume_config_defaults(const struct storage_pool *pool, json_t *config)
{
	static const char *const keys[] = { "size", "security.shifted", "security.unmapped" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		autofree char *pool_key = str_printf("volume.%s", keys[i]);
		const char *value = json_get_str(pool->config, pool_key);

		if (!str_is_empty(value) && !json_object_get(config, keys[i]))
			(void)json_object_set_new(config, keys[i], json_string(value));
	}
}

int storage_volume_create_custom(struct storage_pool *pool, const char *name,
				 const char *description, const char *content_type,
				 const json_t *config, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = storage_name_check("storage volume", name, err);
	if (r < 0)
		return r;
	if (!str_is_empty(content_type) && !streq(content_type, "filesystem")) {
		if (streq(content_type, "block"))
			return error_set(err, -EOPNOTSUPP,
					 "Custom block volumes are not supported yet");
		return error_set(err, -EINVAL, "Invalid content type");
	}
	r = volume_check_absent(pool, STORAGE_VOLUME_CUSTOM, name, err);
	if (r < 0)
		return r;

	vol = xcalloc(1, sizeof(*vol));
	vol->type = STORAGE_VOLUME_CUSTOM;
	vol->name = xstrdup(name);
	vol->description = xstrdup(description ? description : "");
	vol->content_type = xstrdup("filesystem");
	vol->created_at = now_sec();
	r = config_normalize(&storage_volume_schema, config, &vol->config, err);
	if (r < 0)
		return r;
	volume_config_defaults(pool, vol->config);

	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	r = pool->driver->volume_create(pool, vol, err);
	if (r < 0)
		return r;
	r = volume_apply_size(pool, vol, err);
	if (r < 0) {
		(void)pool->driver->volume_delete(pool, vol, NULL);
		return r;
	}
	return volume_record(pool, vol, err);
}

int storage_volume_update(struct storage_pool *pool, const struct storage_volume *vol,
			  const char *description, const json_t *config, bool patch,
			  struct error *err)
{
	autojson json_t *next = NULL;
	struct storage_volume updated;
	const char *old_size, *new_size;
	int r;

	if (patch)
		r = config_patch(&storage_volume_schema, vol->config, config, &next, err);
	else
		r = config_replace(&storage_volume_schema, vol->config, config, &next, err);
	if (r < 0)
		return r;

	/* volatile.* keys are ours: a client that leaves them out of a PUT keeps them. */
	if (!patch) {
		const char *key;
		json_t *value;

		json_object_foreach(vol->config, key, value)
		{
			if (str_has_prefix(key, "volatile.") && !json_object_get(next, key))
				(void)json_object_set(next, key, value);
		}
	}

	updated = *vol;
	updated.config = next;
	old_size = json_get_str(vol->config, "size");
	new_size = json_get_str(next, "size");
	if (!str_eq_null(old_size, new_size)) {
		r = pool_mount(pool, err);
		if (r < 0)
			return r;
		/* An unset size lifts the limit. */
		if (str_is_empty(new_size) && pool->driver->volume_set_quota)
			r = pool->driver->volume_set_quota(pool, &updated, 0, err);
		else
			r = volume_apply_size(pool, &updated, err);
		if (r < 0)
			return r;
	}

	return db_storage_volume_update(pool->db, vol->id,
					description ? description : vol->description, next, err);
}

/* The users of a volume, as API URLs: what must go before it can be deleted or renamed. */
static int volume_users(struct storage_pool *pool, const struct storage_volume *vol, json_t **ret,
			struct error *err)
{
	switch (vol->type) {
	case STORAGE_VOLUME_CUSTOM:
		return db_storage_volume_users(pool->db, pool->name, vol->name, ret, err);
	case STORAGE_VOLUME_CONTAINER:
	case STORAGE_VOLUME_VM: {
		autofree char *url = volume_url(pool, vol->type, vol->name);

		*ret = json_pack("[s]", url);
		return 0;
	}
	case STORAGE_VOLUME_IMAGE: {
		json_t *names = NULL, *urls;
		size_t i;
		json_t *n;
		int r;

		r = db_storage_volume_names_by_config(pool->db, pool->id, "container",
						      BASE_IMAGE_KEY, vol->name, &names, err);
		if (r < 0)
			return r;
		urls = json_array();
		json_array_foreach(names, i, n)
		{
			(void)json_array_append_new(
				urls, json_string_own(volume_url(pool, STORAGE_VOLUME_CONTAINER,
								 json_string_value(n))));
		}
		json_decref(names);
		*ret = urls;
		return 0;
	}
	case _STORAGE_VOLUME_TYPE_MAX:
		break;
	}
	*ret = json_array();
	return 0;
}

int storage_volume_users(struct storage_pool *pool, const struct storage_volume *vol, json_t **ret,
			 struct error *err)
{
	return volume_users(pool, vol, ret, err);
}

static int volume_check_unused(struct storage_pool *pool, const struct storage_volume *vol,
			       struct error *err)
{
	autojson json_t *users = NULL;
	autofree char *list = NULL;
	int r;

	r = volume_users(pool, vol, &users, err);
	if (r < 0)
		return r;
	if (json_array_size(users) == 0)
		return 0;
	list = strings_join(users);
	return error_set(err, -EBUSY, "Storage volume '%s' is currently in use by: %s", vol->name,
			 list);
}

/* Renames volume (type, name) and its snapshots, on disk and in the database. */
static int volume_rename(struct storage_pool *pool, const struct storage_volume *vol,
			 const char *new_name, struct error *err)
{
	int r;

	r = storage_name_check("storage volume", new_name, err);
	if (r < 0)
		return r;
	r = volume_check_absent(pool, vol->type, new_name, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;

	r = pool->driver->volume_rename(pool, vol, new_name, err);
	if (r < 0)
		return r;
	r = db_storage_volume_rename(pool->db, pool->id, storage_volume_type_names[vol->type],
				     vol->name, new_name, err);
	if (r < 0)
		goto undo_rename;
	return 0;

undo_rename : {
	struct storage_volume renamed = *vol;

	renamed.name = (char *)new_name;
	(void)pool->driver->volume_rename(pool, &renamed, vol->name, NULL);
	return r;
}
}

int storage_volume_rename(struct storage_pool *pool, const struct storage_volume *vol,
			  const char *new_name, struct error *err)
{
	int r;

	if (vol->type != STORAGE_VOLUME_CUSTOM)
		return error_set(err, -EINVAL, "Only custom storage volumes can be renamed here");
	r = volume_check_unused(pool, vol, err);
	if (r < 0)
		return r;
	return volume_rename(pool, vol, new_name, err);
}

/* Deletes one snapshot row and its files. */
static int snapshot_remove(struct storage_pool *pool, const struct storage_volume *vol,
			   int64_t snap_id, const char *snap, struct error *err)
{
	int r;

	r = pool->driver->snapshot_delete(pool, vol, snap, err);
	if (r < 0)
		return r;
	return db_storage_volume_delete(pool->db, snap_id, err);
}

/* Deletes a volume, its snapshots first. */
static int volume_remove(struct storage_pool *pool, const struct storage_volume *vol,
			 struct error *err)
{
	struct db_storage_volume_list snaps = { NULL, 0 };
	int r;

	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	r = pool->driver->volume_unmount(pool, vol, err);
	if (r < 0)
		return r;

	r = db_storage_volume_list(pool->db, pool->id, storage_volume_type_names[vol->type],
				   vol->name, &snaps, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < snaps.n && r >= 0; i++)
		r = snapshot_remove(pool, vol, snaps.items[i]->id,
				    strchr(snaps.items[i]->name, '/') + 1, err);
	db_storage_volume_list_release(&snaps);
	if (r < 0)
		return r;

	r = pool->driver->volume_delete(pool, vol, err);
	if (r < 0)
		return r;
	return db_storage_volume_delete(pool->db, vol->id, err);
}

int storage_volume_delete(struct storage_pool *pool, const struct storage_volume *vol,
			  struct error *err)
{
	int r;

	if (vol->type != STORAGE_VOLUME_CUSTOM)
		return error_set(err, -EINVAL,
				 "Storage volumes of type '%s' are deleted with their %s",
				 storage_volume_type_names[vol->type],
				 vol->type == STORAGE_VOLUME_IMAGE ? "image" : "instance");
	if (strchr(vol->name, '/'))
		return error_set(err, -EINVAL, "'%s' is a snapshot", vol->name);
	r = volume_check_unused(pool, vol, err);
	if (r < 0)
		return r;
	return volume_remove(pool, vol, err);
}

int storage_volume_snapshot_create(struct storage_pool *pool, enum storage_volume_type type,
				   const char *name, const char *snap, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	struct storage_volume snapshot;
	autofree char *snap_name = NULL;
	int r;

	r = storage_name_check("snapshot", snap, err);
	if (r < 0)
		return r;
	r = storage_volume_load(pool, type, name, &vol, err);
	if (r < 0)
		return r;
	if (strchr(name, '/'))
		return error_set(err, -EINVAL, "'%s' is a snapshot already", name);
	if (!pool->driver->snapshot_create)
		return error_set(err, -EOPNOTSUPP, "Storage driver '%s' cannot snapshot volumes",
				 pool->driver->name);
	snap_name = str_printf("%s/%s", name, snap);
	r = volume_check_absent(pool, type, snap_name, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;

	r = pool->driver->snapshot_create(pool, vol, snap, err);
	if (r < 0)
		return r;
	snapshot = *vol;
	snapshot.name = snap_name;
	snapshot.created_at = now_sec();
	return volume_record(pool, &snapshot, err);
}

/* Loads volume name and its snapshot snap. */
static int snapshot_load(struct storage_pool *pool, enum storage_volume_type type, const char *name,
			 const char *snap, struct storage_volume **ret_vol,
			 struct storage_volume **ret_snap, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autofree char *snap_name = NULL;
	int r;

	r = storage_name_check("snapshot", snap, err);
	if (r < 0)
		return r;
	r = storage_volume_load(pool, type, name, &vol, err);
	if (r < 0)
		return r;
	if (!pool->driver->snapshot_create)
		return error_set(err, -EOPNOTSUPP, "Storage driver '%s' has no snapshots",
				 pool->driver->name);
	snap_name = str_printf("%s/%s", name, snap);
	r = storage_volume_load(pool, type, snap_name, ret_snap, err);
	if (r < 0)
		return r;
	*ret_vol = take_ptr(vol);
	return 0;
}

int storage_volume_snapshot_delete(struct storage_pool *pool, enum storage_volume_type type,
				   const char *name, const char *snap, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL, *snapshot = NULL;
	int r;

	r = snapshot_load(pool, type, name, snap, &vol, &snapshot, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	return snapshot_remove(pool, vol, snapshot->id, snap, err);
}

int storage_volume_snapshot_restore(struct storage_pool *pool, enum storage_volume_type type,
				    const char *name, const char *snap, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL, *snapshot = NULL;
	int r;

	r = snapshot_load(pool, type, name, snap, &vol, &snapshot, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	return pool->driver->snapshot_restore(pool, vol, snap, err);
}

int storage_volume_snapshot_rename(struct storage_pool *pool, enum storage_volume_type type,
				   const char *name, const char *snap, const char *new_snap,
				   struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL, *snapshot = NULL;
	autofree char *new_name = NULL;
	int r;

	r = snapshot_load(pool, type, name, snap, &vol, &snapshot, err);
	if (r < 0)
		return r;
	r = storage_name_check("snapshot", new_snap, err);
	if (r < 0)
		return r;
	new_name = str_printf("%s/%s", name, new_snap);
	r = volume_check_absent(pool, type, new_name, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;

	r = pool->driver->snapshot_rename(pool, vol, snap, new_snap, err);
	if (r < 0)
		return r;
	r = db_storage_volume_rename(pool->db, pool->id, storage_volume_type_names[type],
				     snapshot->name, new_name, err);
	if (r < 0)
		(void)pool->driver->snapshot_rename(pool, vol, new_snap, snap, NULL);
	return r;
}

static int volume_mount(struct storage_pool *pool, enum storage_volume_type type, const char *name,
			const struct storage_idmap *idmap, char **ret_path, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = storage_volume_load(pool, type, name, &vol, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	return pool->driver->volume_mount(pool, vol, idmap, ret_path, err);
}

static int volume_unmount(struct storage_pool *pool, enum storage_volume_type type,
			  const char *name, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = storage_volume_load(pool, type, name, &vol, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	return pool->driver->volume_unmount(pool, vol, err);
}

int storage_volume_mount(struct storage_pool *pool, enum storage_volume_type type, const char *name,
			 char **ret_path, struct error *err)
{
	return volume_mount(pool, type, name, NULL, ret_path, err);
}

int storage_volume_unmount(struct storage_pool *pool, enum storage_volume_type type,
			   const char *name, struct error *err)
{
	return volume_unmount(pool, type, name, err);
}

int storage_volume_usage(struct storage_pool *pool, const struct storage_volume *vol,
			 uint64_t *ret_used, struct error *err)
{
	int r;

	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	return pool->driver->volume_usage(pool, vol, ret_used, err);
}

json_t *storage_volume_etag_source(const struct storage_volume *vol)
{
	return json_pack("{s:s, s:s, s:s, s:O}", "name", vol->name, "type",
			 storage_volume_type_names[vol->type], "description", vol->description,
			 "config", vol->config);
}

int storage_volume_to_json(struct storage_pool *pool, const struct storage_volume *vol,
			   json_t **ret, struct error *err)
{
	autojson json_t *used_by = NULL;
	json_t *j;
	int r;

	r = volume_users(pool, vol, &used_by, err);
	if (r < 0)
		return r;

	j = json_object();
	(void)json_object_set_new(j, "config", json_deep_copy(vol->config));
	(void)json_object_set_new(j, "description", json_string(vol->description));
	(void)json_object_set_new(j, "name", json_string(vol->name));
	(void)json_object_set_new(j, "type", json_string(storage_volume_type_names[vol->type]));
	(void)json_object_set_new(j, "used_by", take_ptr(used_by));
	(void)json_object_set_new(j, "location", json_string("none"));
	(void)json_object_set_new(j, "content_type", json_string(vol->content_type));
	(void)json_object_set_new(j, "project", json_string("default"));
	(void)json_object_set_new(j, "created_at", json_time(vol->created_at, 0));
	*ret = j;
	return 0;
}

int storage_volumes_list_json(struct storage_pool *pool, int type, bool full, json_t **ret,
			      struct error *err)
{
	struct db_storage_volume_list list = { NULL, 0 };
	autojson json_t *out = json_array();
	int r;

	r = db_storage_volume_list(pool->db, pool->id,
				   type >= 0 && type < _STORAGE_VOLUME_TYPE_MAX
					   ? storage_volume_type_names[type]
					   : NULL,
				   NULL, &list, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < list.n && r >= 0; i++) {
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
		enum storage_volume_type t;
		json_t *j = NULL;

		if (volume_type_of_row(list.items[i], &t) < 0)
			continue;
		vol = volume_from_row(list.items[i], t);
		if (!full) {
			(void)json_array_append_new(
				out, json_string_own(str_printf(
					     "/1.0/storage-pools/%s/volumes/%s/%s", pool->name,
					     storage_volume_type_names[t], vol->name)));
			continue;
		}
		r = storage_volume_to_json(pool, vol, &j, err);
		if (r >= 0)
			(void)json_array_append_new(out, j);
	}
	db_storage_volume_list_release(&list);
	if (r < 0)
		return r;
	*ret = take_ptr(out);
	return 0;
}

/* The custom volume a disk device names, its pool loaded. */
static int disk_volume_load(struct db *db, const char *lodge_dir, const json_t *dev,
			    struct storage_pool **ret_pool, struct storage_volume **ret_vol,
			    struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = storage_pool_load(db, lodge_dir, json_get_str(dev, "pool"), &pool, err);
	if (r < 0)
		return r;
	r = storage_volume_load(pool, STORAGE_VOLUME_CUSTOM, json_get_str(dev, "source"), ret_vol,
				err);
	if (r < 0)
		return r;
	*ret_pool = take_ptr(pool);
	return 0;
}

/* True for a disk device that mounts a custom volume (not the root disk). */
static bool device_is_volume_disk(const json_t *dev)
{
	const char *path = json_get_str(dev, "path");

	return streq(json_get_str(dev, "type") ?: "", "disk") && json_get_str(dev, "pool") &&
	       path && !streq(path, "/");
}

int storage_disk_volume_paths(struct db *db, const char *lodge_dir, const json_t *devices,
			      json_t **ret, struct error *err)
{
	autojson json_t *paths = json_object();
	const char *devname;
	json_t *dev;
	int r;

	json_object_foreach((json_t *)devices, devname, dev)
	{
		autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
		autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
		char *path = NULL;

		if (!device_is_volume_disk(dev))
			continue;
		r = disk_volume_load(db, lodge_dir, dev, &pool, &vol, err);
		if (r >= 0)
			r = storage_volume_mount(pool, STORAGE_VOLUME_CUSTOM, vol->name, &path,
						 err);
		if (r < 0)
			return error_prefix(err, "Device '%s'", devname);
		(void)json_object_set_new(paths, devname, json_string_own(path));
	}
	*ret = take_ptr(paths);
	return 0;
}

int storage_disk_volume_users(struct db *db, const char *lodge_dir, const json_t *dev, json_t **ret,
			      struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	const char *shared;
	int r;

	if (!device_is_volume_disk(dev)) {
		*ret = json_array();
		return 0;
	}
	r = disk_volume_load(db, lodge_dir, dev, &pool, &vol, err);
	if (r < 0)
		return r;
	shared = json_get_str(vol->config, "security.shared");
	if (shared && streq(shared, "true")) {
		*ret = json_array();
		return 0;
	}
	return db_storage_volume_users(db, pool->name, vol->name, ret, err);
}

/* ---- images and instance volumes ------------------------------------------------------ */

/* Serialises work on one image of one pool (unpack, clone, removal) across threads, so an
 * image is unpacked at most once and never removed under a clone being made. Keys are
 * "<pool id>/<fingerprint>"; other images and pools proceed in parallel. */
static pthread_mutex_t image_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t image_cond = PTHREAD_COND_INITIALIZER;
static json_t *image_busy; /* set of keys, under image_lock */

static char *image_key(const struct storage_pool *pool, const char *fingerprint)
{
	return str_printf("%lld/%s", (long long)pool->id, fingerprint);
}

static void image_lock_take(const char *key)
{
	pthread_mutex_lock(&image_lock);
	if (!image_busy)
		image_busy = json_object();
	while (json_object_get(image_busy, key))
		pthread_cond_wait(&image_cond, &image_lock);
	(void)json_object_set_new(image_busy, key, json_true());
	pthread_mutex_unlock(&image_lock);
}

static void image_lock_release(char **key)
{
	if (!*key)
		return;
	pthread_mutex_lock(&image_lock);
	(void)json_object_del(image_busy, *key);
	pthread_cond_broadcast(&image_cond);
	pthread_mutex_unlock(&image_lock);
	free(*key);
	*key = NULL;
}

/* The pool's volume of image fingerprint, unpacking it first if needed. Call with the
 * image's lock held. */
static int image_volume_ensure(struct storage_pool *pool, const char *fingerprint,
			       struct storage_volume **ret, struct error *err)
{
	struct storage_volume *vol = NULL;
	int r;

	/* Only a missing volume means "unpack": the driver replaces what images/<fp> holds,
	 * which must never happen under the clones of a recorded one. */
	r = storage_volume_load(pool, STORAGE_VOLUME_IMAGE, fingerprint, ret, err);
	if (r != -ENOENT)
		return r;
	error_clear(err);

	vol = xcalloc(1, sizeof(*vol));
	vol->type = STORAGE_VOLUME_IMAGE;
	vol->name = xstrdup(fingerprint);
	vol->description = xstrdup("");
	vol->content_type = xstrdup("filesystem");
	vol->config = json_object();
	vol->created_at = now_sec();

	log_debug("Unpacking image '%s' into storage pool '%s'", fingerprint, pool->name);
	r = pool->driver->image_create(pool, vol, err);
	if (r >= 0)
		r = volume_record(pool, vol, err);
	if (r < 0) {
		storage_volume_free(vol);
		return r;
	}
	*ret = vol;
	return 0;
}

/* Removes the image volume when no instance volume clones it and the image itself is gone
 * (or force). Call with the image's lock held. Returns -EBUSY naming the users otherwise. */
static int image_volume_remove_unused(struct storage_pool *pool, const char *fingerprint,
				      bool image_deleted, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autojson json_t *users = NULL;
	bool exists = false;
	int r;

	r = storage_volume_load(pool, STORAGE_VOLUME_IMAGE, fingerprint, &vol, err);
	if (r == -ENOENT) {
		error_clear(err);
		return 0; /* the pool has no copy */
	}
	if (r < 0)
		return r;
	r = volume_users(pool, vol, &users, err);
	if (r < 0)
		return r;
	if (json_array_size(users) > 0) {
		autofree char *list = strings_join(users);

		return error_set(err, -EBUSY,
				 "Image '%s' is still used in storage pool '%s' by: %s",
				 fingerprint, pool->name, list);
	}
	if (!image_deleted) {
		r = db_image_exists(pool->db, fingerprint, &exists, err);
		if (r < 0)
			return r;
		if (exists)
			return 0; /* a cache worth keeping for the next launch */
	}
	r = pool->driver->volume_delete(pool, vol, err);
	if (r < 0)
		return r;
	return db_storage_volume_delete(pool->db, vol->id, err);
}

int storage_image_delete(struct storage_pool *pool, const char *fingerprint, struct error *err)
{
	autoclean(image_lock_release) char *key = NULL;
	int r;

	r = fingerprint_check(fingerprint, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;
	key = image_key(pool, fingerprint);
	image_lock_take(key);
	return image_volume_remove_unused(pool, fingerprint, true, err);
}

static struct storage_volume *instance_volume_new(const char *name)
{
	struct storage_volume *vol = xcalloc(1, sizeof(*vol));

	vol->type = STORAGE_VOLUME_CONTAINER;
	vol->name = xstrdup(name);
	vol->description = xstrdup("");
	vol->content_type = xstrdup("filesystem");
	vol->config = json_object();
	vol->created_at = now_sec();
	return vol;
}

int storage_instance_create_from_image(struct storage_pool *pool, const char *name,
				       const char *fingerprint, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL, *image = NULL;
	autoclean(image_lock_release) char *key = NULL;
	int r;

	r = storage_name_check("instance", name, err);
	if (r < 0)
		return r;
	r = fingerprint_check(fingerprint, err);
	if (r < 0)
		return r;
	r = volume_check_absent(pool, STORAGE_VOLUME_CONTAINER, name, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;

	/* Held until the clone is recorded: the image cannot go in between. */
	key = image_key(pool, fingerprint);
	image_lock_take(key);
	r = image_volume_ensure(pool, fingerprint, &image, err);
	if (r < 0)
		return r;

	vol = instance_volume_new(name);
	(void)json_object_set_new(vol->config, BASE_IMAGE_KEY, json_string(fingerprint));
	r = pool->driver->volume_create_from_image(pool, vol, image, err);
	if (r >= 0)
		r = volume_record(pool, vol, err);
	if (r < 0)
		/* An image unpacked for nothing goes unless the image store keeps it. */
		(void)image_volume_remove_unused(pool, fingerprint, false, NULL);
	return r;
}

int storage_instance_create_empty(struct storage_pool *pool, const char *name, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = storage_name_check("instance", name, err);
	if (r < 0)
		return r;
	r = volume_check_absent(pool, STORAGE_VOLUME_CONTAINER, name, err);
	if (r < 0)
		return r;
	r = pool_mount(pool, err);
	if (r < 0)
		return r;

	vol = instance_volume_new(name);
	r = pool->driver->volume_create(pool, vol, err);
	if (r < 0)
		return r;
	return volume_record(pool, vol, err);
}

int storage_instance_mount(struct storage_pool *pool, const char *name,
			   const struct storage_idmap *idmap, char **ret_rootfs, struct error *err)
{
	int r;

	r = storage_name_check("instance", name, err);
	if (r < 0)
		return r;
	return volume_mount(pool, STORAGE_VOLUME_CONTAINER, name, idmap, ret_rootfs, err);
}

int storage_instance_unmount(struct storage_pool *pool, const char *name, struct error *err)
{
	int r;

	r = storage_name_check("instance", name, err);
	if (r < 0)
		return r;
	return volume_unmount(pool, STORAGE_VOLUME_CONTAINER, name, err);
}

int storage_instance_delete(struct storage_pool *pool, const char *name, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autoclean(image_lock_release) char *key = NULL;
	autofree char *base = NULL;
	int r;

	r = storage_name_check("instance", name, err);
	if (r < 0)
		return r;
	r = storage_volume_load(pool, STORAGE_VOLUME_CONTAINER, name, &vol, err);
	if (r < 0)
		return r;
	if (json_get_str(vol->config, BASE_IMAGE_KEY))
		base = xstrdup(json_get_str(vol->config, BASE_IMAGE_KEY));

	r = volume_remove(pool, vol, err);
	if (r < 0)
		return r;

	/* The last clone of a deleted image takes the pool's copy of it along. */
	if (base && image_fingerprint_is_valid(base)) {
		key = image_key(pool, base);
		image_lock_take(key);
		r = image_volume_remove_unused(pool, base, false, NULL);
		if (r < 0 && r != -EBUSY)
			log_warn_errno(
				r,
				"Failed to remove unused image '%s' from storage pool '%s', ignoring",
				base, pool->name);
	}
	return 0;
}

int storage_instance_rename(struct storage_pool *pool, const char *name, const char *new_name,
			    struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = storage_name_check("instance", name, err);
	if (r < 0)
		return r;
	r = storage_volume_load(pool, STORAGE_VOLUME_CONTAINER, name, &vol, err);
	if (r < 0)
		return r;
	return volume_rename(pool, vol, new_name, err);
}

/* Copies src (volume or snapshot) into the new volume or snapshot dst_name of the same pool,
 * and records it. */
static int copy_within(struct storage_pool *pool, const struct storage_volume *src,
		       const char *dst_name, struct error *err)
{
	struct storage_volume dst = *src;
	autojson json_t *config = json_deep_copy(src->config);
	int r;

	dst.id = 0;
	dst.name = (char *)dst_name;
	dst.config = config;
	dst.created_at = strchr(dst_name, '/') ? src->created_at : now_sec();
	r = pool->driver->volume_copy(pool, src, &dst, err);
	if (r < 0)
		return r;
	return volume_record(pool, &dst, err);
}

/* Removes the volume (type, name) of pool and its snapshots, if recorded: the undo of a
 * copy. */
static void volume_remove_quietly(struct storage_pool *pool, enum storage_volume_type type,
				  const char *name)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;

	if (storage_volume_load(pool, type, name, &vol, NULL) == 0)
		(void)volume_remove(pool, vol, NULL);
}

/* Copies vol (a volume or a snapshot) into the new volume dst of the same pool, with its
 * snapshots when with_snapshots; nothing of the copy stays when a step fails. */
static int copy_within_all(struct storage_pool *pool, const struct storage_volume *vol,
			   const char *dst, bool with_snapshots, struct error *err)
{
	struct db_storage_volume_list snaps = { NULL, 0 };
	int r;

	r = copy_within(pool, vol, dst, err);
	if (r < 0 || !with_snapshots)
		return r;

	r = db_storage_volume_list(pool->db, pool->id, storage_volume_type_names[vol->type],
				   vol->name, &snaps, err);
	for (size_t i = 0; i < snaps.n && r >= 0; i++) {
		autoclean(storage_volume_freep) struct storage_volume *snap = NULL;
		autofree char *dst_snap =
			str_printf("%s/%s", dst, strchr(snaps.items[i]->name, '/') + 1);

		snap = volume_from_row(snaps.items[i], vol->type);
		r = copy_within(pool, snap, dst_snap, err);
	}
	db_storage_volume_list_release(&snaps);
	if (r < 0)
		volume_remove_quietly(pool, vol->type, dst);
	return r;
}

/* Opens the directory containing path (a volume's root filesystem). */
static int open_parent(const char *path, int *ret_fd, struct error *err)
{
	autofree char *parent = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", parent);
	*ret_fd = fd;
	return 0;
}

/* Copies the mounted root filesystem src_rootfs into dst_rootfs, and the metadata.yaml and
 * templates/ beside it. */
static int copy_rootfs(const char *src_rootfs, const char *dst_rootfs, struct error *err)
{
	static const char *const meta[] = { "metadata.yaml", "templates" };
	autoclose int src = -1, dst = -1, src_parent = -1, dst_parent = -1;
	int r;

	src = open(src_rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return error_errno(err, -errno, "Failed to open '%s'", src_rootfs);
	dst = open(dst_rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0)
		return error_errno(err, -errno, "Failed to open '%s'", dst_rootfs);
	r = tree_copy_contents(src, dst, err);
	if (r < 0)
		return r;

	r = open_parent(src_rootfs, &src_parent, err);
	if (r < 0)
		return r;
	r = open_parent(dst_rootfs, &dst_parent, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(meta); i++) {
		if (faccessat(src_parent, meta[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		r = tree_copy_at(src_parent, meta[i], dst_parent, meta[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Copies a volume to a new volume of another pool through the host: mounts the source
 * unshifted, creates the destination empty and copies the root filesystem and metadata
 * across. The copy stands alone (no image below it). */
static int copy_across(struct storage_pool *src_pool, const struct storage_volume *src,
		       struct storage_pool *dst_pool, const char *dst_name, struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *dst = NULL;
	autofree char *src_rootfs = NULL, *dst_rootfs = NULL;
	int r;

	if (strchr(src->name, '/'))
		return error_set(
			err, -EOPNOTSUPP,
			"Copying snapshot '%s' to another storage pool is not supported yet",
			src->name);
	/* A mounted view may be shifted for a running container: its ids are not the
	 * stored ones. */
	if (src_pool->driver->volume_is_mounted(src_pool, src))
		return error_set(
			err, -EBUSY,
			"Storage volume '%s' is mounted: stop the instance before copying it to another storage pool",
			src->name);

	dst = instance_volume_new(dst_name);
	json_decref(dst->config);
	dst->config = json_deep_copy(src->config);
	(void)json_object_del(dst->config, BASE_IMAGE_KEY);

	r = dst_pool->driver->volume_create(dst_pool, dst, err);
	if (r < 0)
		return r;
	r = src_pool->driver->volume_mount(src_pool, src, NULL, &src_rootfs, err);
	if (r < 0)
		goto undo_create;
	r = dst_pool->driver->volume_mount(dst_pool, dst, NULL, &dst_rootfs, err);
	if (r >= 0)
		r = copy_rootfs(src_rootfs, dst_rootfs, err);
	(void)src_pool->driver->volume_unmount(src_pool, src, NULL);
	if (dst_rootfs)
		(void)dst_pool->driver->volume_unmount(dst_pool, dst, NULL);
	if (r < 0)
		goto undo_create;
	return volume_record(dst_pool, dst, err);

undo_create:
	(void)dst_pool->driver->volume_delete(dst_pool, dst, NULL);
	return r;
}

/* The checks and mounts before copying volume src of type to dst: dst is a valid name
 * (what names its kind in messages) and free, src exists (*ret_vol), both pools mounted. */
static int copy_prepare(struct storage_pool *src_pool, struct storage_pool *dst_pool,
			enum storage_volume_type type, const char *what, const char *src,
			const char *dst, struct storage_volume **ret_vol, struct error *err)
{
	int r;

	r = storage_name_check(what, dst, err);
	if (r == 0)
		r = storage_volume_load(src_pool, type, src, ret_vol, err);
	if (r == 0)
		r = volume_check_absent(dst_pool, type, dst, err);
	if (r >= 0)
		r = pool_mount(src_pool, err);
	if (r >= 0)
		r = pool_mount(dst_pool, err);
	return r < 0 ? r : 0;
}

int storage_instance_copy(struct storage_pool *src_pool, const char *src,
			  struct storage_pool *dst_pool, const char *dst, unsigned flags,
			  struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	struct db_storage_volume_list snaps = { NULL, 0 };
	autoclean(image_lock_release) char *key = NULL;
	const char *base;
	int r;

	r = copy_prepare(src_pool, dst_pool, STORAGE_VOLUME_CONTAINER, "instance", src, dst, &vol,
			 err);
	if (r < 0)
		return r;

	if (src_pool->id != dst_pool->id) {
		if ((flags & STORAGE_COPY_SNAPSHOTS) && !strchr(src, '/')) {
			r = db_storage_volume_list(src_pool->db, src_pool->id, "container", src,
						   &snaps, err);
			if (r < 0)
				return r;
			r = snaps.n > 0
				    ? error_set(
					      err, -EOPNOTSUPP,
					      "Copying snapshots between storage pools is not supported yet")
				    : 0;
			db_storage_volume_list_release(&snaps);
			if (r < 0)
				return r;
		}
		return copy_across(src_pool, vol, dst_pool, dst, err);
	}

	/* The copy clones the same image: keep the image from going meanwhile. */
	base = json_get_str(vol->config, BASE_IMAGE_KEY);
	if (base && image_fingerprint_is_valid(base)) {
		key = image_key(src_pool, base);
		image_lock_take(key);
	}

	return copy_within_all(src_pool, vol, dst,
			       (flags & STORAGE_COPY_SNAPSHOTS) && !strchr(src, '/'), err);
}

/* Replaces the contents of the mounted custom volume dst (of dst_pool) with those of src
 * (of src_pool, a volume or a snapshot). */
static int custom_contents_copy(struct storage_pool *src_pool, const struct storage_volume *src,
				struct storage_pool *dst_pool, const struct storage_volume *dst,
				struct error *err)
{
	autofree char *src_path = NULL, *dst_path = NULL;
	autoclose int src_fd = -1, dst_fd = -1;
	int r;

	r = src_pool->driver->volume_mount(src_pool, src, NULL, &src_path, err);
	if (r < 0)
		return r;
	r = dst_pool->driver->volume_mount(dst_pool, dst, NULL, &dst_path, err);
	if (r < 0)
		return r;
	src_fd = open(src_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src_fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", src_path);
	dst_fd = open(dst_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dst_fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", dst_path);
	r = tree_clear(dst_fd, err);
	if (r < 0)
		return r;
	return tree_copy_contents(src_fd, dst_fd, err);
}

/* Copies custom volume src of src_pool to the new dst_name of another pool through the
 * host, its snapshots first (each copied into the new volume, then snapshotted there). */
static int custom_copy_across(struct storage_pool *src_pool, const struct storage_volume *src,
			      struct storage_pool *dst_pool, const char *dst_name,
			      bool with_snapshots, struct error *err)
{
	struct db_storage_volume_list snaps = { NULL, 0 };
	struct storage_volume dst = *src;
	autojson json_t *config = json_deep_copy(src->config);
	int r;

	dst.id = 0;
	dst.name = (char *)dst_name;
	dst.config = config;
	dst.created_at = now_sec();
	r = dst_pool->driver->volume_create(dst_pool, &dst, err);
	if (r < 0)
		return r;
	r = volume_apply_size(dst_pool, &dst, err);
	if (r >= 0)
		r = volume_record(dst_pool, &dst, err);
	else
		(void)dst_pool->driver->volume_delete(dst_pool, &dst, NULL);
	if (r < 0)
		return r;

	if (with_snapshots)
		r = db_storage_volume_list(src_pool->db, src_pool->id, "custom", src->name, &snaps,
					   err);
	for (size_t i = 0; i < snaps.n && r >= 0; i++) {
		autoclean(storage_volume_freep) struct storage_volume *snap = NULL;
		const char *snap_name = strchr(snaps.items[i]->name, '/') + 1;
		struct storage_volume dst_snap;
		autofree char *name = str_printf("%s/%s", dst_name, snap_name);

		snap = volume_from_row(snaps.items[i], STORAGE_VOLUME_CUSTOM);
		r = custom_contents_copy(src_pool, snap, dst_pool, &dst, err);
		if (r >= 0)
			r = dst_pool->driver->snapshot_create(dst_pool, &dst, snap_name, err);
		if (r < 0)
			break;
		dst_snap = *snap;
		dst_snap.name = name;
		r = volume_record(dst_pool, &dst_snap, err);
	}
	db_storage_volume_list_release(&snaps);
	if (r >= 0)
		r = custom_contents_copy(src_pool, src, dst_pool, &dst, err);
	if (r < 0)
		volume_remove_quietly(dst_pool, STORAGE_VOLUME_CUSTOM, dst_name);
	return r;
}

int storage_volume_copy_custom(struct storage_pool *src_pool, const char *src,
			       struct storage_pool *dst_pool, const char *dst, bool with_snapshots,
			       struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = copy_prepare(src_pool, dst_pool, STORAGE_VOLUME_CUSTOM, "storage volume", src, dst,
			 &vol, err);
	if (r < 0)
		return r;
	if (src_pool->id == dst_pool->id)
		return copy_within_all(src_pool, vol, dst, with_snapshots && !strchr(src, '/'),
				       err);
	return custom_copy_across(src_pool, vol, dst_pool, dst, with_snapshots && !strchr(src, '/'),
				  err);
}

int storage_volume_move_custom(struct storage_pool *src_pool, const struct storage_volume *vol,
			       struct storage_pool *dst_pool, const char *dst, struct error *err)
{
	int r;

	if (src_pool->id == dst_pool->id)
		return storage_volume_rename(src_pool, vol, dst, err);
	r = volume_check_unused(src_pool, vol, err);
	if (r < 0)
		return r;
	r = storage_volume_copy_custom(src_pool, vol->name, dst_pool, dst, true, err);
	if (r < 0)
		return r;
	r = volume_remove(src_pool, vol, err);
	if (r < 0)
		volume_remove_quietly(dst_pool, STORAGE_VOLUME_CUSTOM, dst);
	return r;
}

int storage_volume_snapshots_list_json(struct storage_pool *pool, const struct storage_volume *vol,
				       bool full, json_t **ret, struct error *err)
{
	struct db_storage_volume_list snaps = { NULL, 0 };
	autojson json_t *out = json_array();
	int r;

	r = db_storage_volume_list(pool->db, pool->id, storage_volume_type_names[vol->type],
				   vol->name, &snaps, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < snaps.n; i++) {
		autoclean(storage_volume_freep) struct storage_volume *snap = NULL;
		json_t *j = NULL;

		snap = volume_from_row(snaps.items[i], vol->type);
		if (!full) {
			(void)json_array_append_new(
				out, json_string_own(volume_url(pool, vol->type, snap->name)));
			continue;
		}
		r = storage_volume_to_json(pool, snap, &j, err);
		if (r < 0)
			break;
		(void)json_object_set_new(j, "name", json_string(strchr(snap->name, '/') + 1));
		(void)json_object_set_new(j, "expires_at", json_time(0, 0));
		(void)json_array_append_new(out, j);
	}
	db_storage_volume_list_release(&snaps);
	if (r < 0)
		return r;
	*ret = take_ptr(out);
	return 0;
}

int storage_instance_snapshot_create(struct storage_pool *pool, const char *name, const char *snap,
				     struct error *err)
{
	return storage_volume_snapshot_create(pool, STORAGE_VOLUME_CONTAINER, name, snap, err);
}

int storage_instance_snapshot_delete(struct storage_pool *pool, const char *name, const char *snap,
				     struct error *err)
{
	return storage_volume_snapshot_delete(pool, STORAGE_VOLUME_CONTAINER, name, snap, err);
}

int storage_instance_snapshot_restore(struct storage_pool *pool, const char *name, const char *snap,
				      struct error *err)
{
	return storage_volume_snapshot_restore(pool, STORAGE_VOLUME_CONTAINER, name, snap, err);
}

int storage_instance_snapshot_rename(struct storage_pool *pool, const char *name, const char *snap,
				     const char *new_snap, struct error *err)
{
	return storage_volume_snapshot_rename(pool, STORAGE_VOLUME_CONTAINER, name, snap, new_snap,
					      err);
}

int storage_instance_set_size(struct storage_pool *pool, const char *name, const char *size,
			      struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	autojson json_t *config = json_pack("{s:s}", "size", size);
	int r;

	r = storage_volume_load(pool, STORAGE_VOLUME_CONTAINER, name, &vol, err);
	if (r < 0)
		return r;
	return storage_volume_update(pool, vol, NULL, config, true, err);
}

int storage_instance_usage(struct storage_pool *pool, const char *name, uint64_t *ret_used,
			   struct error *err)
{
	autoclean(storage_volume_freep) struct storage_volume *vol = NULL;
	int r;

	r = storage_volume_load(pool, STORAGE_VOLUME_CONTAINER, name, &vol, err);
	if (r < 0)
		return r;
	return storage_volume_usage(pool, vol, ret_used, err);
}

int storage_images_forget(struct db *db, const char *lodge_dir, const char *fingerprint,
			  struct error *err)
{
	autojson json_t *pools = NULL;
	size_t i;
	json_t *p;
	int r;

	r = db_storage_pool_names(db, &pools, err);
	if (r < 0)
		return r;
	json_array_foreach(pools, i, p)
	{
		autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
		struct error e = ERROR_INIT;

		r = storage_pool_load(db, lodge_dir, json_string_value(p), &pool, &e);
		if (r == 0)
			r = storage_image_delete(pool, fingerprint, &e);
		/* -EBUSY: clones still stand on it; the last of them removes it. */
		if (r < 0 && r != -EBUSY)
			log_warn("Failed to remove image '%s' from storage pool '%s': %s, ignoring",
				 fingerprint, json_string_value(p), error_message(&e));
		error_clear(&e);
	}
	return 0;
}
