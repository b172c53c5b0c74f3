/* lodge operation list|show|delete: background operations, like `lxc operation`. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

static char *str_upper(const char *s)
{
	char *u = xstrdup(s ? s : "");

	for (char *p = u; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

/* GET /1.0/operations?recursion=1 answers {"running": [...], "success": [...], ...}; the
 * list is every array's objects, as the Go client's GetOperations() flattens it. */
static json_t *operations_flatten(const json_t *by_status)
{
	json_t *all = json_array();

	if (json_is_array(by_status)) {
		json_array_extend(all, (json_t *)by_status);
		return all;
	}
	for (void *it = json_object_iter((json_t *)by_status); it;
	     it = json_object_iter_next((json_t *)by_status, it)) {
		const json_t *ops = json_object_iter_value(it);

		for (size_t i = 0; i < json_array_size(ops); i++) {
			json_t *op = json_array_get(ops, i);

			if (json_is_object(op))
				json_array_append(all, op);
		}
	}
	return all;
}

static int operation_list_run(struct cli *cli, struct error *err)
{
	autojson json_t *meta = NULL;
	autojson json_t *ops = NULL;
	autoclean(table_freep) struct table *t = NULL;
	const json_t *server = NULL;
	bool clustered = false;
	int r;

	r = cli_server(cli, &server, err);
	if (r < 0)
		return r;
	(void)json_get_bool(json_object_get(server, "environment"), "server_clustered", &clustered);

	r = lxd_get(cli_lxd(cli), "/1.0/operations?recursion=1", &meta, err);
	if (r < 0)
		return r;
	ops = operations_flatten(meta);

	t = table_new(clustered ? (const char *[]){ "ID", "TYPE", "DESCRIPTION", "STATUS",
						    "CANCELABLE", "CREATED", "LOCATION", NULL }
				: (const char *[]){ "ID", "TYPE", "DESCRIPTION", "STATUS",
						    "CANCELABLE", "CREATED", NULL });
	for (size_t i = 0; i < json_array_size(ops); i++) {
		const json_t *op = json_array_get(ops, i);
		autofree char *class = str_upper(json_get_str(op, "class"));
		autofree char *status = str_upper(json_get_str(op, "status"));
		autofree char *created = cli_time_short(json_get_str(op, "created_at"));
		bool may_cancel = false;

		(void)json_get_bool(op, "may_cancel", &may_cancel);
		table_add_row(t, (const char *[]){ json_get_str(op, "id"), class,
						   json_get_str(op, "description"), status,
						   may_cancel ? "YES" : "NO", created,
						   json_get_str(op, "location") });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, ops, err);
}

static int operation_path(const char *id, char **ret, struct error *err)
{
	if (!object_name_is_valid(id))
		return error_set(err, -EINVAL, "Invalid operation ID '%s'", id);
	*ret = str_printf("/1.0/operations/%s", id);
	return 0;
}

static int operation_show_run(struct cli *cli, struct error *err)
{
	autojson json_t *op = NULL;
	autofree char *path = NULL;
	int r;

	r = operation_path(cli->args[0], &path, err);
	if (r < 0)
		return r;
	r = lxd_get(cli_lxd(cli), path, &op, err);
	if (r < 0)
		return r;
	return cli_print_document(cli, op, err);
}

static int operation_delete_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *path = NULL;
	int r;

	r = operation_path(cli->args[0], &path, err);
	if (r < 0)
		return r;
	r = lxd_query(cli_lxd(cli), "DELETE", path, NULL, NULL, &resp, err);
	if (r < 0)
		return r;
	if (!cli->quiet)
		printf("Operation %s deleted\n", cli->args[0]);
	return 0;
}

static const struct command command_operation_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.summary = "List background operations",
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.min_args = 0,
	.max_args = 0,
	.run = operation_list_run,
};

static const struct command command_operation_show = {
	.name = "show",
	.args = "<operation>",
	.summary = "Show details on a background operation",
	.formats = CLI_FORMATS_DOCUMENT,
	.default_format = CLI_FORMAT_YAML,
	.min_args = 1,
	.max_args = 1,
	.run = operation_show_run,
};

static const struct command command_operation_delete = {
	.name = "delete",
	.aliases = (const char *const[]){ "cancel", "rm", NULL },
	.args = "<operation>",
	.summary = "Delete a background operation (will attempt to cancel)",
	.min_args = 1,
	.max_args = 1,
	.run = operation_delete_run,
};

const struct command command_operation = {
	.name = "operation",
	.summary = "List, show and delete background operations",
	.subcommands =
		(const struct command *const[]){ &command_operation_delete, &command_operation_list,
						 &command_operation_show, NULL },
};
