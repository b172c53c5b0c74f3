#include <errno.h>
/* <errno.h> first: LXC_ATTACH_OPTIONS_DEFAULT uses EBADF. */
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instance/lxc-attach.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/str.h"

#include "lib/banned.h"

/* A request: this header, then NUL-terminated strings: lxcpath, name, cwd, argc arguments
 * and envc environment entries; with it, four descriptors: stdin, stdout, stderr and the
 * write end of the status pipe. */
struct attach_header {
	uint32_t magic;
	uint32_t uid, gid;
	uint32_t argc, envc;
};

struct attach_reply {
	int32_t r; /* 0 or a negative errno */
	int32_t pid;
};

#define ATTACH_MAGIC   0x6c6f6461u /* "loda" */
#define ATTACH_MAX     (2u << 20)  /* bytes in one request: ARG_MAX's order */
#define ATTACH_FDS     4
#define ATTACH_SOCKBUF ((int)ATTACH_MAX + 65536)
/* An attach that takes longer is stuck (liblxc waiting on a hung container). */
#define ATTACH_TIMEOUT_S 30

/* --- the helper --------------------------------------------------------------------- */

struct attach_child {
	pid_t pid;
	int status_fd;
};

struct attach_payload {
	char **argv;
	char **envp;
};

/* Runs in the attached process, in the container, as the target user. */
static int attach_exec(void *data)
{
	struct attach_payload *p = data;
	/* The kernel's struct sigaction, all zero: SIG_DFL, whatever the architecture's
	 * layout. glibc's sigaction() refuses its internal signals (32, 33), which
	 * posix_spawn() leaves ignored in what a threaded process spawns. */
	const uint64_t sig_dfl[8] = { 0 };
	sigset_t none;

	/* The helper blocks SIGCHLD for its signalfd and lodged ignores SIGPIPE: the process
	 * starts with the defaults, as any process would. */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, sig_dfl, NULL, (size_t)8);
	/* Only 0-2 go in (deps.md: attach passes every descriptor on). */
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	environ = p->envp;
	(void)execvp(p->argv[0], p->argv);
	return errno == ENOENT ? 127 : 126;
}

/* Splits n NUL-terminated strings off *pos into a NULL-terminated vector, or NULL when
 * the buffer ends first. The strings stay in the buffer. */
static char **take_strings(char **pos, const char *end, uint32_t n)
{
	char **v;

	if (n > ATTACH_MAX / 2)
		return NULL;
	v = xcalloc((size_t)n + 1, sizeof(char *));
	for (uint32_t i = 0; i < n; i++) {
		char *nul = memchr(*pos, '\0', (size_t)(end - *pos));

		if (!nul) {
			free(v);
			return NULL;
		}
		v[i] = *pos;
		*pos = nul + 1;
	}
	return v;
}

static int helper_attach(char *buf, size_t len, const int fds[ATTACH_FDS], pid_t *ret_pid)
{
	const char *end = buf + len;
	struct attach_header h;
	char *pos = buf + sizeof(h);
	autofree char **head = NULL, **argv = NULL, **envp = NULL;
	struct lxc_container *c;
	lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
	struct attach_payload payload;
	pid_t pid = -1;
	int r;

	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != ATTACH_MAGIC || h.argc == 0)
		return -EPROTO;
	head = take_strings(&pos, end, 3);
	argv = head ? take_strings(&pos, end, h.argc) : NULL;
	envp = argv ? take_strings(&pos, end, h.envc) : NULL;
	if (!envp)
		return -EPROTO;

	c = lxc_container_new(head[1], head[0]);
	if (!c)
		return -ENOMEM;
	payload.argv = argv;
	payload.envp = envp;
	opts.env_policy = LXC_ATTACH_CLEAR_ENV;
	opts.uid = (uid_t)h.uid;
	opts.gid = (gid_t)h.gid;
	opts.initial_cwd = head[2];
	opts.stdin_fd = fds[0];
	opts.stdout_fd = fds[1];
	opts.stderr_fd = fds[2];
	/* The attached process is created with CLONE_PARENT by liblxc's intermediate: it is
	 * our child, and ours to reap. */
	r = c->attach(c, attach_exec, &payload, &opts, &pid);
	(void)lxc_container_put(c);
	if (r < 0 || pid <= 0)
		return -ESRCH;
	*ret_pid = pid;
	return 0;
}

static void helper_reap(struct attach_child **children, size_t *n)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < *n; i++) {
			if ((*children)[i].pid != pid)
				continue;
			(void)write_all_fd((*children)[i].status_fd, &status, sizeof(status));
			closep(&(*children)[i].status_fd);
			(*children)[i] = (*children)[--*n];
			break;
		}
	}
}

/* Receives one request; 0 at the end of the stream. */
static ssize_t helper_recv(int fd, char *buf, size_t size, int fds[ATTACH_FDS])
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * ATTACH_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	for (int i = 0; i < ATTACH_FDS; i++)
		fds[i] = -1;
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t count;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (i < ATTACH_FDS && fds[i] < 0)
				fds[i] = got;
			else
				(void)close(got);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

static int helper_main(int fd)
{
	autofree char *buf = xmalloc(ATTACH_MAX);
	struct attach_child *children = NULL;
	size_t n_children = 0, alloc = 0;
	autoclose int sfd = -1;
	sigset_t mask;

	/* A status pipe whose reader went away (an exec session that ended first) must not
	 * take the helper with it. attach_exec() gives the processes the defaults again. */
	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 1;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
					 { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;
		struct attach_reply reply = { 0 };
		int fds[ATTACH_FDS];
		ssize_t n;
		pid_t pid = -1;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents) {
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			helper_reap(&children, &n_children);
		}
		if (!pfd[0].revents)
			continue;
		n = helper_recv(fd, buf, ATTACH_MAX, fds);
		if (n == 0 || n == -ECONNRESET)
			break;
		if (n > 0 && (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || fds[3] < 0))
			n = -EPROTO;
		reply.r = n < 0 ? (int32_t)n : helper_attach(buf, (size_t)n, fds, &pid);
		reply.pid = pid;
		if (reply.r == 0) {
			if (n_children == alloc) {
				alloc = alloc ? alloc * 2 : 16;
				children = xrealloc(children, alloc * sizeof(*children));
			}
			children[n_children++] = (struct attach_child){ pid, fds[3] };
			fds[3] = -1;
		}
		for (int i = 0; i < ATTACH_FDS; i++)
			closep(&fds[i]);
		if (send(fd, &reply, sizeof(reply), MSG_NOSIGNAL) < 0)
			break;
		/* A process that ended during the attach is reaped at once. */
		helper_reap(&children, &n_children);
	}
	/* lodged is gone: the processes go on, their statuses have nobody to go to. */
	for (size_t i = 0; i < n_children; i++)
		closep(&children[i].status_fd);
	free(children);
	return 0;
}

/* glibc passes a constructor main()'s arguments. _exit: the helper shares nothing worth
 * flushing, and a leak checker has nothing to say about it. */
__attribute__((constructor)) static void helper_catch(int argc, char **argv)
{
	if (argc == 2 && argv && argv[1] && strcmp(argv[1], LXC_ATTACH_HELPER_ARG) == 0)
		_exit(helper_main(3));
}

/* --- lodged's side -------------------------------------------------------------------- */

static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static int helper_fd = -1;
static pid_t helper_pid = -1;

static void helper_forget(void)
{
	int status = 0;

	closep(&helper_fd);
	if (helper_pid > 0) {
		/* Dead already (say why), or stuck: it goes either way. */
		if (waitpid(helper_pid, &status, WNOHANG) == helper_pid)
			log_warn("The attach helper ended (%s %d); starting another",
				 WIFSIGNALED(status) ? "signal" : "exit status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		else {
			(void)kill(helper_pid, SIGKILL);
			(void)waitpid(helper_pid, NULL, 0);
		}
	}
	helper_pid = -1;
}

static int helper_spawn(struct error *err)
{
	static const char *const argv[] = { "lodged", LXC_ATTACH_HELPER_ARG, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int sv[2], size = ATTACH_SOCKBUF;
	int r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_errno(err, -errno, "Failed to make the attach helper's socket");
	/* Requests up to ATTACH_MAX fit in one datagram (root may exceed wmem_max). */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&helper_pid, "/proc/self/exe", &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	(void)close(sv[1]);
	if (r != 0) {
		(void)close(sv[0]);
		helper_pid = -1;
		return error_errno(err, -r, "Failed to start the attach helper");
	}
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO,
			 &(struct timeval){ .tv_sec = ATTACH_TIMEOUT_S }, sizeof(struct timeval));
	helper_fd = sv[0];
	return 0;
}

static void encode_request(struct strbuf *sb, const struct lxc_attach_request *req)
{
	struct attach_header h = { .magic = ATTACH_MAGIC, .uid = req->uid, .gid = req->gid };

	for (char **a = req->argv; *a; a++)
		h.argc++;
	for (char **e = req->envp; e && *e; e++)
		h.envc++;
	strbuf_add(sb, &h, sizeof(h));
	strbuf_add(sb, req->lxcpath, strlen(req->lxcpath) + 1);
	strbuf_add(sb, req->name, strlen(req->name) + 1);
	strbuf_add(sb, req->cwd, strlen(req->cwd) + 1);
	for (char **a = req->argv; *a; a++)
		strbuf_add(sb, *a, strlen(*a) + 1);
	for (char **e = req->envp; e && *e; e++)
		strbuf_add(sb, *e, strlen(*e) + 1);
}

/* One exchange with a running helper: -EPIPE when the helper is gone. */
static int helper_exchange(const struct strbuf *sb, const int fds[ATTACH_FDS],
			   struct attach_reply *ret)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * ATTACH_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = sb->buf, .iov_len = sb->len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * ATTACH_FDS);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * ATTACH_FDS);

	do
		n = sendmsg(helper_fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EMSGSIZE ? -EMSGSIZE : -EPIPE;
	do
		n = recv(helper_fd, ret, sizeof(*ret), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -ETIMEDOUT;
	if (n != (ssize_t)sizeof(*ret))
		return -EPIPE;
	return 0;
}

int lxc_attach_run(const struct lxc_attach_request *req, int *ret_pid, int *ret_status_fd,
		   struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct attach_reply reply = { 0 };
	int status[2];
	int r = -EPIPE;

	encode_request(&sb, req);
	if (sb.len > ATTACH_MAX) {
		strbuf_release(&sb);
		return error_set(err, -E2BIG, "The command and its environment are too long");
	}
	if (pipe2(status, O_CLOEXEC) < 0) {
		strbuf_release(&sb);
		return error_errno(err, -errno, "Failed to make a pipe");
	}

	pthread_mutex_lock(&helper_lock);
	/* A helper that died is replaced, once per request. */
	for (int attempt = 0; attempt < 2 && r == -EPIPE; attempt++) {
		const int fds[ATTACH_FDS] = { req->stdin_fd, req->stdout_fd, req->stderr_fd,
					      status[1] };

		if (helper_fd < 0) {
			r = helper_spawn(err);
			if (r < 0)
				break;
		}
		r = helper_exchange(&sb, fds, &reply);
		/* A stuck attach would hold every later exec behind it: the helper goes, the
		 * next request gets a new one. */
		if (r == -EPIPE || r == -ETIMEDOUT)
			helper_forget();
	}
	pthread_mutex_unlock(&helper_lock);
	strbuf_release(&sb);
	(void)close(status[1]);

	if (r < 0 && error_is_set(err)) {
		/* the helper could not be started: err says why */
	} else if (r == -EPIPE)
		r = error_set(err, -EPIPE, "The attach helper is not answering");
	else if (r == -ETIMEDOUT)
		r = error_set(err, -ETIMEDOUT, "Starting the process timed out after %d s",
			      ATTACH_TIMEOUT_S);
	else if (r == -EMSGSIZE)
		r = error_set(err, -E2BIG, "The command and its environment are too long");
	else if (r == 0 && reply.r < 0)
		r = reply.r == -ESRCH
			    ? -ESRCH
			    : error_set(err, reply.r, "The attach helper refused the request");
	if (r < 0) {
		(void)close(status[0]);
		return r;
	}
	*ret_pid = reply.pid;
	*ret_status_fd = status[0];
	return 0;
}
