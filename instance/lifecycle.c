/* instance/lifecycle.c: create, start, stop, update, rename, delete and snapshots.
 *
 * These block (storage, liblxc): operations run them on worker threads. Each takes the
 * instance's lock for its whole duration, so two operations on one instance never
 * interleave (a start racing a delete), while different instances proceed in parallel.
 *
 * Crash safety: the database row is the truth. Create writes it last, in one transaction,
 * after storage and driver state exist; delete removes it first. Whatever a crash leaves
 * beside the database (a volume, a config directory) belongs to no row and is removed by
 * instance_reconcile() at the next start.
 */
#include "instance/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "db/db-instances.h"
#include "images/images.h"
#include "instance/files.h"
#include "instance/instance.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/str.h"
#include "network/network.h"
#include "storage/storage.h"

#include "lib/banned.h"

/* --- per-instance locks ------------------------------------------------------------------ */

struct name_lock {
	struct list_head link;
	char *name;
	unsigned users; /* holders and waiters */
	bool held;
	pthread_cond_t cond;
};

static pthread_mutex_t locks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct list_head locks = LIST_HEAD_INIT(locks);

static struct name_lock *name_lock_find(const char *name)
{
	struct list_head *pos;

	list_for_each(pos, &locks) {
		struct name_lock *l = list_entry(pos, struct name_lock, link);

		if (streq(l->name, name))
			return l;
	}
	return NULL;
}

void instance_lock(const char *name)
{
	struct name_lock *l;

	pthread_mutex_lock(&locks_mutex);
	l = name_lock_find(name);
	if (!l) {
		l = xcalloc(1, sizeof(*l));
		l->name = xstrdup(name);
		pthread_cond_init(&l->cond, NULL);
		list_add_tail(&l->link, &locks);
	}
	l->users++;
	while (l->held)
		pthread_cond_wait(&l->cond, &locks_mutex);
	l->held = true;
	pthread_mutex_unlock(&locks_mutex);
}

void instance_unlock(const char *name)
{
	struct name_lock *l;

	pthread_mutex_lock(&locks_mutex);
	l = name_lock_find(name);
	if (l) {
		l->held = false;
		if (--l->users == 0) {
			list_del(&l->link);
			pthread_cond_destroy(&l->cond);
			free(l->name);
			free(l);
		} else {
			pthread_cond_signal(&l->cond);
		}
	}
	pthread_mutex_unlock(&locks_mutex);
}

static long long now_sec(void)
{
	return (long long)time(NULL);
}

/* --- storage glue ------------------------------------------------------------------------ */

static int root_pool_load(const struct instance_env *env, const struct instance *inst,
			  struct storage_pool **ret, struct error *err)
{
	const char *pool = instance_root_pool(inst);

	if (!pool)
		return error_set(err, -EINVAL, "Instance '%s' has no root disk", inst->name);
	return storage_pool_load(env->db, env->dir, pool, ret, err);
}

/* A root disk whose "size" changed: the volume's quota follows (btrfs; dir records it). */
static int root_size_apply(const struct instance_env *env, const struct instance *inst,
			   const json_t *old_devices, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	const char *size = json_get_str(instance_root_device(inst), "size");
	const char *old_size = json_get_str(instance_devices_root(old_devices), "size");
	int r;

	if (streq(size ?: "", old_size ?: ""))
		return 0;
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	return storage_instance_set_size(pool, inst->name, size ?: "", err);
}

/* Mounts the root volume as the instance will see it (through its id map); *ret_map
 * (may be NULL) gets the map. */
static int instance_mount(const struct instance_env *env, struct instance *inst,
			  struct instance_idmap *ret_map, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	struct instance_idmap map = { 0 };
	struct storage_idmap smap;
	char *path = NULL;
	int r;

	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	r = inst->driver->rootfs_idmap(env, inst, &map, err);
	if (r < 0)
		return r;
	smap = (struct storage_idmap){
		.uid_base = map.uid_base,
		.uid_count = map.uid_count,
		.gid_base = map.gid_base,
		.gid_count = map.gid_count,
	};
	r = storage_instance_mount(pool, inst->name, map.uid_count ? &smap : NULL, &path, err);
	if (r < 0)
		return r;
	free(inst->rootfs);
	inst->rootfs = path;
	if (ret_map)
		*ret_map = map;
	return 0;
}

static void instance_unmount(const struct instance_env *env, struct instance *inst)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	struct error err = ERROR_INIT;

	if (root_pool_load(env, inst, &pool, &err) == 0 &&
	    storage_instance_unmount(pool, inst->name, &err) < 0)
		log_warn("Failed to unmount the root of '%s': %s, ignoring", inst->name,
			 error_message(&err));
	error_clear(&err);
}

int instance_rootfs_open(const struct instance_env *env, struct instance *inst, int *ret_fd,
			 uint32_t *ret_shift, struct error *err)
{
	struct instance_idmap map;
	int fd, r;

	r = instance_mount(env, inst, &map, err);
	if (r < 0)
		return r;
	fd = open(inst->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open the root of '%s'", inst->name);
	*ret_fd = fd;
	*ret_shift = map.uid_base;
	return 0;
}

/* --- status and state -------------------------------------------------------------------- */

enum instance_status instance_status_get(const struct instance_env *env, struct instance *inst)
{
	if (!inst->driver)
		return INSTANCE_ERROR;
	return inst->driver->status(env, inst);
}

bool instance_is_running(const struct instance_env *env, struct instance *inst)
{
	enum instance_status s = instance_status_get(env, inst);

	return s == INSTANCE_RUNNING || s == INSTANCE_FROZEN;
}

int instance_state(const struct instance_env *env, struct instance *inst, json_t **ret,
		   struct error *err)
{
	return inst->driver->state(env, inst, ret, err);
}

/* --- create ------------------------------------------------------------------------------ */

/* Fills what a new instance gets: its defaults, volatile keys, and validates the result. */
static int create_prepare(const struct instance_env *env, struct instance *inst,
			  const struct instance_create_args *a, struct error *err)
{
	autojson json_t *config = NULL;
	int r;

	if (!instance_name_is_valid(a->name))
		return error_set(
			err, -EINVAL,
			"Invalid instance name '%s': use letters, digits and '-', up to 63 characters",
			a->name);
	inst->name = xstrdup(a->name);
	inst->project = xstrdup("default");
	inst->type = a->type;
	inst->driver = instance_driver_for(a->type);
	if (!inst->driver)
		return error_set(err, -EOPNOTSUPP, "Instance type '%s' is not supported yet",
				 instance_type_names[a->type]);
	inst->architecture = xstrdup(str_is_empty(a->architecture) ? "x86_64" : a->architecture);
	inst->description = xstrdup(a->description ? a->description : "");
	inst->ephemeral = a->ephemeral;
	inst->created_at = now_sec();

	r = config_normalize(&instance_config_schema, a->config, &config, err);
	if (r < 0)
		return r;
	inst->config = take_ptr(config);
	r = instance_devices_validate(a->devices, err);
	if (r < 0)
		return r;
	inst->devices = json_is_object(a->devices) ? json_deep_copy(a->devices) : json_object();
	inst->profiles = json_is_array(a->profiles) ? json_deep_copy(a->profiles)
						    : json_pack("[s]", "default");

	if (a->image_properties) {
		const char *key;
		json_t *value;

		json_object_foreach((json_t *)a->image_properties, key, value)
		{
			autofree char *k = str_printf("image.%s", key);

			if (json_is_string(value) &&
			    config_value_is_safe(json_string_value(value)) &&
			    config_key_find(&instance_config_schema, k))
				json_object_set(inst->config, k, value);
		}
	}
	if (a->fingerprint)
		json_object_set_new(inst->config, "volatile.base_image",
				    json_string(a->fingerprint));
	json_object_set_new(inst->config, "volatile.last_state.power", json_string("STOPPED"));
	{
		autofree char *uuid = uuid_new();

		json_object_set_new(inst->config, "volatile.uuid", json_string(uuid));
	}

	r = instance_expand(env->db, inst, err);
	if (r < 0)
		return r;
	return instance_config_validate(inst->expanded_config, inst->expanded_devices, true, err);
}

/* --- image templates --------------------------------------------------------------------- */

#define TEMPLATE_MAX (1024 * 1024) /* bytes of one template file */

/* What a template may name: LXD's container.* / instance.* fields, trigger, path and the
 * entry's properties.<key>. NULL for a name we do not know. */
static const char *template_var(const struct instance *inst, const char *trigger, const char *path,
				const json_t *props, const char *name)
{
	const char *field = NULL;

	if (str_has_prefix(name, "container."))
		field = name + strlen("container.");
	else if (str_has_prefix(name, "instance."))
		field = name + strlen("instance.");
	if (field && streq(field, "name"))
		return inst->name;
	if (field && streq(field, "type"))
		return instance_type_names[inst->type];
	if (field && streq(field, "architecture"))
		return inst->architecture;
	if (field && streq(field, "privileged"))
		return config_get_bool(&instance_config_schema, inst->expanded_config,
				       "security.privileged")
			       ? "true"
			       : "false";
	if (field && streq(field, "ephemeral"))
		return inst->ephemeral ? "true" : "false";
	if (streq(name, "trigger"))
		return trigger;
	if (streq(name, "path"))
		return path;
	if (str_has_prefix(name, "properties."))
		return json_get_str(props, name + strlen("properties."));
	return NULL;
}

/* Renders the part of LXD's template language (pongo2) that plain image templates use:
 * "{{ name }}" substitutions, an unknown name giving "" as in pongo2. Tags ("{%") and
 * filters need the whole language: -EOPNOTSUPP. */
static int template_render(const char *tpl, const struct instance *inst, const char *trigger,
			   const char *path, const json_t *props, struct strbuf *out,
			   struct error *err)
{
	const char *p = tpl;

	for (;;) {
		const char *open = strstr(p, "{{"), *close, *b, *e;
		const char *tag = strstr(p, "{%");
		autofree char *name = NULL;
		const char *value;

		if (tag && (!open || tag < open))
			return error_set(err, -EOPNOTSUPP,
					 "Template of '%s' uses tags, which are not supported",
					 path);
		if (!open) {
			strbuf_adds(out, p);
			return 0;
		}
		close = strstr(open + 2, "}}");
		if (!close)
			return error_set(err, -EINVAL, "Template of '%s' has an unclosed '{{'",
					 path);
		strbuf_add(out, p, (size_t)(open - p));
		for (b = open + 2; b < close && (*b == ' ' || *b == '\t'); b++)
			;
		for (e = close; e > b && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		name = xstrndup(b, (size_t)(e - b));
		if (strpbrk(name, "|( \t\"'"))
			return error_set(err, -EOPNOTSUPP,
					 "Template of '%s' uses '%s', which is not supported", path,
					 name);
		value = template_var(inst, trigger, path, props, name);
		if (value)
			strbuf_adds(out, value);
		p = close + 2;
	}
}

/* Reads templates/<file> of the volume vol_fd into *ret (a new string). */
static int template_read(int vol_fd, const char *file, char **ret, struct error *err)
{
	autofree char *rel = str_printf("templates/%s", file);
	autoclose int fd = open_beneath(vol_fd, rel, O_RDONLY | O_NOFOLLOW, 0);
	struct strbuf sb = STRBUF_INIT;
	char buf[16384];

	if (fd < 0)
		return error_errno(err, fd, "Failed to open template '%s'", file);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sb.len + (size_t)n > TEMPLATE_MAX) {
			strbuf_release(&sb);
			return n < 0 ? error_errno(err, -errno, "Failed to read template '%s'",
						   file)
				     : error_set(err, -EFBIG,
						 "Template '%s' is larger than %u bytes", file,
						 TEMPLATE_MAX);
		}
		if (n == 0)
			break;
		strbuf_add(&sb, buf, (size_t)n);
	}
	if (memchr(strbuf_str(&sb), '\0', sb.len)) {
		strbuf_release(&sb);
		return error_set(err, -EINVAL, "Template '%s' is not text", file);
	}
	*ret = strbuf_detach(&sb);
	return 0;
}

/* Writes content to path in the root rootfd (owner root of the instance, 0644, or what an
 * existing file has), through instance_file_put(): no symlink or ".." leads out. */
static int template_write(int rootfd, uint32_t shift, const char *path, const char *content,
			  struct error *err)
{
	autoclose int fd = memfd_create("lodge-template", MFD_CLOEXEC);
	size_t len = strlen(content), done = 0;
	struct instance_file_put put = {
		.type = INSTANCE_FILE_REGULAR,
		.uid = -1,
		.gid = -1,
		.mode = -1,
	};

	if (fd < 0)
		return error_errno(err, -errno, "Failed to create a memory file");
	while (done < len) {
		ssize_t n = write(fd, content + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, -errno, "Failed to write a memory file");
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_errno(err, -errno, "Failed to rewind a memory file");
	put.content_fd = fd;
	return instance_file_put(rootfd, shift, path, &put, err);
}

/* Renders into path the template entry tpl if trigger is one of its "when". */
static int template_apply(int vol_fd, int rootfd, uint32_t shift, const struct instance *inst,
			  const char *trigger, const char *path, const json_t *tpl,
			  struct error *err)
{
	autofree char *text = NULL;
	struct strbuf out = STRBUF_INIT;
	json_t *when = json_object_get(tpl, "when"), *w;
	bool wanted = false;
	size_t i;
	int r;

	json_array_foreach(when, i, w) wanted = wanted || streq(json_string_value(w), trigger);
	if (!wanted)
		return 0;
	/* LXD: create_only templates leave a file that exists alone. */
	if (json_is_true(json_object_get(tpl, "create_only"))) {
		autoclose int fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);

		if (fd >= 0)
			return 0;
	}
	r = template_read(vol_fd, json_get_str(tpl, "template"), &text, err);
	if (r < 0)
		return r;
	r = template_render(text, inst, trigger, path, json_object_get(tpl, "properties"), &out,
			    err);
	if (r == 0)
		r = template_write(rootfd, shift, path, strbuf_str(&out), err);
	strbuf_release(&out);
	return r;
}

/* Renders the image templates (metadata.yaml beside the root volume) whose "when" includes
 * trigger ("create", "copy", "rename", "start") into the instance's root filesystem, as
 * its root user. A template in a language we do not speak is skipped with a warning, as
 * the image still works without it. The volume is left mounted when keep_mounted and the
 * templates applied (a start goes on with it), else unmounted. */
static int instance_templates_apply(const struct instance_env *env, struct instance *inst,
				    const char *trigger, bool keep_mounted, struct error *err)
{
	autoclean(image_metadata_freep) struct image_metadata *meta = NULL;
	autoclose int rootfd = -1, vol_fd = -1;
	struct instance_files_creds creds = { 0 };
	autofree char *vol = NULL;
	uint32_t shift = 0;
	const char *path;
	json_t *tpl;
	int r;

	r = instance_rootfs_open(env, inst, &rootfd, &shift, err);
	if (r < 0)
		return r;
	vol = xstrndup(inst->rootfs, (size_t)(strrchr(inst->rootfs, '/') - inst->rootfs));
	vol_fd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (vol_fd < 0) {
		r = error_errno(err, -errno, "Failed to open the volume of '%s'", inst->name);
		goto out;
	}
	r = image_metadata_load_at(vol_fd, &meta, err);
	if (r == -ENOENT) { /* an empty instance, or an image without metadata */
		error_clear(err);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	r = instance_files_become(shift, &creds, err);
	if (r < 0)
		goto out;
	json_object_foreach(meta->templates, path, tpl)
	{
		struct error e = ERROR_INIT;

		r = template_apply(vol_fd, rootfd, shift, inst, trigger, path, tpl, &e);
		if (r == -EOPNOTSUPP) {
			log_warn("Skipping the template of '%s' for '%s': %s", path, inst->name,
				 error_message(&e));
			r = 0;
		} else if (r < 0) {
			error_set(err, r, "Failed to apply the template of '%s': %s", path,
				  error_message(&e));
		}
		error_clear(&e);
		if (r < 0)
			break;
	}
	instance_files_restore(&creds);
out:
	if (r < 0 || !keep_mounted)
		instance_unmount(env, inst);
	return r;
}

/* LXD's rule for local copies (shared.InstanceIncludeWhenCopying): volatile.base_image
 * travels, every other volatile key (uuid, MAC addresses, id map, power state) belongs to
 * the source alone and the copy gets its own. */
static bool config_key_is_copied(const char *key)
{
	return streq(key, "volatile.base_image") || !str_has_prefix(key, "volatile.");
}

/* A new object: the keys of from that a copy keeps (all of them unless config), then every
 * key of over (may be NULL) on top. */
static json_t *copy_merge(const json_t *from, const json_t *over, bool config)
{
	json_t *merged = json_object();
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)from, key, v)
	{
		if (!config || config_key_is_copied(key))
			json_object_set(merged, key, v);
	}
	if (json_is_object(over))
		json_object_update(merged, (json_t *)over);
	return merged;
}

/* Loads the source of a copy: the instance, and the snapshot's row when source is
 * "<instance>/<snapshot>" (*ret_snap NULL otherwise). */
static int copy_source_load(const struct instance_env *env, const char *source,
			    struct instance **ret_inst, json_t **ret_snap, struct error *err)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autofree char *name = xstrdup(source);
	autojson json_t *snap = NULL;
	char *slash = strchr(name, '/');
	int r;

	if (slash)
		*slash++ = '\0';
	r = instance_load(env->db, name, &inst, err);
	if (r < 0)
		return r;
	if (slash) {
		if (!object_name_is_valid(slash))
			return error_set(err, -ENOENT, "Snapshot '%s' not found", source);
		r = db_snapshot_get(env->db, name, slash, &snap, err);
		if (r < 0)
			return r;
	}
	*ret_inst = take_ptr(inst);
	*ret_snap = take_ptr(snap);
	return 0;
}

/* Gives instance dst the snapshot rows of src, with the keys a copy keeps. */
static int copy_snapshot_rows(const struct instance_env *env, const char *src, const char *dst,
			      struct error *err)
{
	autojson json_t *snaps = NULL;
	size_t i;
	json_t *snap;
	int r;

	r = db_snapshot_list(env->db, src, &snaps, err);
	if (r < 0)
		return r;
	json_array_foreach(snaps, i, snap)
	{
		autojson json_t *row = json_deep_copy(snap);

		json_object_del(row, "id");
		json_object_set_new(row, "config",
				    copy_merge(json_object_get(snap, "config"), NULL, true));
		r = db_snapshot_create(env->db, dst, row, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Creates the root volume of inst: a copy of a->copy_source (src is its instance), a
 * clone of the image, or an empty one. */
static int create_volume(const struct instance_env *env, const struct instance_create_args *a,
			 const struct instance *src, struct storage_pool *pool,
			 const struct instance *inst, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *src_pool = NULL;
	const char *size = json_get_str(instance_root_device(inst), "size");
	int r;

	if (src) {
		r = root_pool_load(env, src, &src_pool, err);
		if (r >= 0)
			r = storage_instance_copy(src_pool, a->copy_source, pool, inst->name,
						  a->copy_snapshots ? STORAGE_COPY_SNAPSHOTS : 0,
						  err);
	} else if (a->fingerprint) {
		r = storage_instance_create_from_image(pool, inst->name, a->fingerprint, err);
	} else {
		r = storage_instance_create_empty(pool, inst->name, err);
	}
	if (r < 0 || str_is_empty(size))
		return r;
	/* The root disk's size: a quota where the driver has them (btrfs). */
	r = storage_instance_set_size(pool, inst->name, size, err);
	if (r < 0)
		(void)storage_instance_delete(pool, inst->name, NULL);
	return r;
}

/* --- nics on managed networks ------------------------------------------------------------ */

/* Tells network/ which nics instance name has now (devices NULL: none), so each managed
 * network's dnsmasq gives them their static address and DNS name. */
static int nics_sync(const struct instance_env *env, const char *name, const json_t *config,
		     const json_t *devices, struct error *err)
{
	const struct network_env net_env = { .db = env->db, .dir = env->dir };

	return network_instance_sync(&net_env, name, config, devices, err);
}

/* The same where the change already happened and cannot be undone: logged. */
static void nics_sync_or_warn(const struct instance_env *env, const char *name,
			      const json_t *config, const json_t *devices)
{
	struct error err = ERROR_INIT;

	if (nics_sync(env, name, config, devices, &err) < 0)
		log_warn("Failed to update the DHCP leases of '%s': %s, ignoring", name,
			 error_message(&err));
	error_clear(&err);
}

json_t *instances_expansions(const struct instance_env *env, const json_t *names)
{
	json_t *out = json_object();
	size_t i;
	json_t *n;

	json_array_foreach(names, i, n)
	{
		autoclean(instance_freep) struct instance *inst = NULL;

		if (instance_load(env->db, json_string_value(n), &inst, NULL) == 0)
			json_object_set_new(out, inst->name,
					    json_pack("{s:O, s:O}", "config", inst->expanded_config,
						      "devices", inst->expanded_devices));
	}
	return out;
}

void instances_profile_changed(const struct instance_env *env, const json_t *before)
{
	const char *name;
	json_t *old;

	json_object_foreach((json_t *)before, name, old)
	{
		autoclean(instance_freep) struct instance *inst = NULL;
		autojson json_t *row = NULL;
		struct error err = ERROR_INIT;

		instance_lock(name);
		if (instance_load(env->db, name, &inst, &err) == 0) {
			/* Limits and devices reach a running instance now, as LXD applies them. */
			if (instance_is_running(env, inst) && inst->driver->update_live) {
				if (inst->driver->update_live(
					    env, inst, json_object_get(old, "config"),
					    json_object_get(old, "devices"), &err) < 0)
					log_warn(
						"Failed to apply a profile change to running instance '%s': %s",
						name, error_message(&err));
				error_clear(&err);
				/* The driver may have dropped volatile keys of a removed nic. */
				row = instance_to_row(inst);
				if (db_instance_update(env->db, name, row, &err) < 0)
					log_warn("Failed to record instance '%s': %s", name,
						 error_message(&err));
			}
			nics_sync_or_warn(env, inst->name, inst->expanded_config,
					  inst->expanded_devices);
		}
		error_clear(&err);
		instance_unlock(name);
	}
}

int instance_nics_validate(const struct instance_env *env, const json_t *devices, struct error *err)
{
	const struct network_env net_env = { .db = env->db, .dir = env->dir };
	const char *name;
	json_t *dev;

	json_object_foreach((json_t *)devices, name, dev)
	{
		const char *type = json_get_str(dev, "type");
		int r;

		if (!type || !streq(type, "nic"))
			continue;
		r = network_nic_validate(&net_env, dev, err);
		if (r < 0)
			return error_prefix(err, "Device '%s'", name);
	}
	return 0;
}

int instance_create(const struct instance_env *env, const struct instance_create_args *a,
		    struct instance **ret, struct error *err)
{
	autoclean(instance_freep) struct instance *inst = xcalloc(1, sizeof(*inst));
	autoclean(instance_freep) struct instance *src = NULL;
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *row = NULL, *src_snap = NULL, *config = NULL, *devices = NULL;
	struct instance_create_args c = *a;
	int64_t id = 0;
	json_t *existing = NULL;
	int r;

	if (a->copy_source) {
		const json_t *from; /* the snapshot's row, or NULL: the instance itself */

		r = copy_source_load(env, a->copy_source, &src, &src_snap, err);
		if (r < 0)
			return r;
		from = src_snap;
		config = copy_merge(from ? json_object_get(from, "config") : src->config, a->config,
				    true);
		devices = copy_merge(from ? json_object_get(from, "devices") : src->devices,
				     a->devices, false);
		c.config = config;
		c.devices = devices;
		if (!json_is_array(a->profiles))
			c.profiles = from ? json_object_get(from, "profiles") : src->profiles;
		c.type = src->type;
		c.architecture = src->architecture;
		c.fingerprint = NULL;
		c.image_properties = NULL;
	}
	r = create_prepare(env, inst, &c, err);
	if (r < 0)
		return r;
	r = instance_nics_validate(env, inst->expanded_devices, err);
	if (r < 0)
		return r;
	if (db_instance_get(env->db, inst->name, &existing, NULL) == 0) {
		json_decref(existing);
		return error_set(err, -EEXIST, "Instance '%s' already exists", inst->name);
	}
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;

	r = create_volume(env, &c, src, pool, inst, err);
	if (r < 0)
		return r;

	r = inst->driver->create(env, inst, err);
	if (r < 0)
		goto undo_storage;
	r = instance_templates_apply(env, inst, src ? "copy" : "create", false, err);
	if (r < 0)
		goto undo_driver;

	row = instance_to_row(inst);
	r = db_instance_create(env->db, row, &id, err);
	if (r < 0)
		goto undo_driver;
	if (src && !src_snap && a->copy_snapshots) {
		r = copy_snapshot_rows(env, src->name, inst->name, err);
		if (r < 0)
			goto undo_row;
	}
	inst->id = id;
	nics_sync_or_warn(env, inst->name, inst->expanded_config, inst->expanded_devices);
	*ret = take_ptr(inst);
	return 0;

undo_row:
	(void)db_instance_delete(env->db, inst->name, NULL);
undo_driver:
	(void)inst->driver->delete (env, inst, NULL);
undo_storage:
	(void)storage_instance_delete(pool, inst->name, NULL);
	return r;
}

/* --- start, stop, freeze ----------------------------------------------------------------- */

static void record_power_state(const struct instance_env *env, struct instance *inst,
			       const char *state)
{
	autojson json_t *row = NULL;
	struct error err = ERROR_INIT;

	json_object_set_new(inst->config, "volatile.last_state.power", json_string(state));
	row = instance_to_row(inst);
	if (db_instance_update(env->db, inst->name, row, &err) < 0)
		log_warn("Failed to record the power state of '%s': %s, ignoring", inst->name,
			 error_message(&err));
	error_clear(&err);
}

/* LXD's exclusive volumes: a custom volume without security.shared=true is mounted by one
 * running instance at a time. */
int instance_running_user(const struct instance_env *env, const json_t *users, const char *except,
			  char **ret_name)
{
	size_t i;
	json_t *u;

	json_array_foreach(users, i, u)
	{
		autoclean(instance_freep) struct instance *other = NULL;
		const char *name = json_string_value(u);

		if (!name || !str_has_prefix(name, "/1.0/instances/"))
			continue;
		name += strlen("/1.0/instances/");
		if ((except && streq(name, except)) ||
		    instance_load(env->db, name, &other, NULL) < 0)
			continue;
		if (instance_is_running(env, other)) {
			*ret_name = xstrdup(name);
			return 1;
		}
	}
	return 0;
}

static int volumes_check_exclusive(const struct instance_env *env, const struct instance *inst,
				   struct error *err)
{
	const char *devname;
	json_t *dev;
	int r;

	json_object_foreach(inst->expanded_devices, devname, dev)
	{
		autojson json_t *users = NULL;
		autofree char *other = NULL;

		r = storage_disk_volume_users(env->db, env->dir, dev, &users, err);
		if (r < 0)
			return error_prefix(err, "Device '%s'", devname);
		if (instance_running_user(env, users, inst->name, &other) > 0)
			return error_set(
				err, -EBUSY,
				"Storage volume '%s' of device '%s' is in use by running instance '%s': set security.shared=true on the volume to share it",
				json_get_str(dev, "source"), devname, other);
	}
	return 0;
}

int instance_start(const struct instance_env *env, struct instance *inst, struct error *err)
{
	int r;

	if (instance_is_running(env, inst))
		return error_set(err, -EINVAL, "The instance is already running");
	r = instance_config_validate(inst->expanded_config, inst->expanded_devices, true, err);
	if (r < 0)
		return r;
	r = volumes_check_exclusive(env, inst, err);
	if (r < 0)
		return r;
	r = instance_nics_validate(env, inst->expanded_devices, err);
	if (r == 0)
		r = nics_sync(env, inst->name, inst->expanded_config, inst->expanded_devices, err);
	if (r < 0)
		return r;
	/* Mounts the root, as the start needs it, and renders the "start" templates. */
	r = instance_templates_apply(env, inst, "start", true, err);
	if (r < 0)
		return r;
	r = inst->driver->start(env, inst, err);
	if (r < 0) {
		instance_unmount(env, inst);
		return r;
	}
	/* The driver may have chosen MAC addresses just now (an instance made before it
	 * chose them at create). */
	nics_sync_or_warn(env, inst->name, inst->expanded_config, inst->expanded_devices);
	inst->last_used_at = now_sec();
	(void)db_instance_touch(env->db, inst->name, inst->last_used_at, NULL);
	record_power_state(env, inst, "RUNNING");
	return 0;
}

int instance_stop(const struct instance_env *env, struct instance *inst, bool force,
		  int timeout_sec, struct error *err)
{
	enum instance_status s = instance_status_get(env, inst);
	int r;

	if (s != INSTANCE_RUNNING && s != INSTANCE_FROZEN)
		return error_set(err, -EINVAL, "The instance is already stopped");
	if (s == INSTANCE_FROZEN && !force)
		return error_set(err, -EINVAL,
				 "The instance is frozen: unfreeze it first or force the stop");
	r = inst->driver->stop(env, inst, force, timeout_sec, err);
	if (r < 0)
		return r;
	instance_unmount(env, inst);
	record_power_state(env, inst, "STOPPED");
	if (inst->ephemeral)
		return instance_delete(env, inst, err);
	return 0;
}

int instance_freeze(const struct instance_env *env, struct instance *inst, bool freeze,
		    struct error *err)
{
	enum instance_status s = instance_status_get(env, inst);

	if (freeze && s != INSTANCE_RUNNING)
		return error_set(err, -EINVAL, "The instance isn't running");
	if (!freeze && s != INSTANCE_FROZEN)
		return error_set(err, -EINVAL, "The instance is not frozen");
	return freeze ? inst->driver->freeze(env, inst, err)
		      : inst->driver->unfreeze(env, inst, err);
}

/* --- delete and rename ------------------------------------------------------------------- */

int instance_delete(const struct instance_env *env, struct instance *inst, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *snaps = NULL;
	size_t i;
	json_t *snap;
	int r;

	if (instance_is_running(env, inst))
		return error_set(err, -EBUSY, "The instance is currently running, stop it first");
	if (config_get_bool(&instance_config_schema, inst->expanded_config,
			    "security.protection.delete") &&
	    !inst->ephemeral)
		return error_set(
			err, -EPERM,
			"Instance '%s' is protected from deletion (security.protection.delete)",
			inst->name);
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	r = db_snapshot_list(env->db, inst->name, &snaps, err);
	if (r < 0)
		return r;

	/* The row goes first: from here on the instance is gone for every client, and what
	 * a crash leaves behind belongs to no row and is reconciled away. */
	r = db_instance_delete(env->db, inst->name, err);
	if (r < 0)
		return r;
	json_array_foreach(snaps, i, snap)
	{
		struct error e = ERROR_INIT;

		if (storage_instance_snapshot_delete(pool, inst->name, json_get_str(snap, "name"),
						     &e) < 0)
			log_warn("Failed to delete snapshot storage of '%s': %s, ignoring",
				 inst->name, error_message(&e));
		error_clear(&e);
	}
	(void)inst->driver->delete (env, inst, NULL);
	nics_sync_or_warn(env, inst->name, NULL, NULL);
	r = storage_instance_delete(pool, inst->name, err);
	if (r < 0)
		log_warn("Failed to delete the storage of '%s': %s, ignoring", inst->name,
			 error_message(err));
	error_clear(err);
	return 0;
}

int instance_rename(const struct instance_env *env, struct instance *inst, const char *new_name,
		    struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	if (!instance_name_is_valid(new_name))
		return error_set(err, -EINVAL, "Invalid instance name '%s'", new_name);
	if (instance_is_running(env, inst))
		return error_set(err, -EBUSY, "Renaming of running instance not allowed");
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	r = storage_instance_rename(pool, inst->name, new_name, err);
	if (r < 0)
		return r;
	r = inst->driver->rename(env, inst, new_name, err);
	if (r < 0)
		goto undo_storage;
	r = db_instance_rename(env->db, inst->name, new_name, err);
	if (r < 0)
		goto undo_driver;
	nics_sync_or_warn(env, inst->name, NULL, NULL);
	free(inst->name);
	inst->name = xstrdup(new_name);
	nics_sync_or_warn(env, inst->name, inst->expanded_config, inst->expanded_devices);
	/* The "rename" templates (hostname and the like), as LXD renders them before the
	 * next start. The rename stands if they fail. */
	if (instance_templates_apply(env, inst, "rename", false, err) < 0) {
		log_warn("Failed to apply the rename templates of '%s': %s, ignoring", inst->name,
			 error_message(err));
		error_clear(err);
	}
	return 0;

undo_driver:
	(void)inst->driver->rename(env, &(struct instance){ .name = (char *)new_name }, inst->name,
				   NULL);
undo_storage:
	(void)storage_instance_rename(pool, new_name, inst->name, NULL);
	return r;
}

/* --- update ------------------------------------------------------------------------------ */

int instance_update(const struct instance_env *env, struct instance *inst, const json_t *put,
		    bool patch, struct error *err)
{
	autojson json_t *config = NULL, *devices = NULL, *profiles = NULL;
	autojson json_t *exp_config = NULL, *exp_devices = NULL, *row = NULL;
	autojson json_t *old_config = NULL, *old_devices = NULL;
	json_t *v;
	const char *key;
	bool running;
	int r;

	/* config */
	v = json_object_get(put, "config");
	if (patch)
		r = config_patch(&instance_config_schema, inst->config, v, &config, err);
	else
		r = config_replace(&instance_config_schema, inst->config, v, &config, err);
	if (r < 0)
		return r;
	/* volatile keys belong to lodge: a PUT that omits them keeps them. */
	json_object_foreach(inst->config, key, v)
	{
		if (str_has_prefix(key, "volatile.") && !json_object_get(config, key))
			json_object_set(config, key, v);
	}

	/* devices */
	v = json_object_get(put, "devices");
	if (patch) {
		devices = json_deep_copy(inst->devices);
		if (json_is_object(v))
			json_object_update(devices, v);
	} else {
		devices = json_is_object(v) ? json_deep_copy(v) : json_object();
	}
	r = instance_devices_validate(devices, err);
	if (r < 0)
		return r;

	/* profiles */
	v = json_object_get(put, "profiles");
	if (json_is_array(v))
		profiles = json_deep_copy(v);
	else if (patch || json_is_null(v) || !v)
		profiles = json_deep_copy(inst->profiles);

	r = instance_expand_with(env->db, profiles, config, devices, &exp_config, &exp_devices,
				 err);
	if (r < 0)
		return r;
	r = instance_config_validate(exp_config, exp_devices, true, err);
	if (r == 0)
		r = instance_nics_validate(env, exp_devices, err);
	if (r < 0)
		return r;

	running = instance_is_running(env, inst);
	old_config = json_incref(inst->expanded_config);
	old_devices = json_incref(inst->expanded_devices);

	if (json_get_str(put, "description"))
		free(inst->description),
			inst->description = xstrdup(json_get_str(put, "description"));
	(void)json_get_bool(put, "ephemeral", &inst->ephemeral);
	json_decref(inst->config);
	inst->config = take_ptr(config);
	json_decref(inst->devices);
	inst->devices = take_ptr(devices);
	json_decref(inst->profiles);
	inst->profiles = take_ptr(profiles);
	json_decref(inst->expanded_config);
	inst->expanded_config = take_ptr(exp_config);
	json_decref(inst->expanded_devices);
	inst->expanded_devices = take_ptr(exp_devices);

	if (running)
		r = volumes_check_exclusive(env, inst, err);
	if (r == 0 && running && inst->driver->update_live)
		r = inst->driver->update_live(env, inst, old_config, old_devices, err);
	if (r < 0)
		return r;
	r = root_size_apply(env, inst, old_devices, err);
	if (r < 0)
		return r;
	row = instance_to_row(inst);
	r = db_instance_update(env->db, inst->name, row, err);
	if (r < 0)
		return r;
	nics_sync_or_warn(env, inst->name, inst->expanded_config, inst->expanded_devices);
	return 0;
}

/* --- snapshots --------------------------------------------------------------------------- */

int instance_snapshot_create(const struct instance_env *env, struct instance *inst,
			     const char *name, long long expires_at, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *row = NULL;
	int r;

	if (!object_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid snapshot name '%s'", name);
	if (db_snapshot_get(env->db, inst->name, name, &row, NULL) == 0)
		return error_set(err, -EEXIST, "Snapshot '%s/%s' already exists", inst->name, name);
	json_decref(take_ptr(row));
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	r = storage_instance_snapshot_create(pool, inst->name, name, err);
	if (r < 0)
		return r;
	row = json_pack("{s:s, s:s, s:b, s:O, s:O, s:O, s:I, s:I}", "name", name, "description", "",
			"stateful", 0, "config", inst->config, "devices", inst->devices, "profiles",
			inst->profiles, "created_at", (json_int_t)now_sec(), "expires_at",
			(json_int_t)expires_at);
	r = db_snapshot_create(env->db, inst->name, row, err);
	if (r < 0) {
		(void)storage_instance_snapshot_delete(pool, inst->name, name, NULL);
		return r;
	}
	return 0;
}

int instance_snapshot_delete(const struct instance_env *env, struct instance *inst,
			     const char *name, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	r = db_snapshot_delete(env->db, inst->name, name, err);
	if (r < 0)
		return r;
	r = storage_instance_snapshot_delete(pool, inst->name, name, err);
	if (r < 0)
		log_warn("Failed to delete the storage of snapshot '%s/%s': %s, ignoring",
			 inst->name, name, error_message(err));
	error_clear(err);
	return 0;
}

int instance_snapshot_rename(const struct instance_env *env, struct instance *inst,
			     const char *name, const char *new_name, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	int r;

	if (!object_name_is_valid(new_name))
		return error_set(err, -EINVAL, "Invalid snapshot name '%s'", new_name);
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	r = storage_instance_snapshot_rename(pool, inst->name, name, new_name, err);
	if (r < 0)
		return r;
	r = db_snapshot_rename(env->db, inst->name, name, new_name, err);
	if (r < 0)
		(void)storage_instance_snapshot_rename(pool, inst->name, new_name, name, NULL);
	return r;
}

int instance_snapshot_restore(const struct instance_env *env, struct instance *inst,
			      const char *name, struct error *err)
{
	autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
	autojson json_t *snap = NULL, *put = NULL;
	bool was_running = instance_is_running(env, inst);
	int r;

	r = db_snapshot_get(env->db, inst->name, name, &snap, err);
	if (r < 0)
		return r;
	r = root_pool_load(env, inst, &pool, err);
	if (r < 0)
		return r;
	if (was_running) {
		r = instance_stop(env, inst, true, -1, err);
		if (r < 0)
			return r;
	}
	r = storage_instance_snapshot_restore(pool, inst->name, name, err);
	if (r < 0)
		return r;
	put = json_pack("{s:O, s:O, s:O}", "config", json_object_get(snap, "config"), "devices",
			json_object_get(snap, "devices"), "profiles",
			json_object_get(snap, "profiles"));
	r = instance_update(env, inst, put, false, err);
	if (r < 0)
		return r;
	if (was_running)
		return instance_start(env, inst, err);
	return 0;
}

/* --- start-up ------------------------------------------------------------------------------ */

/* LXD's rule: boot.autostart=true starts it; unset, it comes back if it was running when the
 * host went down (volatile.last_state.power). A container that survived a lodged restart is
 * simply still running. */
static bool instance_wants_autostart(const struct instance *inst)
{
	const char *autostart =
		json_string_value(json_object_get(inst->expanded_config, "boot.autostart"));
	const char *last =
		json_string_value(json_object_get(inst->config, "volatile.last_state.power"));
	bool b = false;

	if (autostart && parse_bool(autostart, &b) == 0)
		return b;
	return last && streq(last, "RUNNING");
}

void instances_autostart(const struct instance_env *env)
{
	autojson json_t *rows = NULL;
	struct error err = ERROR_INIT;
	size_t i;
	json_t *row;

	if (db_instance_list(env->db, &rows, &err) < 0) {
		log_warn("Failed to list instances for autostart: %s, ignoring",
			 error_message(&err));
		error_clear(&err);
		return;
	}
	json_array_foreach(rows, i, row)
	{
		autoclean(instance_freep) struct instance *inst = NULL;
		const char *name = json_get_str(row, "name");

		instance_lock(name);
		if (instance_load(env->db, name, &inst, &err) == 0 && inst->driver &&
		    !instance_is_running(env, inst) && instance_wants_autostart(inst)) {
			log_info("Starting instance '%s' (autostart)", name);
			if (instance_start(env, inst, &err) < 0)
				log_warn("Failed to autostart '%s': %s", name, error_message(&err));
		}
		error_clear(&err);
		instance_unlock(name);
	}
}
