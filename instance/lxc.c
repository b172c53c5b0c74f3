/* instance/lxc.c: system containers through liblxc 5.
 *
 * liblxc reports failure as false, -1 or NULL and explains it only in its log file; every
 * call here is converted at once into a negative errno and a sentence, with the last
 * ERROR line of the container's lxc.log when there is one.
 *
 * State on disk (lxcpath is $LODGE_DIR/containers, liblxc's name the instance name, or
 * "<project>_<name>" outside the default project, as LXD):
 *	containers/<name>/config	the LXC config, rewritten at every start
 *	containers/<name>/seccomp	the seccomp policy
 *	logs/<name>/lxc.log, console.log
 *	devices/<name>/unix.<device>	nodes of unix-char/unix-block devices
 * liblxc finds a running container by lxcpath and name alone (its command socket is
 * "@<lxcpath>/<name>/command" and its monitor outlives lodged), so a restarted daemon
 * reaches containers an earlier one started. We never call liblxc's destroy(): it deletes
 * the rootfs, which belongs to the storage layer.
 */
#include <errno.h>
/* <errno.h> first: LXC_ATTACH_OPTIONS_DEFAULT uses EBADF. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <lxc/lxccontainer.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "instance/instance.h"
#include "instance/lxc-attach.h"
#include "instance/lxc-mount.h"
#include "instance/lxc-status.h"
#include "instance/lxc.h"
#include "lib/config.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/run.h"
#include "lib/str.h"
#include "storage/storage.h"

#include "lib/banned.h"

#define LXC_STOP_TIMEOUT_DEFAULT 30 /* seconds, when the caller passes -1 */
#define LXC_DEFAULT_PATH	 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void lxc_container_putp(struct lxc_container **c)
{
	if (*c)
		(void)lxc_container_put(*c);
}

/* Where one container's files are. */
struct lxc_paths {
	char *name;	   /* liblxc's name */
	char *lxcpath;	   /* $LODGE_DIR/containers */
	char *dir;	   /* lxcpath/name */
	char *config;	   /* dir/config */
	char *seccomp;	   /* dir/seccomp */
	char *log_dir;	   /* $LODGE_DIR/logs/name */
	char *devices_dir; /* $LODGE_DIR/devices/name */
};

static void lxc_paths_release(struct lxc_paths *p)
{
	free(p->name);
	free(p->lxcpath);
	free(p->dir);
	free(p->config);
	free(p->seccomp);
	free(p->log_dir);
	free(p->devices_dir);
	*p = (struct lxc_paths){ 0 };
}

static int lxc_name_for(const char *project, const char *name, char **ret, struct error *err)
{
	/* Snapshots ("c1/snap0") never run, and every name reaches a path. */
	if (!object_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid instance name '%s'",
				 config_value_is_safe(name) ? name : "?");
	if (project && !streq(project, "default")) {
		if (!object_name_is_valid(project))
			return error_set(err, -EINVAL, "Invalid project name");
		*ret = str_printf("%s_%s", project, name);
	} else {
		*ret = xstrdup(name);
	}
	return 0;
}

static int lxc_paths_init(const struct instance_env *env, const char *project, const char *name,
			  struct lxc_paths *ret, struct error *err)
{
	struct lxc_paths p = { 0 };
	int r;

	r = lxc_name_for(project, name, &p.name, err);
	if (r < 0)
		return r;
	p.lxcpath = str_printf("%s/containers", env->dir);
	p.dir = str_printf("%s/%s", p.lxcpath, p.name);
	p.config = str_printf("%s/config", p.dir);
	p.seccomp = str_printf("%s/seccomp", p.dir);
	p.log_dir = str_printf("%s/logs/%s", env->dir, p.name);
	p.devices_dir = str_printf("%s/devices/%s", env->dir, p.name);
	*ret = p;
	return 0;
}

static char *lxc_log_path(const struct lxc_paths *p)
{
	return str_printf("%s/lxc.log", p->log_dir);
}

/* The size of the container's lxc.log, to find what an operation adds to it. */
static off_t lxc_log_size(const struct lxc_paths *p)
{
	autofree char *path = lxc_log_path(p);
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The message of an ERROR line liblxc logged for the container at or after offset since
 * (within the last 16 KiB): the first one, which names the cause when a start fails, or
 * the last one. NULL when there is none. liblxc writes
 * "lxc <name> <time> ERROR    <file> - <src>:<line> - <message>". */
static char *lxc_log_error(const struct lxc_paths *p, off_t since, bool first)
{
	autofree char *path = lxc_log_path(p);
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[16384];
	char *line, *msg = NULL;
	off_t size, from;
	ssize_t n;

	if (fd < 0)
		return NULL;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return NULL;
	from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	if (from < since)
		from = since;
	if (lseek(fd, from, SEEK_SET) < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	for (line = buf; line && *line && !(first && msg);) {
		char *next = strchr(line, '\n');

		if (next)
			*next++ = '\0';
		if (strstr(line, " ERROR ")) {
			char *sep = strstr(line, " - ");

			sep = sep ? strstr(sep + 3, " - ") : NULL;
			if (sep)
				msg = sep + 3;
		}
		line = next;
	}
	return msg && config_value_is_safe(msg) ? xstrdup(msg) : NULL;
}

/* Fails with code and message, adding the first explanation liblxc logged since offset
 * since, or its last one when since is negative. */
static int lxc_fail_since(const struct lxc_paths *p, struct error *err, int code, const char *what,
			  off_t since)
{
	autofree char *why = lxc_log_error(p, since < 0 ? 0 : since, since >= 0);

	if (why)
		return error_set(err, code, "%s: %s", what, why);
	return error_set(err, code, "%s", what);
}

static int lxc_fail(const struct lxc_paths *p, struct error *err, int code, const char *what)
{
	return lxc_fail_since(p, err, code, what, -1);
}

static int lxc_open(const struct lxc_paths *p, struct lxc_container **ret, struct error *err)
{
	struct lxc_container *c = lxc_container_new(p->name, p->lxcpath);

	if (!c) {
		autofree char *what = str_printf("Failed to load the LXC config of '%s'", p->name);

		/* The constant, not lxc_fail()'s result: the analyzer cannot see that one is
		 * negative, and then believes *ret may be used unset. */
		(void)lxc_fail(p, err, -EIO, what);
		return -EIO;
	}
	*ret = c;
	return 0;
}

static enum instance_status lxc_status_of(struct lxc_container *c)
{
	const char *s = c->state(c);

	if (!s)
		return INSTANCE_ERROR;
	if (streq(s, "STOPPED"))
		return INSTANCE_STOPPED;
	if (streq(s, "FROZEN") || streq(s, "FREEZING"))
		return INSTANCE_FROZEN;
	if (streq(s, "RUNNING") || streq(s, "STARTING") || streq(s, "STOPPING") ||
	    streq(s, "THAWED") || streq(s, "ABORTING"))
		return INSTANCE_RUNNING;
	return INSTANCE_ERROR;
}

/* TODO: use instance_status_name() from instance/instance.c once it is merged here. */
static const char *lxc_status_name(enum instance_status s)
{
	switch (s) {
	case INSTANCE_STOPPED:
		return "Stopped";
	case INSTANCE_RUNNING:
		return "Running";
	case INSTANCE_FROZEN:
		return "Frozen";
	case INSTANCE_ERROR:
		break;
	}
	return "Error";
}

static enum instance_status lxc_status_lookup(const struct lxc_paths *p, pid_t *ret_pid);

/* Checks the container runs (or is frozen, when that is allowed) and opens it when ret is
 * not NULL. */
static int lxc_open_running(const struct lxc_paths *p, bool frozen_ok, struct lxc_container **ret,
			    struct error *err)
{
	pid_t pid;
	enum instance_status s = lxc_status_lookup(p, &pid);

	/* Constant codes, as in lxc_open(). */
	if (s == INSTANCE_FROZEN && !frozen_ok) {
		(void)error_set(err, -EBUSY, "Instance '%s' is frozen", p->name);
		return -EBUSY;
	}
	if (s != INSTANCE_RUNNING && s != INSTANCE_FROZEN) {
		(void)error_set(err, -EINVAL, "Instance '%s' is not running", p->name);
		return -EINVAL;
	}
	return ret ? lxc_open(p, ret, err) : 0;
}

/* The status (and init pid, 0 when stopped) of the container, from what the driver
 * remembers when it can (instance/lxc-status.h), else from liblxc. */
static enum instance_status lxc_status_lookup(const struct lxc_paths *p, pid_t *ret_pid)
{
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	enum instance_status s;
	bool frozen = false;
	pid_t pid = 0;

	if (lxc_status_cached(p->dir, &pid, &frozen)) {
		*ret_pid = pid;
		return frozen ? INSTANCE_FROZEN : INSTANCE_RUNNING;
	}
	*ret_pid = 0;
	if (lxc_status_probe(p->lxcpath, p->name) == 1)
		return INSTANCE_STOPPED;
	if (lxc_open(p, &c, NULL) < 0)
		return INSTANCE_ERROR;
	s = lxc_status_of(c);
	if (s == INSTANCE_RUNNING || s == INSTANCE_FROZEN) {
		pid = c->init_pid(c);
		if (pid > 0)
			lxc_status_remember(p->dir, pid, s == INSTANCE_FROZEN);
		*ret_pid = pid > 0 ? pid : 0;
	} else {
		lxc_status_forget(p->dir);
	}
	return s;
}

/* --- volatile keys ------------------------------------------------------------------- */

/* Volatile keys go to both configs: the model stores inst->config. */
static void lxc_instance_volatile_init(struct instance *inst)
{
	if (!inst->config)
		inst->config = json_object();
	if (!inst->expanded_config)
		inst->expanded_config = json_object();
}

static void volatile_put(struct instance *inst, const char *key, const char *value)
{
	const char *cur = json_get_str(inst->expanded_config, key);

	if (cur && streq(cur, value))
		return;
	lxc_instance_volatile_init(inst);
	(void)json_object_set_new(inst->config, key, json_string(value));
	if (inst->expanded_config && inst->expanded_config != inst->config)
		(void)json_object_set_new(inst->expanded_config, key, json_string(value));
}

/* LXD's JSON for volatile.idmap.current and .next. */
static char *idmap_to_lxd_json(const struct idmap *map)
{
	if (!map)
		return xstrdup("[]");
	return str_printf(
		"[{\"Isuid\":true,\"Isgid\":false,\"Hostid\":%llu,\"Nsid\":0,\"Maprange\":%llu},"
		"{\"Isuid\":false,\"Isgid\":true,\"Hostid\":%llu,\"Nsid\":0,\"Maprange\":%llu}]",
		(unsigned long long)map->uid.base, (unsigned long long)map->uid.count,
		(unsigned long long)map->gid.base, (unsigned long long)map->gid.count);
}

/* --- id maps ------------------------------------------------------------------------- */

/* Host ranges other containers' configs give to isolated maps: every "lxc.idmap = u 0"
 * line that does not start at the shared base. */
static size_t idmap_used_ranges(const struct lxc_paths *p, uint64_t shared_base,
				struct idmap_range **ret)
{
	struct idmap_range *used = NULL;
	size_t n = 0;
	DIR *dir = opendir(p->lxcpath);
	struct dirent *de;

	if (!dir) {
		*ret = NULL;
		return 0;
	}
	while ((de = readdir(dir))) {
		autofree char *path = NULL;
		autofree char *text = NULL;
		const char *line;

		if (de->d_name[0] == '.' || streq(de->d_name, p->name))
			continue;
		path = str_printf("%s/%s/config", p->lxcpath, de->d_name);
		if (read_file(path, 1 << 20, &text, NULL, NULL) < 0)
			continue;
		line = strstr(text, "\nlxc.idmap = u 0 ");
		if (line) {
			unsigned long long base, count;

			if (sscanf(line, "\nlxc.idmap = u 0 %llu %llu", &base, &count) == 2 &&
			    base != shared_base) {
				used = xrealloc(used, (n + 1) * sizeof(*used));
				used[n++] = (struct idmap_range){ base, count };
			}
		}
	}
	closedir(dir);
	*ret = used;
	return n;
}

/* The id map of an unprivileged container (ret_privileged when it has none), taking an
 * isolated range when the config asks for one and recording it in volatile.idmap.*. The
 * caller holds the idmap lock until the config with the map is written. */
static int lxc_idmap_for(const struct lxc_paths *p, struct instance *inst, struct idmap *ret,
			 bool *ret_privileged, struct error *err)
{
	const json_t *cfg = inst->expanded_config;
	const char *isolated_s = json_get_str(cfg, "security.idmap.isolated");
	const char *base_s = json_get_str(cfg, "security.idmap.base");
	const char *size_s = json_get_str(cfg, "security.idmap.size");
	const char *vbase_s = json_get_str(cfg, "volatile.idmap.base");
	const char *priv_s = json_get_str(cfg, "security.privileged");
	struct idmap_range uids = { 0, 0 }, gids = { 0, 0 };
	struct idmap map;
	bool privileged = false, isolated = false;
	autofree char *json = NULL;
	char buf[32];
	int r;

	if ((priv_s && parse_bool(priv_s, &privileged) < 0) ||
	    (isolated_s && parse_bool(isolated_s, &isolated) < 0))
		return error_set(
			err, -EINVAL,
			"Invalid value for 'security.privileged' or 'security.idmap.isolated'");
	if (privileged) {
		volatile_put(inst, "volatile.idmap.base", "0");
		volatile_put(inst, "volatile.idmap.current", "[]");
		volatile_put(inst, "volatile.idmap.next", "[]");
		volatile_put(inst, "volatile.last_state.idmap", "[]");
		*ret_privileged = true;
		return 0;
	}

	r = idmap_subid_ensure(IDMAP_SUBUID_PATH, &uids, err);
	if (r == 0)
		r = idmap_subid_ensure(IDMAP_SUBGID_PATH, &gids, err);
	if (r < 0)
		return r;
	if (uids.count < IDMAP_ISOLATED_SIZE || gids.count < IDMAP_ISOLATED_SIZE)
		return error_set(
			err, -ERANGE,
			"Root's ranges in /etc/subuid and /etc/subgid are smaller than 65536 ids");
	map.uid = uids;
	map.gid = gids;
	/* The same number of uids and gids: the smaller allocation decides. */
	if (gids.count < uids.count)
		map.uid.count = gids.count;
	map.gid.count = map.uid.count;

	if (isolated) {
		uint64_t size = IDMAP_ISOLATED_SIZE, base = 0;

		if (size_s &&
		    (parse_u64(size_s, &size) < 0 || size < 65536 || size > map.uid.count))
			return error_set(err, -EINVAL, "Invalid value for 'security.idmap.size'");
		if (base_s) {
			if (parse_u64(base_s, &base) < 0)
				return error_set(err, -EINVAL,
						 "Invalid value for 'security.idmap.base'");
		} else if (vbase_s && parse_u64(vbase_s, &base) == 0 && base != 0) {
			/* Keep the range this container already has. */
		} else {
			autofree struct idmap_range *used = NULL;
			size_t n_used = idmap_used_ranges(p, map.uid.base, &used);

			r = idmap_allocate(&map.uid, used, n_used, size, &base, err);
			if (r < 0)
				return r;
		}
		/* The range is chosen among uids; gids get the same offset in theirs (or the
		 * same base, for a security.idmap.base outside root's uids). */
		map.uid = (struct idmap_range){ base, size };
		map.gid = (struct idmap_range){ base, size };
		if (base >= uids.base)
			map.gid.base = gids.base + (base - uids.base);
		(void)snprintf_ok(buf, sizeof(buf), "%llu", (unsigned long long)base);
		volatile_put(inst, "volatile.idmap.base", buf);
	} else {
		volatile_put(inst, "volatile.idmap.base", "0");
	}
	json = idmap_to_lxd_json(&map);
	volatile_put(inst, "volatile.idmap.current", json);
	volatile_put(inst, "volatile.idmap.next", json);
	volatile_put(inst, "volatile.last_state.idmap", "[]");
	*ret = map;
	*ret_privileged = false;
	return 0;
}

/* Whether liblxc must idmap the rootfs mount: not when the storage layer already mounted
 * it shifted (its root owned by the map's base), and impossible on overlayfs, which the
 * kernel refuses to idmap (mount_setattr() gives EINVAL, checked on 6.18). */
static int lxc_rootfs_needs_idmap(const char *rootfs, const struct idmap *map, bool *ret,
				  struct error *err)
{
	struct statfs sfs;
	struct stat st;

	if (stat(rootfs, &st) < 0 || statfs(rootfs, &sfs) < 0)
		return error_errno(err, -errno, "Cannot use root filesystem '%s'", rootfs);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, -ENOTDIR, "Root filesystem '%s' is not a directory", rootfs);
	if (st.st_uid == map->uid.base && st.st_gid == map->gid.base) {
		*ret = false;
		return 0;
	}
	if (sfs.f_type == OVERLAYFS_SUPER_MAGIC)
		return error_set(
			err, -EOPNOTSUPP,
			"Cannot start an unprivileged container on '%s': an overlayfs mount cannot be idmapped; mount the overlay over idmapped layers, or set security.privileged=true",
			rootfs);
	*ret = true;
	return 0;
}

/* --- config -------------------------------------------------------------------------- */

static int lxc_dirs_make(const struct lxc_paths *p, struct error *err)
{
	int r;

	/* Search permission for others: an unprivileged container's root (a high host uid)
	 * walks these paths while liblxc sets it up. */
	r = mkdir_p(p->lxcpath, 0711, err);
	if (r == 0)
		r = mkdir_p(p->dir, 0711, err);
	if (r == 0)
		r = mkdir_p(p->log_dir, 0700, err);
	return r;
}

static int nodes_make(const struct lxc_paths *p, const struct lxc_conf *conf, struct error *err)
{
	int r;

	if (conf->n_nodes == 0)
		return 0;
	r = mkdir_p(p->devices_dir, 0711, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < conf->n_nodes; i++) {
		const struct lxc_node *n = &conf->nodes[i];
		mode_t type = n->block ? S_IFBLK : S_IFCHR;

		(void)unlink(n->path);
		if (mknod(n->path, type | (n->mode & 0777), makedev(n->major, n->minor)) < 0)
			return error_errno(err, -errno, "Failed to create device node '%s'",
					   n->path);
		if (chown(n->path, (uid_t)n->uid, (gid_t)n->gid) < 0 ||
		    chmod(n->path, n->mode & 0777) < 0)
			return error_errno(err, -errno, "Failed to set the owner of '%s'", n->path);
	}
	return 0;
}

static void nodes_remove(const struct lxc_paths *p)
{
	DIR *dir = opendir(p->devices_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (str_has_prefix(de->d_name, "unix."))
			(void)unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
	(void)rmdir(p->devices_dir);
}

/* The host interface a nic of type t attaches to exists: a bridge for bridged, any
 * interface for macvlan and physical. */
static int nic_link_check(int t, const char *link, const char *devname, struct error *err)
{
	autofree char *path = str_printf(
		t == LXC_NIC_BRIDGED ? "/sys/class/net/%s/bridge" : "/sys/class/net/%s", link);

	if (access(path, F_OK) < 0)
		return error_set(err, -ENOENT, "%s '%s' of device '%s' does not exist",
				 t == LXC_NIC_BRIDGED ? "Bridge" : "Interface", link, devname);
	return 0;
}

/* The host interfaces nics attach to (bridges, macvlan and physical parents) exist. */
static int nic_parents_check(const json_t *devices, struct error *err)
{
	const char *name;
	json_t *dev;

	json_object_foreach((json_t *)devices, name, dev)
	{
		int t = lxc_nictype_of(dev);
		const char *link = json_get_str(dev, "parent");
		int r;

		if (t < 0 || t == LXC_NIC_P2P)
			continue;
		if (!link || !*link)
			link = json_get_str(dev, "network");
		if (!link || !instance_ifname_is_valid(link))
			continue; /* lxc_conf_build() explains */
		r = nic_link_check(t, link, name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Holds an exclusive lock on lxcpath/.idmap.lock while isolated id ranges are chosen. */
static int idmap_lock(const struct lxc_paths *p, int *ret_fd, struct error *err)
{
	autofree char *path = str_printf("%s/.idmap.lock", p->lxcpath);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;

			(void)close(fd);
			return error_errno(err, r, "Failed to lock '%s'", path);
		}
	}
	*ret_fd = fd;
	return 0;
}

/* Fills volatile keys, builds the config and writes it and the seccomp policy. at_start:
 * also checks the rootfs and the bridges and creates the device nodes. */
static int lxc_config_write(const struct instance_env *env, const struct lxc_paths *p,
			    struct instance *inst, bool at_start, struct error *err)
{
	autoclean(lxc_conf_release) struct lxc_conf conf = { 0 };
	autojson json_t *volume_paths = NULL;
	struct lxc_conf_input in;
	struct cgroup_info cg;
	struct lxc_host host;
	struct idmap map;
	bool privileged = true, idmapped = false;
	autoclose int lock_fd = -1;
	int r;

	if (!inst->rootfs)
		return error_set(err, -EINVAL, "Instance '%s' has no root filesystem mounted",
				 inst->name);
	lxc_instance_volatile_init(inst);

	r = cgroup_info_detect(&cg, err);
	if (r == 0)
		r = lxc_host_detect(&host, err);
	if (r == 0)
		r = lxc_dirs_make(p, err);
	if (r == 0)
		r = idmap_lock(p, &lock_fd, err);
	if (r == 0)
		r = lxc_idmap_for(p, inst, &map, &privileged, err);
	if (r == 0)
		r = storage_disk_volume_paths(env->db, env->dir, inst->expanded_devices,
					      &volume_paths, err);
	/* The rootfs is checked at start only: the storage layer may mount it differently
	 * then, and the config is rewritten anyway. */
	idmapped = !privileged;
	if (r == 0 && !privileged && at_start)
		r = lxc_rootfs_needs_idmap(inst->rootfs, &map, &idmapped, err);
	if (r < 0)
		return r;
	(void)lxc_volatile_fill(inst->config, inst->expanded_config, inst->expanded_devices);

	in = (struct lxc_conf_input){
		.name = p->name,
		.hostname = inst->name,
		.rootfs = inst->rootfs,
		.log_dir = p->log_dir,
		.seccomp_path = p->seccomp,
		.devices_dir = p->devices_dir,
		.config = inst->expanded_config,
		.devices = inst->expanded_devices,
		.cgroups = &cg,
		.host = &host,
		.idmap = privileged ? NULL : &map,
		.rootfs_idmapped = idmapped,
		.volume_paths = volume_paths,
	};
	r = lxc_conf_build(&in, &conf, err);
	if (r < 0) {
		(void)error_prefix(err, "Instance '%s'", inst->name);
		return r;
	}
	if (at_start) {
		r = nic_parents_check(inst->expanded_devices, err);
		if (r == 0)
			r = nodes_make(p, &conf, err);
		if (r < 0)
			return r;
	}
	r = write_file_atomic(p->seccomp, lxc_seccomp_profile(), strlen(lxc_seccomp_profile()),
			      0644, err);
	if (r == 0)
		r = write_file_atomic(p->config, conf.text, strlen(conf.text), 0600, err);
	return r;
}

/* --- lifecycle ----------------------------------------------------------------------- */

static int lxc_instance_create(const struct instance_env *env, struct instance *inst,
			       struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r < 0)
		return r;
	r = lxc_dirs_make(&p, err);
	if (r < 0)
		return r;
	/* Choosing MAC addresses and an isolated id range now shows them in the config
	 * before the first start, as LXD does. */
	if (!inst->rootfs) {
		lxc_instance_volatile_init(inst);
		(void)lxc_volatile_fill(inst->config, inst->expanded_config,
					inst->expanded_devices);
		return 0;
	}
	return lxc_config_write(env, &p, inst, false, err);
}

static int lxc_instance_rootfs_idmap(const struct instance_env *env, struct instance *inst,
				     struct instance_idmap *ret, struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclose int lock_fd = -1;
	struct idmap map;
	bool privileged = true;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_dirs_make(&p, err);
	if (r == 0)
		r = idmap_lock(&p, &lock_fd, err);
	if (r < 0)
		return r;
	lxc_instance_volatile_init(inst);
	r = lxc_idmap_for(&p, inst, &map, &privileged, err);
	if (r < 0)
		return r;
	if (privileged) {
		*ret = (struct instance_idmap){ 0 };
		return 0;
	}
	*ret = (struct instance_idmap){
		.uid_base = (uint32_t)map.uid.base,
		.uid_count = (uint32_t)map.uid.count,
		.gid_base = (uint32_t)map.gid.base,
		.gid_count = (uint32_t)map.gid.count,
	};
	return 0;
}

/* Runs lxc-start, which loads lxcpath/name/config, daemonizes the container's monitor and
 * returns once the container runs. Not c->start() in our own process, for two reasons:
 * liblxc 5 moves the process that calls start() ("transient_pid") into the new monitor's
 * cgroup, which would move lodged out of its own cgroups on every start; and the monitor
 * is a fork of the caller that lives as long as the container, keeping a copy-on-write
 * image of whatever the caller's memory was. lxc-start is small and exits at once.
 * On failure the first ERROR it logged to lxc.log becomes the message. Blocks. */
static int lxc_start_spawn(const struct lxc_paths *p, struct error *err)
{
	const char *argv[] = { LXC_START_PATH,
			       "--daemon",
			       "--close-all-fds",
			       "--logpriority=ERROR",
			       "-P",
			       p->lxcpath,
			       "-n",
			       p->name,
			       NULL };
	const char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	struct strbuf out = STRBUF_INIT;
	int pipefd[2], status = 0, r;
	off_t log_start = lxc_log_size(p);
	char buf[1024];
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_errno(err, -errno, "Failed to start instance '%s'", p->name);
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (r == 0)
		r = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, (char *const *)envp);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(pipefd[1]);
	if (r != 0) {
		(void)close(pipefd[0]);
		return error_errno(err, -r, "Failed to run '%s'", argv[0]);
	}
	while ((n = read(pipefd[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (out.len < 8192)
			strbuf_add(&out, buf, (size_t)n);
	}
	(void)close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		strbuf_release(&out);
		return 0;
	}

	/* The cause is the first ERROR this start logged ("Failed to exec "/sbin/init""); what
	 * lxc-start prints only says that it failed. Its output is the fallback. */
	{
		autofree char *what = str_printf("Failed to start instance '%s'", p->name);
		autofree char *why = lxc_log_error(p, log_start, true);
		autofree char *text = strbuf_detach(&out);

		if (why)
			return error_set(err, -EIO, "%s: %s", what, why);
		text[strcspn(text, "\n")] = '\0';
		if (*text && config_value_is_safe(text))
			return error_set(err, -EIO, "%s: %s", what, text);
		return error_set(err, -EIO, "%s", what);
	}
}

/* The host ends of the last run's veths go with its network namespace, which the kernel
 * tears down in the background after a stop: a quick restart would find their names taken
 * ("Failed to create veth pair ... File exists"). Waits up to a second for them to go. */
static bool is_nic(const json_t *dev);

static void veths_wait_gone(const struct instance *inst)
{
	const char *devname;
	json_t *dev;

	json_object_foreach(inst->expanded_devices, devname, dev)
	{
		struct lxc_nic nic;

		if (!is_nic(dev) ||
		    lxc_nic_resolve(inst->expanded_config, devname, dev, &nic, NULL) < 0 ||
		    !nic.host_name)
			continue;
		for (int i = 0; i < 200 && if_nametoindex(nic.host_name) > 0; i++)
			(void)usleep(5000);
	}
}

static int lxc_instance_start(const struct instance_env *env, struct instance *inst,
			      struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	struct cgroup_info cg;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r < 0)
		return r;
	/* Never rewrite the config under a running container: attach reads it. */
	r = lxc_open(&p, &c, err);
	if (r < 0)
		return r;
	if (lxc_status_of(c) != INSTANCE_STOPPED)
		return error_set(err, -EBUSY, "Instance '%s' is already running", inst->name);
	(void)lxc_container_put(take_ptr(c));
	/* The monitor of the last run may still be on its way out (a restart): its cleanup
	 * can remove the new monitor's cgroup of the same name before that entered it
	 * ("Failed to enter cgroup"). Let it go first: its command socket stops listening
	 * (up to 2 s). */
	for (int i = 0; i < 400 && lxc_status_probe(p.lxcpath, p.name) == 0; i++)
		(void)usleep(5000);
	veths_wait_gone(inst);

	r = lxc_config_write(env, &p, inst, true, err);
	if (r < 0)
		return r;
	if (cgroup_info_detect(&cg, NULL) == 0)
		(void)cgroup_remove_leftovers(&cg, p.name);

	r = lxc_start_spawn(&p, err);
	if (r < 0) {
		/* lxc-start was still in the monitor's cgroup when that went. */
		if (cgroup_info_detect(&cg, NULL) == 0)
			(void)cgroup_remove_leftovers(&cg, p.name);
		nodes_remove(&p);
		return r;
	}
	r = lxc_open(&p, &c, err);
	if (r < 0)
		return r;
	if (lxc_status_of(c) != INSTANCE_RUNNING)
		return lxc_fail(&p, err, -EIO, "The instance stopped right after it started");
	lxc_status_remember(p.dir, c->init_pid(c), false);
	return 0;
}

/* After a stop: liblxc leaves empty monitor cgroups behind (and the monitor may still be
 * leaving its own); device nodes go too. */
static void lxc_after_stop(const struct lxc_paths *p)
{
	struct cgroup_info cg;

	lxc_status_forget(p->dir);
	nodes_remove(p);
	if (cgroup_info_detect(&cg, NULL) < 0)
		return;
	/* The monitor exits just after the container; give it up to 100 ms. */
	for (int i = 0; i < 20; i++) {
		char path[512];

		(void)cgroup_remove_leftovers(&cg, p->name);
		if (!snprintf_ok(path, sizeof(path), "%s/lxc.monitor.%s", cg.hierarchies[0].path,
				 p->name) ||
		    access(path, F_OK) < 0)
			break;
		(void)usleep(5000);
	}
}

/* Moves interface ifname of this network namespace into running container c's, renamed
 * to name there. `ip` does it (one netlink request), not liblxc, which forks. */
static int link_move_in(struct lxc_container *c, const char *ifname, const char *name,
			struct error *err)
{
	pid_t pid = c->init_pid(c);
	char pid_s[16];

	if (pid <= 0)
		return error_set(err, -ESRCH, "The container is not running");
	snprintf_ok(pid_s, sizeof(pid_s), "%d", (int)pid);
	return run_command((const char *[]){ "ip", "link", "set", "dev", ifname, "netns", pid_s,
					     "name", name, NULL },
			   err);
}

/* Moves interface name of running container c back into lodged's network namespace,
 * renamed to ifname: `ip` run inside the container's namespace by nsenter. */
static int link_move_out(struct lxc_container *c, const char *name, const char *ifname,
			 struct error *err)
{
	pid_t pid = c->init_pid(c);
	autofree char *netns = NULL;
	char self_s[16];

	if (pid <= 0)
		return error_set(err, -ESRCH, "The container is not running");
	netns = str_printf("--net=/proc/%d/ns/net", (int)pid);
	snprintf_ok(self_s, sizeof(self_s), "%d", (int)getpid());
	return run_command((const char *[]){ "nsenter", netns, "--", "ip", "link", "set", "dev",
					     name, "netns", self_s, "name", ifname, NULL },
			   err);
}

/* Gives the host back the physical interfaces of a container about to stop: liblxc
 * returns only those of its start config, and a hot-plugged one would go with the
 * container's network namespace (a veth) or to the initial namespace (a real device). */
static void physical_nics_return(struct lxc_container *c, const struct instance *inst)
{
	const char *name;
	json_t *dev;

	json_object_foreach(inst->expanded_devices, name, dev)
	{
		struct lxc_nic nic;

		if (lxc_nictype_of(dev) != LXC_NIC_PHYSICAL ||
		    lxc_nic_resolve(inst->expanded_config, name, dev, &nic, NULL) < 0)
			continue;
		if (link_move_out(c, nic.name, nic.link, NULL) < 0)
			log_debug("Could not take '%s' out of '%s' before its stop", nic.name,
				  inst->name);
	}
}

static int lxc_instance_stop(const struct instance_env *env, struct instance *inst, bool force,
			     int timeout_sec, struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	enum instance_status s;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r < 0)
		return r;
	r = lxc_open(&p, &c, err);
	if (r < 0)
		return r;
	s = lxc_status_of(c);
	if (s == INSTANCE_STOPPED) {
		lxc_after_stop(&p);
		return 0;
	}
	/* A frozen init cannot act on the halt signal, and a kill waits for the thaw. */
	if (s == INSTANCE_FROZEN)
		(void)c->unfreeze(c);
	physical_nics_return(c, inst);

	if (!force) {
		int t = timeout_sec < 0 ? LXC_STOP_TIMEOUT_DEFAULT : timeout_sec;

		if (c->shutdown(c, t) && lxc_status_of(c) == INSTANCE_STOPPED) {
			lxc_after_stop(&p);
			return 0;
		}
		log_debug("Instance '%s' did not shut down within %d s, killing it", inst->name, t);
	}
	if (!c->stop(c) && lxc_status_of(c) != INSTANCE_STOPPED) {
		autofree char *what = str_printf("Failed to stop instance '%s'", inst->name);

		return lxc_fail(&p, err, -EIO, what);
	}
	lxc_after_stop(&p);
	return 0;
}

static int lxc_instance_freeze(const struct instance_env *env, struct instance *inst,
			       struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_open_running(&p, false, &c, err);
	if (r < 0)
		return r;
	if (!c->freeze(c)) {
		autofree char *what = str_printf("Failed to freeze instance '%s'", inst->name);

		return lxc_fail(&p, err, -EIO, what);
	}
	lxc_status_set_frozen(p.dir, true);
	return 0;
}

static int lxc_instance_unfreeze(const struct instance_env *env, struct instance *inst,
				 struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_open(&p, &c, err);
	if (r < 0)
		return r;
	if (lxc_status_of(c) != INSTANCE_FROZEN)
		return error_set(err, -EINVAL, "Instance '%s' is not frozen", inst->name);
	if (!c->unfreeze(c)) {
		autofree char *what = str_printf("Failed to unfreeze instance '%s'", inst->name);

		return lxc_fail(&p, err, -EIO, what);
	}
	lxc_status_set_frozen(p.dir, false);
	return 0;
}

static enum instance_status lxc_instance_status(const struct instance_env *env,
						struct instance *inst)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	pid_t pid;

	if (lxc_paths_init(env, inst->project, inst->name, &p, NULL) < 0)
		return INSTANCE_ERROR;
	return lxc_status_lookup(&p, &pid);
}

/* Removes the regular files directly in dir, then dir; never follows a link or descends. */
static void dir_remove_files(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (de->d_type == DT_REG || de->d_type == DT_LNK || de->d_type == DT_SOCK)
			(void)unlinkat(dirfd(dir), de->d_name, 0);
	closedir(dir);
	if (rmdir(path) < 0 && errno != ENOENT)
		log_debug("Leaving directory '%s' in place: %s", path, strerror(errno));
}

/* liblxc's lock file, /run/lxc/lock/<lxcpath>/.<name>, outlives its container. */
static void lxc_lock_remove(const struct lxc_paths *p)
{
	autofree char *path = str_printf("/run/lxc/lock%s/.%s", p->lxcpath, p->name);

	(void)unlink(path);
}

static int lxc_instance_delete(const struct instance_env *env, struct instance *inst,
			       struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r < 0)
		return r;
	if (lxc_instance_status(env, inst) != INSTANCE_STOPPED)
		return error_set(err, -EBUSY, "Instance '%s' is running", inst->name);

	/* File by file: the storage layer may have mounted something under our directories,
	 * and liblxc's destroy() would delete the rootfs. */
	if (unlink(p.config) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to remove '%s'", p.config);
	(void)unlink(p.seccomp);
	/* liblxc's own commands leave <name>.log there. */
	dir_remove_files(p.dir);
	if (rmdir(p.dir) < 0 && errno != ENOENT)
		log_debug("Leaving directory '%s' in place: %s", p.dir, strerror(errno));
	dir_remove_files(p.log_dir);
	nodes_remove(&p);
	lxc_lock_remove(&p);
	lxc_after_stop(&p);
	return 0;
}

static int lxc_instance_rename(const struct instance_env *env, struct instance *inst,
			       const char *new_name, struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_paths_release) struct lxc_paths q = { 0 };
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_paths_init(env, inst->project, new_name, &q, err);
	if (r < 0)
		return r;
	if (lxc_instance_status(env, inst) != INSTANCE_STOPPED)
		return error_set(err, -EBUSY, "Instance '%s' is running", inst->name);
	if (access(q.dir, F_OK) == 0 || access(q.log_dir, F_OK) == 0)
		return error_set(err, -EEXIST, "Instance '%s' already has files on disk", new_name);

	/* The config names the old paths; the next start writes a new one. */
	(void)unlink(p.config);
	if (rename(p.dir, q.dir) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to rename '%s'", p.dir);
	if (rename(p.log_dir, q.log_dir) < 0 && errno != ENOENT) {
		r = error_errno(err, -errno, "Failed to rename '%s'", p.log_dir);
		goto undo_dir;
	}
	nodes_remove(&p);
	lxc_lock_remove(&p);
	return 0;

undo_dir:
	(void)rename(q.dir, p.dir);
	return r;
}

/* --- live updates -------------------------------------------------------------------- */

static int cgroup_items_apply(struct lxc_container *c, const struct lxc_cgroup_items *items,
			      struct error *err)
{
	bool done[64] = { false };
	char got[256];

	if (items->n > ARRAY_SIZE(done))
		return error_set(err, -E2BIG, "Too many cgroup settings");
	/* Two passes: v1 refuses memory.limit_in_bytes above memory.memsw.limit_in_bytes
	 * (and the reverse), so one order fails when raising and the other when lowering. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < items->n; i++)
			if (!done[i])
				done[i] = c->set_cgroup_item(c, items->items[i].key,
							     items->items[i].value);
	for (size_t i = 0; i < items->n; i++) {
		const struct lxc_cgroup_item *it = &items->items[i];
		int n;

		if (!done[i])
			return error_set(err, -EIO,
					 "Failed to apply '%s': the kernel refused %s=%s",
					 it->limit, it->key, it->value);
		n = c->get_cgroup_item(c, it->key, got, sizeof(got));
		if (n < 0 || (size_t)n >= sizeof(got))
			return error_set(err, -EIO, "Failed to read back %s for '%s'", it->key,
					 it->limit);
		got[n] = '\0';
		if (!lxc_cgroup_value_matches(it->key, it->value, got)) {
			got[strcspn(got, "\n")] = '\0';
			return error_set(err, -EIO,
					 "Failed to apply '%s': %s is '%s' instead of '%s'",
					 it->limit, it->key, config_value_is_safe(got) ? got : "?",
					 it->value);
		}
	}
	return 0;
}

/* --- nic hot-plug ------------------------------------------------------------------- */

static bool is_nic(const json_t *dev)
{
	const char *type = json_get_str(dev, "type");

	return type && streq(type, "nic");
}

/* A disk other than the root: mounted into a running container and out again. */
static bool is_live_disk(const json_t *dev)
{
	const char *type = json_get_str(dev, "type");
	const char *path = json_get_str(dev, "path");

	return type && streq(type, "disk") && !(path && streq(path, "/"));
}

static bool is_live(const json_t *dev)
{
	return is_nic(dev) || is_live_disk(dev);
}

/* True when nic devices a and b differ at most in their static addresses, which are DHCP
 * matters (network/ updates the lease; the container renews). */
static bool nic_change_is_lease_only(const json_t *a, const json_t *b)
{
	autojson json_t *x = json_deep_copy(a);
	autojson json_t *y = json_deep_copy(b);
	static const char *const keys[] = { "ipv4.address", "ipv6.address" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		(void)json_object_del(x, keys[i]);
		(void)json_object_del(y, keys[i]);
	}
	return json_equal(x, y);
}

/* What a running container must do for its devices to go from old to new: -EOPNOTSUPP
 * unless only nics changed. *ret_unplug and *ret_plug receive new arrays of device names. */
static int devices_live_diff(const json_t *old, const json_t *new, json_t **ret_unplug,
			     json_t **ret_plug, struct error *err)
{
	autojson json_t *unplug = json_array();
	autojson json_t *plug = json_array();
	const char *name;
	json_t *dev;

	json_object_foreach((json_t *)old, name, dev)
	{
		json_t *now = json_object_get(new, name);

		if (now && json_equal(dev, now))
			continue;
		if (!is_live(dev) || (now && !is_live(now)))
			return error_set(err, -EOPNOTSUPP,
					 "Device '%s' of a running container cannot be changed: "
					 "only nic and disk devices can, stop it first",
					 name);
		if (now && is_nic(dev) && is_nic(now) && nic_change_is_lease_only(dev, now))
			continue;
		(void)json_array_append_new(unplug, json_string(name));
		if (now)
			(void)json_array_append_new(plug, json_string(name));
	}
	json_object_foreach((json_t *)new, name, dev)
	{
		if (json_object_get(old, name))
			continue;
		if (!is_live(dev))
			return error_set(err, -EOPNOTSUPP,
					 "Device '%s' cannot be added to a running container: only "
					 "nic and disk devices can, stop it first",
					 name);
		(void)json_array_append_new(plug, json_string(name));
	}
	*ret_unplug = take_ptr(unplug);
	*ret_plug = take_ptr(plug);
	return 0;
}

/* Sets the MTU of interface ifname: mtu, or the parent's when mtu is NULL. */
static int link_mtu_set(const char *ifname, const char *mtu, const char *parent, struct error *err)
{
	autofree char *path = NULL;
	autofree char *parent_mtu = NULL;

	if (!mtu) {
		if (!parent)
			return 0;
		path = str_printf("/sys/class/net/%s/mtu", parent);
		if (read_file(path, 32, &parent_mtu, NULL, NULL) < 0)
			return 0;
		parent_mtu[strcspn(parent_mtu, "\n")] = '\0';
		mtu = parent_mtu;
	}
	return run_command((const char *[]){ "ip", "link", "set", "dev", ifname, "mtu", mtu, NULL },
			   err);
}

static int link_delete(const char *ifname, struct error *err)
{
	autofree char *path = str_printf("/sys/class/net/%s", ifname);

	if (access(path, F_OK) < 0)
		return 0;
	return run_command((const char *[]){ "ip", "link", "del", "dev", ifname, NULL }, err);
}

/* Makes the host interface that nic_plug() moves into the container: a veth (its host end
 * on the bridge for bridged), a macvlan on the parent, or the physical parent itself. */
static int nic_host_link_make(const struct lxc_nic *nic, const char *tmp, struct error *err)
{
	int r;

	if (nic->type == LXC_NIC_PHYSICAL)
		return 0;
	if (nic->type == LXC_NIC_MACVLAN) {
		r = run_command((const char *[]){ "ip", "link", "add", "link", nic->link, "name",
						  tmp, "address", nic->hwaddr, "type", "macvlan",
						  "mode", "bridge", NULL },
				err);
		if (r == 0)
			r = link_mtu_set(tmp, nic->mtu, NULL, err);
		if (r < 0)
			(void)link_delete(tmp, NULL);
		return r;
	}
	r = run_command((const char *[]){ "ip", "link", "add", "dev", nic->host_name, "type",
					  "veth", "peer", "name", tmp, NULL },
			err);
	if (r == 0 && (nic->link || nic->mtu))
		r = link_mtu_set(nic->host_name, nic->mtu, nic->link, err);
	if (r == 0 && (nic->link || nic->mtu))
		r = link_mtu_set(tmp, nic->mtu, nic->link, err);
	if (r == 0)
		r = run_command((const char *[]){ "ip", "link", "set", "dev", tmp, "address",
						  nic->hwaddr, NULL },
				err);
	if (r == 0 && nic->link)
		r = run_command((const char *[]){ "ip", "link", "set", "dev", nic->host_name,
						  "master", nic->link, NULL },
				err);
	if (r == 0)
		r = run_command(
			(const char *[]){ "ip", "link", "set", "dev", nic->host_name, "up", NULL },
			err);
	if (r < 0)
		(void)link_delete(nic->host_name, NULL);
	return r;
}

/* The host interface a nic plugs in from or unplugs to: the parent of a physical nic, else
 * one made for it (ifname: "veth" and 8 hex digits, as lxc_veth_name_generate()). */
static const char *nic_tmp_name(const struct lxc_nic *nic, char ifname[13])
{
	if (nic->type == LXC_NIC_PHYSICAL)
		return nic->link;
	lxc_veth_name_generate(ifname);
	return ifname;
}

/* Plugs nic devname into running container c: the host interface made for it (or the
 * physical one) moves into the container under the nic's name, left down as LXD does: the
 * container's own network setup brings it up. */
static int nic_plug(struct lxc_container *c, const json_t *config, const char *devname,
		    const json_t *dev, struct error *err)
{
	struct lxc_nic nic;
	char buf[13];
	const char *tmp;
	int r;

	r = lxc_nic_resolve(config, devname, dev, &nic, err);
	if (r < 0)
		return r;
	if ((nic.type == LXC_NIC_BRIDGED || nic.type == LXC_NIC_P2P) && !nic.host_name)
		return error_set(err, -EINVAL, "Device '%s' has no host interface name", devname);
	if (nic.link) {
		r = nic_link_check(nic.type, nic.link, devname, err);
		if (r < 0)
			return r;
	}
	tmp = nic_tmp_name(&nic, buf);
	r = nic_host_link_make(&nic, tmp, err);
	if (r < 0)
		return r;
	if (nic.type == LXC_NIC_PHYSICAL)
		r = link_mtu_set(tmp, nic.mtu, NULL, err);
	if (r == 0 && nic.type == LXC_NIC_PHYSICAL && nic.hwaddr)
		r = run_command((const char *[]){ "ip", "link", "set", "dev", tmp, "address",
						  nic.hwaddr, NULL },
				err);
	if (r == 0 && link_move_in(c, tmp, nic.name, err) < 0)
		r = error_prefix(err,
				 "Failed to move interface '%s' into the container as '%s' (is the "
				 "name taken?)",
				 tmp, nic.name);
	if (r < 0 && nic.type != LXC_NIC_PHYSICAL)
		(void)link_delete(nic.host_name ? nic.host_name : tmp, NULL);
	return r;
}

/* Unplugs nic devname from running container c: deleting the host end of a veth takes the
 * container's end; a macvlan comes back to the host to be deleted, a physical interface
 * comes back under its own name. */
static int nic_unplug(struct lxc_container *c, const json_t *config, const char *devname,
		      const json_t *dev, struct error *err)
{
	struct lxc_nic nic;
	char buf[13];
	const char *tmp;
	int r;

	r = lxc_nic_resolve(config, devname, dev, &nic, err);
	if (r < 0)
		return r;
	if (nic.host_name)
		return link_delete(nic.host_name, err);
	tmp = nic_tmp_name(&nic, buf);
	r = link_move_out(c, nic.name, tmp, err);
	if (r < 0)
		return error_prefix(err, "Failed to take interface '%s' out of the container",
				    nic.name);
	return nic.type == LXC_NIC_MACVLAN ? link_delete(tmp, err) : 0;
}

/* Applies the nic changes of devices_live_diff() to running container c. */
/* Mounts disk device name into the running container whose init is pid: a custom volume
 * (mounted by the storage layer, idmapped for an unprivileged container) or a host path,
 * resolved as at start (lxc_disk_resolve()). */
static int disk_plug(const struct instance_env *env, const struct instance *inst, pid_t pid,
		     const char *name, const json_t *dev, struct error *err)
{
	const char *priv = json_get_str(inst->expanded_config, "security.privileged");
	autojson json_t *one = json_pack("{s:O}", name, dev);
	autojson json_t *paths = NULL;
	bool privileged = false;
	struct lxc_disk d;
	int r;

	(void)parse_bool(priv ?: "false", &privileged);
	r = storage_disk_volume_paths(env->db, env->dir, one, &paths, err);
	if (r == 0)
		r = lxc_disk_resolve(name, dev, paths, !privileged, &d, err);
	if (r < 0 || d.absent)
		return r;
	return lxc_mount_inject(pid, d.source, d.path, d.idmap, d.readonly, d.recursive, err);
}

/* Applies the disk part of a device change to the running container whose init is pid. */
static int disks_update_live(const struct instance_env *env, struct instance *inst, pid_t pid,
			     const json_t *old_devices, const json_t *unplug, const json_t *plug,
			     struct error *err)
{
	size_t i;
	json_t *v;
	int r;

	json_array_foreach(unplug, i, v)
	{
		const json_t *dev = json_object_get(old_devices, json_string_value(v));

		if (!is_live_disk(dev))
			continue;
		r = lxc_mount_eject(pid, json_get_str(dev, "path"), err);
		if (r < 0)
			return r;
	}
	json_array_foreach(plug, i, v)
	{
		const char *name = json_string_value(v);
		const json_t *dev = json_object_get(inst->expanded_devices, name);

		if (!is_live_disk(dev))
			continue;
		r = disk_plug(env, inst, pid, name, dev, err);
		if (r < 0)
			return error_prefix(err, "Device '%s'", name);
	}
	return 0;
}

static int nics_update_live(struct lxc_container *c, struct instance *inst,
			    const json_t *old_config, const json_t *old_devices,
			    const json_t *unplug, const json_t *plug, struct error *err)
{
	size_t i;
	json_t *v;
	int r;

	json_array_foreach(unplug, i, v)
	{
		const char *name = json_string_value(v);

		if (!is_nic(json_object_get(old_devices, name)))
			continue;
		r = nic_unplug(c, old_config, name, json_object_get(old_devices, name), err);
		if (r < 0)
			return r;
		/* A removed nic's MAC and host name go with it (a new one gets new ones). */
		if (!json_object_get(inst->expanded_devices, name)) {
			autofree char *hw_key = str_printf("volatile.%s.hwaddr", name);
			autofree char *host_key = str_printf("volatile.%s.host_name", name);

			(void)json_object_del(inst->config, hw_key);
			(void)json_object_del(inst->config, host_key);
			(void)json_object_del(inst->expanded_config, hw_key);
			(void)json_object_del(inst->expanded_config, host_key);
		}
	}
	(void)lxc_volatile_fill(inst->config, inst->expanded_config, inst->expanded_devices);
	json_array_foreach(plug, i, v)
	{
		const char *name = json_string_value(v);

		if (!is_nic(json_object_get(inst->expanded_devices, name)))
			continue;
		r = nic_plug(c, inst->expanded_config, name,
			     json_object_get(inst->expanded_devices, name), err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int lxc_instance_update_live(const struct instance_env *env, struct instance *inst,
				    const json_t *old_config, const json_t *old_devices,
				    struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	autoclean(lxc_cgroup_items_release) struct lxc_cgroup_items items = { 0 };
	autojson json_t *unplug = NULL, *plug = NULL;
	struct cgroup_info cg;
	struct lxc_host host;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r < 0)
		return r;
	if (old_devices && inst->expanded_devices)
		r = devices_live_diff(old_devices, inst->expanded_devices, &unplug, &plug, err);
	if (r < 0)
		return r;
	if (lxc_instance_status(env, inst) == INSTANCE_STOPPED)
		return 0;
	if (json_array_size(unplug) > 0 || json_array_size(plug) > 0) {
		pid_t pid = 0;

		r = lxc_open_running(&p, false, &c, err);
		if (r == 0)
			r = nics_update_live(c, inst, old_config, old_devices, unplug, plug, err);
		if (r == 0 && lxc_status_lookup(&p, &pid) != INSTANCE_RUNNING)
			r = error_set(err, -EINVAL, "Instance '%s' is not running", inst->name);
		if (r == 0)
			r = disks_update_live(env, inst, pid, old_devices, unplug, plug, err);
		if (r < 0)
			return r;
		lxc_container_put(take_ptr(c));
	}

	r = cgroup_info_detect(&cg, err);
	if (r == 0)
		r = lxc_host_detect(&host, err);
	/* Every limit at once, unset ones back to unlimited: removing a key must lift it. */
	if (r == 0)
		r = lxc_cgroup_items_build(inst->expanded_config, &cg, &host, true, &items, err);
	if (r == 0)
		r = lxc_open_running(&p, true, &c, err);
	if (r == 0)
		r = cgroup_items_apply(c, &items, err);
	return r;
}

/* --- exec ---------------------------------------------------------------------------- */

static const char *env_get(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int lxc_instance_exec(const struct instance_env *env, struct instance *inst,
			     const struct instance_exec_args *args, int *ret_pid,
			     int *ret_status_fd, struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	char *default_env[] = { (char *)LXC_DEFAULT_PATH, NULL };
	char **envp = args->envp ? args->envp : default_env;
	const char *home = env_get(envp, "HOME");
	int r;

	if (!args->argv || !args->argv[0])
		return error_set(err, -EINVAL, "No command to run");
	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_open_running(&p, false, NULL, err);
	if (r < 0)
		return r;
	if (args->interactive && args->width && args->height) {
		struct winsize ws = { .ws_row = (unsigned short)args->height,
				      .ws_col = (unsigned short)args->width };

		(void)ioctl(args->stdin_fd, TIOCSWINSZ, &ws);
	}

	r = lxc_attach_run(&(struct lxc_attach_request){ .lxcpath = p.lxcpath,
							 .name = p.name,
							 .argv = args->argv,
							 .envp = envp,
							 .cwd = args->cwd ? args->cwd
								: home	  ? home
									  : "/",
							 .uid = args->uid,
							 .gid = args->gid,
							 .stdin_fd = args->stdin_fd,
							 .stdout_fd = args->stdout_fd,
							 .stderr_fd = args->stderr_fd },
			   ret_pid, ret_status_fd, err);
	if (r == -ESRCH) {
		autofree char *what = str_printf(
			"Failed to run '%s' in instance '%s'",
			config_value_is_safe(args->argv[0]) ? args->argv[0] : "?", inst->name);

		return lxc_fail(&p, err, -EIO, what);
	}
	return r;
}

/* --- console ------------------------------------------------------------------------- */

/* Copies what is readable on from to to; false at end of file or on an error. */
static bool relay_once(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	return write_all_fd(to, buf, (size_t)n) == 0;
}

/* The console helper: a process of its own (a session whose controlling terminal is our
 * pty), relaying between our pty and liblxc's console. It holds liblxc's console
 * allocation, which lasts as long as the descriptor liblxc gave for it stays open, and
 * exits when the daemon closes the pty master (SIGHUP, or EIO on the slave) or the
 * container's console goes away. Resizing the master sends it SIGWINCH, which it passes
 * on. Only system calls here: it was forked from a threaded process. */
_noreturn_ static void console_helper(int hold_fd, int ptx_fd, int slave_fd)
{
	struct pollfd fds[3];
	struct winsize ws;
	sigset_t mask;
	int sig_fd;

	(void)setsid();
	(void)ioctl(slave_fd, TIOCSCTTY, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	(void)sigprocmask(SIG_SETMASK, &mask, NULL);
	(void)signal(SIGHUP, SIG_DFL);
	(void)signal(SIGPIPE, SIG_DFL);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (ioctl(slave_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		(void)ioctl(ptx_fd, TIOCSWINSZ, &ws);

	for (;;) {
		fds[0] = (struct pollfd){ .fd = slave_fd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = ptx_fd, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) > 0 &&
			    ioctl(slave_fd, TIOCGWINSZ, &ws) == 0)
				(void)ioctl(ptx_fd, TIOCSWINSZ, &ws);
		}
		if ((fds[0].revents & POLLIN) && !relay_once(slave_fd, ptx_fd))
			break;
		if ((fds[1].revents & POLLIN) && !relay_once(ptx_fd, slave_fd))
			break;
		if ((fds[0].revents | fds[1].revents) & (POLLHUP | POLLERR | POLLNVAL))
			break;
	}
	(void)close(hold_fd);
	_exit(0);
}

static int pty_open(int *ret_master, int *ret_slave, struct error *err)
{
	autoclose int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[64];
	struct termios tio;
	int slave;

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
	    ptsname_r(master, name, sizeof(name)) != 0)
		return error_errno(err, -errno, "Failed to allocate a pseudo-terminal");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return error_errno(err, -errno, "Failed to open '%s'", name);
	/* Bytes pass through unchanged; the client's terminal does the line discipline. */
	if (tcgetattr(slave, &tio) == 0) {
		cfmakeraw(&tio);
		(void)tcsetattr(slave, TCSANOW, &tio);
	}
	*ret_master = take_fd(master);
	*ret_slave = slave;
	return 0;
}

static int lxc_instance_console_open(const struct instance_env *env, struct instance *inst,
				     int *ret_fd, struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	autoclose int hold = -1, ptx = -1, master = -1, slave = -1;
	int ttynum = 0, status = 0, r;
	pid_t pid;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_open_running(&p, true, &c, err);
	if (r < 0)
		return r;
	hold = c->console_getfd(c, &ttynum, &ptx);
	if (hold < 0)
		return error_set(err, -EBUSY,
				 "The console of instance '%s' is unavailable or already in use",
				 inst->name);
	r = pty_open(&master, &slave, err);
	if (r < 0)
		return r;

	/* Double fork: init adopts the helper, so nobody has to reap it. */
	pid = fork();
	if (pid < 0)
		return error_errno(err, -errno, "Failed to start the console helper");
	if (pid == 0) {
		pid_t helper = fork();
		int a, b, d;

		if (helper != 0)
			_exit(helper < 0);
		/* Keep hold, ptx and slave as 3, 4 and 5 (through copies above 5, so no dup2()
		 * overwrites one still needed) and close everything else. */
		a = fcntl(hold, F_DUPFD, 6);
		b = fcntl(ptx, F_DUPFD, 6);
		d = fcntl(slave, F_DUPFD, 6);
		if (a < 0 || b < 0 || d < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0 || dup2(d, 5) < 0)
			_exit(1);
		(void)syscall(SYS_close_range, 6U, ~0U, 0U);
		console_helper(3, 4, 5);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return error_set(err, -EIO, "Failed to start the console helper");
	*ret_fd = take_fd(master);
	return 0;
}

/* --- files --------------------------------------------------------------------------- */

static int lxc_instance_rootfs_open(const struct instance_env *env, struct instance *inst,
				    int *ret_fd, struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	autoclean(lxc_container_putp) struct lxc_container *c = NULL;
	autoclose int pidfd = -1, fd = -1;
	char path[64];
	pid_t pid;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r == 0)
		r = lxc_open(&p, &c, err);
	if (r < 0)
		return r;

	if (lxc_status_of(c) == INSTANCE_STOPPED) {
		if (!inst->rootfs)
			return error_set(err, -EINVAL,
					 "Instance '%s' has no root filesystem mounted",
					 inst->name);
		fd = open(inst->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, -errno, "Failed to open '%s'", inst->rootfs);
		*ret_fd = take_fd(fd);
		return 0;
	}

	/* The root as init sees it, with its mounts. The pidfd taken first proves, once
	 * /proc/<pid>/root is open, that the pid was not reused in between. */
	pidfd = c->init_pidfd(c);
	pid = c->init_pid(c);
	if (pid <= 0)
		return error_set(err, -ESRCH, "Instance '%s' has no init process", inst->name);
	if (!snprintf_ok(path, sizeof(path), "/proc/%d/root", (int)pid))
		return -EINVAL;
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to open the root of instance '%s'",
				   inst->name);
	if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return error_set(err, -ESRCH, "Instance '%s' stopped", inst->name);
	*ret_fd = take_fd(fd);
	return 0;
}

/* --- state --------------------------------------------------------------------------- */

static json_int_t cgroup_read_int(const char *dir, const char *file)
{
	autofree char *path = NULL;
	autofree char *text = NULL;
	int64_t v = 0;

	if (!dir)
		return 0;
	path = str_printf("%s/%s", dir, file);
	if (read_file(path, 4096, &text, NULL, NULL) < 0)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (parse_i64(text, &v) < 0)
		return 0;
	return (json_int_t)v;
}

/* "usage_usec 123" from cpu.stat (cgroup2), in nanoseconds. */
static json_int_t cgroup_v2_cpu_ns(const char *dir)
{
	autofree char *path = NULL;
	autofree char *text = NULL;
	const char *p;

	if (!dir)
		return 0;
	path = str_printf("%s/cpu.stat", dir);
	if (read_file(path, 65536, &text, NULL, NULL) < 0)
		return 0;
	p = strstr(text, "usage_usec ");
	return p ? (json_int_t)strtoll(p + strlen("usage_usec "), NULL, 10) * 1000 : 0;
}

static void state_cgroups(json_t *state, pid_t pid)
{
	autofree char *proc = NULL;
	autofree char *path = NULL;
	autofree char *mem = NULL, *cpu = NULL, *pids = NULL;
	struct cgroup_info cg;
	json_int_t usage, peak, swap = 0, swap_peak = 0, cpu_ns;

	path = str_printf("/proc/%d/cgroup", (int)pid);
	if (cgroup_info_detect(&cg, NULL) < 0 || read_file(path, 65536, &proc, NULL, NULL) < 0)
		return;
	(void)cgroup_container_dir(&cg, proc, CGROUP_MEMORY, &mem);
	(void)cgroup_container_dir(&cg, proc, CGROUP_PIDS, &pids);
	(void)cgroup_container_dir(
		&cg, proc, cg.layout == CGROUP_LAYOUT_UNIFIED ? CGROUP_CPU : CGROUP_CPUACCT, &cpu);

	if (cg.layout == CGROUP_LAYOUT_UNIFIED) {
		usage = cgroup_read_int(mem, "memory.current");
		peak = cgroup_read_int(mem, "memory.peak");
		swap = cgroup_read_int(mem, "memory.swap.current");
		swap_peak = cgroup_read_int(mem, "memory.swap.peak");
		cpu_ns = cgroup_v2_cpu_ns(cpu);
	} else {
		usage = cgroup_read_int(mem, "memory.usage_in_bytes");
		peak = cgroup_read_int(mem, "memory.max_usage_in_bytes");
		if (cg.swap_accounting) {
			/* memsw counts memory and swap together, as LXD subtracts. */
			swap = cgroup_read_int(mem, "memory.memsw.usage_in_bytes") - usage;
			swap_peak = cgroup_read_int(mem, "memory.memsw.max_usage_in_bytes") - peak;
		}
		cpu_ns = cgroup_read_int(cpu, "cpuacct.usage");
	}
	(void)json_object_set_new(state, "processes",
				  json_integer(cgroup_read_int(pids, "pids.current")));
	(void)json_object_set_new(state, "cpu", json_pack("{s:I}", "usage", cpu_ns));
	(void)json_object_set_new(state, "memory",
				  json_pack("{s:I,s:I,s:I,s:I}", "usage", usage, "usage_peak", peak,
					    "swap_usage", swap < 0 ? 0 : swap, "swap_usage_peak",
					    swap_peak < 0 ? 0 : swap_peak));
}

struct netns_socket {
	int ns_fd;
	int sock; /* out */
	int error;
};

/* Runs in a thread of its own, which ends in the container's network namespace: the
 * socket it makes stays there, and no thread of the daemon changes namespace. */
static void *netns_socket_thread(void *data)
{
	struct netns_socket *q = data;

	if (setns(q->ns_fd, CLONE_NEWNET) < 0) {
		q->error = -errno;
		return NULL;
	}
	q->sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (q->sock < 0)
		q->error = -errno;
	return NULL;
}

static int netns_socket(pid_t pid, int *ret)
{
	char path[64];
	struct netns_socket q = { .ns_fd = -1, .sock = -1 };
	pthread_t t;
	int r;

	if (!snprintf_ok(path, sizeof(path), "/proc/%d/ns/net", (int)pid))
		return -EINVAL;
	q.ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (q.ns_fd < 0)
		return -errno;
	r = pthread_create(&t, NULL, netns_socket_thread, &q);
	if (r == 0)
		r = -pthread_join(t, NULL);
	else
		r = -r;
	(void)close(q.ns_fd);
	if (r == 0)
		r = q.error;
	if (r < 0) {
		if (q.sock >= 0)
			(void)close(q.sock);
		return r;
	}
	*ret = q.sock;
	return 0;
}

/* NLMSG_NEXT(), IFLA_RTA() and RTA_NEXT() cast char pointers, which -Wcast-align refuses;
 * the same steps through void pointers (netlink keeps everything 4-byte aligned). */
static struct nlmsghdr *nl_next(struct nlmsghdr *h, size_t *left)
{
	size_t len = NLMSG_ALIGN(h->nlmsg_len);

	*left = len < *left ? *left - len : 0;
	return (void *)((char *)h + len);
}

static struct rtattr *rta_first(void *msg, size_t header)
{
	return (void *)((char *)msg + NLMSG_ALIGN(header));
}

static struct rtattr *rta_next(struct rtattr *a, int *len)
{
	*len -= (int)RTA_ALIGN(a->rta_len);
	return (void *)((char *)a + RTA_ALIGN(a->rta_len));
}

/* Sends a dump request and calls fn for each message of the answer. */
static int netlink_dump(int sock, uint16_t type, void (*fn)(struct nlmsghdr *h, json_t *out),
			json_t *out)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i; /* as large as struct ifaddrmsg */
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		       .nlmsg_type = type,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 1 },
	};
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));

	if (send(sock, &req, req.h.nlmsg_len, 0) < 0)
		return -errno;
	/* Until NLMSG_DONE, which may come in a read of its own. */
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), 0);
		size_t left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		left = (size_t)n;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, left); h = nl_next(h, &left)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			fn(h, out);
		}
	}
}

static void link_cb(struct nlmsghdr *h, json_t *out)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
	const char *name = NULL;
	unsigned mtu = 0;
	char hwaddr[32] = "";
	struct rtnl_link_stats64 st = { 0 };
	json_t *nic;
	char key[16];

	if (h->nlmsg_type != RTM_NEWLINK)
		return;
	for (struct rtattr *a = rta_first(ifi, sizeof(*ifi)); RTA_OK(a, len);
	     a = rta_next(a, &len)) {
		switch (a->rta_type) {
		case IFLA_IFNAME:
			name = RTA_DATA(a);
			break;
		case IFLA_MTU:
			memcpy(&mtu, RTA_DATA(a), sizeof(mtu));
			break;
		case IFLA_ADDRESS:
			/* LXD shows none for the loopback device. */
			if (RTA_PAYLOAD(a) == 6 && !(ifi->ifi_flags & IFF_LOOPBACK)) {
				const unsigned char *m = RTA_DATA(a);

				(void)snprintf_ok(hwaddr, sizeof(hwaddr),
						  "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
						  m[3], m[4], m[5]);
			}
			break;
		case IFLA_STATS64:
			memcpy(&st, RTA_DATA(a),
			       RTA_PAYLOAD(a) < sizeof(st) ? RTA_PAYLOAD(a) : sizeof(st));
			break;
		default:
			break;
		}
	}
	if (!name || !config_value_is_safe(name))
		return;
	nic = json_pack("{s:[],s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:s,s:s,s:i,s:s,s:s}",
			"addresses", "counters", "bytes_received", (json_int_t)st.rx_bytes,
			"bytes_sent", (json_int_t)st.tx_bytes, "packets_received",
			(json_int_t)st.rx_packets, "packets_sent", (json_int_t)st.tx_packets,
			"errors_received", (json_int_t)st.rx_errors, "errors_sent",
			(json_int_t)st.tx_errors, "packets_dropped_outbound",
			(json_int_t)st.tx_dropped, "packets_dropped_inbound",
			(json_int_t)st.rx_dropped, "hwaddr", hwaddr, "host_name", "", "mtu",
			(int)mtu, "state", (ifi->ifi_flags & IFF_UP) ? "up" : "down", "type",
			(ifi->ifi_flags & IFF_LOOPBACK)	     ? "loopback"
			: (ifi->ifi_flags & IFF_POINTOPOINT) ? "point-to-point"
							     : "broadcast");
	/* Addresses arrive by index; remember it until they are matched. */
	(void)snprintf_ok(key, sizeof(key), "%d", ifi->ifi_index);
	(void)json_object_set_new(nic, "_index", json_string(key));
	(void)json_object_set_new(out, name, nic);
}

static void addr_cb(struct nlmsghdr *h, json_t *out)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifa));
	const void *addr = NULL;
	char text[INET6_ADDRSTRLEN] = "", index[16], prefix[8];
	const char *name;
	json_t *nic;

	if (h->nlmsg_type != RTM_NEWADDR ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return;
	for (struct rtattr *a = rta_first(ifa, sizeof(*ifa)); RTA_OK(a, len);
	     a = rta_next(a, &len)) {
		/* IFA_LOCAL is the address itself on point-to-point links. */
		if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr))
			addr = RTA_DATA(a);
	}
	if (!addr || !inet_ntop(ifa->ifa_family, addr, text, sizeof(text)))
		return;
	(void)snprintf_ok(index, sizeof(index), "%u", ifa->ifa_index);
	(void)snprintf_ok(prefix, sizeof(prefix), "%u", ifa->ifa_prefixlen);
	json_object_foreach(out, name, nic)
	{
		const char *idx = json_get_str(nic, "_index");

		if (!idx || !streq(idx, index))
			continue;
		(void)json_array_append_new(json_object_get(nic, "addresses"),
					    json_pack("{s:s,s:s,s:s,s:s}", "family",
						      ifa->ifa_family == AF_INET ? "inet" : "inet6",
						      "address", text, "netmask", prefix, "scope",
						      ifa->ifa_scope == RT_SCOPE_UNIVERSE ? "global"
						      : ifa->ifa_scope == RT_SCOPE_LINK	  ? "link"
						      : ifa->ifa_scope == RT_SCOPE_HOST
							      ? "local"
							      : "global"));
		break;
	}
}

static json_t *state_network(const struct instance *inst, const char *status_key, pid_t pid)
{
	json_t *out = json_object();
	int sock = lxc_status_netlink_take(status_key, pid);
	const char *name, *dname;
	json_t *nic, *dev;

	if ((sock < 0 && netns_socket(pid, &sock) < 0) ||
	    netlink_dump(sock, RTM_GETLINK, link_cb, out) < 0 ||
	    netlink_dump(sock, RTM_GETADDR, addr_cb, out) < 0) {
		closep(&sock);
		json_decref(out);
		return json_null();
	}
	lxc_status_netlink_give(status_key, pid, sock);
	json_object_foreach(out, name, nic)(void) json_object_del(nic, "_index");

	/* host_name: the host end of each bridged nic, from its device or volatile key. */
	json_object_foreach(inst->expanded_devices, dname, dev)
	{
		const char *ifname = json_get_str(dev, "name");
		const char *host_name = json_get_str(dev, "host_name");
		autofree char *key = str_printf("volatile.%s.host_name", dname);

		if (!json_get_str(dev, "type") || !streq(json_get_str(dev, "type"), "nic"))
			continue;
		if (!host_name)
			host_name = json_get_str(inst->expanded_config, key);
		nic = json_object_get(out, ifname ? ifname : dname);
		if (nic && host_name)
			(void)json_object_set_new(nic, "host_name", json_string(host_name));
	}
	return out;
}

static int lxc_instance_state(const struct instance_env *env, struct instance *inst, json_t **ret,
			      struct error *err)
{
	autoclean(lxc_paths_release) struct lxc_paths p = { 0 };
	enum instance_status status;
	json_t *state;
	pid_t pid = 0;
	int r;

	r = lxc_paths_init(env, inst->project, inst->name, &p, err);
	if (r < 0)
		return r;
	status = lxc_status_lookup(&p, &pid);

	state = json_pack("{s:s,s:i,s:i,s:i,s:{s:i},s:{s:i,s:i,s:i,s:i},s:{},s:n}", "status",
			  lxc_status_name(status), "status_code", (int)status, "pid",
			  pid > 0 ? (int)pid : 0, "processes", 0, "cpu", "usage", 0, "memory",
			  "usage", 0, "usage_peak", 0, "swap_usage", 0, "swap_usage_peak", 0,
			  "disk", "network");
	if (pid > 0) {
		state_cgroups(state, pid);
		(void)json_object_set_new(state, "network", state_network(inst, p.dir, pid));
	}
	*ret = state;
	return 0;
}

const struct instance_driver instance_driver_lxc = {
	.name = "lxc",
	.type = INSTANCE_CONTAINER,
	.create = lxc_instance_create,
	.delete = lxc_instance_delete,
	.rename = lxc_instance_rename,
	.rootfs_idmap = lxc_instance_rootfs_idmap,
	.start = lxc_instance_start,
	.stop = lxc_instance_stop,
	.freeze = lxc_instance_freeze,
	.unfreeze = lxc_instance_unfreeze,
	.status = lxc_instance_status,
	.state = lxc_instance_state,
	.update_live = lxc_instance_update_live,
	.exec = lxc_instance_exec,
	.console_open = lxc_instance_console_open,
	.rootfs_open = lxc_instance_rootfs_open,
};
