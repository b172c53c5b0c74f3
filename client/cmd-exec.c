/* lodge exec and lodge console: a process in an instance, or its console, wired to this
 * terminal through the operation's websockets (POST /1.0/instances/NAME/exec or /console,
 * then GET /1.0/operations/ID/websocket?secret=S for "control" and each stream).
 *
 * Interactive (a pty in the instance): one stream "0" carries keystrokes in and output out;
 * the local terminal is in raw mode meanwhile, restored on every way out, and a SIGWINCH
 * becomes a window-resize control message. Non-interactive: "0" is stdin (its end is an
 * empty text message), "1" and "2" are stdout and stderr; SIGINT, SIGTERM and SIGHUP are
 * forwarded as signal control messages. The command's exit code (the operation's
 * metadata "return") becomes lodge's. One thread polls everything. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define EXEC_CHUNK (32 * 1024)
#define CTRL_A	   0x01

enum stream {
	STREAM_STDIN,
	STREAM_STDOUT,
	STREAM_STDERR,
	STREAM_COUNT,
};

/* The local terminal's settings, put back however the command ends. */
struct tty {
	int fd;
	bool raw;
	struct termios saved;
};

static void tty_restore(struct tty *t)
{
	if (t->raw)
		(void)tcsetattr(t->fd, TCSADRAIN, &t->saved);
	t->raw = false;
}

static void tty_make_raw(struct tty *t, int fd)
{
	struct termios raw;

	t->fd = fd;
	if (!isatty(fd) || tcgetattr(fd, &t->saved) < 0)
		return;
	raw = t->saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) == 0)
		t->raw = true;
}

/* The signals lodge handles through a signalfd; blocked while it runs. */
struct signals {
	int fd;
	sigset_t old;
};

static void signals_release(struct signals *s)
{
	if (s->fd >= 0) {
		(void)close(s->fd);
		(void)sigprocmask(SIG_SETMASK, &s->old, NULL);
	}
	s->fd = -1;
}

static int signals_init(struct signals *s, struct error *err)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &mask, &s->old) < 0)
		return error_errno(err, -errno, "Failed to block signals");
	s->fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->fd < 0) {
		(void)sigprocmask(SIG_SETMASK, &s->old, NULL);
		return error_errno(err, -errno, "Failed to create a signalfd");
	}
	return 0;
}

struct session {
	struct lxd_client *lxd;
	char *op; /* "/1.0/operations/ID" */
	struct ws *control;
	struct ws *ws[STREAM_COUNT]; /* interactive: only STREAM_STDIN, both ways */
	bool interactive;
	bool console;
	bool stdin_open; /* still reading local stdin */
	bool ctrl_a;	 /* console: the last key was ctrl+a */
	bool detached;	 /* console: ctrl+a q */
	struct tty tty;
	struct signals sig;
};

static void session_release(struct session *s)
{
	tty_restore(&s->tty);
	signals_release(&s->sig);
	ws_free(s->control);
	for (int i = 0; i < STREAM_COUNT; i++)
		ws_free(s->ws[i]);
	free(s->op);
}

static void control_send(struct session *s, json_t *msg)
{
	autojson json_t *m = msg;
	autofree char *text = json_to_string(m);

	if (s->control)
		(void)ws_send(s->control, WS_OP_TEXT, text, strlen(text), NULL);
}

static void window_resize(struct session *s)
{
	struct winsize w;
	char width[16], height[16];

	if (!s->interactive || ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) < 0)
		return;
	(void)snprintf_ok(width, sizeof(width), "%u", (unsigned)w.ws_col);
	(void)snprintf_ok(height, sizeof(height), "%u", (unsigned)w.ws_row);
	control_send(s, json_pack("{s:s, s:{s:s, s:s}}", "command", "window-resize", "args",
				  "width", width, "height", height));
}

static int write_all(int fd, const void *buf, size_t len, struct error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno(err, -errno, "Failed to write the output");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The end of stdin: an empty text message, as the LXD client sends it. */
static void stdin_end(struct session *s)
{
	s->stdin_open = false;
	if (!s->interactive && s->ws[STREAM_STDIN]) {
		(void)ws_send(s->ws[STREAM_STDIN], WS_OP_TEXT, "", 0, NULL);
		(void)ws_close(s->ws[STREAM_STDIN], WS_CLOSE_NORMAL, "", NULL);
	}
}

/* Console keystrokes: ctrl+a q detaches, ctrl+a a sends one ctrl+a. */
static size_t console_filter(struct session *s, char *buf, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (s->ctrl_a) {
			s->ctrl_a = false;
			if (c == 'q') {
				s->detached = true;
				break;
			}
			if (c != 'a')
				buf[out++] = CTRL_A;
			buf[out++] = c;
		} else if (c == CTRL_A) {
			s->ctrl_a = true;
		} else {
			buf[out++] = c;
		}
	}
	return out;
}

static int stdin_readable(struct session *s, struct error *err)
{
	char buf[EXEC_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t len;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		stdin_end(s);
		return 0;
	}
	len = (size_t)n;
	if (s->console)
		len = console_filter(s, buf, len);
	if (len > 0 && s->ws[STREAM_STDIN] &&
	    ws_send(s->ws[STREAM_STDIN], WS_OP_BINARY, buf, len, NULL) < 0)
		s->stdin_open = false; /* the process stopped reading: nothing more to send */
	return 0;
}

/* A message on a stream: output to write, or the stream's end. */
static int stream_readable(struct session *s, enum stream st, struct error *err)
{
	autoclean(ws_message_release) struct ws_message m = WS_MESSAGE_INIT;
	int out = st == STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;
	int r;

	r = ws_recv(s->ws[st], &m, NULL);
	if (r > 0 && m.opcode == WS_OP_BINARY)
		return write_all(out, m.data, m.len, err);
	if (r > 0 && m.len > 0)
		return write_all(out, m.data, m.len, err);
	/* An empty text message, the close, or a broken connection: the stream is over. */
	ws_free(s->ws[st]);
	s->ws[st] = NULL;
	if (st == STREAM_STDIN)
		s->stdin_open = s->stdin_open && !s->interactive;
	return 0;
}

static void signal_readable(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGWINCH)
			window_resize(s);
		else if (!s->console)
			control_send(s, json_pack("{s:s, s:i}", "command", "signal", "signal",
						  (int)si.ssi_signo));
		else
			s->detached = true;
	}
}

static bool session_done(const struct session *s)
{
	if (s->detached)
		return true;
	if (s->interactive)
		return !s->ws[STREAM_STDIN];
	return !s->ws[STREAM_STDOUT] && !s->ws[STREAM_STDERR];
}

/* Moves bytes until the output streams end (or the console is detached). */
static int session_pump(struct session *s, struct error *err)
{
	int r;

	while (!session_done(s)) {
		struct pollfd pfd[STREAM_COUNT + 3];
		enum stream which[STREAM_COUNT];
		size_t n = 0, n_ws = 0;
		int timeout = -1;

		for (int i = 0; i < STREAM_COUNT; i++) {
			struct http_conn *c;

			if (!s->ws[i] || (i == STREAM_STDIN && !s->interactive))
				continue;
			c = ws_get_conn(s->ws[i]);
			if (http_conn_has_buffered(c))
				timeout = 0;
			pfd[n++] = (struct pollfd){ .fd = http_conn_get_fd(c), .events = POLLIN };
			which[n_ws++] = (enum stream)i;
		}
		pfd[n++] = (struct pollfd){ .fd = s->sig.fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s->stdin_open ? STDIN_FILENO : -1,
					    .events = POLLIN };

		r = poll(pfd, n, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return error_errno(err, -errno, "Failed to poll");

		for (size_t i = 0; i < n_ws; i++) {
			if (!pfd[i].revents &&
			    !http_conn_has_buffered(ws_get_conn(s->ws[which[i]])))
				continue;
			r = stream_readable(s, which[i], err);
			if (r < 0)
				return r;
		}
		if (pfd[n_ws].revents)
			signal_readable(s);
		if (pfd[n_ws + 1].revents && s->stdin_open) {
			r = stdin_readable(s, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int session_connect(struct session *s, const json_t *fds, const char *stream,
			   struct ws **ret, struct error *err)
{
	const char *secret = json_get_str(fds, stream);
	autofree char *id = NULL;
	autofree char *path = NULL;

	/* The secret goes into a URL: hex, as servers make them. */
	if (str_is_empty(secret) || secret[strspn(secret, "0123456789abcdefABCDEF")] != '\0')
		return error_set(err, -EPROTO, "Server sent no websocket for stream '%s'", stream);
	id = lxd_operation_id(s->op);
	if (!object_name_is_valid(id))
		return error_set(err, -EPROTO, "Server sent an invalid operation '%s'", s->op);
	path = str_printf("/1.0/operations/%s/websocket?secret=%s", id, secret);
	return lxd_websocket_connect(s->lxd, path, ret, err);
}

/* POSTs body to path and connects the websockets the operation hands out: control first,
 * then the streams, as the LXD client does. */
static int session_start(struct session *s, const char *path, const json_t *body, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	const json_t *fds;
	int r;

	r = lxd_query(s->lxd, "POST", path, body, NULL, &resp, err);
	if (r < 0)
		return r;
	if (resp.type != LXD_RESPONSE_ASYNC || !resp.operation)
		return error_set(err, -EPROTO, "Server did not start an operation for '%s'", path);
	s->op = xstrdup(resp.operation);
	fds = json_object_get(json_object_get(resp.metadata, "metadata"), "fds");

	r = session_connect(s, fds, "control", &s->control, err);
	if (r < 0)
		return r;
	for (int i = 0; i < (s->interactive ? 1 : STREAM_COUNT); i++) {
		char name[2] = { (char)('0' + i), '\0' };

		r = session_connect(s, fds, name, &s->ws[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void terminal_size(json_t *body)
{
	struct winsize w;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0 && w.ws_row > 0) {
		json_object_set_new(body, "width", json_integer(w.ws_col));
		json_object_set_new(body, "height", json_integer(w.ws_row));
	}
}

static int exec_body(struct cli *cli, bool interactive, json_t **ret, struct error *err)
{
	autofree const char **env = NULL;
	autojson json_t *environment = NULL;
	autojson json_t *body = NULL;
	const char *term = getenv("TERM");
	const char *user = cli_flag_string(cli, "user");
	const char *group = cli_flag_string(cli, "group");
	const char *cwd = cli_flag_string(cli, "cwd");
	uint64_t id;
	int r;

	(void)cli_flag_list(cli, "env", &env);
	r = cli_key_values(env, &environment, err);
	if (r < 0)
		return r;
	if (term && !json_object_get(environment, "TERM"))
		json_object_set_new(environment, "TERM", json_string(term));

	body = json_pack("{s:o, s:O, s:b, s:b, s:b}", "command",
			 json_string_array((const char *const *)cli->args + 1), "environment",
			 environment, "interactive", interactive, "wait-for-websocket", true,
			 "record-output", false);
	if (user) {
		if (parse_u64(user, &id) < 0 || id > UINT32_MAX)
			return error_set(err, -EINVAL, "Invalid value '%s' for flag '--user'",
					 user);
		json_object_set_new(body, "user", json_integer((json_int_t)id));
	}
	if (group) {
		if (parse_u64(group, &id) < 0 || id > UINT32_MAX)
			return error_set(err, -EINVAL, "Invalid value '%s' for flag '--group'",
					 group);
		json_object_set_new(body, "group", json_integer((json_int_t)id));
	}
	if (cwd)
		json_object_set_new(body, "cwd", json_string(cwd));
	if (interactive)
		terminal_size(body);
	*ret = take_ptr(body);
	return 0;
}

/* Interactive when stdin and stdout are terminals, or as --mode, -t and -T say. */
static int exec_mode(struct cli *cli, bool *ret, struct error *err)
{
	const char *mode = cli_flag_string(cli, "mode");
	bool force = cli_flag_bool(cli, "force-interactive");
	bool never = cli_flag_bool(cli, "force-noninteractive");

	if (force && never)
		return error_set(err, -EINVAL, "You can't pass -t and -T at the same time");
	if (mode && !streq(mode, "auto") && !streq(mode, "interactive") &&
	    !streq(mode, "non-interactive"))
		return error_set(err, -EINVAL, "Invalid --mode \"%s\"", mode);
	if (force || (mode && streq(mode, "interactive")))
		*ret = true;
	else if (never || (mode && streq(mode, "non-interactive")))
		*ret = false;
	else
		*ret = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	return 0;
}

static int exec_run(struct cli *cli, struct error *err)
{
	autoclean(session_release) struct session s = { .sig.fd = -1 };
	autojson json_t *body = NULL;
	autojson json_t *op = NULL;
	autofree char *path = NULL;
	const char *name;
	long long code = 0;
	int r;

	r = cli_instance_target(cli, cli->args[0], &s.lxd, &name, err);
	if (r < 0)
		return r;
	r = exec_mode(cli, &s.interactive, err);
	if (r < 0)
		return r;
	r = exec_body(cli, s.interactive, &body, err);
	if (r < 0)
		return r;

	r = signals_init(&s.sig, err);
	if (r < 0)
		return r;
	path = cli_instance_path(name, "/exec");
	r = session_start(&s, path, body, err);
	if (r < 0)
		return r;

	s.stdin_open = !cli_flag_bool(cli, "disable-stdin");
	if (!s.stdin_open)
		stdin_end(&s);
	if (s.interactive && s.stdin_open)
		tty_make_raw(&s.tty, STDIN_FILENO);

	r = session_pump(&s, err);
	tty_restore(&s.tty);
	if (r < 0)
		return r;

	r = lxd_operation_wait(s.lxd, s.op, -1, &op, err);
	if (r < 0)
		return r;
	(void)json_get_int(json_object_get(op, "metadata"), "return", &code);
	cli->exit_code = (int)code;
	return 0;
}

static int console_log(struct cli *cli, struct lxd_client *lxd, const char *name, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *path = cli_instance_path(name, "/console");
	int r;

	r = lxd_do(lxd, &(struct http_request){ .method = "GET", .target = path }, &resp, err);
	if (r < 0)
		return r;
	printf("\nConsole log:\n\n%.*s\n", (int)resp.body_len, resp.body ? resp.body : "");
	return 0;
}

static int console_run(struct cli *cli, struct error *err)
{
	autoclean(session_release) struct session s = { .sig.fd = -1,
							.interactive = true,
							.console = true };
	autojson json_t *body = NULL;
	autofree char *path = NULL;
	const char *name;
	const char *type = cli_flag_string(cli, "type");
	int r;

	r = cli_instance_target(cli, cli->args[0], &s.lxd, &name, err);
	if (r < 0)
		return r;
	if (cli_flag_bool(cli, "show-log"))
		return console_log(cli, s.lxd, name, err);
	if (type && !streq(type, "console"))
		return error_set(err, -EOPNOTSUPP, "Unknown console type \"%s\"", type);

	body = json_pack("{s:s}", "type", "console");
	terminal_size(body);
	r = signals_init(&s.sig, err);
	if (r < 0)
		return r;
	path = cli_instance_path(name, "/console");
	r = session_start(&s, path, body, err);
	if (r < 0)
		return r;

	printf("To detach from the console, press: <ctrl>+a q\n");
	(void)fflush(stdout);
	s.stdin_open = true;
	tty_make_raw(&s.tty, STDIN_FILENO);
	r = session_pump(&s, err);
	tty_restore(&s.tty);
	/* Closing the control websocket detaches: the server ends the operation. */
	if (s.control)
		(void)ws_close(s.control, WS_CLOSE_NORMAL, "", NULL);
	if (s.detached)
		printf("\n");
	return r;
}

const struct command command_exec = {
	.name = "exec",
	.args = "[<remote>:]<instance> [flags] [--] <command line>",
	.summary = "Execute commands in instances",
	.description =
		"The command is executed directly using exec, so there is no shell and shell\n"
		"patterns (variables, file redirects, ...) won't be understood. If you need a\n"
		"shell environment you need to execute the shell executable, passing the shell\n"
		"commands as arguments, for example:\n\n"
		"  lodge exec <instance> -- sh -c \"cd /tmp && pwd\"\n\n"
		"Mode defaults to non-interactive, interactive mode is selected if both stdin\n"
		"AND stdout are terminals (stderr is ignored). The exit code is the command's.",
	.flags =
		(const struct cli_flag[]){
			{ "env", 0, CLI_FLAG_LIST, "KEY=VALUE",
			  "Environment variable to set (e.g. HOME=/home/foo)" },
			{ "mode", 0, CLI_FLAG_STRING, "MODE",
			  "Override the terminal mode (auto, interactive or non-interactive)" },
			{ "disable-stdin", 'n', CLI_FLAG_BOOL, NULL,
			  "Disable stdin (reads from /dev/null)" },
			{ "force-interactive", 't', CLI_FLAG_BOOL, NULL,
			  "Force pseudo-terminal allocation" },
			{ "force-noninteractive", 'T', CLI_FLAG_BOOL, NULL,
			  "Disable pseudo-terminal allocation" },
			{ "user", 0, CLI_FLAG_STRING, "UID",
			  "User ID to run the command as (default 0)" },
			{ "group", 0, CLI_FLAG_STRING, "GID",
			  "Group ID to run the command as (default 0)" },
			{ "cwd", 0, CLI_FLAG_STRING, "DIR",
			  "Directory to run the command in (default /root)" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 2,
	.max_args = -1,
	.run = exec_run,
};

const struct command command_console = {
	.name = "console",
	.args = "[<remote>:]<instance>",
	.summary = "Attach to instance consoles",
	.description = "This command allows you to interact with the boot console of an instance\n"
		       "as well as retrieve past log entries from it. Detach with ctrl+a q.",
	.flags =
		(const struct cli_flag[]){
			{ "show-log", 0, CLI_FLAG_BOOL, NULL,
			  "Retrieve the instance's console log" },
			{ "type", 't', CLI_FLAG_STRING, "TYPE",
			  "Type of connection to establish: 'console' for serial console" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 1,
	.max_args = 1,
	.run = console_run,
};
