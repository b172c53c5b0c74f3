/* daemon/api-exec.c: POST /1.0/instances/{name}/exec and /console, and the operation
 * websockets they hand out (GET /1.0/operations/{id}/websocket?secret=).
 *
 * The protocol is LXD's (../shared/research/lxd-client-compat.md section 6): one websocket
 * per stream, each named by a secret in the operation's metadata.fds. Output goes out as
 * binary frames; the end of a stream is one empty text frame, then the connection closes.
 * The exit code lands in the operation metadata as "return" before the operation ends.
 *
 * Everything after the process starts runs on the loop: the pipes (or the pty master) and
 * the driver's status descriptor for the process are polled with libuv, so an exec holds
 * no worker thread while it runs and a thousand idle shells cost a thousand descriptors,
 * not a thousand threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/exec.h"
#include "daemon/http.h"
#include "daemon/operations.h"
#include "daemon/router.h"
#include "instance/instance.h"
#include "instance/lifecycle.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define EXEC_CONNECT_TIMEOUT_MS 5000
#define EXEC_DRAIN_TIMEOUT_MS	1000
#define EXEC_READ_CHUNK		(64u << 10)
/* Stdin waiting for the process: above HIGH the client's stream is paused until the
 * process read it down to LOW; MAX bounds what a client ignoring the pause can queue. */
#define EXEC_STDIN_HIGH (1u << 20)
#define EXEC_STDIN_LOW	(256u << 10)
/* Stdin waiting for the process: above HIGH the client's stream is paused until the
 * process read it down to LOW; MAX bounds what a client ignoring the pause can queue. */
#define EXEC_STDIN_HIGH	       (1u << 20)
#define EXEC_STDIN_LOW	       (256u << 10)
#define EXEC_STDIN_MAX_PENDING (8u << 20)

enum exec_stream {
	STREAM_STDIN,
	STREAM_STDOUT,
	STREAM_STDERR,
	STREAM_CONTROL,
	_STREAM_MAX,
};

static const char *const stream_names[] = { "0", "1", "2", "control" };

struct exec_session;

/* One readable descriptor (a pipe or the pty master) pumped into a websocket. */
struct exec_reader {
	struct exec_session *s;
	int fd;
	enum exec_stream stream; /* the websocket it feeds */
	uv_poll_t poll;
	bool polling;
	bool eof;
};

struct exec_session {
	struct daemon *d;
	struct operation *op; /* a reference */
	char *instance;
	bool console; /* a console attach rather than a process */
	bool interactive;
	bool wait_for_ws;
	char *secrets[_STREAM_MAX];
	struct ws_conn *ws[_STREAM_MAX];
	bool required[_STREAM_MAX];
	json_t *command;
	json_t *environment;
	char *cwd;
	uint32_t uid, gid;
	unsigned width, height;

	/* Process side. */
	bool started;
	int pid;
	int status_fd; /* readable when the process ended: its wait status */
	uv_poll_t pid_poll;
	bool pid_polling;
	int exit_code; /* -1 until known */
	int stdin_fd;  /* write end (or the pty master, shared with the reader) */
	struct strbuf stdin_pending;
	uv_poll_t stdin_poll;
	bool stdin_polling;
	bool stdin_paused; /* the client's stdin stream is paused */
	bool stdin_eof;
	bool io_ready; /* the descriptors exist: stdin is written, no longer kept */
	int pty_master;
	struct exec_reader readers[2];
	unsigned n_readers;
	uv_timer_t timer; /* websocket connect timeout, then output drain timeout */
	bool timer_active;
	bool finished;
	unsigned closing_handles;

	/* Worker result for the start. */
	int start_r;
	struct error start_err;
	int child_fds[3];
	int record_fds[2]; /* record-output: the exec_<id>.stdout/.stderr log files */
};

static void session_maybe_free(struct exec_session *s);
static void stdin_flush(struct exec_session *s);

static void session_handle_closed(uv_handle_t *h)
{
	struct exec_session *s = h->data;

	s->closing_handles--;
	session_maybe_free(s);
}

static void close_handle(struct exec_session *s, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = s;
	s->closing_handles++;
	uv_close(h, session_handle_closed);
}

static void stdin_close(struct exec_session *s)
{
	if (s->stdin_polling) {
		uv_poll_stop(&s->stdin_poll);
		close_handle(s, (uv_handle_t *)&s->stdin_poll);
		s->stdin_polling = false;
	}
	if (s->stdin_fd != s->pty_master)
		closep(&s->stdin_fd);
	s->stdin_fd = -1;
	strbuf_release(&s->stdin_pending);
}

static void session_release_process(struct exec_session *s)
{
	for (unsigned i = 0; i < s->n_readers; i++) {
		struct exec_reader *rd = &s->readers[i];

		if (rd->polling) {
			uv_poll_stop(&rd->poll);
			close_handle(s, (uv_handle_t *)&rd->poll);
			rd->polling = false;
		}
		if (rd->fd >= 0 && rd->fd != s->pty_master)
			closep(&rd->fd);
		rd->fd = -1;
	}
	stdin_close(s);
	closep(&s->pty_master);
	if (s->pid_polling) {
		uv_poll_stop(&s->pid_poll);
		close_handle(s, (uv_handle_t *)&s->pid_poll);
		s->pid_polling = false;
	}
	closep(&s->status_fd);
	if (s->timer_active) {
		uv_timer_stop(&s->timer);
		close_handle(s, (uv_handle_t *)&s->timer);
		s->timer_active = false;
	}
}

static bool session_has_ws(struct exec_session *s)
{
	for (int i = 0; i < _STREAM_MAX; i++)
		if (s->ws[i])
			return true;
	return false;
}

static void session_maybe_free(struct exec_session *s)
{
	if (!s->finished || s->closing_handles > 0 || session_has_ws(s))
		return;
	for (int i = 0; i < _STREAM_MAX; i++)
		free(s->secrets[i]);
	for (int i = 0; i < 3; i++)
		closep(&s->child_fds[i]);
	strbuf_release(&s->stdin_pending);
	json_decref(s->command);
	json_decref(s->environment);
	free(s->cwd);
	free(s->instance);
	error_clear(&s->start_err);
	if (s->op) { /* NULL when the request was refused before the operation */
		s->op->data = NULL;
		operation_unref(s->op);
	}
	free(s);
}

/* Ends the session: closes the streams (barrier first), records the exit code, finishes
 * the operation. Idempotent. */
static void session_finish(struct exec_session *s, const struct error *err)
{
	if (s->finished)
		return;
	s->finished = true;
	session_release_process(s);
	for (int i = 0; i < _STREAM_MAX; i++) {
		if (!s->ws[i])
			continue;
		if (i == STREAM_STDOUT || i == STREAM_STDERR ||
		    (i == STREAM_STDIN && s->interactive))
			(void)ws_conn_send(s->ws[i], false, "", 0);
		ws_conn_close(s->ws[i], 1000);
	}
	if (!s->console)
		operation_merge_metadata(s->op, json_pack("{s:i}", "return", s->exit_code));
	operation_finish(s->op, err);
	session_maybe_free(s);
}

static void session_fail(struct exec_session *s, int code, const char *msg)
{
	struct error err = ERROR_INIT;

	error_set(&err, code, "%s", msg);
	s->exit_code = -1;
	session_finish(s, &err);
	error_clear(&err);
}

/* The process is gone and every output reached EOF (or the drain timed out). */
static void session_check_done(struct exec_session *s)
{
	if (s->finished || s->exit_code < 0 || s->console)
		return;
	for (unsigned i = 0; i < s->n_readers; i++)
		if (!s->readers[i].eof)
			return;
	session_finish(s, NULL);
}

static void reader_stop(struct exec_reader *rd)
{
	rd->eof = true;
	if (rd->polling) {
		uv_poll_stop(&rd->poll);
		close_handle(rd->s, (uv_handle_t *)&rd->poll);
		rd->polling = false;
	}
}

static void on_output(uv_poll_t *p, int status, int events)
{
	struct exec_reader *rd = p->data;
	struct exec_session *s = rd->s;
	char buf[EXEC_READ_CHUNK];
	ssize_t n;

	if (rd->eof)
		return;
	n = read(rd->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EOF, or EIO on a pty whose last writer is gone */
		reader_stop(rd);
		if (s->console)
			session_finish(s, NULL);
		else
			session_check_done(s);
		return;
	}
	if (s->ws[rd->stream])
		(void)ws_conn_send(s->ws[rd->stream], true, buf, (size_t)n);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct exec_session *s = t->data;

	/* Background processes still hold the output open: stop waiting for them. */
	for (unsigned i = 0; i < s->n_readers; i++)
		reader_stop(&s->readers[i]);
	session_check_done(s);
}

static void on_process_exit(uv_poll_t *p, int status, int events)
{
	struct exec_session *s = p->data;
	int wstatus = 0;
	ssize_t n;

	do
		n = read(s->status_fd, &wstatus, sizeof(wstatus));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	uv_poll_stop(&s->pid_poll);
	if (n != (ssize_t)sizeof(wstatus))
		s->exit_code = -1; /* the driver lost it */
	else if (WIFEXITED(wstatus))
		s->exit_code = WEXITSTATUS(wstatus);
	else
		s->exit_code = 128 + (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
	if (s->interactive) {
		/* The pty delivers what the process wrote even after it exited; reads end
		 * with EIO once it is drained. */
	}
	uv_timer_init(&s->d->loop, &s->timer);
	s->timer.data = s;
	s->timer_active = true;
	uv_timer_start(&s->timer, on_drain_timeout, EXEC_DRAIN_TIMEOUT_MS, 0);
	session_check_done(s);
}

static int reader_add(struct exec_session *s, int fd, enum exec_stream stream)
{
	struct exec_reader *rd = &s->readers[s->n_readers];
	int r;

	rd->s = s;
	rd->fd = fd;
	rd->stream = stream;
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	r = uv_poll_init(&s->d->loop, &rd->poll, fd);
	if (r < 0)
		return r;
	rd->poll.data = rd;
	rd->polling = true;
	s->n_readers++;
	return uv_poll_start(&rd->poll, UV_READABLE | UV_DISCONNECT, on_output);
}

/* --- starting the process (worker) -------------------------------------------------------- */

static char **json_to_strv(const json_t *arr)
{
	char **v = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
	{
		v[i] = xstrdup(json_string_value(x));
	}
	return v;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void start_work(void *data)
{
	struct exec_session *s = data;
	struct instance_env env = { .db = s->d->db, .dir = s->d->dir };
	autoclean(instance_freep) struct instance *inst = NULL;
	char **argv = NULL, **envp = NULL;
	const char *key;
	json_t *v;
	size_t n = 0;

	s->start_r = instance_load(s->d->db, s->instance, &inst, &s->start_err);
	if (s->start_r < 0)
		return;
	if (!instance_is_running(&env, inst)) {
		s->start_r = error_set(&s->start_err, -EINVAL, "Instance is not running");
		return;
	}
	if (s->console) {
		s->start_r = inst->driver->console_open(&env, inst, &s->pty_master, &s->start_err);
		return;
	}

	argv = json_to_strv(s->command);
	envp = xcalloc(json_object_size(s->environment) + 1, sizeof(char *));
	json_object_foreach(s->environment, key, v)
	{
		envp[n++] = str_printf("%s=%s", key, json_string_value(v));
	}
	s->start_r = inst->driver->exec(&env, inst,
					&(struct instance_exec_args){
						.argv = argv,
						.envp = envp,
						.cwd = s->cwd,
						.uid = s->uid,
						.gid = s->gid,
						.interactive = s->interactive,
						.width = s->width,
						.height = s->height,
						.stdin_fd = s->child_fds[0],
						.stdout_fd = s->child_fds[1],
						.stderr_fd = s->child_fds[2],
					},
					&s->pid, &s->status_fd, &s->start_err);
	strv_free(argv);
	strv_free(envp);
}

static void start_done(void *data)
{
	struct exec_session *s = data;
	int r;

	for (int i = 0; i < 3; i++)
		if (s->child_fds[i] != s->pty_master)
			closep(&s->child_fds[i]);
	if (s->interactive)
		closep(&s->child_fds[0]); /* the pty slave, given three times */
	for (int i = 0; i < 3; i++)
		s->child_fds[i] = -1;

	if (s->finished) { /* cancelled or the client left while we started */
		if (s->start_r == 0 && s->pid > 0)
			(void)kill(s->pid, SIGKILL);
		session_maybe_free(s);
		return;
	}
	if (s->start_r < 0) {
		s->exit_code = -1;
		session_finish(s, &s->start_err);
		return;
	}
	if (s->console) {
		s->stdin_fd = s->pty_master;
		s->io_ready = true;
		r = reader_add(s, s->pty_master, STREAM_STDIN);
		if (r < 0)
			session_fail(s, r, "Failed to watch the console");
		else
			stdin_flush(s); /* keystrokes sent before the console was open */
		return;
	}

	uv_poll_init(&s->d->loop, &s->pid_poll, s->status_fd);
	s->pid_poll.data = s;
	s->pid_polling = true;
	uv_poll_start(&s->pid_poll, UV_READABLE, on_process_exit);
}

static int session_open_fds(struct exec_session *s, struct error *err)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in[2] = { -1, -1 };
	int master = -1, slave = -1;
	int r;

	if (s->interactive) {
		struct winsize ws = { .ws_row = (unsigned short)(s->height ? s->height : 24),
				      .ws_col = (unsigned short)(s->width ? s->width : 80) };

		if (openpty(&master, &slave, NULL, NULL, &ws) < 0)
			return error_errno(err, -errno, "Failed to allocate a pty");
		(void)fcntl(master, F_SETFD, FD_CLOEXEC);
		(void)fcntl(slave, F_SETFD, FD_CLOEXEC);
		s->pty_master = master;
		s->stdin_fd = master;
		s->child_fds[0] = s->child_fds[1] = s->child_fds[2] = slave;
		s->io_ready = true;
		r = reader_add(s, master, STREAM_STDIN);
		if (r == 0)
			stdin_flush(s); /* keystrokes sent before the start */
		return r;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		int e = -errno;

		closep(&in[0]), closep(&in[1]), closep(&out[0]), closep(&out[1]);
		return error_errno(err, e, "Failed to create pipes");
	}
	s->child_fds[0] = in[0];
	s->stdin_fd = in[1];
	(void)fcntl(s->stdin_fd, F_SETFL, fcntl(s->stdin_fd, F_GETFL) | O_NONBLOCK);
	if (s->record_fds[0] >= 0) {
		/* record-output: the process writes its output into the log files itself. */
		closep(&out[0]), closep(&out[1]), closep(&errp[0]), closep(&errp[1]);
		s->child_fds[1] = take_fd(s->record_fds[0]);
		s->child_fds[2] = take_fd(s->record_fds[1]);
	} else {
		s->child_fds[1] = out[1];
		s->child_fds[2] = errp[1];
		if (reader_add(s, out[0], STREAM_STDOUT) < 0 ||
		    reader_add(s, errp[0], STREAM_STDERR) < 0)
			return error_set(err, -EIO, "Failed to watch the output");
	}
	s->io_ready = true;
	/* What arrived before the start, and maybe its EOF (the stream may be gone by now). */
	if (s->stdin_pending.len > 0 || s->stdin_eof)
		stdin_flush(s);
	else if (!s->ws[STREAM_STDIN])
		stdin_close(s);
	return 0;
}

static void session_start(struct exec_session *s)
{
	struct error err = ERROR_INIT;
	int r;

	if (s->started || s->finished)
		return;
	s->started = true;
	if (s->timer_active) {
		uv_timer_stop(&s->timer);
		close_handle(s, (uv_handle_t *)&s->timer);
		s->timer_active = false;
	}
	if (!s->console) {
		r = session_open_fds(s, &err);
		if (r < 0) {
			s->exit_code = -1;
			session_finish(s, &err);
			error_clear(&err);
			return;
		}
	}
	r = daemon_queue_work(s->d, start_work, start_done, s);
	if (r < 0)
		session_fail(s, r, "Failed to queue the command");
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct exec_session *s = t->data;

	session_fail(s, -ETIMEDOUT, "Timed out waiting for websockets to connect");
}

/* --- websockets ---------------------------------------------------------------------------- */

static enum exec_stream ws_stream(struct exec_session *s, struct ws_conn *ws)
{
	for (int i = 0; i < _STREAM_MAX; i++)
		if (s->ws[i] == ws)
			return (enum exec_stream)i;
	return _STREAM_MAX;
}

static void control_message(struct exec_session *s, const char *data, size_t len)
{
	autojson json_t *msg = NULL;
	const char *command;
	long long sig = 0;

	if (json_parse(data, len, false, &msg, NULL) < 0)
		return;
	command = json_get_str(msg, "command");
	if (command && streq(command, "window-resize") && s->pty_master >= 0) {
		json_t *args = json_object_get(msg, "args");
		uint64_t w = 0, h = 0;

		if (parse_u64(json_get_str(args, "width") ?: "", &w) == 0 &&
		    parse_u64(json_get_str(args, "height") ?: "", &h) == 0 && w < 10000 &&
		    h < 10000) {
			struct winsize ws = { .ws_row = (unsigned short)h,
					      .ws_col = (unsigned short)w };

			(void)ioctl(s->pty_master, TIOCSWINSZ, &ws);
		}
	} else if (command && streq(command, "signal") && json_get_int(msg, "signal", &sig) &&
		   sig > 0 && sig < 65 && s->pid > 0 && s->exit_code < 0) {
		(void)kill(s->pid, (int)sig);
	}
}

/* Back pressure: pause the client's stdin stream while the process is behind. */
static void stdin_throttle(struct exec_session *s)
{
	bool pause = s->stdin_fd >= 0 && s->stdin_pending.len > EXEC_STDIN_HIGH;
	bool resume = s->stdin_pending.len <= EXEC_STDIN_LOW;

	if (!s->ws[STREAM_STDIN] || (pause == s->stdin_paused) || (!pause && !resume))
		return;
	s->stdin_paused = pause;
	ws_conn_pause_rx(s->ws[STREAM_STDIN], pause);
}

static void on_stdin_writable(uv_poll_t *p, int status, int events)
{
	stdin_flush(p->data);
}

/* Writes what stdin has pending without blocking the loop; a pipe that is full gets a
 * writable watch. A pty master is shared with its reader, so a full pty drops input
 * (keystrokes never fill it). */
static void stdin_flush(struct exec_session *s)
{
	if (!s->io_ready)
		return;
	while (s->stdin_fd >= 0 && s->stdin_pending.len > 0) {
		ssize_t n = write(s->stdin_fd, s->stdin_pending.buf, s->stdin_pending.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && s->stdin_fd != s->pty_master) {
			if (!s->stdin_polling) {
				uv_poll_init(&s->d->loop, &s->stdin_poll, s->stdin_fd);
				s->stdin_poll.data = s;
				s->stdin_polling = true;
			}
			uv_poll_start(&s->stdin_poll, UV_WRITABLE, on_stdin_writable);
			return;
		}
		if (n <= 0) {
			strbuf_reset(&s->stdin_pending);
			break;
		}
		memmove(s->stdin_pending.buf, s->stdin_pending.buf + n,
			s->stdin_pending.len - (size_t)n);
		s->stdin_pending.len -= (size_t)n;
	}
	if (s->stdin_polling)
		uv_poll_stop(&s->stdin_poll);
	stdin_throttle(s);
	if (s->stdin_pending.len == 0 && s->stdin_eof && s->stdin_fd != s->pty_master)
		stdin_close(s);
}

static void stdin_write(struct exec_session *s, const void *data, size_t len)
{
	/* lxc sends stdin as soon as stream 0 is connected, maybe before the other streams
	 * are and the process starts: keep it until then. */
	if (s->stdin_fd < 0 && s->io_ready)
		return;
	if (s->stdin_pending.len + len > EXEC_STDIN_MAX_PENDING) {
		stdin_close(s); /* the process does not read: stop feeding it */
		return;
	}
	strbuf_add(&s->stdin_pending, data, len);
	stdin_flush(s);
	stdin_throttle(s);
}

static void session_ws_receive(struct ws_conn *ws, bool binary, const void *data, size_t len)
{
	struct exec_session *s = ws->data;
	enum exec_stream st;

	if (!s)
		return;
	st = ws_stream(s, ws);
	if (st == STREAM_CONTROL) {
		control_message(s, data, len);
		return;
	}
	if (st != STREAM_STDIN || (s->stdin_fd < 0 && s->io_ready))
		return;
	if (!binary && len == 0) {
		/* Stdin EOF. On a pty it means nothing: the terminal stays. */
		if (!s->interactive) {
			s->stdin_eof = true;
			stdin_flush(s);
		}
		return;
	}
	stdin_write(s, data, len);
}

static void session_ws_closed(struct ws_conn *ws)
{
	struct exec_session *s = ws->data;
	enum exec_stream st;

	if (!s)
		return;
	st = ws_stream(s, ws);
	if (st < _STREAM_MAX)
		s->ws[st] = NULL;
	if (!s->finished) {
		if (st == STREAM_CONTROL && s->console) {
			session_finish(s, NULL); /* lxc console detaches by closing control */
		} else if (st == STREAM_CONTROL && s->interactive && s->pid > 0 &&
			   s->exit_code < 0) {
			(void)kill(s->pid, SIGHUP); /* the client went away: hang up */
		} else if (st == STREAM_STDIN && !s->interactive) {
			s->stdin_eof = true;
			stdin_flush(s);
		}
	}
	session_maybe_free(s);
}

static const struct ws_ops session_ws_ops = {
	.receive = session_ws_receive,
	.closed = session_ws_closed,
};

static bool session_all_connected(struct exec_session *s)
{
	for (int i = 0; i < _STREAM_MAX; i++)
		if (s->required[i] && !s->ws[i])
			return false;
	return true;
}

/* Called by GET /1.0/operations/{id}/websocket for operations of this module. */
int exec_websocket_connect(struct operation *op, const char *secret, struct ws_conn *ws)
{
	struct exec_session *s = op->data;

	if (!s || s->finished || !secret)
		return -EPERM;
	for (int i = 0; i < _STREAM_MAX; i++) {
		if (!s->secrets[i] || !streq(s->secrets[i], secret))
			continue;
		if (s->ws[i])
			return -EBUSY; /* a second connect to the same stream */
		s->ws[i] = ws;
		ws->ops = &session_ws_ops;
		ws->data = s;
		if (session_all_connected(s))
			session_start(s);
		return 0;
	}
	return -EPERM;
}

static void session_cancel(struct operation *op)
{
	struct exec_session *s = op->data;

	if (!s)
		return;
	if (s->pid > 0 && s->exit_code < 0)
		(void)kill(s->pid, SIGKILL);
}

static const struct operation_ops exec_ops = {
	.cancel = session_cancel,
};

bool exec_operation_is(const struct operation *op)
{
	return op->ops == &exec_ops;
}

/* --- handlers ------------------------------------------------------------------------------ */

static struct exec_session *session_new(struct api_request *req, const char *instance)
{
	struct exec_session *s = xcalloc(1, sizeof(*s));

	s->d = req->d;
	s->instance = xstrdup(instance);
	s->pid = -1;
	s->status_fd = -1;
	s->stdin_fd = -1;
	s->pty_master = -1;
	s->exit_code = -1;
	s->wait_for_ws = true;
	for (int i = 0; i < 3; i++)
		s->child_fds[i] = -1;
	s->record_fds[0] = s->record_fds[1] = -1;
	return s;
}

static int session_launch(struct api_request *req, struct exec_session *s, const char *desc,
			  json_t *metadata)
{
	autofree char *url = str_printf("/1.0/instances/%s", s->instance);
	autofree char *curl = str_printf("/1.0/containers/%s", s->instance);
	json_t *fds = json_object();
	int r;

	for (int i = 0; i < _STREAM_MAX; i++)
		if (s->secrets[i])
			json_object_set_new(fds, stream_names[i], json_string(s->secrets[i]));
	json_object_set_new(metadata, "fds", fds);

	s->op = operation_new(req->d, s->wait_for_ws ? OPERATION_WEBSOCKET : OPERATION_TASK, desc,
			      json_pack("{s:[s], s:[s]}", "instances", url, "containers", curl),
			      &exec_ops, s);
	s->op->may_cancel = true;
	s->op->metadata = metadata;
	operation_ref(s->op); /* the session's */
	operation_ref(s->op); /* ours, for the reply */
	r = operation_start(s->op);
	if (r == 0) {
		if (s->wait_for_ws) {
			uv_timer_init(&req->d->loop, &s->timer);
			s->timer.data = s;
			s->timer_active = true;
			uv_timer_start(&s->timer, on_connect_timeout, EXEC_CONNECT_TIMEOUT_MS, 0);
		} else {
			session_start(s);
		}
		r = api_reply_async(req, s->op);
	} else {
		r = api_reply_errorf(req, r, "Failed to start the operation");
	}
	operation_unref(s->op);
	return r;
}

static int running_instance(struct api_request *req, struct instance **ret)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct instance_env env = { .db = req->d->db, .dir = req->d->dir };
	int r;

	r = instance_load(req->d->db, api_param(req, "name"), ret, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!instance_is_running(&env, *ret))
		return api_reply_errorf(req, -EINVAL, "Instance is not running");
	return 0;
}

/* Opens logs/<instance>/exec_<random>.stdout/.stderr for record-output and names them in
 * the operation metadata ("output"), where clients find them under /logs. */
static int exec_record_open(struct api_request *req, struct exec_session *s, json_t *metadata)
{
	autofree char *id = random_hex(16);
	autofree char *dir = str_printf("%s/logs/%s", req->d->dir, s->instance);
	autoclose int dirfd = -1;
	json_t *output = json_object();
	static const char *const ext[] = { "stdout", "stderr" };

	json_object_set_new(metadata, "output", output);
	(void)mkdir(dir, 0700);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	for (int i = 0; i < 2; i++) {
		autofree char *name = str_printf("exec_%s.%s", id, ext[i]);

		s->record_fds[i] =
			dirfd < 0 ? -1
				  : open_beneath(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (s->record_fds[i] < 0)
			return api_reply_errorf(req, -EIO, "Failed to create the exec output log");
		json_object_set_new(output, i == 0 ? "1" : "2",
				    json_sprintf("/1.0/instances/%s/logs/%s", s->instance, name));
	}
	return 0;
}

/* POST /1.0/instances/{name}/exec */
static int api_exec_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL;
	struct exec_session *s;
	json_t *command, *env, *v, *metadata;
	const char *key;
	long long n;
	size_t i;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	command = json_object_get(body, "command");
	if (!json_is_array(command) || json_array_size(command) == 0)
		return api_reply_errorf(req, -EINVAL,
					"'command' must be a non-empty array of strings");
	json_array_foreach(command, i, v)
	{
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return api_reply_errorf(req, -EINVAL,
						"'command' must be a non-empty array of strings");
	}
	r = json_check_type(body, "environment", JSON_OBJECT, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	r = running_instance(req, &inst);
	if (r < 0)
		return r;

	s = session_new(req, inst->name);
	s->command = json_incref(command);
	(void)json_get_bool(body, "interactive", &s->interactive);
	(void)json_get_bool(body, "wait-for-websocket", &s->wait_for_ws);
	if (json_get_int(body, "width", &n) && n > 0 && n < 10000)
		s->width = (unsigned)n;
	if (json_get_int(body, "height", &n) && n > 0 && n < 10000)
		s->height = (unsigned)n;
	if (json_get_int(body, "user", &n) && n >= 0 && n < (1LL << 32))
		s->uid = (uint32_t)n;
	if (json_get_int(body, "group", &n) && n >= 0 && n < (1LL << 32))
		s->gid = (uint32_t)n;
	if (!str_is_empty(json_get_str(body, "cwd")))
		s->cwd = xstrdup(json_get_str(body, "cwd"));

	/* LXD's defaults, then the instance's environment.* keys, then the request's. */
	s->environment = json_pack("{s:s, s:s, s:s, s:s}", "PATH",
				   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				   "HOME", s->uid == 0 ? "/root" : "/", "USER",
				   s->uid == 0 ? "root" : "", "LANG", "C.UTF-8");
	json_object_foreach(inst->expanded_config, key, v)
	{
		if (str_has_prefix(key, "environment."))
			json_object_set(s->environment, key + strlen("environment."), v);
	}
	env = json_object_get(body, "environment");
	json_object_foreach(env, key, v)
	{
		if (!json_is_string(v) || strchr(key, '=') || !*key) {
			s->finished = true;
			session_maybe_free(s);
			return api_reply_errorf(req, -EINVAL, "Invalid environment variable '%s'",
						key);
		}
		json_object_set(s->environment, key, v);
	}

	if (s->wait_for_ws) {
		for (int st = 0; st < _STREAM_MAX; st++) {
			if (s->interactive && (st == STREAM_STDOUT || st == STREAM_STDERR))
				continue;
			s->secrets[st] = random_hex(32);
		}
		/* lxc opens control first; pylxd never opens it: only required when interactive. */
		s->required[STREAM_STDIN] = true;
		s->required[STREAM_STDOUT] = !s->interactive;
		s->required[STREAM_STDERR] = !s->interactive;
		s->required[STREAM_CONTROL] = s->interactive;
	}
	/* Without wait-for-websocket the command runs at once: stdin is empty, and the output
	 * is discarded unless record-output keeps it in the instance's log directory. */
	metadata = json_pack("{s:O, s:O, s:b}", "command", command, "environment", s->environment,
			     "interactive", s->interactive);
	if (!s->wait_for_ws && json_is_true(json_object_get(body, "record-output"))) {
		r = exec_record_open(req, s, metadata);
		if (r < 0) {
			json_decref(metadata);
			s->finished = true;
			session_maybe_free(s);
			return r;
		}
	}
	{
		autofree char *source = str_printf("/1.0/instances/%s", inst->name);

		events_lifecycle(req->d->events, req->project, "instance-exec", source,
				 json_pack("{s:O}", "command", command), &req->identity);
	}
	return session_launch(req, s, "Executing command", metadata);
}

/* POST /1.0/instances/{name}/console {"width", "height", "type": "console"} */
static int api_console_post(struct api_request *req)
{
	autoclean(instance_freep) struct instance *inst = NULL;
	autojson json_t *body = NULL;
	struct exec_session *s;
	const char *type;
	long long n;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	type = json_get_str(body, "type");
	if (type && !streq(type, "console"))
		return api_reply_errorf(req, -EOPNOTSUPP,
					"Console type '%s' is not supported for containers", type);
	r = running_instance(req, &inst);
	if (r < 0)
		return r;
	s = session_new(req, inst->name);
	s->console = true;
	s->interactive = true;
	if (json_get_int(body, "width", &n) && n > 0 && n < 10000)
		s->width = (unsigned)n;
	if (json_get_int(body, "height", &n) && n > 0 && n < 10000)
		s->height = (unsigned)n;
	s->secrets[STREAM_STDIN] = random_hex(32);
	s->secrets[STREAM_CONTROL] = random_hex(32);
	s->required[STREAM_STDIN] = true;
	s->required[STREAM_CONTROL] = true;
	return session_launch(req, s, "Showing console", json_object());
}

const struct route api_exec_routes[] = {
	{ .path = "/1.0/instances/{name}/exec", .handlers = { [HTTP_POST] = api_exec_post } },
	{ .path = "/1.0/containers/{name}/exec", .handlers = { [HTTP_POST] = api_exec_post } },
	{ .path = "/1.0/instances/{name}/console", .handlers = { [HTTP_POST] = api_console_post } },
	{ .path = "/1.0/containers/{name}/console",
	  .handlers = { [HTTP_POST] = api_console_post } },
	{},
};
