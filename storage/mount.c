/* storage/mount.c: overlays and idmapped mounts for volumes (see mount.h). */
#include "storage/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

static int write_map(pid_t pid, const char *file, uint32_t base, uint32_t count, struct error *err)
{
	char path[64], line[64];
	autoclose int fd = -1;

	if (!snprintf_ok(path, sizeof(path), "/proc/%d/%s", (int)pid, file) ||
	    !snprintf_ok(line, sizeof(line), "0 %u %u\n", base, count))
		abort();
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	if (write(fd, line, strlen(line)) < 0)
		return error_errno(err, -errno, "Failed to write the id map '%s'", line);
	return 0;
}

static void wait_child(pid_t pid, int *ret_status)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret_status)
		*ret_status = status;
}

/* Closes *fd and forgets it, so a later close does not hit a reused number. */
static void fd_close(int *fd)
{
	closep(fd);
	*fd = -1;
}

/* The child of userns_fd_new(): born in the new user namespace, it only waits for its
 * parent to close the pipe. It shares our memory (CLONE_VM), so it touches nothing else. */
static int userns_child(void *arg)
{
	const int *hold = arg;
	char c;

	/* Raw system calls only: libc's wrappers (and a sanitizer's interceptors of them)
	 * would use the thread state we share with the parent. Our copy of the descriptor
	 * table has the write end too: without closing it, the read would never see the
	 * parent's close. */
	(void)syscall(SYS_close, hold[1]);
	(void)syscall(SYS_read, hold[0], &c, 1);
	(void)syscall(SYS_exit, 0);
	return 0;
}

int userns_fd_new(const struct storage_idmap *idmap, int *ret_fd, struct error *err)
{
	/* Enough for read() and _exit() on any architecture we build for. */
	enum { STACK_SIZE = 64 * 1024 };
	int hold[2] = { -1, -1 };
	autofree int *child_fds = xmalloc(2 * sizeof(int));
	autofree char *stack = NULL;
	sigset_t all, old;
	char path[64];
	int fd = -1, r = 0, saved_errno;
	pid_t pid;

	if (idmap->uid_count == 0 || idmap->gid_count == 0)
		return error_set(err, -EINVAL, "Invalid id map: empty range");
	if (pipe2(hold, O_CLOEXEC) < 0)
		return error_errno(err, -errno, "Failed to create a pipe");

	/* The child is created in the namespace and waits (on hold) while we write its maps
	 * and take a descriptor; the namespace lives on through the descriptor. CLONE_VM:
	 * copying the page tables of this large, threaded process (fork) cost tens of ms. */
	stack = xmalloc(STACK_SIZE);
	/* The child runs no signal handler: a handler would run on our memory. It inherits
	 * this thread's mask with everything blocked. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The child reads its own copy: we reset hold[] while it may not have run yet. */
	child_fds[0] = hold[0];
	child_fds[1] = hold[1];
	pid = clone(userns_child, stack + STACK_SIZE, CLONE_NEWUSER | CLONE_VM | SIGCHLD,
		    child_fds);
	saved_errno = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved_errno;
	if (pid < 0) {
		r = error_errno(err, -errno, "Failed to create a user namespace");
		goto out;
	}
	r = write_map(pid, "uid_map", idmap->uid_base, idmap->uid_count, err);
	if (r < 0)
		goto out_child;
	r = write_map(pid, "gid_map", idmap->gid_base, idmap->gid_count, err);
	if (r < 0)
		goto out_child;
	if (!snprintf_ok(path, sizeof(path), "/proc/%d/ns/user", (int)pid))
		abort();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = error_errno(err, -errno, "Failed to open '%s'", path);

out_child:
	fd_close(&hold[1]); /* lets the child exit */
	wait_child(pid, NULL);
out:
	fd_close(&hold[0]);
	fd_close(&hold[1]);
	if (r < 0)
		return r;
	*ret_fd = fd;
	return 0;
}

int mount_tree_clone(int dir_fd, int userns_fd, bool readonly, bool recursive, const char *what,
		     int *ret_fd, struct error *err)
{
	struct mount_attr attr = { .attr_set = (userns_fd >= 0 ? MOUNT_ATTR_IDMAP : 0) |
					       (readonly ? MOUNT_ATTR_RDONLY : 0),
				   .userns_fd = userns_fd >= 0 ? (uint64_t)userns_fd : 0 };
	autoclose int fd = -1;

	fd = open_tree(dir_fd, "",
		       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
			       (recursive ? AT_RECURSIVE : 0));
	if (fd < 0)
		return error_errno(err, -errno, "Failed to clone the mount of '%s'", what);
	if (attr.attr_set && mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
					   &attr, sizeof(attr)) < 0)
		return error_errno(err, -errno, "Failed to %s '%s'",
				   userns_fd >= 0 ? "idmap" : "make read-only", what);
	*ret_fd = take_fd(fd);
	return 0;
}

/* A detached clone of the directory dir_fd, idmapped through userns_fd. */
static int idmapped_clone(int dir_fd, int userns_fd, const char *what, int *ret_fd,
			  struct error *err)
{
	return mount_tree_clone(dir_fd, userns_fd, false, false, what, ret_fd, err);
}

/* The layers of one overlay, as descriptors. */
struct overlay_layers {
	const int *lower_fds;
	unsigned n_lower;
	int upper_fd, work_fd; /* -1: a read-only overlay */
	int target_fd;
};

/* Creates and attaches the overlay. Returns 0 or a negative errno, and describes a failure
 * in msg (step and, when the kernel logged one, its reason). Usable in a forked child:
 * only syscalls and snprintf on caller memory. */
static int overlay_attach(const struct overlay_layers *l, char *msg, size_t msg_size)
{
	const char *step = "fsopen";
	autoclose int fs = -1, mnt = -1;
	int r = 0;

	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		goto fail;
	step = "lowerdir+";
	for (unsigned i = 0; i < l->n_lower; i++)
		if (fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, l->lower_fds[i]) < 0)
			goto fail;
	if (l->upper_fd >= 0) {
		step = "upperdir";
		if (fsconfig(fs, FSCONFIG_SET_FD, "upperdir", NULL, l->upper_fd) < 0)
			goto fail;
		step = "workdir";
		if (fsconfig(fs, FSCONFIG_SET_FD, "workdir", NULL, l->work_fd) < 0)
			goto fail;
	}
	step = "create";
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;
	step = "fsmount";
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, l->upper_fd >= 0 ? 0 : MOUNT_ATTR_RDONLY);
	if (mnt < 0)
		goto fail;
	step = "move_mount";
	if (move_mount(mnt, "", l->target_fd, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		goto fail;
	return 0;

fail:
	r = -errno;
	if (msg_size > 0) {
		char log[256] = "";
		ssize_t n = fs >= 0 ? read(fs, log, sizeof(log) - 1) : -1;

		/* The fs context keeps the kernel's reason as "e overlayfs: ...". */
		if (n > 0) {
			log[n] = '\0';
			log[strcspn(log, "\n")] = '\0';
		}
		(void)snprintf_ok(msg, msg_size, "%s: %s%s%s", step, strerror(-r),
				  n > 0 ? ", " : "", n > 0 ? log : "");
	}
	return r;
}

/* Drops to the mapped root ids while keeping every capability, then creates the overlay:
 * overlayfs does its work on the layers with these credentials. Runs in a forked child. */
static int overlay_attach_as(const struct overlay_layers *l, const struct storage_idmap *idmap,
			     char *msg, size_t msg_size)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	/* Raw syscalls: the child of a threaded process changes only its own credentials. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || syscall(SYS_setgroups, 0, NULL) < 0 ||
	    syscall(SYS_setresgid, idmap->gid_base, idmap->gid_base, idmap->gid_base) < 0 ||
	    syscall(SYS_setresuid, idmap->uid_base, idmap->uid_base, idmap->uid_base) < 0 ||
	    syscall(SYS_capget, &hdr, data) < 0)
		goto fail;
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		goto fail;
	return overlay_attach(l, msg, msg_size);

fail:
	(void)snprintf_ok(msg, msg_size, "switching to the mapped ids: %s", strerror(errno));
	return -errno;
}

static int overlay_attach_in_child(const struct overlay_layers *l,
				   const struct storage_idmap *idmap, const char *what,
				   struct error *err)
{
	int pipefd[2];
	char msg[512] = "";
	int status = 0, r;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_errno(err, -errno, "Failed to create a pipe");
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(pipefd[0]);
		(void)close(pipefd[1]);
		return error_errno(err, r, "Failed to fork");
	}
	if (pid == 0) {
		(void)close(pipefd[0]);
		r = overlay_attach_as(l, idmap, msg, sizeof(msg));
		if (r < 0)
			(void)write_all_fd(pipefd[1], msg, strlen(msg));
		_exit(r < 0 ? (-r & 0xff) : 0);
	}
	(void)close(pipefd[1]);
	do
		n = read(pipefd[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	msg[n > 0 ? n : 0] = '\0';
	(void)close(pipefd[0]);
	wait_child(pid, &status);

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	r = WIFEXITED(status) && WEXITSTATUS(status) ? -WEXITSTATUS(status) : -EIO;
	return error_set(err, r, "Failed to mount the overlay of '%s' (%s)", what,
			 msg[0] ? msg : "helper process failed");
}

int mount_overlay(int lower_fd, int vol_fd, const char *upper_name, const char *work_name,
		  int target_fd, const struct storage_idmap *idmap, const char *what,
		  struct error *err)
{
	autoclose int userns = -1, lower = -1, vol = -1, upper = -1, work = -1;
	struct overlay_layers l = { .n_lower = 1, .target_fd = target_fd };
	char msg[512];
	int r;

	if (idmap) {
		r = userns_fd_new(idmap, &userns, err);
		if (r < 0)
			return r;
		r = idmapped_clone(lower_fd, userns, what, &lower, err);
		if (r < 0)
			return r;
		/* upper and work must share one mount: clone their parent. */
		r = idmapped_clone(vol_fd, userns, what, &vol, err);
		if (r < 0)
			return r;
	} else {
		lower = fcntl(lower_fd, F_DUPFD_CLOEXEC, 3);
		vol = fcntl(vol_fd, F_DUPFD_CLOEXEC, 3);
		if (lower < 0 || vol < 0)
			return error_errno(err, -errno, "Failed to duplicate a descriptor");
	}

	upper = open_beneath(vol, upper_name, O_PATH | O_DIRECTORY, 0);
	if (upper < 0)
		return error_errno(err, upper, "Failed to open the upper layer of '%s'", what);
	work = open_beneath(vol, work_name, O_PATH | O_DIRECTORY, 0);
	if (work < 0)
		return error_errno(err, work, "Failed to open the work directory of '%s'", what);

	l.lower_fds = &lower;
	l.upper_fd = upper;
	l.work_fd = work;
	if (idmap)
		return overlay_attach_in_child(&l, idmap, what, err);

	r = overlay_attach(&l, msg, sizeof(msg));
	if (r < 0)
		return error_set(err, r, "Failed to mount the overlay of '%s' (%s)", what, msg);
	return 0;
}

int mount_overlay_ro(const int *lower_fds, unsigned n, int target_fd, const char *what,
		     struct error *err)
{
	struct overlay_layers l = {
		.lower_fds = lower_fds,
		.n_lower = n,
		.upper_fd = -1,
		.work_fd = -1,
		.target_fd = target_fd,
	};
	char msg[512];
	int r;

	r = overlay_attach(&l, msg, sizeof(msg));
	if (r < 0)
		return error_set(err, r, "Failed to mount the overlay of '%s' (%s)", what, msg);
	return 0;
}

int mount_idmapped_bind(int src_fd, int target_fd, const struct storage_idmap *idmap,
			const char *what, struct error *err)
{
	autoclose int userns = -1, mnt = -1;
	int r;

	r = userns_fd_new(idmap, &userns, err);
	if (r < 0)
		return r;
	r = idmapped_clone(src_fd, userns, what, &mnt, err);
	if (r < 0)
		return r;
	if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return error_errno(err, -errno, "Failed to mount the idmapped view of '%s'", what);
	return 0;
}

bool mount_is_root(int dir_fd, const char *name)
{
	struct statx stx;

	if (statx(dir_fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int mount_unmount(const char *path, struct error *err)
{
	if (umount2(path, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOENT)
		return 0; /* not a mount point (any more) */
	if (errno == EBUSY) {
		log_debug("'%s' is busy, detaching it lazily", path);
		if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) == 0)
			return 0;
	}
	return error_errno(err, -errno, "Failed to unmount '%s'", path);
}
