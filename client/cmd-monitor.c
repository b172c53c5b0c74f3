/* lodge monitor: prints the server's events as they come, like `lxc monitor`.
 *
 * Like lxc, it subscribes to every type (GET /1.0/events) and filters --type itself. Each
 * event prints as YAML with sorted keys followed by a blank line (lxc prints yaml.Marshal
 * of the decoded event, then "\n\n"), as one line of compact JSON with --format json, or
 * as a log line with --pretty. SIGINT and SIGTERM close the websocket and exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/yaml-out.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define MONITOR_CLOSE_TIMEOUT_MS 1000

/* log15's levels, which --loglevel names; a larger number is less severe. */
static const struct {
	const char *name;
	int rank;
} log_levels[] = {
	{ "crit", 0 },	  { "fatal", 0 }, { "error", 1 }, { "eror", 1 }, { "warn", 2 },
	{ "warning", 2 }, { "info", 3 },  { "debug", 4 }, { "dbug", 4 }, { "trace", 4 },
};

static int log_level_rank(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(log_levels); i++) {
		if (streq(log_levels[i].name, name))
			return log_levels[i].rank;
	}
	return -1;
}

/* --- --pretty: the line logrus's text formatter writes for the event --------------------- */

/* fmt.Sprint() of a value decoded from JSON into interface{}. */
static void go_sprint(struct strbuf *sb, const json_t *v)
{
	json_t *item;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_add(sb, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		strbuf_addf(sb, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		strbuf_adds(sb, "true");
		break;
	case JSON_FALSE:
		strbuf_adds(sb, "false");
		break;
	case JSON_NULL:
		strbuf_adds(sb, "<nil>");
		break;
	case JSON_ARRAY:
		strbuf_addch(sb, '[');
		for (i = 0; i < json_array_size(v) && (item = json_array_get(v, i)); i++) {
			if (i > 0)
				strbuf_addch(sb, ' ');
			go_sprint(sb, item);
		}
		strbuf_addch(sb, ']');
		break;
	case JSON_OBJECT: {
		autofree const char **keys = NULL;

		n = json_object_size(v);
		keys = xcalloc(n + 1, sizeof(*keys));
		i = 0;
		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it))
			keys[i++] = json_object_iter_key(it);
		/* fmt prints maps sorted by key. */
		for (size_t a = 1; a < n; a++) {
			for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
				const char *t = keys[b];

				keys[b] = keys[b - 1];
				keys[b - 1] = t;
			}
		}
		strbuf_adds(sb, "map[");
		for (i = 0; i < n; i++) {
			strbuf_addf(sb, "%s%s:", i > 0 ? " " : "", keys[i]);
			go_sprint(sb, json_object_get(v, keys[i]));
		}
		strbuf_addch(sb, ']');
		break;
	}
	}
}

/* logrus quotes a value with anything but [A-Za-z0-9-._/@^+], the way Go's %q does. */
static void logfmt_value(struct strbuf *sb, const char *s)
{
	bool quote = false;

	for (const char *p = s; *p; p++) {
		if (!strchr("-._/@^+", *p) &&
		    !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9'))) {
			quote = true;
			break;
		}
	}
	if (!quote) {
		strbuf_adds(sb, s);
		return;
	}

	strbuf_addch(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			strbuf_adds(sb, "\\\"");
			break;
		case '\\':
			strbuf_adds(sb, "\\\\");
			break;
		case '\n':
			strbuf_adds(sb, "\\n");
			break;
		case '\r':
			strbuf_adds(sb, "\\r");
			break;
		case '\t':
			strbuf_adds(sb, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				strbuf_addf(sb, "\\x%02x", *p);
			else
				strbuf_addch(sb, (char)*p);
		}
	}
	strbuf_addch(sb, '"');
}

/* A Go time.Time as fmt prints it: "2026-11-23 11:26:09.466545106 +0000 UTC". */
static char *go_time(const char *rfc3339)
{
	char buf[64], frac[16] = "";
	long long sec;
	long nsec;
	struct tm tm;
	time_t t;

	if (!rfc3339 || lxd_time_parse(rfc3339, &sec, &nsec) < 0)
		return xstrdup(rfc3339 ? rfc3339 : "");
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return xstrdup(rfc3339);
	if (nsec > 0) {
		size_t len;

		(void)snprintf_ok(frac, sizeof(frac), ".%09ld", nsec);
		len = strlen(frac);
		while (frac[len - 1] == '0')
			frac[--len] = '\0';
	}
	return str_printf("%s%s +0000 UTC", buf, frac);
}

struct field {
	char *key;
	char *value;
};

/* What event.ToLogging() of the LXD client makes of an event. */
struct record {
	const char *level;
	char *msg;
	struct field *fields;
	size_t n_fields;
};

static void record_release(struct record *rec)
{
	for (size_t i = 0; i < rec->n_fields; i++) {
		free(rec->fields[i].key);
		free(rec->fields[i].value);
	}
	free(rec->fields);
	free(rec->msg);
}

static int field_cmp(const void *a, const void *b)
{
	return strcmp(((const struct field *)a)->key, ((const struct field *)b)->key);
}

static void record_add_str(struct record *rec, const char *key, const char *s)
{
	rec->fields = xrealloc(rec->fields, (rec->n_fields + 1) * sizeof(*rec->fields));
	rec->fields[rec->n_fields].key = xstrdup(key);
	rec->fields[rec->n_fields].value = xstrdup(s ? s : "");
	rec->n_fields++;
}

static void record_add(struct record *rec, const char *key, const json_t *v)
{
	autoclean(strbuf_release) struct strbuf sb = STRBUF_INIT;

	go_sprint(&sb, v);
	record_add_str(rec, key, strbuf_str(&sb));
}

/* Every member of obj (the event's context) as a field. */
static void record_add_object(struct record *rec, const json_t *obj)
{
	for (void *it = json_object_iter((json_t *)obj); it;
	     it = json_object_iter_next((json_t *)obj, it))
		record_add(rec, json_object_iter_key(it), json_object_iter_value(it));
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* Returns false for types the LXD client does not render. */
static bool record_from_event(struct record *rec, const json_t *ev)
{
	const char *type = json_get_str(ev, "type");
	const json_t *meta = json_object_get(ev, "metadata");
	const json_t *ctx = json_object_get(meta, "context");

	if (streq(type, "logging")) {
		rec->level = json_get_str(meta, "level") ? json_get_str(meta, "level") : "info";
		rec->msg = xstrdup(str_or_empty(json_get_str(meta, "message")));
		record_add_object(rec, ctx);
		return true;
	}
	if (streq(type, "lifecycle")) {
		const json_t *req = json_object_get(meta, "requestor");
		const char *action = str_or_empty(json_get_str(meta, "action"));
		const char *source = str_or_empty(json_get_str(meta, "source"));

		rec->level = "info";
		if (json_is_object(req))
			rec->msg =
				str_printf("Action: %s, Source: %s, Requestor: %s/%s (%s)", action,
					   source, str_or_empty(json_get_str(req, "protocol")),
					   str_or_empty(json_get_str(req, "username")),
					   str_or_empty(json_get_str(req, "address")));
		else
			rec->msg = str_printf("Action: %s, Source: %s", action, source);
		record_add_object(rec, ctx);
		return true;
	}
	if (streq(type, "operation")) {
		autofree char *created = go_time(json_get_str(meta, "created_at"));
		autofree char *updated = go_time(json_get_str(meta, "updated_at"));
		bool may_cancel = false;

		rec->level = "info";
		rec->msg = str_printf("ID: %s, Class: %s, Description: %s",
				      str_or_empty(json_get_str(meta, "id")),
				      str_or_empty(json_get_str(meta, "class")),
				      str_or_empty(json_get_str(meta, "description")));
		(void)json_get_bool(meta, "may_cancel", &may_cancel);
		record_add_str(rec, "CreatedAt", created);
		record_add_str(rec, "UpdatedAt", updated);
		record_add_str(rec, "Status", json_get_str(meta, "status"));
		/* api.StatusCode prints as its name. */
		record_add_str(rec, "StatusCode", json_get_str(meta, "status"));
		record_add(rec, "Resources", json_object_get(meta, "resources"));
		record_add(rec, "Metadata", json_object_get(meta, "metadata"));
		record_add_str(rec, "MayCancel", may_cancel ? "true" : "false");
		record_add_str(rec, "Err", json_get_str(meta, "err"));
		record_add_str(rec, "Location", json_get_str(meta, "location"));
		return true;
	}
	return false;
}

/* The event's time as logrus prints it (RFC 3339, seconds, UTC), or as it came. */
static char *logfmt_time(const char *ts)
{
	long long sec;
	long nsec;
	struct tm tm;
	time_t t;
	char buf[32];

	if (!ts || lxd_time_parse(ts, &sec, &nsec) < 0)
		return xstrdup(str_or_empty(ts));
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return xstrdup(ts);
	return xstrdup(buf);
}

static int print_pretty(const json_t *ev, int min_rank, struct error *err)
{
	autoclean(record_release) struct record rec = { 0 };
	autoclean(strbuf_release) struct strbuf sb = STRBUF_INIT;
	autofree char *when = NULL;
	int rank;

	if (!record_from_event(&rec, ev))
		return 0;

	/* --loglevel filters logging events only; the others are always "info". */
	rank = log_level_rank(rec.level);
	if (streq(json_get_str(ev, "type"), "logging") && (rank < 0 ? 4 : rank) > min_rank)
		return 0;
	if (streq(rec.level, "warn"))
		rec.level = "warning";

	when = logfmt_time(json_get_str(ev, "timestamp"));
	strbuf_adds(&sb, "time=");
	logfmt_value(&sb, when);
	strbuf_adds(&sb, " level=");
	logfmt_value(&sb, rec.level);
	strbuf_adds(&sb, " msg=");
	logfmt_value(&sb, rec.msg);
	/* logrus sorts the fields. */
	if (rec.n_fields > 1)
		qsort(rec.fields, rec.n_fields, sizeof(*rec.fields), field_cmp);
	for (size_t i = 0; i < rec.n_fields; i++) {
		strbuf_addf(&sb, " %s=", rec.fields[i].key);
		logfmt_value(&sb, rec.fields[i].value);
	}
	strbuf_addch(&sb, '\n');
	if (fputs(sb.buf, stdout) == EOF)
		return error_errno(err, -EIO, "Failed to write the output");
	return 0;
}

/* --- the event loop ----------------------------------------------------------------------- */

struct monitor {
	const char **types; /* --type values, NULL-terminated */
	size_t n_types;
	bool pretty;
	int min_rank;
	enum cli_format format;
};

static bool monitor_wants(const struct monitor *m, const char *type)
{
	if (m->n_types == 0)
		return true;
	for (size_t i = 0; i < m->n_types; i++) {
		if (streq(m->types[i], type))
			return true;
	}
	return false;
}

static int monitor_print(const struct monitor *m, const char *data, size_t len, struct error *err)
{
	autojson json_t *ev = NULL;
	autofree char *yaml = NULL;
	const char *type;
	int r;

	/* As the Go client does, skip what is not a JSON event with a type. */
	if (json_parse(data, len, false, &ev, NULL) < 0)
		return 0;
	type = json_get_str(ev, "type");
	if (str_is_empty(type) || !monitor_wants(m, type))
		return 0;

	if (m->pretty)
		r = print_pretty(ev, m->min_rank, err);
	else if (m->format == CLI_FORMAT_JSON)
		r = cli_print_json(ev, err);
	else {
		r = yaml_out_render(ev, YAML_OUT_SORT_KEYS, &yaml, err);
		if (r == 0 && printf("%s\n\n", yaml) < 0)
			r = error_errno(err, -EIO, "Failed to write the output");
	}
	if (r < 0)
		return r;
	if (fflush(stdout) != 0)
		return error_errno(err, -errno, "Failed to write the output");
	return 0;
}

static int monitor_loop(struct ws *ws, const struct monitor *m, struct error *err)
{
	for (;;) {
		autoclean(ws_message_release) struct ws_message msg = WS_MESSAGE_INIT;
		int r;

		r = ws_recv(ws, &msg, err);
		if (r < 0)
			return r;
		if (r == 0)
			return error_set(err, -ECONNRESET,
					 "Server closed the event stream (code %u)",
					 (unsigned)ws_close_code(ws));
		if (msg.opcode != WS_OP_TEXT)
			continue;
		r = monitor_print(m, msg.data, msg.len, err);
		if (r < 0)
			return r;
	}
}

static sigset_t sigmask_current(void)
{
	sigset_t set;

	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, NULL, &set);
	return set;
}

static void sigmask_restorep(sigset_t *old)
{
	(void)sigprocmask(SIG_SETMASK, old, NULL);
}

/* Takes the pending SIGINT or SIGTERM, so that unblocking them later does not kill us. */
static void signalfd_drain(int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
}

static int monitor_run(struct cli *cli, struct error *err)
{
	autoclean(ws_freep) struct ws *ws = NULL;
	autoclean(sigmask_restorep) _unused_ sigset_t old = sigmask_current();
	autofree const char **types = NULL;
	autoclose int sfd = -1;
	const char *loglevel = cli_flag_string(cli, "loglevel");
	struct monitor m = {
		.pretty = cli_flag_bool(cli, "pretty"),
		.min_rank = 4,
		.format = cli->format,
	};
	struct lxd_client *lxd = NULL;
	const char *name = NULL;
	sigset_t mask;
	int r;

	/* "[<remote>:]": a server, never an instance. */
	r = cli_target(cli, cli->n_args > 0 ? cli->args[0] : "", &lxd, &name, err);
	if (r < 0)
		return r;
	if (!str_is_empty(name))
		return error_set(err, -EINVAL, "Invalid remote '%s': expected \"<remote>:\"",
				 cli->args[0]);
	m.n_types = cli_flag_list(cli, "type", &types);
	m.types = types;
	if (loglevel) {
		m.min_rank = log_level_rank(loglevel);
		if (m.min_rank < 0)
			return error_set(err, -EINVAL, "Unknown log level '%s'", loglevel);
	}

	/* The signals arrive through a descriptor that interrupts any wait of the client:
	 * no handler, no race between a check and a blocking read. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return error_errno(err, -errno, "Failed to block signals");
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return error_errno(err, -errno, "Failed to create a signalfd");
	lxd_client_set_cancel_fd(lxd, sfd);

	r = lxd_events_connect(lxd, cli_flag_bool(cli, "all-projects") ? "all-projects=true" : NULL,
			       &ws, err);
	if (r == 0)
		r = monitor_loop(ws, &m, err);

	if (r == -ECANCELED) {
		error_clear(err);
		signalfd_drain(sfd);
		if (ws) {
			http_conn_set_cancel_fd(ws_get_conn(ws), -1);
			http_conn_set_timeout(ws_get_conn(ws), MONITOR_CLOSE_TIMEOUT_MS);
			(void)ws_close(ws, WS_CLOSE_NORMAL, NULL, NULL);
		}
		return 0;
	}
	return r;
}

const struct command command_monitor = {
	.name = "monitor",
	.summary = "Monitor a local or remote server",
	.description = "By default the monitor will listen to all message types.\n\n"
		       "Examples:\n"
		       "  lodge monitor --type=logging\n"
		       "      Only show log messages.\n"
		       "  lodge monitor --pretty --type=logging --loglevel=info\n"
		       "      Show a pretty log of messages with info level or higher.\n"
		       "  lodge monitor --type=lifecycle\n"
		       "      Only show lifecycle events.",
	.flags =
		(const struct cli_flag[]){
			{ "type", 0, CLI_FLAG_LIST, "TYPE",
			  "Event type to listen for (repeatable)" },
			{ "pretty", 0, CLI_FLAG_BOOL, NULL, "Pretty rendering" },
			{ "loglevel", 0, CLI_FLAG_STRING, "LEVEL",
			  "Minimum level for log messages (with --pretty)" },
			{ "all-projects", 0, CLI_FLAG_BOOL, NULL, "Show events from all projects" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.formats = CLI_FORMATS_DOCUMENT,
	.default_format = CLI_FORMAT_YAML,
	.args = "[<remote>:]",
	.min_args = 0,
	.max_args = 1,
	.run = monitor_run,
};
