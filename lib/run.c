#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

extern char **environ;

struct run_pipes {
	int in[2], out[2], err[2];
};

static void close_reset(int *fd)
{
	closep(fd);
	*fd = -1;
}

static void run_pipes_close(struct run_pipes *p)
{
	int *fds[] = { &p->in[0], &p->in[1], &p->out[0], &p->out[1], &p->err[0], &p->err[1] };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		close_reset(fds[i]);
}

/* The message for a failed tool: its stderr on one line, else its exit status. */
static int run_failure(const char *prog, int status, const struct strbuf *errout, struct error *err)
{
	autofree char *text = xstrdup(strbuf_str(errout));
	size_t len = strlen(text);

	/* One line for logs and clients: line breaks and other controls become spaces. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = ' ';
	while (len > 0 && text[len - 1] == ' ')
		text[--len] = '\0';

	if (len > 0)
		return error_set(err, -EIO, "Failed to run '%s': %s", prog, text);
	if (WIFEXITED(status))
		return error_set(err, -EIO, "Failed to run '%s': exit status %d", prog,
				 WEXITSTATUS(status));
	return error_set(err, -EIO, "Failed to run '%s': killed by signal %d", prog,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int run_spawn(const char *const argv[], struct run_pipes *p, pid_t *ret_pid,
		     struct error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, p->in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, p->out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p->err[1], 2);
	/* lodged ignores SIGPIPE and blocks signals in some threads; tools get defaults. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	r = posix_spawnp(ret_pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r == ENOENT)
		return error_set(err, -ENOENT, "Failed to run '%s': not installed", argv[0]);
	if (r != 0)
		return error_errno(err, -r, "Failed to run '%s'", argv[0]);
	return 0;
}

/* Feeds input and drains stdout and stderr until the child closes them. */
static void run_exchange(struct run_pipes *p, const char *input, struct strbuf *out,
			 struct strbuf *errout)
{
	size_t in_len = input ? strlen(input) : 0, in_off = 0;
	char buf[4096];

	if (in_len == 0)
		close_reset(&p->in[1]);

	while (p->out[0] >= 0 || p->err[0] >= 0) {
		struct pollfd fds[3] = {
			{ .fd = p->out[0], .events = POLLIN },
			{ .fd = p->err[0], .events = POLLIN },
			{ .fd = p->in[1], .events = POLLOUT },
		};
		int *ends[2] = { &p->out[0], &p->err[0] };
		struct strbuf *sinks[2] = { out, errout };

		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (size_t i = 0; i < 2; i++) {
			ssize_t n;

			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(*ends[i], buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close_reset(ends[i]);
				continue;
			}
			if (sinks[i]->len < RUN_OUTPUT_MAX)
				strbuf_add(sinks[i], buf,
					   (size_t)n < RUN_OUTPUT_MAX - sinks[i]->len
						   ? (size_t)n
						   : RUN_OUTPUT_MAX - sinks[i]->len);
		}
		if (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = write(p->in[1], input + in_off, in_len - in_off);

			if (n < 0 && errno != EINTR && errno != EAGAIN)
				in_off = in_len; /* the tool closed its stdin: stop feeding */
			else if (n > 0)
				in_off += (size_t)n;
			if (in_off >= in_len)
				close_reset(&p->in[1]);
		}
	}
	close_reset(&p->in[1]);
}

int run_command_full(const char *const argv[], const char *input, char **ret_stdout,
		     struct error *err)
{
	struct run_pipes p = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	struct strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
	pid_t pid = -1;
	int status = 0;
	int r;

	if (pipe2(p.in, O_CLOEXEC) < 0 || pipe2(p.out, O_CLOEXEC) < 0 ||
	    pipe2(p.err, O_CLOEXEC) < 0) {
		r = error_errno(err, -errno, "Failed to run '%s'", argv[0]);
		goto out;
	}
	/* Writing to a tool that exited must not kill us, nor block forever. */
	(void)fcntl(p.in[1], F_SETFL, O_NONBLOCK);

	log_debug("Running '%s'", argv[0]);
	r = run_spawn(argv, &p, &pid, err);
	if (r < 0)
		goto out;
	close_reset(&p.in[0]);
	close_reset(&p.out[1]);
	close_reset(&p.err[1]);

	run_exchange(&p, input, &out, &errout);

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = error_errno(err, -errno, "Failed to wait for '%s'", argv[0]);
			goto out;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = run_failure(argv[0], status, &errout, err);
		goto out;
	}
	if (ret_stdout)
		*ret_stdout = strbuf_detach(&out);
	r = 0;
out:
	run_pipes_close(&p);
	strbuf_release(&out);
	strbuf_release(&errout);
	return r;
}

int run_command(const char *const argv[], struct error *err)
{
	return run_command_full(argv, NULL, NULL, err);
}
