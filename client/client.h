/* client/client.h: the lodge CLI's commands and what they share.
 *
 * Each command is a const struct command in its own client/cmd-<name>.c, declared at the
 * end of this file and listed in commands[] in client/main.c; a group (`lodge operation`)
 * lists its subcommands instead of having run(). The parser in client/cli.c resolves the
 * command words, checks flags and the argument count, and calls run() with a struct cli
 * holding the positional arguments, the flag values and the output format. A command
 * fails by returning a negative errno with err set; main() prints "Error: <message>" and
 * exits 1. The CLI speaks only the REST API, through lib/lxd-client.h.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "lib/lxd-client.h"
#include "lib/table.h"

enum cli_format {
	CLI_FORMAT_TABLE,
	CLI_FORMAT_CSV,
	CLI_FORMAT_JSON,
	CLI_FORMAT_YAML,
	_CLI_FORMAT_MAX,
};

extern const char *const cli_format_names[_CLI_FORMAT_MAX];

#define CLI_FORMAT_BIT(f) (1u << (f))
/* What a list command accepts, like `lxc ... list --format`. */
#define CLI_FORMATS_LIST                                                     \
	(CLI_FORMAT_BIT(CLI_FORMAT_TABLE) | CLI_FORMAT_BIT(CLI_FORMAT_CSV) | \
	 CLI_FORMAT_BIT(CLI_FORMAT_JSON) | CLI_FORMAT_BIT(CLI_FORMAT_YAML))
/* What a show command accepts. */
#define CLI_FORMATS_DOCUMENT (CLI_FORMAT_BIT(CLI_FORMAT_JSON) | CLI_FORMAT_BIT(CLI_FORMAT_YAML))

enum cli_flag_type {
	CLI_FLAG_BOOL,	 /* --pretty, --pretty=false */
	CLI_FLAG_STRING, /* --loglevel=info or --loglevel info; the last one counts */
	CLI_FLAG_LIST,	 /* --type=a --type=b: every value counts */
};

struct cli_flag {
	const char *name; /* without the dashes */
	char short_name;  /* 0 when none */
	enum cli_flag_type type;
	const char *value_name; /* for help: "--type=TYPE" */
	const char *help;
};

struct cli;

struct command {
	const char *name;
	const char *const *aliases;   /* NULL or NULL-terminated */
	const char *args;	      /* the usage after the name: "<operation>" */
	const char *summary;	      /* one line, no final period */
	const char *description;      /* optional: more text and examples */
	const struct cli_flag *flags; /* NULL or ended by an entry without name */
	unsigned formats;	      /* CLI_FORMAT_BIT()s --format accepts; 0: none */
	enum cli_format default_format;
	int min_args;
	int max_args; /* -1: no limit */
	/* A group: NULL-terminated subcommands; run is NULL. */
	const struct command *const *subcommands;
	int (*run)(struct cli *cli, struct error *err);
};

/* One flag given on the command line. */
struct cli_value {
	const struct cli_flag *flag;
	const char *value; /* points into argv; "true"/"false" for booleans */
};

struct cli {
	const struct command *cmd;
	char *cmd_path; /* "lodge operation list", for messages */
	char **args;	/* positional arguments (argv strings) */
	size_t n_args;
	enum cli_format format;
	bool format_given; /* --format was on the command line */
	bool quiet;
	struct cli_value *values;
	size_t n_values;
	struct lxd_client *lxd; /* see cli_lxd() */
	/* Clients of the remotes named in "REMOTE:NAME" arguments (cli_target()). */
	struct cli_remote *remotes;
	size_t n_remotes;
	json_t *server; /* see cli_server() */
	int exit_code;	/* what lodge exits with when run() succeeds (exec) */
};

/* Parses argv against the command tree and global flags into cli (released with
 * cli_release()). Returns 1 when the command should run, 0 when it printed help or the
 * version and is done, or a negative errno. */
int cli_parse(struct cli *cli, const struct command *const *commands, int argc, char **argv,
	      struct error *err);
void cli_release(struct cli *cli);

/* Prints the help of cli->cmd (or of the whole CLI when NULL) to stdout. */
void cli_print_help(const struct cli *cli, const struct command *const *commands);

/* Flag values by long name. cli_flag_list() returns how many values were given and a
 * NULL-terminated vector of them in *ret (the vector is the caller's to free, the strings
 * are not). */
bool cli_flag_bool(const struct cli *cli, const char *name);
const char *cli_flag_string(const struct cli *cli, const char *name);
size_t cli_flag_list(const struct cli *cli, const char *name, const char ***ret);

/* The API client for this invocation, made on first use (connects per request). */
struct lxd_client *cli_lxd(struct cli *cli);

/* GET /1.0, fetched once per invocation. The JSON stays owned by cli. */
int cli_server(struct cli *cli, const json_t **ret, struct error *err);
/* True when the server lists name in api_extensions. */
int cli_server_has_extension(struct cli *cli, const char *name, bool *ret, struct error *err);

/* Prints j as compact JSON and a newline, as Go's json.Encoder does. */
int cli_print_json(const json_t *j, struct error *err);
/* Prints j as YAML (see lib/yaml-out.h). */
int cli_print_yaml(const json_t *j, struct error *err);
/* Prints a document (show commands) in cli->format: YAML or JSON. */
int cli_print_document(const struct cli *cli, const json_t *j, struct error *err);
/* Prints a list in cli->format: the table, its CSV rows, or raw as JSON or YAML. */
int cli_print_table(const struct cli *cli, const struct table *t, const json_t *raw,
		    struct error *err);

/* A deep copy of j whose objects, down to levels deep (-1: all), have their keys sorted:
 * how Go prints its maps (config, devices). The caller owns the copy. */
json_t *cli_json_sorted(const json_t *j, int levels);

/* Go's time layout "2006/01/02 15:04 UTC" for an RFC 3339 time ("" if it is not one). The
 * caller frees. */
char *cli_time_short(const char *rfc3339);

/* Sizes as the LXD client prints them (units.GetByteSizeStringIEC): "512B", "1.50KiB". */
char *cli_size_iec(uint64_t bytes, int precision);

/* Resolves an instance or server argument "[REMOTE:]NAME": *lxd is the API client of the
 * remote (borrowed, owned by cli) and *name points at the name part in arg. No prefix means
 * the default remote (`lodge remote switch`), "local:" the local daemon, another name a
 * remote of config.yml (client/remote.h); an unknown one fails with -ENOENT and "The remote
 * \"X\" doesn't exist", as lxc says. Every command resolves its arguments through this. */
int cli_target(struct cli *cli, const char *arg, struct lxd_client **lxd, const char **name,
	       struct error *err);

/* cli_target() for an instance or snapshot ("c1", "c1/snap0"): each part must be a
 * non-empty path component other than "." and "..", else -EINVAL. */
int cli_instance_target(struct cli *cli, const char *arg, struct lxd_client **lxd,
			const char **name, struct error *err);

/* Sends method path with body (NULL: none), expects an operation and waits for it to end
 * (GET /1.0/operations/ID/wait); a failed operation fails with its "err" message. The final
 * operation goes to *ret_op when not NULL. Blocks. */
int cli_wait(struct lxd_client *lxd, const char *method, const char *path, const json_t *body,
	     json_t **ret_op, struct error *err);

/* Sends method path with body (NULL: none) and If-Match: etag (NULL: none); an async reply
 * is waited for as cli_wait() does, a sync one is done. Blocks. */
int cli_do(struct lxd_client *lxd, const char *method, const char *path, const json_t *body,
	   const char *etag, struct error *err);

/* One component of an API path, percent-encoded: everything but letters, digits and "-._~"
 * ('/' included), and the dots of "." and "..". The caller frees. */
char *cli_path_escape(const char *component);

/* The API path of an instance "c1" (/1.0/instances/c1) or of a snapshot "c1/snap0"
 * (/1.0/instances/c1/snapshots/snap0), percent-encoded, with suffix (NULL: none) appended.
 * The caller frees. */
char *cli_instance_path(const char *name, const char *suffix);

/* A JSON object of string values from "key=value" strings (a NULL-terminated vector), as
 * -c/--config takes them. -EINVAL for a pair without '=' or without key. */
int cli_key_values(const char *const *pairs, json_t **ret, struct error *err);

/* `... edit` (client/cmd-config.c): the edited document, from stdin when it is not a
 * terminal, else from $VISUAL/$EDITOR on a temporary file holding current as YAML (*ret is
 * the caller's); and the parsed document applied to w, the writable fields: unknown keys
 * are ignored, booleans parsed, other types must match. */
int cli_edit_text(const json_t *current, char **ret, struct error *err);
int cli_edit_apply(const json_t *doc, json_t *w, struct error *err);

/* The commands. */
extern const struct command command_config;
extern const struct command command_config_trust;
extern const struct command command_console;
extern const struct command command_copy;
extern const struct command command_delete;
extern const struct command command_exec;
extern const struct command command_file;
extern const struct command command_image;
extern const struct command command_info;
extern const struct command command_init;
extern const struct command command_launch;
extern const struct command command_list;
extern const struct command command_move;
extern const struct command command_pause;
extern const struct command command_profile;
extern const struct command command_rename;
extern const struct command command_restart;
extern const struct command command_restore;
extern const struct command command_resume;
extern const struct command command_snapshot;
extern const struct command command_start;
extern const struct command command_stop;
extern const struct command command_monitor;
extern const struct command command_operation;
extern const struct command command_remote;
extern const struct command command_storage;
extern const struct command command_version;
