#include "instance/lxc-mount.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/macro.h"
#include "lib/str.h"
#include "storage/mount.h"

#include "lib/banned.h"

#define TARGET_MAX 4096

/* Runs fn(arg) in a child that enters the mount namespace mntns_fd (which changes its root
 * and working directory to that namespace's root: the container's). The child was forked
 * from a threaded process, so it makes system calls only. Returns the child's errno (0 on
 * success) as a negative number. */
static int in_mount_ns(int mntns_fd, int (*fn)(void *arg), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int e = 0;

		if (setns(mntns_fd, CLONE_NEWNS) < 0)
			e = errno;
		else
			e = fn(arg);
		_exit(e > 255 ? EIO : e);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -EIO;
	return -WEXITSTATUS(status);
}

struct inject {
	int tree_fd;
	int userns_fd; /* -1: the container shares our user namespace (privileged) */
	bool is_dir;
	char target[TARGET_MAX];
};

/* In the container: the missing parents of the target, the target itself (a directory or
 * an empty file, as the source is), then the mount. Symlinks resolve inside the container:
 * its root is ours now. */
static int inject_child(void *arg)
{
	struct inject *in = arg;
	int fd;

	/* As the container's root: host root has no id on its idmapped root filesystem, so
	 * the directories it would make fail with EOVERFLOW. */
	if (in->userns_fd >= 0 && (setns(in->userns_fd, CLONE_NEWUSER) < 0 ||
				   setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return errno;

	for (char *s = in->target + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(in->target, 0755) < 0 && errno != EEXIST)
			return errno;
		*s = '/';
	}
	if (in->is_dir) {
		if (mkdir(in->target, 0755) < 0 && errno != EEXIST)
			return errno;
	} else {
		fd = open(in->target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return errno;
		if (fd >= 0)
			(void)close(fd);
	}
	if (move_mount(in->tree_fd, "", AT_FDCWD, in->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return errno;
	return 0;
}

static int eject_child(void *arg)
{
	const char *target = arg;

	if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		return errno;
	return 0;
}

static int ns_open(pid_t pid, const char *ns, int *ret, struct error *err)
{
	char path[64];

	if (!snprintf_ok(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns))
		return error_set(err, -EINVAL, "Invalid pid");
	*ret = open(path, O_RDONLY | O_CLOEXEC);
	if (*ret < 0)
		return error_errno(err, -errno, "Failed to open the %s namespace of the container",
				   ns);
	return 0;
}

/* True when the namespace fd is the caller's own user namespace. */
static bool ns_is_ours(int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int lxc_mount_inject(pid_t pid, const char *source, const char *target, bool idmap, bool readonly,
		     bool recursive, struct error *err)
{
	autoclose int src_fd = -1, userns_fd = -1, mntns_fd = -1;
	struct inject in = { .tree_fd = -1 };
	struct stat st;
	int r;

	if (!snprintf_ok(in.target, sizeof(in.target), "%s", target) || target[0] != '/')
		return error_set(err, -EINVAL, "Invalid mount target '%s'", target);
	src_fd = open(source, O_PATH | O_CLOEXEC);
	if (src_fd < 0 || fstat(src_fd, &st) < 0)
		return error_errno(err, -errno, "Source '%s' is not usable", source);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return error_set(err, -EOPNOTSUPP,
				 "Only directories and files can be mounted, not '%s'", source);
	in.is_dir = S_ISDIR(st.st_mode);
	r = ns_open(pid, "mnt", &mntns_fd, err);
	if (r == 0)
		r = ns_open(pid, "user", &userns_fd, err);
	if (r == 0)
		r = mount_tree_clone(src_fd, idmap ? userns_fd : -1, readonly, recursive, source,
				     &in.tree_fd, err);
	if (r < 0)
		return r;
	in.userns_fd = ns_is_ours(userns_fd) ? -1 : userns_fd;
	r = in_mount_ns(mntns_fd, inject_child, &in);
	(void)close(in.tree_fd);
	if (r < 0)
		return error_errno(err, r, "Failed to mount '%s' on '%s' in the container", source,
				   target);
	return 0;
}

int lxc_mount_eject(pid_t pid, const char *target, struct error *err)
{
	autoclose int mntns_fd = -1;
	char path[TARGET_MAX];
	int r;

	if (!snprintf_ok(path, sizeof(path), "%s", target) || target[0] != '/')
		return error_set(err, -EINVAL, "Invalid mount target '%s'", target);
	r = ns_open(pid, "mnt", &mntns_fd, err);
	if (r < 0)
		return r;
	r = in_mount_ns(mntns_fd, eject_child, path);
	if (r < 0)
		return error_errno(err, r, "Failed to unmount '%s' in the container", target);
	return 0;
}
