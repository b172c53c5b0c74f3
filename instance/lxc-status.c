#include "instance/lxc-status.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/list.h"
#include "lib/macro.h"
#include "lib/str.h"

#include "lib/banned.h"

struct status_entry {
	struct list_head link;
	char *key;
	pid_t pid;
	int pidfd;
	int nl_sock; /* -1, or a netlink socket in its network namespace */
	bool frozen;
};

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head status_entries = LIST_HEAD_INIT(status_entries);

static struct status_entry *entry_find(const char *key)
{
	struct list_head *pos;

	list_for_each(pos, &status_entries) {
		struct status_entry *e = list_entry(pos, struct status_entry, link);

		if (streq(e->key, key))
			return e;
	}
	return NULL;
}

static void entry_free(struct status_entry *e)
{
	list_del(&e->link);
	closep(&e->pidfd);
	closep(&e->nl_sock);
	free(e->key);
	free(e);
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

int lxc_status_cached(const char *key, pid_t *ret_pid, bool *ret_frozen)
{
	struct status_entry *e;
	int r = 0;

	pthread_mutex_lock(&status_lock);
	e = entry_find(key);
	if (e && pidfd_exited(e->pidfd)) {
		entry_free(e);
		e = NULL;
	}
	if (e) {
		*ret_pid = e->pid;
		*ret_frozen = e->frozen;
		r = 1;
	}
	pthread_mutex_unlock(&status_lock);
	return r;
}

void lxc_status_remember(const char *key, pid_t pid, bool frozen)
{
	int pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
	struct status_entry *e, *old;

	if (pidfd < 0) {
		lxc_status_forget(key);
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->pid = pid;
	e->pidfd = pidfd;
	e->nl_sock = -1;
	e->frozen = frozen;
	pthread_mutex_lock(&status_lock);
	old = entry_find(key);
	if (old)
		entry_free(old);
	list_add_tail(&e->link, &status_entries);
	pthread_mutex_unlock(&status_lock);
}

void lxc_status_set_frozen(const char *key, bool frozen)
{
	struct status_entry *e;

	pthread_mutex_lock(&status_lock);
	e = entry_find(key);
	if (e)
		e->frozen = frozen;
	pthread_mutex_unlock(&status_lock);
}

void lxc_status_forget(const char *key)
{
	struct status_entry *e;

	pthread_mutex_lock(&status_lock);
	e = entry_find(key);
	if (e)
		entry_free(e);
	pthread_mutex_unlock(&status_lock);
}

int lxc_status_netlink_take(const char *key, pid_t pid)
{
	struct status_entry *e;
	int sock = -1;

	pthread_mutex_lock(&status_lock);
	e = entry_find(key);
	if (e && e->pid == pid) {
		sock = e->nl_sock;
		e->nl_sock = -1;
	}
	pthread_mutex_unlock(&status_lock);
	return sock;
}

void lxc_status_netlink_give(const char *key, pid_t pid, int sock)
{
	struct status_entry *e;

	pthread_mutex_lock(&status_lock);
	e = entry_find(key);
	if (e && e->pid == pid && e->nl_sock < 0) {
		e->nl_sock = sock;
		sock = -1;
	}
	pthread_mutex_unlock(&status_lock);
	closep(&sock);
}

int lxc_status_probe(const char *lxcpath, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	autoclose int fd = -1;
	size_t len;

	/* liblxc's name: "\0<lxcpath>/<name>/command", hashed when longer than sun_path
	 * (then we cannot tell: liblxc decides). */
	if (!snprintf_ok(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "%s/%s/command", lxcpath, name))
		return -1;
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, (socklen_t)len) == 0)
		return 0;
	return errno == ECONNREFUSED ? 1 : -1;
}
