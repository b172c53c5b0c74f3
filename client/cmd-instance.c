/* lodge launch|init|start|stop|restart|pause|resume|delete|rename|copy|snapshot|restore:
 * the life of instances, as `lxc` of LXD 5.0 drives it. Each maps to one or two requests:
 * POST /1.0/instances (create, copy), PUT .../state (start, stop, restart, freeze,
 * unfreeze), DELETE, POST (rename), POST .../snapshots and PUT {"restore"}; every async
 * one waits for its operation (cli_wait()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* The last component of "/1.0/instances/c1", the name the server gave an instance. */
static const char *path_last(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* lxc's checkNetwork(): a warning when nothing connects the new instance to a network. */
static void warn_no_network(struct lxd_client *lxd, const char *name)
{
	autofree char *path = cli_instance_path(name, NULL);
	autojson json_t *inst = NULL;
	const char *key;
	json_t *dev;

	if (lxd_get(lxd, path, &inst, NULL) < 0)
		return;
	json_object_foreach(json_object_get(inst, "expanded_devices"), key, dev)
	{
		const char *type = json_get_str(dev, "type");

		if (type && streq(type, "nic"))
			return;
	}
	fprintf(stderr, "\nThe instance you are starting doesn't have any network attached to it.\n"
			"  To create a new network, use: lxc network create\n"
			"  To attach a network to an instance, use: lxc network attach\n\n");
}

/* The "source" of a create from IMAGE: an alias when the server knows one by that name,
 * else a fingerprint (or its prefix), as lxc resolves it. */
static json_t *image_source(struct lxd_client *lxd, const char *image)
{
	autofree char *enc = cli_path_escape(image);
	autofree char *path = str_printf("/1.0/images/aliases/%s", enc);
	autojson json_t *alias = NULL;

	if (lxd_get(lxd, path, &alias, NULL) == 0)
		return json_pack("{s:s, s:s}", "type", "image", "alias", image);
	return json_pack("{s:s, s:s}", "type", "image", "fingerprint", image);
}

/* -n NETWORK: an eth0 nic on a managed network, or bridged/macvlan on a host interface,
 * as lxc builds it. */
static int network_nic(struct lxd_client *lxd, const char *name, json_t **ret, struct error *err)
{
	autofree char *enc = cli_path_escape(name);
	autofree char *path = str_printf("/1.0/networks/%s", enc);
	autojson json_t *net = NULL;
	int r;

	r = lxd_get(lxd, path, &net, err);
	if (r < 0)
		return error_prefix(err, "Failed loading network \"%s\"", name);
	if (json_is_true(json_object_get(net, "managed")))
		*ret = json_pack("{s:s, s:s, s:s}", "type", "nic", "network", name, "name", "eth0");
	else
		*ret = json_pack("{s:s, s:s, s:s, s:s}", "type", "nic", "nictype",
				 streq_ptr(json_get_str(net, "type"), "bridge") ? "bridged"
										: "macvlan",
				 "parent", name, "name", "eth0");
	return 0;
}

/* "profiles" of a create from -p and --no-profiles; fallback (NULL: the server's default)
 * when neither is given. */
static int set_profiles(struct cli *cli, json_t *body, json_t *fallback, struct error *err)
{
	autofree const char **profiles = NULL;
	size_t n = cli_flag_list(cli, "profile", &profiles);

	if (cli_flag_bool(cli, "no-profiles")) {
		if (n > 0)
			return error_set(err, -EINVAL,
					 "--no-profiles cannot be used with --profile");
		json_object_set_new(body, "profiles", json_array());
	} else if (n > 0) {
		json_object_set_new(body, "profiles", json_string_array(profiles));
	} else if (json_is_array(fallback)) {
		json_object_set(body, "profiles", fallback);
	}
	return 0;
}

/* The body of POST /1.0/instances from the flags of launch and init. */
static int create_body(struct cli *cli, struct lxd_client *lxd, const char *image, const char *name,
		       json_t **ret, struct error *err)
{
	autofree const char **config = NULL;
	autojson json_t *body = NULL;
	autojson json_t *cfg = NULL;
	json_t *devices = json_object();
	const char *pool = cli_flag_string(cli, "storage");
	const char *network = cli_flag_string(cli, "network");
	json_t *nic = NULL;
	int r;

	body = json_pack("{s:s, s:o, s:b}", "type",
			 cli_flag_bool(cli, "vm") ? "virtual-machine" : "container", "devices",
			 devices, "ephemeral", cli_flag_bool(cli, "ephemeral"));
	if (name)
		json_object_set_new(body, "name", json_string(name));

	(void)cli_flag_list(cli, "config", &config);
	r = cli_key_values(config, &cfg, err);
	if (r < 0)
		return r;
	json_object_set(body, "config", cfg);

	r = set_profiles(cli, body, NULL, err);
	if (r < 0)
		return r;

	if (pool)
		json_object_set_new(
			devices, "root",
			json_pack("{s:s, s:s, s:s}", "type", "disk", "path", "/", "pool", pool));
	if (network) {
		r = network_nic(lxd, network, &nic, err);
		if (r < 0)
			return r;
		json_object_set_new(devices, "eth0", take_ptr(nic));
	}

	if (cli_flag_bool(cli, "empty")) {
		if (image)
			return error_set(err, -EINVAL,
					 "--empty cannot be combined with an image name");
		json_object_set_new(body, "source", json_pack("{s:s}", "type", "none"));
	} else if (!image) {
		return error_set(err, -EINVAL, "Invalid number of arguments");
	} else {
		json_object_set_new(body, "source", image_source(lxd, image));
	}
	*ret = take_ptr(body);
	return 0;
}

static int state_change(struct lxd_client *lxd, const char *name, const char *action, int timeout,
			bool force, struct error *err)
{
	autofree char *path = cli_instance_path(name, "/state");
	autojson json_t *body = json_pack("{s:s, s:i, s:b, s:b}", "action", action, "timeout",
					  timeout, "force", force, "stateful", false);

	return cli_wait(lxd, "PUT", path, body, NULL, err);
}

/* lxc's hint after a failed start. */
static int start_failed(const char *name, int r, struct error *err)
{
	autofree char *msg = xstrdup(error_message(err));

	error_clear(err);
	return error_set(err, r, "%s\nTry `lodge info --show-log %s` for more info", msg, name);
}

/* launch and init: IMAGE [NAME], or [NAME] with --empty. */
static int create_run(struct cli *cli, struct error *err)
{
	autojson json_t *body = NULL;
	autojson json_t *op = NULL;
	autofree char *name = NULL;
	struct lxd_client *lxd = NULL;
	const char *image = NULL, *target = NULL;
	bool launch = streq(cli->cmd->name, "launch");
	bool empty = cli_flag_bool(cli, "empty");
	const json_t *made;
	int r;

	if (cli->n_args > (empty ? 1u : 2u))
		return error_set(err, -EINVAL, "Invalid number of arguments");
	if (!empty && cli->n_args == 0)
		return error_set(err, -EINVAL, "Invalid number of arguments");
	if (empty) {
		if (cli->n_args == 1) {
			r = cli_target(cli, cli->args[0], &lxd, &target, err);
			if (r < 0)
				return r;
		}
	} else {
		r = cli_target(cli, cli->args[0], &lxd, &image, err);
		if (r < 0)
			return r;
		if (cli->n_args == 2) {
			r = cli_target(cli, cli->args[1], &lxd, &target, err);
			if (r < 0)
				return r;
		}
	}
	if (!lxd)
		lxd = cli_lxd(cli);
	if (target && str_is_empty(target))
		target = NULL;

	r = create_body(cli, lxd, image, target, &body, err);
	if (r < 0)
		return r;

	if (!cli->quiet) {
		if (target)
			printf("Creating %s\n", target);
		else
			printf("Creating the instance\n");
		(void)fflush(stdout);
	}
	r = cli_wait(lxd, "POST", "/1.0/instances", body, &op, err);
	if (r < 0)
		return r;

	made = json_array_get(json_object_get(json_object_get(op, "resources"), "instances"), 0);
	name = xstrdup(target ? target
			      : path_last(json_is_string(made) ? json_string_value(made) : ""));
	if (!target && !cli->quiet)
		printf("Instance name is: %s\n", name);

	if (launch) {
		if (!cli->quiet) {
			printf("Starting %s\n", name);
			(void)fflush(stdout);
		}
		r = state_change(lxd, name, "start", -1, false, err);
		if (r < 0)
			return start_failed(name, r, err);
	}
	if (!cli->quiet)
		warn_no_network(lxd, name);
	return 0;
}

/* start, stop, restart, pause, resume: one action on each named instance. */
static const char *action_of(const char *cmd)
{
	if (streq(cmd, "pause"))
		return "freeze";
	if (streq(cmd, "resume"))
		return "unfreeze";
	return cmd;
}

static int action_one(struct cli *cli, const char *arg, struct error *err)
{
	struct lxd_client *lxd;
	const char *name;
	const char *action = action_of(cli->cmd->name);
	const char *timeout_s = cli_flag_string(cli, "timeout");
	int64_t timeout = -1;
	int r;

	if (timeout_s && parse_i64(timeout_s, &timeout) < 0)
		return error_set(err, -EINVAL, "Invalid value '%s' for flag '--timeout'",
				 timeout_s);
	r = cli_instance_target(cli, arg, &lxd, &name, err);
	if (r < 0)
		return r;
	r = state_change(lxd, name, action, (int)timeout, cli_flag_bool(cli, "force"), err);
	if (r < 0 && streq(action, "start"))
		return start_failed(arg, r, err);
	return r;
}

/* Runs fn on each of names. One failure is the command's error; with several names,
 * lxc's batch report: "NAME: error: MESSAGE" lines on stderr and a summary error. */
static int run_batch(struct cli *cli, char *const *names, size_t n, const char *verb,
		     int (*fn)(struct cli *cli, const char *arg, struct error *err),
		     struct error *err)
{
	bool failed = false;
	int r;

	if (n == 1)
		return fn(cli, names[0], err);
	for (size_t i = 0; i < n; i++) {
		struct error one = ERROR_INIT;

		r = fn(cli, names[i], &one);
		if (r < 0) {
			failed = true;
			fprintf(stderr, "%s: error: %s\n", names[i], error_message(&one));
		}
		error_clear(&one);
	}
	if (failed) {
		fprintf(stderr, "\n");
		return error_set(err, -EIO, "Some instances failed to %s", verb);
	}
	return 0;
}

/* --all: the instances the action would change, as lxc picks them (start skips the
 * running ones, stop the stopped ones, pause all but running, resume all but frozen). */
static bool action_applies(const char *action, const char *status)
{
	if (streq(action, "start"))
		return !streq(status, "Running");
	if (streq(action, "stop"))
		return !streq(status, "Stopped");
	if (streq(action, "freeze"))
		return streq(status, "Running");
	if (streq(action, "unfreeze"))
		return streq(status, "Frozen");
	return true;
}

static int action_all(struct cli *cli, struct error *err)
{
	autojson json_t *list = NULL;
	autofree char **names = NULL;
	const char *action = action_of(cli->cmd->name);
	size_t n = 0;
	int r;

	r = lxd_get(cli_lxd(cli), "/1.0/instances?recursion=1", &list, err);
	if (r < 0)
		return r;
	names = xcalloc(json_array_size(list) + 1, sizeof(*names));
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *inst = json_array_get(list, i);
		const char *name = json_get_str(inst, "name");

		if (name && action_applies(action, json_get_str(inst, "status") ?: ""))
			names[n++] = (char *)name;
	}
	if (n == 0)
		return 0;
	return run_batch(cli, names, n, cli->cmd->name, action_one, err);
}

static int action_run(struct cli *cli, struct error *err)
{
	if (cli_flag_bool(cli, "all")) {
		if (cli->n_args > 0)
			return error_set(err, -EINVAL, "Both --all and instance name given");
		return action_all(cli, err);
	}
	if (cli->n_args == 0)
		return error_set(err, -EINVAL, "Missing instance name");
	return run_batch(cli, cli->args, cli->n_args, cli->cmd->name, action_one, err);
}

/* delete -i: "Remove c1 (yes/no): ", as lxc asks. */
static bool confirm(const char *name)
{
	char line[64];

	printf("Remove %s (yes/no): ", name);
	(void)fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\n")] = '\0';
	return streq(line, "y") || streq(line, "yes");
}

static int delete_one(struct cli *cli, const char *arg, struct error *err)
{
	autofree char *path = NULL;
	autojson json_t *inst = NULL;
	struct lxd_client *lxd;
	const char *name, *status;
	int r;

	r = cli_instance_target(cli, arg, &lxd, &name, err);
	if (r < 0)
		return r;
	if (cli_flag_bool(cli, "interactive") && !confirm(arg))
		return error_set(err, -ECANCELED, "User aborted delete operation");
	path = cli_instance_path(name, NULL);
	if (!strchr(name, '/')) {
		r = lxd_get(lxd, path, &inst, err);
		if (r < 0)
			return r;
		status = json_get_str(inst, "status");
		if (status && !streq(status, "Stopped")) {
			if (!cli_flag_bool(cli, "force"))
				return error_set(
					err, -EBUSY,
					"The instance is currently running, stop it first or pass --force");
			r = state_change(lxd, name, "stop", -1, true, err);
			if (r < 0)
				return r;
		}
	}
	return cli_wait(lxd, "DELETE", path, NULL, NULL, err);
}

static int delete_run(struct cli *cli, struct error *err)
{
	return run_batch(cli, cli->args, cli->n_args, "delete", delete_one, err);
}

/* rename and move: OLD NEW on one server ("c1/s0 c1/s1" renames a snapshot). */
static int rename_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL;
	autojson json_t *body = NULL;
	struct lxd_client *lxd, *lxd_to;
	const char *from, *to, *slash_from, *slash_to;
	int r;

	r = cli_instance_target(cli, cli->args[0], &lxd, &from, err);
	if (r < 0)
		return r;
	r = cli_instance_target(cli, cli->args[1], &lxd_to, &to, err);
	if (r < 0)
		return r;
	if (lxd != lxd_to)
		return error_set(err, -EOPNOTSUPP,
				 "Moving instances between servers is not supported yet");

	slash_from = strchr(from, '/');
	slash_to = strchr(to, '/');
	if (!!slash_from != !!slash_to)
		return error_set(err, -EINVAL,
				 "Invalid source and target: both or neither must be snapshots");
	if (slash_from) {
		if ((size_t)(slash_from - from) != (size_t)(slash_to - to) ||
		    strncmp(from, to, (size_t)(slash_from - from)) != 0)
			return error_set(err, -EINVAL,
					 "Snapshots can only be renamed within their instance");
		to = slash_to + 1;
	}
	path = cli_instance_path(from, NULL);
	body = json_pack("{s:s}", "name", to);
	return cli_wait(lxd, "POST", path, body, NULL, err);
}

/* copy SOURCE[/SNAP] [TARGET]: like lxc, the copy gets the source's config (but not its
 * volatile keys), profiles and devices, then -c, -p and --ephemeral on top. */
static int copy_run(struct cli *cli, struct error *err)
{
	autofree const char **config = NULL;
	autofree char *path = NULL;
	autojson json_t *src = NULL;
	autojson json_t *body = NULL;
	autojson json_t *cfg = NULL;
	json_t *src_cfg, *value;
	struct lxd_client *lxd, *lxd_to = NULL;
	const char *from, *to = NULL, *key;
	void *tmp;
	int r;

	r = cli_instance_target(cli, cli->args[0], &lxd, &from, err);
	if (r == 0 && cli->n_args > 1)
		r = cli_instance_target(cli, cli->args[1], &lxd_to, &to, err);
	if (r < 0)
		return r;
	if (lxd_to && lxd_to != lxd)
		return error_set(err, -EOPNOTSUPP,
				 "Copying instances between servers is not supported yet");

	path = cli_instance_path(from, NULL);
	r = lxd_get(lxd, path, &src, err);
	if (r < 0)
		return r;

	src_cfg = json_object_get(src, "config");
	json_object_foreach_safe(src_cfg, tmp, key, value)
	{
		if (str_has_prefix(key, "volatile."))
			json_object_del(src_cfg, key);
	}
	(void)cli_flag_list(cli, "config", &config);
	r = cli_key_values(config, &cfg, err);
	if (r < 0)
		return r;
	if (!json_is_object(src_cfg))
		json_object_set_new(src, "config", src_cfg = json_object());
	json_object_update(src_cfg, cfg);

	body = json_pack("{s:O, s:O, s:{s:s, s:s, s:b}}", "config", src_cfg, "devices",
			 json_object_get(src, "devices") ? json_object_get(src, "devices")
							 : json_object(),
			 "source", "type", "copy", "source", from, "instance_only",
			 cli_flag_bool(cli, "instance-only"));
	if (to && !str_is_empty(to))
		json_object_set_new(body, "name", json_string(to));
	r = set_profiles(cli, body, json_object_get(src, "profiles"), err);
	if (r < 0)
		return r;
	json_object_set_new(body, "ephemeral", json_boolean(cli_flag_bool(cli, "ephemeral")));
	if (json_get_str(src, "type"))
		json_object_set_new(body, "type", json_string(json_get_str(src, "type")));

	return cli_wait(lxd, "POST", "/1.0/instances", body, NULL, err);
}

/* --reuse: deletes the snapshot SNAP of name if it exists. */
static int snapshot_drop(struct cli *cli, const char *name, const char *snap, struct error *err)
{
	autofree char *full = str_printf("%s/%s", name, snap);
	autofree char *path = NULL;
	autojson json_t *existing = NULL;
	struct lxd_client *lxd;
	const char *checked;
	int r;

	r = cli_instance_target(cli, full, &lxd, &checked, err);
	if (r < 0)
		return r;
	path = cli_instance_path(checked, NULL);
	if (lxd_get(lxd, path, &existing, NULL) < 0)
		return 0;
	return cli_wait(lxd, "DELETE", path, NULL, NULL, err);
}

/* snapshot NAME [SNAP]: the server names it "snapN" when SNAP is missing. */
static int snapshot_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL;
	autojson json_t *body = NULL;
	struct lxd_client *lxd;
	const char *name;
	int r;

	r = cli_instance_target(cli, cli->args[0], &lxd, &name, err);
	if (r < 0)
		return r;
	if (strchr(name, '/'))
		return error_set(err, -EINVAL, "Snapshots cannot be snapshotted: '%s'", name);
	path = cli_instance_path(name, "/snapshots");
	body = json_pack("{s:b}", "stateful", cli_flag_bool(cli, "stateful"));
	if (cli->n_args > 1) {
		json_object_set_new(body, "name", json_string(cli->args[1]));
		if (cli_flag_bool(cli, "reuse")) {
			r = snapshot_drop(cli, name, cli->args[1], err);
			if (r < 0)
				return r;
		}
	} else if (cli_flag_bool(cli, "reuse")) {
		return error_set(err, -EINVAL, "Can't reuse snapshot if no name is given");
	}
	return cli_wait(lxd, "POST", path, body, NULL, err);
}

/* restore NAME SNAP */
static int restore_run(struct cli *cli, struct error *err)
{
	autofree char *path = NULL;
	autojson json_t *body = NULL;
	struct lxd_client *lxd;
	const char *name;
	int r;

	r = cli_instance_target(cli, cli->args[0], &lxd, &name, err);
	if (r < 0)
		return r;
	path = cli_instance_path(name, NULL);
	body = json_pack("{s:s, s:b}", "restore", cli->args[1], "stateful",
			 cli_flag_bool(cli, "stateful"));
	return cli_wait(lxd, "PUT", path, body, NULL, err);
}

#define CREATE_FLAGS                                                              \
	{ "config", 'c', CLI_FLAG_LIST, "KEY=VALUE",                              \
	  "Config key/value to apply to the new instance" },                      \
		{ "profile", 'p', CLI_FLAG_LIST, "PROFILE",                       \
		  "Profile to apply to the new instance" },                       \
		{ "no-profiles", 0, CLI_FLAG_BOOL, NULL,                          \
		  "Create the instance with no profiles applied" },               \
		{ "storage", 's', CLI_FLAG_STRING, "POOL", "Storage pool name" }, \
		{ "network", 'n', CLI_FLAG_STRING, "NETWORK", "Network name" },   \
		{ "ephemeral", 'e', CLI_FLAG_BOOL, NULL, "Ephemeral instance" },  \
		{ "empty", 0, CLI_FLAG_BOOL, NULL, "Create an empty instance" },  \
		{ "vm", 0, CLI_FLAG_BOOL, NULL, "Create a virtual machine" },     \
	{                                                                         \
		NULL, 0, CLI_FLAG_BOOL, NULL, NULL                                \
	}

const struct command command_launch = {
	.name = "launch",
	.args = "[<remote>:]<image> [<remote>:][<name>]",
	.summary = "Create and start instances from images",
	.flags = (const struct cli_flag[]){ CREATE_FLAGS },
	.min_args = 0,
	.max_args = 2,
	.run = create_run,
};

const struct command command_init = {
	.name = "init",
	.aliases = (const char *const[]){ "create", NULL },
	.args = "[<remote>:]<image> [<remote>:][<name>]",
	.summary = "Create instances from images",
	.flags = (const struct cli_flag[]){ CREATE_FLAGS },
	.min_args = 0,
	.max_args = 2,
	.run = create_run,
};

static const struct cli_flag state_flags[] = {
	{ "all", 0, CLI_FLAG_BOOL, NULL, "Run against all instances" },
	{ "force", 'f', CLI_FLAG_BOOL, NULL, "Force the instance to stop" },
	{ "timeout", 0, CLI_FLAG_STRING, "SECONDS",
	  "Time to wait for the instance to shutdown cleanly" },
	{ "stateful", 0, CLI_FLAG_BOOL, NULL, "Store the instance state (not supported)" },
	{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
};

#define STATE_COMMAND(cmd, text)                                            \
	const struct command command_##cmd = {                              \
		.name = #cmd,                                               \
		.args = "[<remote>:]<instance> [[<remote>:]<instance>...]", \
		.summary = (text),                                          \
		.flags = state_flags,                                       \
		.min_args = 0,                                              \
		.max_args = -1,                                             \
		.run = action_run,                                          \
	}

STATE_COMMAND(start, "Start instances");
STATE_COMMAND(stop, "Stop instances");
STATE_COMMAND(restart, "Restart instances");
STATE_COMMAND(pause, "Pause instances");
STATE_COMMAND(resume, "Resume instances");

const struct command command_delete = {
	.name = "delete",
	.aliases = (const char *const[]){ "rm", NULL },
	.args = "[<remote>:]<instance>[/<snapshot>] [[<remote>:]<instance>[/<snapshot>]...]",
	.summary = "Delete instances and snapshots",
	.flags =
		(const struct cli_flag[]){
			{ "force", 'f', CLI_FLAG_BOOL, NULL,
			  "Force the removal of running instances" },
			{ "interactive", 'i', CLI_FLAG_BOOL, NULL, "Require user confirmation" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 1,
	.max_args = -1,
	.run = delete_run,
};

const struct command command_rename = {
	.name = "rename",
	.args = "[<remote>:]<instance>[/<snapshot>] <instance>[/<snapshot>]",
	.summary = "Rename instances and snapshots",
	.min_args = 2,
	.max_args = 2,
	.run = rename_run,
};

const struct command command_move = {
	.name = "move",
	.aliases = (const char *const[]){ "mv", NULL },
	.args = "[<remote>:]<instance>[/<snapshot>] [<remote>:][<instance>[/<snapshot>]]",
	.summary = "Move instances within or in between LXD servers (renames only)",
	.min_args = 2,
	.max_args = 2,
	.run = rename_run,
};

const struct command command_copy = {
	.name = "copy",
	.aliases = (const char *const[]){ "cp", NULL },
	.args = "[<remote>:]<source>[/<snapshot>] [[<remote>:]<destination>]",
	.summary = "Copy instances within or in between LXD servers",
	.flags =
		(const struct cli_flag[]){
			{ "config", 'c', CLI_FLAG_LIST, "KEY=VALUE",
			  "Config key/value to apply to the new instance" },
			{ "profile", 'p', CLI_FLAG_LIST, "PROFILE",
			  "Profile to apply to the new instance" },
			{ "no-profiles", 0, CLI_FLAG_BOOL, NULL,
			  "Create the instance with no profiles applied" },
			{ "ephemeral", 'e', CLI_FLAG_BOOL, NULL, "Ephemeral instance" },
			{ "instance-only", 0, CLI_FLAG_BOOL, NULL,
			  "Copy the instance without its snapshots" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 1,
	.max_args = 2,
	.run = copy_run,
};

const struct command command_snapshot = {
	.name = "snapshot",
	.args = "[<remote>:]<instance> [<snapshot name>]",
	.summary = "Create instance snapshots",
	.flags =
		(const struct cli_flag[]){
			{ "stateful", 0, CLI_FLAG_BOOL, NULL,
			  "Whether or not to snapshot the instance's running state" },
			{ "reuse", 0, CLI_FLAG_BOOL, NULL,
			  "If the snapshot name already exists, delete and create a new one" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 1,
	.max_args = 2,
	.run = snapshot_run,
};

const struct command command_restore = {
	.name = "restore",
	.args = "[<remote>:]<instance> <snapshot>",
	.summary = "Restore instances from snapshots",
	.flags =
		(const struct cli_flag[]){
			{ "stateful", 0, CLI_FLAG_BOOL, NULL,
			  "Whether or not to restore the instance's running state from snapshot (if available)" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 2,
	.max_args = 2,
	.run = restore_run,
};
