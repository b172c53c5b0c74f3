/* lodge config and lodge profile: configuration of instances, profiles and the server, as
 * `lxc config` and `lxc profile` of LXD 5.0 handle it. Every change reads the object (GET,
 * keeping its ETag), edits its writable part and PUTs it back with If-Match, so a
 * concurrent change fails instead of being lost; instance updates are operations and are
 * waited for. Shown documents are YAML with map keys sorted, as Go's yaml.v2 writes them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/yaml-in.h"
#include "lib/yaml-out.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define EDIT_MAX (4u << 20)

enum entity_kind {
	ENTITY_SERVER,
	ENTITY_INSTANCE,
	ENTITY_PROFILE,
};

/* What a command reads and writes back: the server, an instance or a profile. */
struct entity {
	enum entity_kind kind;
	struct lxd_client *lxd;
	const char *name; /* NULL for the server */
	char *path;
	json_t *obj;
	char *etag;
};

static void entity_release(struct entity *e)
{
	free(e->path);
	json_decref(e->obj);
	free(e->etag);
}

static int entity_load(struct cli *cli, enum entity_kind kind, const char *arg, struct entity *e,
		       struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *enc = NULL;
	int r;

	e->kind = kind;
	if (kind == ENTITY_SERVER) {
		e->lxd = cli_lxd(cli);
		if (arg) {
			r = cli_target(cli, arg, &e->lxd, &e->name, err);
			if (r < 0)
				return r;
		}
		e->name = NULL;
		e->path = xstrdup("/1.0");
	} else {
		r = kind == ENTITY_INSTANCE ? cli_instance_target(cli, arg, &e->lxd, &e->name, err)
					    : cli_target(cli, arg, &e->lxd, &e->name, err);
		if (r < 0)
			return r;
		if (str_is_empty(e->name))
			return error_set(err, -EINVAL, "Missing %s name",
					 kind == ENTITY_PROFILE ? "profile" : "instance");
		if (kind == ENTITY_INSTANCE) {
			if (strchr(e->name, '/'))
				return error_set(err, -EOPNOTSUPP,
						 "Snapshots cannot be configured: '%s'", e->name);
			e->path = cli_instance_path(e->name, NULL);
		} else {
			enc = cli_path_escape(e->name);
			if (strchr(e->name, '/'))
				return error_set(err, -EINVAL, "Invalid profile name '%s'",
						 e->name);
			e->path = str_printf("/1.0/profiles/%s", enc);
		}
	}
	r = lxd_query(e->lxd, "GET", e->path, NULL, NULL, &resp, err);
	if (r < 0)
		return r;
	e->obj = take_ptr(resp.metadata);
	e->etag = take_ptr(resp.etag);
	return 0;
}

static json_t *map_or_empty(const json_t *obj, const char *key)
{
	const json_t *m = json_object_get(obj, key);

	return json_is_object(m) ? cli_json_sorted(m, -1) : json_object();
}

/* The PUT body (and the shown document): the writable fields in Go's struct order. */
static json_t *entity_writable(const struct entity *e, bool expanded)
{
	const json_t *o = e->obj;
	json_t *w = json_object();

	switch (e->kind) {
	case ENTITY_SERVER:
		json_object_set_new(w, "config", map_or_empty(o, "config"));
		break;
	case ENTITY_INSTANCE:
		json_object_set_new(w, "architecture",
				    json_string(json_get_str(o, "architecture") ?: ""));
		json_object_set_new(w, "config",
				    map_or_empty(o, expanded ? "expanded_config" : "config"));
		json_object_set_new(w, "devices",
				    map_or_empty(o, expanded ? "expanded_devices" : "devices"));
		json_object_set_new(w, "ephemeral",
				    json_boolean(json_is_true(json_object_get(o, "ephemeral"))));
		json_object_set_new(w, "profiles",
				    json_is_array(json_object_get(o, "profiles"))
					    ? json_deep_copy(json_object_get(o, "profiles"))
					    : json_array());
		json_object_set_new(w, "stateful",
				    json_boolean(json_is_true(json_object_get(o, "stateful"))));
		json_object_set_new(w, "description",
				    json_string(json_get_str(o, "description") ?: ""));
		break;
	case ENTITY_PROFILE:
		json_object_set_new(w, "config", map_or_empty(o, "config"));
		json_object_set_new(w, "description",
				    json_string(json_get_str(o, "description") ?: ""));
		json_object_set_new(w, "devices", map_or_empty(o, "devices"));
		break;
	}
	return w;
}

static int entity_save(const struct entity *e, const json_t *writable, struct error *err)
{
	return cli_do(e->lxd, "PUT", e->path, writable, e->etag, err);
}

/* Loads the entity, lets edit change its writable part, and saves it. */
static int entity_update(struct cli *cli, enum entity_kind kind, const char *arg,
			 int (*edit)(struct cli *cli, const struct entity *e, json_t *w,
				     struct error *err),
			 struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *w = NULL;
	int r;

	r = entity_load(cli, kind, arg, &e, err);
	if (r < 0)
		return r;
	w = entity_writable(&e, false);
	r = edit(cli, &e, w, err);
	if (r < 0)
		return r;
	return entity_save(&e, w, err);
}

/* "config get [instance] key": an instance when two arguments are given. */
static enum entity_kind config_kind(const struct cli *cli, size_t n_key_args)
{
	return cli->n_args > n_key_args ? ENTITY_INSTANCE : ENTITY_SERVER;
}

/* --- config get / set / unset / show / edit ----------------------------------------------- */

static int config_get_run(struct cli *cli, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	const char *key = cli->args[cli->n_args - 1];
	enum entity_kind kind = config_kind(cli, 1);
	const json_t *config;
	int r;

	r = entity_load(cli, kind, kind == ENTITY_INSTANCE ? cli->args[0] : NULL, &e, err);
	if (r < 0)
		return r;
	config = json_object_get(e.obj,
				 cli_flag_bool(cli, "expanded") ? "expanded_config" : "config");
	printf("%s\n", json_get_str(config, key) ?: "");
	return 0;
}

/* The key=value pairs (or one key and value) of config set. */
static int set_pairs(struct cli *cli, size_t first, json_t **ret, struct error *err)
{
	size_t n = cli->n_args - first;

	if (n == 2 && !strchr(cli->args[first], '=')) {
		*ret = json_pack("{s:s}", cli->args[first], cli->args[first + 1]);
		return 0;
	}
	return cli_key_values((const char *const *)cli->args + first, ret, err);
}

static int config_apply_set(struct cli *cli, const struct entity *e, json_t *w, struct error *err)
{
	autojson json_t *pairs = NULL;
	size_t first = e->kind == ENTITY_SERVER ? 0 : 1;
	int r;

	r = set_pairs(cli, first, &pairs, err);
	if (r < 0)
		return r;
	return json_object_update(json_object_get(w, "config"), pairs) == 0
		       ? 0
		       : error_set(err, -ENOMEM, "Failed to update the config");
}

/* Server or instance: "set key value" and "set key=value..." are the server's,
 * "set c1 key value" and "set c1 key=value..." an instance's. */
static enum entity_kind set_kind(const struct cli *cli)
{
	if (strchr(cli->args[0], '='))
		return ENTITY_SERVER;
	if (cli->n_args == 2 && !strchr(cli->args[1], '='))
		return ENTITY_SERVER;
	return ENTITY_INSTANCE;
}

static int config_set_run(struct cli *cli, struct error *err)
{
	enum entity_kind kind = set_kind(cli);

	if (kind == ENTITY_INSTANCE && cli->n_args < 2)
		return error_set(err, -EINVAL, "Invalid number of arguments");
	return entity_update(cli, kind, kind == ENTITY_INSTANCE ? cli->args[0] : NULL,
			     config_apply_set, err);
}

static int config_apply_unset(struct cli *cli, const struct entity *e, json_t *w, struct error *err)
{
	const char *key = cli->args[cli->n_args - 1];
	json_t *config = json_object_get(w, "config");

	if (!json_object_get(config, key))
		return error_set(err, -ENOENT, "Can't unset key '%s', it's not currently set", key);
	json_object_del(config, key);
	return 0;
}

static int config_unset_run(struct cli *cli, struct error *err)
{
	enum entity_kind kind = config_kind(cli, 1);

	return entity_update(cli, kind, kind == ENTITY_INSTANCE ? cli->args[0] : NULL,
			     config_apply_unset, err);
}

static int show_entity(struct cli *cli, enum entity_kind kind, const char *arg, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *w = NULL;
	int r;

	r = entity_load(cli, kind, arg, &e, err);
	if (r < 0)
		return r;
	w = entity_writable(&e, cli_flag_bool(cli, "expanded"));
	if (kind == ENTITY_PROFILE) {
		json_object_set_new(w, "name", json_string(e.name));
		json_object_set_new(w, "used_by",
				    json_is_array(json_object_get(e.obj, "used_by"))
					    ? json_deep_copy(json_object_get(e.obj, "used_by"))
					    : json_array());
	}
	return cli_print_yaml(w, err);
}

static int config_show_run(struct cli *cli, struct error *err)
{
	return show_entity(cli, cli->n_args > 0 ? ENTITY_INSTANCE : ENTITY_SERVER,
			   cli->n_args > 0 ? cli->args[0] : NULL, err);
}

/* The new document: stdin when it is not a terminal, else $EDITOR on a temporary file
 * holding the current one. */
int cli_edit_text(const json_t *current, char **ret, struct error *err)
{
	autofree char *yaml = NULL;
	autofree char *path = NULL;
	autoclose int fd = -1;
	struct strbuf sb = STRBUF_INIT;
	const char *editor = getenv("VISUAL");
	char buf[8192];
	ssize_t n;
	pid_t pid;
	int status, r;

	if (!isatty(STDIN_FILENO)) {
		while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
			strbuf_add(&sb, buf, (size_t)n);
			if (sb.len > EDIT_MAX) {
				strbuf_release(&sb);
				return error_set(err, -EFBIG, "The document on stdin is too large");
			}
		}
		if (n < 0) {
			strbuf_release(&sb);
			return error_errno(err, -errno, "Failed to read stdin");
		}
		*ret = strbuf_detach(&sb);
		return 0;
	}

	if (str_is_empty(editor))
		editor = getenv("EDITOR");
	if (str_is_empty(editor))
		editor = "vi";
	r = yaml_out_render(current, 0, &yaml, err);
	if (r < 0)
		return r;
	path = str_printf("%s/lodge-edit-XXXXXX.yaml",
			  !str_is_empty(getenv("TMPDIR")) ? getenv("TMPDIR") : "/tmp");
	fd = mkostemps(path, 5, O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to create a temporary file");
	if (write_all_fd(fd, yaml, strlen(yaml)) < 0) {
		r = error_errno(err, -errno, "Failed to write '%s'", path);
		goto undo_file;
	}
	pid = fork();
	if (pid < 0) {
		r = error_errno(err, -errno, "Failed to start the editor");
		goto undo_file;
	}
	if (pid == 0) {
		/* $EDITOR may carry arguments ("code --wait"): the shell splits it, as lxc
		 * runs it through "sh -c". */
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", editor, path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = error_errno(err, -errno, "Failed to wait for the editor");
			goto undo_file;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = error_set(err, -ECANCELED, "The editor '%s' failed", editor);
		goto undo_file;
	}
	r = read_file(path, EDIT_MAX, ret, NULL, err);
undo_file:
	(void)unlink(path);
	return r;
}

/* Replaces w's fields by the edited document's: config and devices maps of strings. */
int cli_edit_apply(const json_t *doc, json_t *w, struct error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(doc))
		return error_set(err, -EINVAL, "The document is not a YAML mapping");
	json_object_foreach((json_t *)doc, key, v)
	{
		const json_t *old = json_object_get(w, key);
		bool b;

		if (!old)
			continue; /* read-only fields (name, used_by, ...) */
		/* Scalars come as strings: booleans as YAML 1.1 spells them. */
		if (json_is_boolean(old)) {
			if (!json_is_string(v) || parse_bool(json_string_value(v), &b) < 0)
				return error_set(err, -EINVAL,
						 "Invalid value for '%s': not a boolean", key);
			json_object_set_new(w, key, json_boolean(b));
			continue;
		}
		if (json_typeof(old) != json_typeof(v) && !json_is_null(v))
			return error_set(err, -EINVAL, "Invalid value for '%s': expected %s", key,
					 json_is_object(old)  ? "a mapping"
					 : json_is_array(old) ? "a list"
							      : "a string");
		json_object_set(w, key, json_is_null(v) ? json_null() : v);
	}
	return 0;
}

static int edit_entity(struct cli *cli, enum entity_kind kind, const char *arg, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *w = NULL;
	autojson json_t *doc = NULL;
	autofree char *text = NULL;
	int r;

	r = entity_load(cli, kind, arg, &e, err);
	if (r < 0)
		return r;
	w = entity_writable(&e, false);
	r = cli_edit_text(w, &text, err);
	if (r < 0)
		return r;
	r = yaml_in_parse(text ? text : "", text ? strlen(text) : 0, "YAML", &doc, err);
	if (r < 0)
		return r;
	r = cli_edit_apply(doc, w, err);
	if (r < 0)
		return r;
	return entity_save(&e, w, err);
}

static int config_edit_run(struct cli *cli, struct error *err)
{
	return edit_entity(cli, cli->n_args > 0 ? ENTITY_INSTANCE : ENTITY_SERVER,
			   cli->n_args > 0 ? cli->args[0] : NULL, err);
}

/* --- devices ------------------------------------------------------------------------------ */

static int device_apply_add(struct cli *cli, const struct entity *e, json_t *w, struct error *err)
{
	json_t *devices = json_object_get(w, "devices");
	const char *name = cli->args[1];
	json_t *dev = NULL;
	int r;

	if (json_object_get(devices, name))
		return error_set(err, -EEXIST, "The device already exists");
	r = cli_key_values((const char *const *)cli->args + 3, &dev, err);
	if (r < 0)
		return r;
	json_object_set_new(dev, "type", json_string(cli->args[2]));
	json_object_set_new(devices, name, dev);
	return 0;
}

static int device_apply_remove(struct cli *cli, const struct entity *e, json_t *w,
			       struct error *err)
{
	json_t *devices = json_object_get(w, "devices");

	for (size_t i = 1; i < cli->n_args; i++) {
		if (!json_object_get(devices, cli->args[i]))
			return error_set(err, -ENOENT, "Device doesn't exist");
		json_object_del(devices, cli->args[i]);
	}
	return 0;
}

static enum entity_kind device_kind(const struct cli *cli)
{
	return str_has_prefix(cli->cmd_path, "lodge profile") ? ENTITY_PROFILE : ENTITY_INSTANCE;
}

static int device_add_run(struct cli *cli, struct error *err)
{
	int r;

	r = entity_update(cli, device_kind(cli), cli->args[0], device_apply_add, err);
	if (r == 0 && !cli->quiet)
		printf("Device %s added to %s\n", cli->args[1], cli->args[0]);
	return r;
}

static int device_remove_run(struct cli *cli, struct error *err)
{
	int r;

	r = entity_update(cli, device_kind(cli), cli->args[0], device_apply_remove, err);
	if (r == 0 && !cli->quiet) {
		for (size_t i = 1; i < cli->n_args; i++)
			printf("Device %s removed from %s\n", cli->args[i], cli->args[0]);
	}
	return r;
}

static int device_list_run(struct cli *cli, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *devices = NULL;
	const char *key;
	json_t *v;
	int r;

	r = entity_load(cli, device_kind(cli), cli->args[0], &e, err);
	if (r < 0)
		return r;
	devices = map_or_empty(e.obj, "devices");
	json_object_foreach(devices, key, v)
	{
		printf("%s\n", key);
	}
	return 0;
}

/* The device args[1] of w, or an error naming it. */
static int device_find(struct cli *cli, json_t *w, json_t **ret, struct error *err)
{
	json_t *dev = json_object_get(json_object_get(w, "devices"), cli->args[1]);

	if (!json_is_object(dev))
		return error_set(err, -ENOENT, "Device doesn't exist");
	*ret = dev;
	return 0;
}

static int device_apply_set(struct cli *cli, const struct entity *e, json_t *w, struct error *err)
{
	autojson json_t *pairs = NULL;
	json_t *dev = NULL;
	int r;

	r = device_find(cli, w, &dev, err);
	if (r < 0)
		return r;
	r = set_pairs(cli, 2, &pairs, err);
	if (r < 0)
		return r;
	if (json_object_get(pairs, "type"))
		return error_set(err, -EINVAL, "A device's type cannot be changed");
	return json_object_update(dev, pairs) == 0
		       ? 0
		       : error_set(err, -ENOMEM, "Failed to update the device");
}

static int device_apply_unset(struct cli *cli, const struct entity *e, json_t *w, struct error *err)
{
	json_t *dev = NULL;
	int r;

	r = device_find(cli, w, &dev, err);
	if (r < 0)
		return r;
	if (streq(cli->args[2], "type"))
		return error_set(err, -EINVAL, "A device's type cannot be removed");
	(void)json_object_del(dev, cli->args[2]);
	return 0;
}

static int device_set_run(struct cli *cli, struct error *err)
{
	return entity_update(cli, device_kind(cli), cli->args[0], device_apply_set, err);
}

static int device_unset_run(struct cli *cli, struct error *err)
{
	return entity_update(cli, device_kind(cli), cli->args[0], device_apply_unset, err);
}

static int device_get_run(struct cli *cli, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *w = NULL;
	json_t *dev = NULL;
	int r;

	r = entity_load(cli, device_kind(cli), cli->args[0], &e, err);
	if (r < 0)
		return r;
	w = entity_writable(&e, false);
	r = device_find(cli, w, &dev, err);
	if (r < 0)
		return r;
	printf("%s\n", json_get_str(dev, cli->args[2]) ?: "");
	return 0;
}

static int device_show_run(struct cli *cli, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *devices = NULL;
	int r;

	r = entity_load(cli, device_kind(cli), cli->args[0], &e, err);
	if (r < 0)
		return r;
	devices = map_or_empty(e.obj, "devices");
	return cli_print_yaml(devices, err);
}

/* --- profiles ----------------------------------------------------------------------------- */

static char *profile_path(const char *name)
{
	autofree char *enc = cli_path_escape(name);

	return str_printf("/1.0/profiles/%s", enc);
}

static int profile_list_run(struct cli *cli, struct error *err)
{
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *profiles = NULL;
	struct lxd_client *lxd = cli_lxd(cli);
	const char *name;
	int r;

	if (cli->n_args > 0) {
		r = cli_target(cli, cli->args[0], &lxd, &name, err);
		if (r < 0)
			return r;
	}
	r = lxd_get(lxd, "/1.0/profiles?recursion=1", &profiles, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "NAME", "DESCRIPTION", "USED BY", NULL });
	for (size_t i = 0; i < json_array_size(profiles); i++) {
		const json_t *p = json_array_get(profiles, i);
		autofree char *used =
			str_printf("%zu", json_array_size(json_object_get(p, "used_by")));

		table_add_row(t, (const char *[]){ json_get_str(p, "name"),
						   json_get_str(p, "description"), used });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, profiles, err);
}

static int profile_show_run(struct cli *cli, struct error *err)
{
	return show_entity(cli, ENTITY_PROFILE, cli->args[0], err);
}

static int profile_edit_run(struct cli *cli, struct error *err)
{
	return edit_entity(cli, ENTITY_PROFILE, cli->args[0], err);
}

static int profile_create_run(struct cli *cli, struct error *err)
{
	autojson json_t *body = NULL;
	struct lxd_client *lxd;
	const char *name;
	int r;

	r = cli_target(cli, cli->args[0], &lxd, &name, err);
	if (r < 0)
		return r;
	body = json_pack("{s:s}", "name", name);
	r = cli_do(lxd, "POST", "/1.0/profiles", body, NULL, err);
	if (r == 0 && !cli->quiet)
		printf("Profile %s created\n", name);
	return r;
}

static int profile_delete_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL;
	struct lxd_client *lxd;
	const char *name;
	int r;

	r = cli_target(cli, cli->args[0], &lxd, &name, err);
	if (r < 0)
		return r;
	path = profile_path(name);
	r = cli_do(lxd, "DELETE", path, NULL, NULL, err);
	if (r == 0 && !cli->quiet)
		printf("Profile %s deleted\n", name);
	return r;
}

static int profile_get_run(struct cli *cli, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	int r;

	r = entity_load(cli, ENTITY_PROFILE, cli->args[0], &e, err);
	if (r < 0)
		return r;
	printf("%s\n", json_get_str(json_object_get(e.obj, "config"), cli->args[1]) ?: "");
	return 0;
}

static int profile_set_run(struct cli *cli, struct error *err)
{
	return entity_update(cli, ENTITY_PROFILE, cli->args[0], config_apply_set, err);
}

static int profile_unset_run(struct cli *cli, struct error *err)
{
	return entity_update(cli, ENTITY_PROFILE, cli->args[0], config_apply_unset, err);
}

static int profiles_apply_add(struct cli *cli, const struct entity *e, json_t *w, struct error *err)
{
	json_t *profiles = json_object_get(w, "profiles");

	for (size_t i = 0; i < json_array_size(profiles); i++) {
		if (streq_ptr(json_string_value(json_array_get(profiles, i)), cli->args[1]))
			return error_set(err, -EEXIST, "Profile %s is already applied to %s",
					 cli->args[1], e->name);
	}
	json_array_append_new(profiles, json_string(cli->args[1]));
	return 0;
}

static int profiles_apply_remove(struct cli *cli, const struct entity *e, json_t *w,
				 struct error *err)
{
	json_t *profiles = json_object_get(w, "profiles");

	for (size_t i = 0; i < json_array_size(profiles); i++) {
		if (streq_ptr(json_string_value(json_array_get(profiles, i)), cli->args[1])) {
			json_array_remove(profiles, i);
			return 0;
		}
	}
	return error_set(err, -ENOENT, "Profile %s isn't currently applied to %s", cli->args[1],
			 e->name);
}

static int profiles_apply_assign(struct cli *cli, const struct entity *e, json_t *w,
				 struct error *err)
{
	json_t *profiles = json_array();
	autofree char *list = xstrdup(cli->args[1]);

	for (char *p = list, *next; *list && p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		json_array_append_new(profiles, json_string(p));
	}
	json_object_set_new(w, "profiles", profiles);
	return 0;
}

static int profile_add_run(struct cli *cli, struct error *err)
{
	int r;

	r = entity_update(cli, ENTITY_INSTANCE, cli->args[0], profiles_apply_add, err);
	if (r == 0 && !cli->quiet)
		printf("Profile %s added to %s\n", cli->args[1], cli->args[0]);
	return r;
}

static int profile_remove_run(struct cli *cli, struct error *err)
{
	int r;

	r = entity_update(cli, ENTITY_INSTANCE, cli->args[0], profiles_apply_remove, err);
	if (r == 0 && !cli->quiet)
		printf("Profile %s removed from %s\n", cli->args[1], cli->args[0]);
	return r;
}

static int profile_assign_run(struct cli *cli, struct error *err)
{
	autofree char *shown = NULL;
	int r;

	r = entity_update(cli, ENTITY_INSTANCE, cli->args[0], profiles_apply_assign, err);
	if (r < 0 || cli->quiet)
		return r;
	if (str_is_empty(cli->args[1])) {
		printf("All profiles removed from %s\n", cli->args[0]);
		return 0;
	}
	shown = xstrdup(cli->args[1]);
	printf("Profiles ");
	for (const char *p = shown; *p; p++)
		printf(*p == ',' ? ", " : "%c", *p);
	printf(" applied to %s\n", cli->args[0]);
	return 0;
}

static int profile_copy_run(struct cli *cli, struct error *err)
{
	autoclean(entity_release) struct entity e = { 0 };
	autojson json_t *body = NULL;
	struct lxd_client *lxd_to;
	const char *to;
	int r;

	r = entity_load(cli, ENTITY_PROFILE, cli->args[0], &e, err);
	if (r < 0)
		return r;
	r = cli_target(cli, cli->args[1], &lxd_to, &to, err);
	if (r < 0)
		return r;
	if (lxd_to != e.lxd)
		return error_set(err, -EOPNOTSUPP,
				 "Copying profiles between servers is not supported yet");
	body = entity_writable(&e, false);
	json_object_set_new(body, "name", json_string(to));
	return cli_do(lxd_to, "POST", "/1.0/profiles", body, NULL, err);
}

static int profile_rename_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL;
	autojson json_t *body = NULL;
	struct lxd_client *lxd;
	const char *name;
	int r;

	r = cli_target(cli, cli->args[0], &lxd, &name, err);
	if (r < 0)
		return r;
	path = profile_path(name);
	body = json_pack("{s:s}", "name", cli->args[1]);
	r = cli_do(lxd, "POST", path, body, NULL, err);
	if (r == 0 && !cli->quiet)
		printf("Profile %s renamed to %s\n", name, cli->args[1]);
	return r;
}

/* --- command tables ----------------------------------------------------------------------- */

static const struct cli_flag expanded_flag[] = {
	{ "expanded", 'e', CLI_FLAG_BOOL, NULL, "Show the expanded configuration" },
	{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
};

/* NOLINTBEGIN(bugprone-macro-parentheses): var names the variable, it cannot be bracketed */
#define SUBCOMMAND(var, cmd, usage, text, min, max, fn) \
	static const struct command var = {             \
		.name = (cmd),                          \
		.args = (usage),                        \
		.summary = (text),                      \
		.min_args = (min),                      \
		.max_args = (max),                      \
		.run = (fn),                            \
	}

SUBCOMMAND(device_add, "add", "[<remote>:]<instance|profile> <device> <type> [key=value...]",
	   "Add devices", 3, -1, device_add_run);
SUBCOMMAND(device_remove, "remove", "[<remote>:]<instance|profile> <name>...", "Remove devices", 2,
	   -1, device_remove_run);
SUBCOMMAND(device_list, "list", "[<remote>:]<instance|profile>", "List devices", 1, 1,
	   device_list_run);
SUBCOMMAND(device_show, "show", "[<remote>:]<instance|profile>", "Show full device configuration",
	   1, 1, device_show_run);

SUBCOMMAND(device_set, "set", "[<remote>:]<instance|profile> <device> <key>=<value>...",
	   "Set device configuration keys", 3, -1, device_set_run);
SUBCOMMAND(device_unset, "unset", "[<remote>:]<instance|profile> <device> <key>",
	   "Unset device configuration keys", 3, 3, device_unset_run);
SUBCOMMAND(device_get, "get", "[<remote>:]<instance|profile> <device> <key>",
	   "Get values for device configuration keys", 3, 3, device_get_run);

static const struct command command_device = {
	.name = "device",
	.summary = "Manage devices",
	.subcommands = (const struct command *const[]){ &device_add, &device_get, &device_list,
							&device_remove, &device_set, &device_show,
							&device_unset, NULL },
};

static const struct command config_get = {
	.name = "get",
	.args = "[<remote>:][<instance>] <key>",
	.summary = "Get values for instance or server configuration keys",
	.flags = expanded_flag,
	.min_args = 1,
	.max_args = 2,
	.run = config_get_run,
};

SUBCOMMAND(config_set, "set", "[<remote>:][<instance>] <key>=<value>...",
	   "Set instance or server configuration keys", 1, -1, config_set_run);
SUBCOMMAND(config_unset, "unset", "[<remote>:][<instance>] <key>",
	   "Unset instance or server configuration keys", 1, 2, config_unset_run);
SUBCOMMAND(config_edit, "edit", "[<remote>:][<instance>]",
	   "Edit instance or server configurations as YAML", 0, 1, config_edit_run);

static const struct command config_show = {
	.name = "show",
	.args = "[<remote>:][<instance>]",
	.summary = "Show instance or server configurations",
	.flags = expanded_flag,
	.min_args = 0,
	.max_args = 1,
	.run = config_show_run,
};

const struct command command_config = {
	.name = "config",
	.summary = "Manage instance and server configuration options",
	.subcommands =
		(const struct command *const[]){ &command_device, &config_edit, &config_get,
						 &config_set, &config_show, &command_config_trust,
						 &config_unset, NULL },
};

static const struct command profile_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.args = "[<remote>:]",
	.summary = "List profiles",
	.flags =
		(const struct cli_flag[]){
			{ "format", 'f', CLI_FLAG_STRING, "FORMAT",
			  "Format (csv|json|table|yaml)" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.min_args = 0,
	.max_args = 1,
	.run = profile_list_run,
};

SUBCOMMAND(profile_show, "show", "[<remote>:]<profile>", "Show profile configurations", 1, 1,
	   profile_show_run);
SUBCOMMAND(profile_edit, "edit", "[<remote>:]<profile>", "Edit profile configurations as YAML", 1,
	   1, profile_edit_run);
SUBCOMMAND(profile_create, "create", "[<remote>:]<profile>", "Create profiles", 1, 1,
	   profile_create_run);
SUBCOMMAND(profile_delete, "delete", "[<remote>:]<profile>", "Delete profiles", 1, 1,
	   profile_delete_run);
SUBCOMMAND(profile_get, "get", "[<remote>:]<profile> <key>",
	   "Get values for profile configuration keys", 2, 2, profile_get_run);
SUBCOMMAND(profile_set, "set", "[<remote>:]<profile> <key><value>...",
	   "Set profile configuration keys", 2, -1, profile_set_run);
SUBCOMMAND(profile_unset, "unset", "[<remote>:]<profile> <key>", "Unset profile configuration keys",
	   2, 2, profile_unset_run);
SUBCOMMAND(profile_add, "add", "[<remote>:]<instance> <profile>", "Add profiles to instances", 2, 2,
	   profile_add_run);
SUBCOMMAND(profile_remove, "remove", "[<remote>:]<instance> <profile>",
	   "Remove profiles from instances", 2, 2, profile_remove_run);
SUBCOMMAND(profile_assign, "assign", "[<remote>:]<instance> <profiles>",
	   "Assign sets of profiles to instances", 2, 2, profile_assign_run);
SUBCOMMAND(profile_copy, "copy", "[<remote>:]<profile> [<remote>:]<profile>", "Copy profiles", 2, 2,
	   profile_copy_run);
SUBCOMMAND(profile_rename, "rename", "[<remote>:]<profile> <new-name>", "Rename profiles", 2, 2,
	   profile_rename_run);

const struct command command_profile = {
	.name = "profile",
	.summary = "Manage profiles",
	.subcommands =
		(const struct command *const[]){ &profile_add, &profile_assign, &profile_copy,
						 &profile_create, &profile_delete, &command_device,
						 &profile_edit, &profile_get, &profile_list,
						 &profile_remove, &profile_rename, &profile_set,
						 &profile_show, &profile_unset, NULL },
};
