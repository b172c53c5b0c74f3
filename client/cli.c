#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "client/remote.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/yaml-out.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

const char *const cli_format_names[_CLI_FORMAT_MAX] = {
	[CLI_FORMAT_TABLE] = "table",
	[CLI_FORMAT_CSV] = "csv",
	[CLI_FORMAT_JSON] = "json",
	[CLI_FORMAT_YAML] = "yaml",
};

/* Accepted anywhere on the command line. --format is listed with each command instead, as
 * its values and default differ. */
static const struct cli_flag global_flags[] = {
	{ "format", 0, CLI_FLAG_STRING, "FORMAT", "Output format" },
	{ "project", 0, CLI_FLAG_STRING, "PROJECT", "Project to use instead of the default one" },
	{ "quiet", 'q', CLI_FLAG_BOOL, NULL, "Don't print confirmations" },
	{ "debug", 0, CLI_FLAG_BOOL, NULL, "Log every request to stderr" },
	{ "help", 'h', CLI_FLAG_BOOL, NULL, "Print help" },
	{ "version", 0, CLI_FLAG_BOOL, NULL, "Print the client version" },
	{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
};

static const struct cli_flag *flag_find(const struct cli_flag *flags, const char *name, size_t len,
					char short_name)
{
	for (; flags && flags->name; flags++) {
		if (short_name ? flags->short_name == short_name
			       : strlen(flags->name) == len && strncmp(flags->name, name, len) == 0)
			return flags;
	}
	return NULL;
}

static const struct command *command_find(const struct command *const *commands, const char *name)
{
	for (; *commands; commands++) {
		if (streq((*commands)->name, name))
			return *commands;
		for (const char *const *a = (*commands)->aliases; a && *a; a++) {
			if (streq(*a, name))
				return *commands;
		}
	}
	return NULL;
}

/* Parses the flag at argv[*i], taking its value from argv[*i + 1] when needed. */
static int parse_flag(struct cli *cli, const struct command *cmd, int argc, char **argv, int *i,
		      struct error *err)
{
	const char *arg = argv[*i];
	const char *value = NULL;
	const struct cli_flag *f;
	bool b;

	if (arg[1] == '-') {
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);

		f = flag_find(cmd ? cmd->flags : NULL, name, len, 0);
		if (!f)
			f = flag_find(global_flags, name, len, 0);
		if (!f)
			return error_set(err, -EINVAL, "Unknown flag '--%.*s'", (int)len, name);
		if (eq)
			value = eq + 1;
	} else {
		f = flag_find(cmd ? cmd->flags : NULL, NULL, 0, arg[1]);
		if (!f)
			f = flag_find(global_flags, NULL, 0, arg[1]);
		if (!f || (f->type == CLI_FLAG_BOOL && arg[2] != '\0'))
			return error_set(err, -EINVAL, "Unknown flag '%s'", arg);
		if (arg[2] != '\0')
			value = arg + 2;
	}

	if (f->type == CLI_FLAG_BOOL) {
		if (value && parse_bool(value, &b) < 0)
			return error_set(err, -EINVAL, "Invalid value '%s' for flag '--%s'", value,
					 f->name);
		value = !value || b ? "true" : "false";
	} else if (!value) {
		if (*i + 1 >= argc)
			return error_set(err, -EINVAL, "Flag '--%s' needs a value", f->name);
		value = argv[++*i];
	}

	cli->values[cli->n_values++] = (struct cli_value){ .flag = f, .value = value };
	return 0;
}

static int parse_format(struct cli *cli, struct error *err)
{
	const char *name = cli_flag_string(cli, "format");

	cli->format = cli->cmd->default_format;
	if (!name)
		return 0;
	for (int f = 0; f < _CLI_FORMAT_MAX; f++) {
		if (streq(name, cli_format_names[f]) && (cli->cmd->formats & CLI_FORMAT_BIT(f))) {
			cli->format = (enum cli_format)f;
			cli->format_given = true;
			return 0;
		}
	}
	return error_set(err, -EINVAL, "Invalid format \"%s\"", name);
}

int cli_parse(struct cli *cli, const struct command *const *commands, int argc, char **argv,
	      struct error *err)
{
	autoclean(strbuf_release) struct strbuf path = STRBUF_INIT;
	const struct command *const *level = commands;
	bool only_args = false;
	int r;

	*cli = (struct cli){ 0 };
	cli->args = xcalloc((size_t)argc + 1, sizeof(*cli->args));
	cli->values = xcalloc((size_t)argc + 1, sizeof(*cli->values));
	strbuf_adds(&path, "lodge");

	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		const struct command *sub;

		if (!only_args && streq(arg, "--")) {
			only_args = true;
			continue;
		}
		if (!only_args && arg[0] == '-' && arg[1] != '\0') {
			r = parse_flag(cli, cli->cmd, argc, argv, &i, err);
			if (r < 0)
				return r;
			continue;
		}
		/* The first words name the command, then its subcommand. */
		if (level && !only_args) {
			sub = command_find(level, arg);
			if (!sub)
				return error_set(err, -EINVAL, "Unknown command \"%s\" for \"%s\"",
						 arg, strbuf_str(&path));
			cli->cmd = sub;
			strbuf_addf(&path, " %s", sub->name);
			level = sub->subcommands;
			continue;
		}
		cli->args[cli->n_args++] = arg;
	}
	cli->cmd_path = strbuf_detach(&path);

	if (cli_flag_bool(cli, "debug"))
		log_set_level(LOG_LEVEL_DEBUG);
	cli->quiet = cli_flag_bool(cli, "quiet");

	if (cli_flag_bool(cli, "version") && !cli_flag_bool(cli, "help")) {
		printf("%s\n", LODGE_VERSION);
		return 0;
	}
	if (!cli->cmd || !cli->cmd->run || cli_flag_bool(cli, "help")) {
		cli_print_help(cli, commands);
		return 0;
	}

	if ((int)cli->n_args < cli->cmd->min_args ||
	    (cli->cmd->max_args >= 0 && (int)cli->n_args > cli->cmd->max_args)) {
		fprintf(stderr, "Usage: %s%s%s\n", cli->cmd_path, cli->cmd->args ? " " : "",
			cli->cmd->args ? cli->cmd->args : "");
		return error_set(err, -EINVAL, "Invalid number of arguments");
	}
	r = parse_format(cli, err);
	if (r < 0)
		return r;
	return 1;
}

struct cli_remote {
	char *name;
	struct lxd_client *lxd;
};

void cli_release(struct cli *cli)
{
	for (size_t i = 0; i < cli->n_remotes; i++) {
		free(cli->remotes[i].name);
		lxd_client_free(cli->remotes[i].lxd);
	}
	free(cli->remotes);
	free(cli->cmd_path);
	free(cli->args);
	free(cli->values);
	lxd_client_free(cli->lxd);
	json_decref(cli->server);
	*cli = (struct cli){ 0 };
}

/* --- help ------------------------------------------------------------------------------- */

static void print_flag_table(const struct cli_flag *const *flags, size_t n, const char *format_help)
{
	size_t width = 0;

	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(flags[i]->name) +
			   (flags[i]->value_name ? strlen(flags[i]->value_name) + 1 : 0);

		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cli_flag *f = flags[i];
		autofree char *name = f->value_name ? str_printf("%s=%s", f->name, f->value_name)
						    : xstrdup(f->name);

		if (f->short_name)
			printf("  -%c, ", f->short_name);
		else
			printf("      ");
		printf("--%-*s   %s\n", (int)width, name,
		       streq(f->name, "format") && format_help ? format_help : f->help);
	}
}

static char *format_help(const struct command *cmd)
{
	struct strbuf sb = STRBUF_INIT;
	bool first = true;

	strbuf_adds(&sb, "Output format (");
	for (int f = 0; f < _CLI_FORMAT_MAX; f++) {
		if (!(cmd->formats & CLI_FORMAT_BIT(f)))
			continue;
		strbuf_addf(&sb, "%s%s", first ? "" : "|", cli_format_names[f]);
		first = false;
	}
	strbuf_addf(&sb, ", default %s)", cli_format_names[cmd->default_format]);
	return strbuf_detach(&sb);
}

static void print_commands(const struct command *const *commands)
{
	printf("\nCommands:\n");
	for (; *commands; commands++)
		printf("  %-12s%s\n", (*commands)->name, (*commands)->summary);
}

void cli_print_help(const struct cli *cli, const struct command *const *commands)
{
	const struct command *cmd = cli->cmd;
	const struct cli_flag *list[64];
	autofree char *fmt = NULL;
	size_t n = 0;

	if (!cmd) {
		printf("lodge: the command line client of lodged\n\n");
		printf("Usage:\n  lodge <command> [flags]\n");
		print_commands(commands);
	} else {
		printf("%s\n\nUsage:\n  %s", cmd->summary, cli->cmd_path);
		if (cmd->subcommands)
			printf(" <command>");
		else if (cmd->args)
			printf(" %s", cmd->args);
		printf(" [flags]\n");
		if (cmd->aliases && cmd->aliases[0]) {
			printf("\nAliases:\n  %s", cmd->aliases[0]);
			for (size_t i = 1; cmd->aliases[i]; i++)
				printf(", %s", cmd->aliases[i]);
			printf("\n");
		}
		if (cmd->description)
			printf("\n%s\n", cmd->description);
		if (cmd->subcommands)
			print_commands(cmd->subcommands);

		for (const struct cli_flag *f = cmd->flags; f && f->name && n < 32; f++)
			list[n++] = f;
		if (cmd->formats && !flag_find(cmd->flags, "format", strlen("format"), 0)) {
			fmt = format_help(cmd);
			list[n++] = &global_flags[0];
		}
		if (n > 0) {
			printf("\nFlags:\n");
			print_flag_table(list, n, fmt);
		}
	}

	n = 0;
	for (const struct cli_flag *f = global_flags; f->name; f++) {
		if (!streq(f->name, "format"))
			list[n++] = f;
	}
	printf("\nGlobal flags:\n");
	print_flag_table(list, n, NULL);
	if (!cmd || cmd->subcommands)
		printf("\nUse \"%s <command> --help\" for more about a command.\n",
		       cmd ? cli->cmd_path : "lodge");
}

/* --- flag values ------------------------------------------------------------------------ */

const char *cli_flag_string(const struct cli *cli, const char *name)
{
	for (size_t i = cli->n_values; i > 0; i--) {
		if (streq(cli->values[i - 1].flag->name, name))
			return cli->values[i - 1].value;
	}
	return NULL;
}

bool cli_flag_bool(const struct cli *cli, const char *name)
{
	const char *v = cli_flag_string(cli, name);

	return v && streq(v, "true");
}

size_t cli_flag_list(const struct cli *cli, const char *name, const char ***ret)
{
	const char **v = xcalloc(cli->n_values + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < cli->n_values; i++) {
		if (streq(cli->values[i].flag->name, name))
			v[n++] = cli->values[i].value;
	}
	*ret = v;
	return n;
}

/* --- the server ------------------------------------------------------------------------- */

/* The default remote (`lodge remote switch`), or the local daemon when it is "local" or
 * cannot be used (said on stderr). */
static struct lxd_client *cli_default_remote(void)
{
	autoclean(remote_config_release) struct remote_config c = REMOTE_CONFIG_INIT;
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct lxd_client *lxd = NULL;
	int r;

	r = remote_config_load(&c, &err);
	if (r == 0 && streq(c.default_remote, "local"))
		return lxd_client_new(NULL);
	if (r == 0)
		r = remote_connect(&c, NULL, &lxd, &err);
	if (r < 0) {
		fprintf(stderr, "Warning: %s, using the local daemon\n", error_message(&err));
		return lxd_client_new(NULL);
	}
	return lxd;
}

struct lxd_client *cli_lxd(struct cli *cli)
{
	const char *project;

	if (!cli->lxd) {
		cli->lxd = cli_default_remote();
		project = cli_flag_string(cli, "project");
		if (project)
			lxd_client_set_project(cli->lxd, project);
	}
	return cli->lxd;
}

int cli_server(struct cli *cli, const json_t **ret, struct error *err)
{
	int r;

	if (!cli->server) {
		r = lxd_get(cli_lxd(cli), "/1.0", &cli->server, err);
		if (r < 0)
			return r;
	}
	*ret = cli->server;
	return 0;
}

int cli_server_has_extension(struct cli *cli, const char *name, bool *ret, struct error *err)
{
	const json_t *server = NULL;
	const json_t *exts;
	int r;

	r = cli_server(cli, &server, err);
	if (r < 0)
		return r;
	exts = json_object_get(server, "api_extensions");
	for (size_t i = 0; i < json_array_size(exts); i++) {
		const char *ext = json_string_value(json_array_get(exts, i));

		if (ext && streq(ext, name)) {
			*ret = true;
			return 0;
		}
	}
	*ret = false;
	return 0;
}

/* --- output ----------------------------------------------------------------------------- */

int cli_print_json(const json_t *j, struct error *err)
{
	autofree char *s = json_to_string(j);

	if (printf("%s\n", s) < 0)
		return error_errno(err, -EIO, "Failed to write the output");
	return 0;
}

int cli_print_yaml(const json_t *j, struct error *err)
{
	return yaml_out_print(stdout, j, 0, err);
}

int cli_print_document(const struct cli *cli, const json_t *j, struct error *err)
{
	if (cli->format == CLI_FORMAT_JSON)
		return cli_print_json(j, err);
	return cli_print_yaml(j, err);
}

int cli_print_table(const struct cli *cli, const struct table *t, const json_t *raw,
		    struct error *err)
{
	autofree char *s = NULL;

	switch (cli->format) {
	case CLI_FORMAT_JSON:
		return cli_print_json(raw, err);
	case CLI_FORMAT_YAML:
		return cli_print_yaml(raw, err);
	case CLI_FORMAT_CSV:
		s = table_render(t, TABLE_STYLE_CSV);
		break;
	case CLI_FORMAT_TABLE:
	case _CLI_FORMAT_MAX:
		s = table_render(t, TABLE_STYLE_BOX);
		break;
	}
	if (fputs(s, stdout) == EOF)
		return error_errno(err, -EIO, "Failed to write the output");
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *cli_json_sorted(const json_t *j, int levels)
{
	const char **keys;
	json_t *copy;
	size_t n = 0;
	const char *key;
	json_t *v;

	if (!json_is_object(j) || levels == 0)
		return json_deep_copy(j);
	keys = xcalloc(json_object_size(j) + 1, sizeof(*keys));
	json_object_foreach((json_t *)j, key, v)
	{
		keys[n++] = key;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	copy = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(copy, keys[i],
				    cli_json_sorted(json_object_get(j, keys[i]), levels - 1));
	free(keys);
	return copy;
}

char *cli_time_short(const char *rfc3339)
{
	long long sec;
	long nsec;
	struct tm tm;
	time_t t;
	char buf[64];

	if (!rfc3339 || lxd_time_parse(rfc3339, &sec, &nsec) < 0)
		return xstrdup("");
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y/%m/%d %H:%M UTC", &tm) == 0)
		return xstrdup("");
	return xstrdup(buf);
}

char *cli_size_iec(uint64_t bytes, int precision)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double value = (double)bytes;

	if (bytes < 1024)
		return str_printf("%lluB", (unsigned long long)bytes);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		value /= 1024;
		if (value < 1024 || i == ARRAY_SIZE(units) - 1)
			return str_printf("%.*f%s", precision, value, units[i]);
	}
	return xstrdup("");
}

/* --- targets and operations ------------------------------------------------------------- */

int cli_target(struct cli *cli, const char *arg, struct lxd_client **lxd, const char **name,
	       struct error *err)
{
	autoclean(remote_config_release) struct remote_config c = REMOTE_CONFIG_INIT;
	const char *colon = strchr(arg, ':');
	autofree char *remote = NULL;
	struct lxd_client *client = NULL;
	const char *project;
	int r;

	/* As lxc's ParseRemote: a snapshot name may hold a ':' ("c1/snap:0"). */
	if (!colon || (memchr(arg, '/', (size_t)(colon - arg)) && !strchr(colon, '/'))) {
		*lxd = cli_lxd(cli);
		*name = arg;
		return 0;
	}
	remote = xstrndup(arg, (size_t)(colon - arg));
	for (size_t i = 0; i < cli->n_remotes; i++) {
		if (streq(cli->remotes[i].name, remote)) {
			*lxd = cli->remotes[i].lxd;
			*name = colon + 1;
			return 0;
		}
	}
	r = remote_config_load(&c, err);
	if (r < 0)
		return r;
	if (!remote_config_find(&c, remote))
		return error_set(err, -ENOENT, "The remote \"%s\" doesn't exist", remote);
	r = remote_connect(&c, remote, &client, err);
	if (r < 0)
		return r;
	project = cli_flag_string(cli, "project");
	if (project)
		lxd_client_set_project(client, project);
	cli->remotes = xrealloc(cli->remotes, (cli->n_remotes + 1) * sizeof(*cli->remotes));
	cli->remotes[cli->n_remotes++] =
		(struct cli_remote){ .name = take_ptr(remote), .lxd = client };
	*lxd = client;
	*name = colon + 1;
	return 0;
}

static bool component_is_valid(const char *s, size_t len)
{
	return len > 0 && !memchr(s, '/', len) && !(len == 1 && s[0] == '.') &&
	       !(len == 2 && s[0] == '.' && s[1] == '.');
}

int cli_instance_target(struct cli *cli, const char *arg, struct lxd_client **lxd,
			const char **name, struct error *err)
{
	const char *n = arg, *slash;
	int r;

	r = cli_target(cli, arg, lxd, &n, err);
	if (r < 0)
		return r;
	slash = strchr(n, '/');
	if (!component_is_valid(n, slash ? (size_t)(slash - n) : strlen(n)))
		return error_set(err, -EINVAL, "Invalid instance name '%s'", n);
	if (slash && !component_is_valid(slash + 1, strlen(slash + 1)))
		return error_set(err, -EINVAL, "Invalid snapshot name '%s'", slash + 1);
	*name = n;
	return 0;
}

int cli_wait(struct lxd_client *lxd, const char *method, const char *path, const json_t *body,
	     json_t **ret_op, struct error *err)
{
	autojson json_t *op = NULL;
	int r;

	r = lxd_query_wait(lxd, method, path, body, NULL, &op, err);
	if (r < 0)
		return r;
	if (ret_op)
		*ret_op = take_ptr(op);
	return 0;
}

int cli_do(struct lxd_client *lxd, const char *method, const char *path, const json_t *body,
	   const char *etag, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *op = NULL;
	int r;

	r = lxd_query(lxd, method, path, body, etag, &resp, err);
	if (r < 0 || resp.type != LXD_RESPONSE_ASYNC)
		return r;
	if (!resp.operation)
		return error_set(err, -EIO, "Server sent an operation without its URL");
	return lxd_operation_wait(lxd, resp.operation, -1, &op, err);
}

char *cli_path_escape(const char *component)
{
	struct strbuf sb = STRBUF_INIT;
	/* "." and ".." would walk the path: their dots are escaped too (the server then looks
	 * the literal name up and refuses it). */
	bool dots = component[strspn(component, ".")] == '\0';

	strbuf_adds(&sb, "");
	for (const char *p = component; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) || c == '-' || c == '_' || c == '~' || (c == '.' && !dots))
			strbuf_addch(&sb, (char)c);
		else
			strbuf_addf(&sb, "%%%02X", c);
	}
	return strbuf_detach(&sb);
}

char *cli_instance_path(const char *name, const char *suffix)
{
	const char *slash = strchr(name, '/');
	autofree char *head = slash ? xstrndup(name, (size_t)(slash - name)) : xstrdup(name);
	autofree char *inst = cli_path_escape(head);
	autofree char *snap = NULL;

	if (!slash)
		return str_printf("/1.0/instances/%s%s", inst, suffix ? suffix : "");
	snap = cli_path_escape(slash + 1);
	return str_printf("/1.0/instances/%s/snapshots/%s%s", inst, snap, suffix ? suffix : "");
}

int cli_key_values(const char *const *pairs, json_t **ret, struct error *err)
{
	autojson json_t *obj = json_object();

	for (; pairs && *pairs; pairs++) {
		const char *eq = strchr(*pairs, '=');
		autofree char *key = NULL;

		if (!eq || eq == *pairs)
			return error_set(err, -EINVAL, "Bad key=value pair: \"%s\"", *pairs);
		key = xstrndup(*pairs, (size_t)(eq - *pairs));
		json_object_set_new(obj, key, json_string(eq + 1));
	}
	*ret = take_ptr(obj);
	return 0;
}
