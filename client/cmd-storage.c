/* lodge storage ...: storage pools and custom volumes, like `lxc storage` and
 * `lxc storage volume`. Names are checked here before they reach a URL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

static int name_arg(const char *what, const char *name, struct error *err)
{
	if (object_name_is_valid(name))
		return 0;
	return error_set(err, -EINVAL, "Invalid %s name '%s'", what, name);
}

/* {"key": "value", ...} of "key=value" arguments args[0..n-1]. */
static int config_args(char **args, size_t n, json_t **ret, struct error *err)
{
	autojson json_t *config = json_object();

	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		autofree char *key = NULL;

		if (!eq || eq == args[i])
			return error_set(err, -EINVAL, "Bad key=value pair: '%s'", args[i]);
		key = xstrndup(args[i], (size_t)(eq - args[i]));
		(void)json_object_set_new(config, key, json_string(eq + 1));
	}
	*ret = take_ptr(config);
	return 0;
}

/* args[0] as "[<remote>:]<pool>": the server to ask and the pool's name (checked). */
static int pool_target(struct cli *cli, const char *arg, struct lxd_client **ret_lxd,
		       const char **ret_pool, struct error *err)
{
	int r;

	r = cli_target(cli, arg, ret_lxd, ret_pool, err);
	if (r < 0)
		return r;
	return name_arg("storage pool", *ret_pool, err);
}

static void say(const struct cli *cli, const char *fmt, ...) _printf_(2, 3);
static void say(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->quiet)
		return;
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- pools ------------------------------------------------------------------------------ */

static char *pool_path(const char *pool)
{
	return str_printf("/1.0/storage-pools/%s", pool);
}

static int pool_list_run(struct cli *cli, struct error *err)
{
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *pools = NULL;
	struct lxd_client *lxd = NULL;
	const char *rest;
	size_t i;
	json_t *p;
	int r;

	r = cli_target(cli, cli->n_args ? cli->args[0] : "", &lxd, &rest, err);
	if (r >= 0)
		r = lxd_get(lxd, "/1.0/storage-pools?recursion=1", &pools, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "NAME", "DRIVER", "SOURCE", "DESCRIPTION", "USED BY",
					"STATE", NULL });
	json_array_foreach(pools, i, p)
	{
		autofree char *used =
			str_printf("%zu", json_array_size(json_object_get(p, "used_by")));
		autofree char *state = xstrdup(json_get_str(p, "status") ?: "");

		for (char *c = state; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		table_add_row(
			t, (const char *[]){ json_get_str(p, "name"), json_get_str(p, "driver"),
					     json_get_str(json_object_get(p, "config"), "source"),
					     json_get_str(p, "description"), used, state });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, pools, err);
}

static int pool_create_run(struct cli *cli, struct error *err)
{
	autojson json_t *config = NULL, *body = NULL;
	struct lxd_client *lxd = NULL;
	const char *pool;
	int r;

	r = pool_target(cli, cli->args[0], &lxd, &pool, err);
	if (r >= 0)
		r = config_args(cli->args + 2, cli->n_args - 2, &config, err);
	if (r < 0)
		return r;
	body = json_pack("{s:s, s:s, s:O}", "name", pool, "driver", cli->args[1], "config", config);
	r = cli_do(lxd, "POST", "/1.0/storage-pools", body, NULL, err);
	if (r < 0)
		return r;
	say(cli, "Storage pool %s created", cli->args[0]);
	return 0;
}

static int pool_info_run(struct cli *cli, struct error *err)
{
	autojson json_t *pool = NULL, *res = NULL;
	autofree char *path = NULL, *res_path = NULL, *total = NULL, *used = NULL;
	struct lxd_client *lxd = NULL;
	const char *name;
	json_int_t t, u;
	int r;

	r = pool_target(cli, cli->args[0], &lxd, &name, err);
	if (r < 0)
		return r;
	path = pool_path(name);
	res_path = str_printf("%s/resources", path);
	r = lxd_get(lxd, path, &pool, err);
	if (r >= 0)
		r = lxd_get(lxd, res_path, &res, err);
	if (r < 0)
		return r;
	t = json_integer_value(json_object_get(json_object_get(res, "space"), "total"));
	u = json_integer_value(json_object_get(json_object_get(res, "space"), "used"));
	total = cli_size_iec((uint64_t)(t > 0 ? t : 0), 2);
	used = cli_size_iec((uint64_t)(u > 0 ? u : 0), 2);
	printf("info:\n  description: \"%s\"\n  driver: %s\n  name: %s\n  space used: %s\n"
	       "  total space: %s\nused by: %zu\n",
	       json_get_str(pool, "description") ?: "", json_get_str(pool, "driver"),
	       json_get_str(pool, "name"), used, total,
	       json_array_size(json_object_get(pool, "used_by")));
	return 0;
}

/* PATCH path {"config": {key: value}} (value NULL: unset, through a PUT of the rest). */
static int config_change(struct lxd_client *lxd, const char *path, const char *key,
			 const char *value, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *body = NULL;
	json_t *config;
	int r;

	if (value) {
		body = json_pack("{s:{s:s}}", "config", key, value);
		return cli_do(lxd, "PATCH", path, body, NULL, err);
	}
	r = lxd_query(lxd, "GET", path, NULL, NULL, &resp, err);
	if (r < 0)
		return r;
	config = json_object_get(resp.metadata, "config");
	if (!json_object_get(config, key))
		return error_set(err, -ENOENT, "The key '%s' is not set", key);
	(void)json_object_del(config, key);
	body = json_pack("{s:O, s:s}", "config", config, "description",
			 json_get_str(resp.metadata, "description") ?: "");
	return cli_do(lxd, "PUT", path, body, resp.etag, err);
}

/* "<key> <value>" or "<key>=<value>" from args[first...]. */
static int key_value_args(struct cli *cli, size_t first, char **ret_key, const char **ret_value,
			  struct error *err)
{
	const char *arg = cli->args[first];
	const char *eq = strchr(arg, '=');

	if (cli->n_args == first + 2) {
		*ret_key = xstrdup(arg);
		*ret_value = cli->args[first + 1];
		return 0;
	}
	if (!eq || eq == arg)
		return error_set(err, -EINVAL,
				 "Give a key and a value: <key> <value> or <key>=<value>");
	*ret_key = xstrndup(arg, (size_t)(eq - arg));
	*ret_value = eq + 1;
	return 0;
}

/* ---- custom volumes --------------------------------------------------------------------- */

/* The URL of custom volume vol of pool (both checked), with suffix appended. */
static int volume_path(const char *pool, const char *vol, const char *suffix, char **ret,
		       struct error *err)
{
	int r;

	r = name_arg("storage pool", pool, err);
	if (r >= 0)
		r = name_arg("storage volume", vol, err);
	if (r < 0)
		return r;
	*ret = str_printf("/1.0/storage-pools/%s/volumes/custom/%s%s", pool, vol, suffix);
	return 0;
}

/* args[0] "[<remote>:]<pool>" and args[1] "<volume>": the server, the pool's name and the
 * volume's URL with suffix. */
static int volume_target(struct cli *cli, const char *suffix, struct lxd_client **ret_lxd,
			 const char **ret_pool, char **ret_path, struct error *err)
{
	int r;

	r = pool_target(cli, cli->args[0], ret_lxd, ret_pool, err);
	if (r < 0)
		return r;
	return volume_path(*ret_pool, cli->args[1], suffix, ret_path, err);
}

static int volume_list_run(struct cli *cli, struct error *err)
{
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *vols = NULL;
	autofree char *path = NULL;
	struct lxd_client *lxd = NULL;
	const char *pool;
	size_t i;
	json_t *v;
	int r;

	r = pool_target(cli, cli->args[0], &lxd, &pool, err);
	if (r < 0)
		return r;
	path = str_printf("/1.0/storage-pools/%s/volumes?recursion=1", pool);
	r = lxd_get(lxd, path, &vols, err);
	if (r < 0)
		return r;
	t = table_new(
		(const char *[]){ "TYPE", "NAME", "DESCRIPTION", "CONTENT-TYPE", "USED BY", NULL });
	json_array_foreach(vols, i, v)
	{
		autofree char *used =
			str_printf("%zu", json_array_size(json_object_get(v, "used_by")));

		table_add_row(t, (const char *[]){ json_get_str(v, "type"), json_get_str(v, "name"),
						   json_get_str(v, "description"),
						   json_get_str(v, "content_type"), used });
	}
	table_sort(t, 1);
	return cli_print_table(cli, t, vols, err);
}

static int volume_create_run(struct cli *cli, struct error *err)
{
	autojson json_t *config = NULL, *body = NULL;
	autofree char *path = NULL, *check = NULL;
	struct lxd_client *lxd = NULL;
	const char *pool;
	int r;

	r = volume_target(cli, "", &lxd, &pool, &check, err);
	if (r >= 0)
		r = config_args(cli->args + 2, cli->n_args - 2, &config, err);
	if (r < 0)
		return r;
	path = str_printf("/1.0/storage-pools/%s/volumes/custom", pool);
	body = json_pack("{s:s, s:s, s:O}", "name", cli->args[1], "type", "custom", "config",
			 config);
	r = cli_do(lxd, "POST", path, body, NULL, err);
	if (r < 0)
		return r;
	say(cli, "Storage volume %s created", cli->args[1]);
	return 0;
}

static int volume_snapshot_run(struct cli *cli, struct error *err)
{
	autojson json_t *body = NULL;
	autofree char *path = NULL;
	struct lxd_client *lxd = NULL;
	const char *pool;
	int r;

	r = volume_target(cli, "/snapshots", &lxd, &pool, &path, err);
	if (r >= 0 && cli->n_args > 2)
		r = name_arg("snapshot", cli->args[2], err);
	if (r < 0)
		return r;
	body = cli->n_args > 2 ? json_pack("{s:s}", "name", cli->args[2]) : json_object();
	return cli_do(lxd, "POST", path, body, NULL, err);
}

static int volume_restore_run(struct cli *cli, struct error *err)
{
	autojson json_t *body = NULL;
	autofree char *path = NULL;
	struct lxd_client *lxd = NULL;
	const char *pool;
	int r;

	r = volume_target(cli, "", &lxd, &pool, &path, err);
	if (r >= 0)
		r = name_arg("snapshot", cli->args[2], err);
	if (r < 0)
		return r;
	body = json_pack("{s:s}", "restore", cli->args[2]);
	return cli_do(lxd, "PUT", path, body, NULL, err);
}

/* "[<remote>:]<pool>/<volume>": the server and the two names (checked). */
static int pool_volume_arg(struct cli *cli, const char *arg, struct lxd_client **ret_lxd,
			   char **ret_pool, char **ret_vol, struct error *err)
{
	autofree char *pool = NULL;
	const char *rest, *slash;
	int r;

	r = cli_target(cli, arg, ret_lxd, &rest, err);
	if (r < 0)
		return r;
	slash = strchr(rest, '/');
	if (!slash)
		return error_set(err, -EINVAL, "Expected <pool>/<volume>, got '%s'", arg);
	pool = xstrndup(rest, (size_t)(slash - rest));
	r = name_arg("storage pool", pool, err);
	if (r >= 0)
		r = name_arg("storage volume", slash + 1, err);
	if (r < 0)
		return r;
	*ret_pool = take_ptr(pool);
	*ret_vol = xstrdup(slash + 1);
	return 0;
}

static int volume_copy_or_move(struct cli *cli, bool move, struct error *err)
{
	autofree char *src_pool = NULL, *src = NULL, *dst_pool = NULL, *dst = NULL, *path = NULL;
	struct lxd_client *lxd = NULL, *dst_lxd = NULL;
	autojson json_t *body = NULL;
	int r;

	r = pool_volume_arg(cli, cli->args[0], &lxd, &src_pool, &src, err);
	if (r >= 0)
		r = pool_volume_arg(cli, cli->args[1], &dst_lxd, &dst_pool, &dst, err);
	if (r < 0)
		return r;
	if (lxd != dst_lxd)
		return error_set(
			err, -EOPNOTSUPP,
			"Copying or moving storage volumes between servers is not supported yet");
	if (move) {
		path = str_printf("/1.0/storage-pools/%s/volumes/custom/%s", src_pool, src);
		body = json_pack("{s:s, s:s}", "name", dst, "pool", dst_pool);
	} else {
		path = str_printf("/1.0/storage-pools/%s/volumes/custom", dst_pool);
		body = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:b}}", "name", dst, "type",
				 "custom", "source", "type", "copy", "pool", src_pool, "name", src,
				 "volume_only", cli_flag_bool(cli, "volume-only"));
	}
	r = cli_do(lxd, "POST", path, body, NULL, err);
	if (r < 0)
		return r;
	say(cli, "Storage volume %s %s to %s", cli->args[0], move ? "moved" : "copied",
	    cli->args[1]);
	return 0;
}

static int volume_copy_run(struct cli *cli, struct error *err)
{
	return volume_copy_or_move(cli, false, err);
}

static int volume_move_run(struct cli *cli, struct error *err)
{
	return volume_copy_or_move(cli, true, err);
}

/* Adds (dev) or removes (dev NULL) device of instance arg ("[<remote>:]<name>", on the
 * pool's server pool_lxd): a GET, then a PUT with its ETag. */
static int instance_devices_edit(struct cli *cli, struct lxd_client *pool_lxd, const char *arg,
				 const char *device, json_t *dev, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *path = NULL;
	autojson json_t *body = NULL;
	struct lxd_client *lxd = NULL;
	const char *name;
	json_t *devices;
	int r;

	r = cli_instance_target(cli, arg, &lxd, &name, err);
	if (r < 0)
		return r;
	if (lxd != pool_lxd || strchr(name, '/'))
		return error_set(
			err, -EINVAL,
			"Storage volumes attach to instances of their own server, not snapshots");
	path = str_printf("/1.0/instances/%s", name);
	r = lxd_query(lxd, "GET", path, NULL, NULL, &resp, err);
	if (r < 0)
		return r;
	devices = json_object_get(resp.metadata, "devices");
	if (dev && json_object_get(devices, device))
		return error_set(err, -EEXIST, "The device '%s' already exists", device);
	if (!dev && !json_object_get(devices, device))
		return error_set(err, -ENOENT, "The device '%s' doesn't exist", device);
	if (dev)
		(void)json_object_set(devices, device, dev);
	else
		(void)json_object_del(devices, device);
	body = json_pack("{s:O, s:O, s:O, s:O}", "config", json_object_get(resp.metadata, "config"),
			 "devices", devices, "profiles", json_object_get(resp.metadata, "profiles"),
			 "ephemeral", json_object_get(resp.metadata, "ephemeral"));
	return cli_do(lxd, "PUT", path, body, resp.etag, err);
}

/* attach <pool> <volume> <instance> [<device>] <path>, detach <pool> <volume> <instance>
 * [<device>]: the device is named after the volume unless given. */
static int volume_device_run(struct cli *cli, struct error *err)
{
	bool attach = streq(cli->cmd->name, "attach");
	size_t n_named = attach ? 5 : 4;
	const char *device = cli->n_args == n_named ? cli->args[3] : cli->args[1];
	const char *target = cli->args[cli->n_args - 1];
	autofree char *check = NULL;
	autojson json_t *dev = NULL;
	struct lxd_client *lxd = NULL;
	const char *pool;
	int r;

	r = volume_target(cli, "", &lxd, &pool, &check, err);
	if (r < 0 || !attach)
		return r < 0 ? r : instance_devices_edit(cli, lxd, cli->args[2], device, NULL, err);
	if (target[0] != '/')
		return error_set(err, -EINVAL, "The path '%s' must be absolute", target);
	dev = json_pack("{s:s, s:s, s:s, s:s}", "type", "disk", "pool", pool, "source",
			cli->args[1], "path", target);
	return instance_devices_edit(cli, lxd, cli->args[2], device, dev, err);
}

/* ---- commands on a pool or on a custom volume ------------------------------------------- */

/* What the command names: pool args[0] ("[<remote>:]<pool>", `lodge storage ...`), or its
 * custom volume args[1] (`lodge storage volume ...`): the server, the URL, and the index of
 * the first argument after them. */
static int target_path(struct cli *cli, struct lxd_client **ret_lxd, char **ret_path,
		       size_t *ret_next, const char **ret_what, struct error *err)
{
	bool volume = strstr(cli->cmd_path, " volume ") != NULL;
	const char *pool;
	int r;

	*ret_next = volume ? 2 : 1;
	*ret_what = cli->args[*ret_next - 1];
	if (volume)
		return volume_target(cli, "", ret_lxd, &pool, ret_path, err);
	r = pool_target(cli, cli->args[0], ret_lxd, &pool, err);
	if (r < 0)
		return r;
	*ret_path = pool_path(pool);
	return 0;
}

static int show_run(struct cli *cli, struct error *err)
{
	autojson json_t *obj = NULL;
	autofree char *path = NULL;
	struct lxd_client *lxd = NULL;
	const char *what;
	size_t next;
	int r;

	r = target_path(cli, &lxd, &path, &next, &what, err);
	if (r >= 0)
		r = lxd_get(lxd, path, &obj, err);
	if (r < 0)
		return r;
	return cli_print_document(cli, obj, err);
}

/* set <key> <value> | <key>=<value>, and unset <key>. */
static int config_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL, *key = NULL;
	struct lxd_client *lxd = NULL;
	const char *value = NULL, *what;
	size_t next;
	int r;

	r = target_path(cli, &lxd, &path, &next, &what, err);
	if (r < 0)
		return r;
	if (streq(cli->cmd->name, "unset"))
		return config_change(lxd, path, cli->args[next], NULL, err);
	r = key_value_args(cli, next, &key, &value, err);
	if (r < 0)
		return r;
	return config_change(lxd, path, key, value, err);
}

static int delete_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL;
	struct lxd_client *lxd = NULL;
	const char *what;
	size_t next;
	int r;

	r = target_path(cli, &lxd, &path, &next, &what, err);
	if (r >= 0)
		r = cli_do(lxd, "DELETE", path, NULL, NULL, err);
	if (r < 0)
		return r;
	say(cli, "Storage %s %s deleted", next == 2 ? "volume" : "pool", what);
	return 0;
}

#define SUB(n, a, s, mn, mx, obj, fn, ...)                            \
	static const struct command command_##obj = { .name = n,      \
						      .args = a,      \
						      .summary = s,   \
						      .min_args = mn, \
						      .max_args = mx, \
						      .run = fn,      \
						      __VA_ARGS__ }

SUB("list", "[<remote>:]", "List storage pools", 0, 1, pool_list, pool_list_run,
    .formats = CLI_FORMATS_LIST, .aliases = (const char *const[]){ "ls", NULL });
SUB("create", "<pool> <driver> [key=value...]", "Create a storage pool", 2, -1, pool_create,
    pool_create_run);
SUB("show", "<pool>", "Show a storage pool's configuration", 1, 1, pool_show, show_run,
    .formats = CLI_FORMATS_DOCUMENT, .default_format = CLI_FORMAT_YAML);
SUB("info", "<pool>", "Show a storage pool's space and users", 1, 1, pool_info, pool_info_run);
SUB("set", "<pool> <key> <value>", "Set a storage pool configuration key", 2, 3, pool_set,
    config_run);
SUB("unset", "<pool> <key>", "Unset a storage pool configuration key", 2, 2, pool_unset,
    config_run);
SUB("delete", "<pool>", "Delete a storage pool", 1, 1, pool_delete, delete_run,
    .aliases = (const char *const[]){ "rm", NULL });

SUB("list", "<pool>", "List the volumes of a storage pool", 1, 1, volume_list, volume_list_run,
    .formats = CLI_FORMATS_LIST, .aliases = (const char *const[]){ "ls", NULL });
SUB("create", "<pool> <volume> [key=value...]", "Create a custom storage volume", 2, -1,
    volume_create, volume_create_run);
SUB("show", "<pool> <volume>", "Show a custom storage volume", 2, 2, volume_show, show_run,
    .formats = CLI_FORMATS_DOCUMENT, .default_format = CLI_FORMAT_YAML);
SUB("set", "<pool> <volume> <key> <value>", "Set a custom volume configuration key", 3, 4,
    volume_set, config_run);
SUB("unset", "<pool> <volume> <key>", "Unset a custom volume configuration key", 3, 3, volume_unset,
    config_run);
SUB("delete", "<pool> <volume>", "Delete a custom storage volume", 2, 2, volume_delete, delete_run,
    .aliases = (const char *const[]){ "rm", NULL });
SUB("snapshot", "<pool> <volume> [<snapshot>]", "Snapshot a custom storage volume", 2, 3,
    volume_snapshot, volume_snapshot_run);
SUB("restore", "<pool> <volume> <snapshot>", "Restore a custom volume from a snapshot", 3, 3,
    volume_restore, volume_restore_run);
SUB("copy", "<pool>/<volume> <pool>/<volume>", "Copy a custom storage volume", 2, 2, volume_copy,
    volume_copy_run,
    .flags = (const struct cli_flag[]){ { .name = "volume-only",
					  .type = CLI_FLAG_BOOL,
					  .help = "Copy the volume without its snapshots" },
					{} });
SUB("move", "<pool>/<volume> <pool>/<volume>", "Move or rename a custom storage volume", 2, 2,
    volume_move, volume_move_run);
SUB("attach", "<pool> <volume> <instance> [<device>] <path>",
    "Attach a custom storage volume to an instance", 4, 5, volume_attach, volume_device_run);
SUB("detach", "<pool> <volume> <instance> [<device>]",
    "Detach a custom storage volume from an instance", 3, 4, volume_detach, volume_device_run);

static const struct command command_storage_volume = {
	.name = "volume",
	.summary = "Manage custom storage volumes",
	.subcommands =
		(const struct command *const[]){
			&command_volume_attach, &command_volume_copy, &command_volume_create,
			&command_volume_delete, &command_volume_detach, &command_volume_list,
			&command_volume_move, &command_volume_restore, &command_volume_set,
			&command_volume_show, &command_volume_snapshot, &command_volume_unset,
			NULL },
};

const struct command command_storage = {
	.name = "storage",
	.summary = "Manage storage pools and volumes",
	.subcommands = (const struct command *const[]){ &command_pool_create, &command_pool_delete,
							&command_pool_info, &command_pool_list,
							&command_pool_set, &command_pool_show,
							&command_pool_unset,
							&command_storage_volume, NULL },
};
