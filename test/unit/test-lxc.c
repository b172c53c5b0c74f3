/* The liblxc driver: config generation (no root needed), then real containers (root and
 * busybox-static needed; the tests say SKIP and pass without them). */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "instance/cgroup.h"
#include "instance/idmap.h"
#include "instance/instance.h"
#include "instance/lxc.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

/* This host's layout: every controller on v1, cgroup2 beside them. */
static const char hybrid_mounts[] =
	"tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
	"cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
	"cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0\n"
	"cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0\n"
	"cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
	"cgroup /sys/fs/cgroup/devices cgroup rw,relatime,devices 0 0\n"
	"cgroup /sys/fs/cgroup/freezer cgroup rw,relatime,freezer 0 0\n"
	"cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
	"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";

static const char unified_mounts[] =
	"proc /proc proc rw 0 0\n"
	"cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n";

static const struct lxc_host test_host = {
	.cpus_online = "0-3",
	.memory_total = 8ULL << 30,
	.apparmor = false,
};

static const struct idmap test_map = {
	.uid = { 1000000, 1000000000 },
	.gid = { 1000000, 1000000000 },
};

static struct cgroup_info hybrid(void)
{
	struct cgroup_info cg;

	ck_assert_int_eq(cgroup_info_parse(hybrid_mounts, NULL, true, &cg, NULL), 0);
	return cg;
}

static struct cgroup_info unified(void)
{
	struct cgroup_info cg;

	ck_assert_int_eq(
		cgroup_info_parse(unified_mounts, "cpuset,cpu,io,memory,pids", true, &cg, NULL), 0);
	return cg;
}

static json_t *json_or_die(const char *text)
{
	json_t *j = NULL;

	ck_assert_int_eq(json_parse(text, strlen(text), false, &j, NULL), 0);
	return j;
}

/* Builds a config; returns the error code, *text and err filled. */
static int build(const struct cgroup_info *cg, const char *config, const char *devices,
		 const struct idmap *map, char **text, struct error *err)
{
	autojson json_t *c = json_or_die(config);
	autojson json_t *d = json_or_die(devices);
	struct lxc_conf conf = { 0 };
	struct lxc_conf_input in = {
		.name = "c1",
		.hostname = "c1",
		.rootfs = "/var/lib/lodge/storage/c1/rootfs",
		.log_dir = "/var/lib/lodge/logs/c1",
		.seccomp_path = "/var/lib/lodge/containers/c1/seccomp",
		.devices_dir = "/var/lib/lodge/devices/c1",
		.config = c,
		.devices = d,
		.cgroups = cg,
		.host = &test_host,
		.idmap = map,
		.rootfs_idmapped = map != NULL,
	};
	int r;

	*text = NULL;
	r = lxc_conf_build(&in, &conf, err);
	if (r == 0)
		*text = xstrdup(conf.text);
	lxc_conf_release(&conf);
	return r;
}

static bool has_line(const char *text, const char *line)
{
	autofree char *needle = str_printf("\n%s\n", line);

	return strstr(text, needle) != NULL;
}

START_TEST(test_cgroup_layouts)
{
	struct cgroup_info h = hybrid(), u = unified(), l;
	autofree char *dir = NULL;

	ck_assert_int_eq(h.layout, CGROUP_LAYOUT_HYBRID);
	ck_assert_int_eq(h.controllers[CGROUP_MEMORY], CGROUP_V1);
	ck_assert_int_eq(h.controllers[CGROUP_PIDS], CGROUP_V1);
	/* Not mounted on v1, and liblxc ignores cgroup2 keys on a hybrid host. */
	ck_assert_int_eq(h.controllers[CGROUP_BLKIO], CGROUP_UNAVAILABLE);
	ck_assert_uint_eq(h.n_hierarchies, 9);

	ck_assert_int_eq(u.layout, CGROUP_LAYOUT_UNIFIED);
	ck_assert_int_eq(u.controllers[CGROUP_MEMORY], CGROUP_V2);
	ck_assert_int_eq(u.controllers[CGROUP_BLKIO], CGROUP_V2);
	ck_assert_int_eq(u.controllers[CGROUP_DEVICES], CGROUP_V2);

	ck_assert_int_eq(cgroup_info_parse("cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n",
					   NULL, true, &l, NULL),
			 0);
	ck_assert_int_eq(l.layout, CGROUP_LAYOUT_LEGACY);
	ck_assert_int_eq(l.controllers[CGROUP_CPU], CGROUP_UNAVAILABLE);
	ck_assert_int_eq(cgroup_info_parse("proc /proc proc rw 0 0\n", NULL, true, &l, NULL),
			 -ENOENT);

	/* A container's cgroup, cut after lxc.payload even when init moved deeper. */
	ck_assert_int_eq(cgroup_container_dir(&h, "4:memory:/lxc.payload.c1/init.scope\n0::/\n",
					      CGROUP_MEMORY, &dir),
			 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/memory/lxc.payload.c1");
	free(dir);
	dir = NULL;
	ck_assert_int_eq(cgroup_container_dir(&u, "0::/lxc.payload.c1\n", CGROUP_MEMORY, &dir), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/lxc.payload.c1");
}
END_TEST

START_TEST(test_conf_unprivileged_hybrid)
{
	struct cgroup_info cg = hybrid();
	autofree char *text = NULL;

	ck_assert_int_eq(
		build(&cg,
		      "{\"limits.memory\": \"512MiB\", \"limits.cpu\": \"2\","
		      " \"limits.processes\": \"100\", \"limits.memory.swap\": \"false\","
		      " \"limits.cpu.allowance\": \"25ms/100ms\","
		      " \"environment.FOO\": \"bar baz\"}",
		      "{\"root\": {\"type\": \"disk\", \"path\": \"/\", \"pool\": \"default\"}}",
		      &test_map, &text, NULL),
		0);
	ck_assert(has_line(text, "lxc.idmap = u 0 1000000 1000000000"));
	ck_assert(has_line(text, "lxc.idmap = g 0 1000000 1000000000"));
	ck_assert(has_line(text, "lxc.rootfs.options = idmap=container"));
	ck_assert(has_line(text, "lxc.rootfs.path = dir:/var/lib/lodge/storage/c1/rootfs"));
	ck_assert(has_line(text, "lxc.cgroup.memory.limit_in_bytes = 536870912"));
	ck_assert(has_line(text, "lxc.cgroup.memory.memsw.limit_in_bytes = 536870912"));
	ck_assert(has_line(text, "lxc.cgroup.memory.swappiness = 0"));
	ck_assert(has_line(text, "lxc.cgroup.cpuset.cpus = 0-1"));
	ck_assert(has_line(text, "lxc.cgroup.cpu.cfs_quota_us = 25000"));
	ck_assert(has_line(text, "lxc.cgroup.cpu.cfs_period_us = 100000"));
	ck_assert(has_line(text, "lxc.cgroup.pids.max = 100"));
	ck_assert(has_line(text, "lxc.cgroup.devices.deny = a"));
	ck_assert(has_line(text, "lxc.cgroup.devices.allow = c 136:* rwm"));
	ck_assert(has_line(text, "lxc.environment = FOO=bar baz"));
	ck_assert(has_line(text, "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed"));
	ck_assert(has_line(text, "lxc.apparmor.profile = unconfined"));
	ck_assert(has_line(text, "lxc.seccomp.profile = /var/lib/lodge/containers/c1/seccomp"));
	ck_assert(has_line(text, "lxc.log.file = /var/lib/lodge/logs/c1/lxc.log"));
	ck_assert(has_line(text, "lxc.console.logfile = /var/lib/lodge/logs/c1/console.log"));
	/* No cgroup2 keys on a hybrid host, no lxcfs hooks, no includes, the root disk is
	 * the rootfs and no network unless a nic asks for one. */
	ck_assert_ptr_null(strstr(text, "lxc.cgroup2."));
	ck_assert_ptr_null(strstr(text, "lxc.hook"));
	ck_assert_ptr_null(strstr(text, "lxc.include"));
	ck_assert_ptr_null(strstr(text, "lxc.net."));
	ck_assert_ptr_null(strstr(text, "dev/.lxc/proc"));
}
END_TEST

START_TEST(test_conf_unified_privileged_nesting)
{
	struct cgroup_info cg = unified();
	autofree char *text = NULL;

	ck_assert_int_eq(
		build(&cg,
		      "{\"limits.memory\": \"50%\", \"limits.cpu\": \"1,3\","
		      " \"limits.cpu.allowance\": \"50%\", \"limits.memory.swap\": \"false\","
		      " \"security.privileged\": \"true\", \"security.nesting\": \"true\"}",
		      "{}", NULL, &text, NULL),
		0);
	ck_assert(has_line(text, "lxc.cgroup2.memory.max = 4294967296"));
	ck_assert(has_line(text, "lxc.cgroup2.memory.swap.max = 0"));
	ck_assert(has_line(text, "lxc.cgroup2.cpuset.cpus = 1,3"));
	ck_assert(has_line(text, "lxc.cgroup2.cpu.weight = 50"));
	ck_assert(has_line(text, "lxc.cgroup2.cpu.max = max 100000"));
	ck_assert(has_line(text, "lxc.cgroup2.devices.deny = a"));
	ck_assert(has_line(text,
			   "lxc.mount.entry = proc dev/.lxc/proc proc create=dir,optional 0 0"));
	ck_assert(
		has_line(text, "lxc.mount.entry = sys dev/.lxc/sys sysfs create=dir,optional 0 0"));
	ck_assert_ptr_null(strstr(text, "lxc.cgroup."));
	ck_assert_ptr_null(strstr(text, "lxc.idmap"));
	ck_assert_ptr_null(strstr(text, "lxc.rootfs.options"));
}
END_TEST

START_TEST(test_conf_refuses_injection)
{
	struct cgroup_info cg = hybrid();
	autofree char *text = NULL;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(build(&cg, "{\"limits.memory\": \"1\\nlxc.init.cmd=/bin/evil\"}", "{}",
			       &test_map, &text, &err),
			 -EINVAL);
	ck_assert_ptr_null(text);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "limits.memory"));
	error_clear(&err);

	/* In keys the driver never reads, too: the whole config is checked first. */
	ck_assert_int_eq(build(&cg, "{\"user.note\": \"a\\rb\"}", "{}", &test_map, &text, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(build(&cg, "{\"environment.X\": \"1\\nlxc.cap.drop=\"}", "{}", &test_map,
			       &text, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(build(&cg, "{\"environment.A=B\": \"1\"}", "{}", &test_map, &text, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(build(&cg, "{}",
			       "{\"d\": {\"type\": \"disk\", \"source\": \"/tmp\","
			       " \"path\": \"/mnt\\nlxc.init.cmd=/x\"}}",
			       &test_map, &text, &err),
			 -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(
		build(&cg, "{}", "{\"a\\nb\": {\"type\": \"none\"}}", &test_map, &text, &err),
		-EINVAL);
	error_clear(&err);
	ck_assert_int_eq(
		build(&cg, "{\"raw.lxc\": \"lxc.init.cmd = /x\"}", "{}", &test_map, &text, &err),
		-EOPNOTSUPP);
	error_clear(&err);
	ck_assert_ptr_null(text);
}
END_TEST

START_TEST(test_conf_disk_paths)
{
	struct cgroup_info cg = hybrid();
	autofree char *text = NULL;
	autofree char *src = str_printf("%s/data dir", unit_tmpdir);
	autofree char *devices = NULL;
	autofree char *line = NULL;
	struct error err = ERROR_INIT;
	static const char *const bad_paths[] = { "mnt",	  "/mnt/../etc", "/mnt/./x",
						 "//mnt", "../x",	 "/mnt/" };

	ck_assert_int_eq(mkdir(src, 0755), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++) {
		autofree char *d = str_printf(
			"{\"d\": {\"type\": \"disk\", \"source\": \"/tmp\", \"path\": \"%s\"}}",
			bad_paths[i]);

		ck_assert_int_eq(build(&cg, "{}", d, &test_map, &text, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(error_message(&err), "'path' of device 'd'"));
		error_clear(&err);
	}
	ck_assert_int_eq(
		build(&cg, "{}",
		      "{\"d\": {\"type\": \"disk\", \"source\": \"tmp\", \"path\": \"/m\"}}",
		      &test_map, &text, &err),
		-EINVAL);
	error_clear(&err);
	ck_assert_int_eq(
		build(&cg, "{}",
		      "{\"d\": {\"type\": \"disk\", \"source\": \"/tmp/../etc\", \"path\": \"/m\"}}",
		      &test_map, &text, &err),
		-EINVAL);
	error_clear(&err);
	ck_assert_int_eq(build(&cg, "{}",
			       "{\"d\": {\"type\": \"disk\", \"source\": \"/nonexistent-lodge\","
			       " \"path\": \"/m\"}}",
			       &test_map, &text, &err),
			 -ENOENT);
	error_clear(&err);

	devices = str_printf(
		"{\"d\": {\"type\": \"disk\", \"source\": \"%s\", \"path\": \"/mnt/my data\","
		" \"readonly\": \"true\"},"
		" \"opt\": {\"type\": \"disk\", \"source\": \"/nonexistent-lodge\","
		" \"path\": \"/opt\", \"optional\": \"true\"}}",
		src);
	ck_assert_int_eq(build(&cg, "{}", devices, &test_map, &text, &err), 0);
	line = str_printf(
		"lxc.mount.entry = %s/data\\040dir mnt/my\\040data none bind,create=dir,ro 0 0",
		unit_tmpdir);
	ck_assert(has_line(text, line));
	ck_assert_ptr_null(strstr(text, " opt "));
}
END_TEST

START_TEST(test_conf_nics_and_unix_devices)
{
	struct cgroup_info cg = hybrid();
	autojson json_t *config = json_object();
	autojson json_t *devices = json_or_die(
		"{\"eth0\": {\"type\": \"nic\", \"nictype\": \"bridged\", \"parent\": \"lxdbr0\","
		" \"mtu\": \"1400\"},"
		" \"net1\": {\"type\": \"nic\", \"network\": \"br1\", \"name\": \"eth1\","
		" \"hwaddr\": \"00:16:3e:aa:bb:cc\", \"host_name\": \"vhost1\"},"
		" \"fuse\": {\"type\": \"unix-char\", \"path\": \"/dev/myfuse\", \"major\": \"10\","
		" \"minor\": \"229\", \"uid\": \"5\", \"mode\": \"0600\"}}");
	autofree char *text = NULL;
	autofree char *devices_text = NULL;
	autofree char *line = NULL;
	struct error err = ERROR_INIT;
	const char *mac;

	/* The driver fills a MAC and a host-side name before building. */
	ck_assert_int_eq(lxc_volatile_fill(config, config, devices), 2);
	ck_assert_int_eq(lxc_volatile_fill(config, config, devices), 0);
	mac = json_get_str(config, "volatile.eth0.hwaddr");
	ck_assert(str_has_prefix(mac, "00:16:3e:"));
	ck_assert_uint_eq(strlen(mac), 17);
	ck_assert_ptr_nonnull(json_get_str(config, "volatile.eth0.host_name"));
	ck_assert_ptr_null(json_get_str(config, "volatile.net1.hwaddr"));

	{
		autofree char *config_text = json_to_string(config);

		devices_text = json_to_string(devices);
		ck_assert_int_eq(build(&cg, config_text, devices_text, &test_map, &text, &err), 0);
	}
	ck_assert(has_line(text, "lxc.net.0.type = veth"));
	ck_assert(has_line(text, "lxc.net.0.link = lxdbr0"));
	ck_assert(has_line(text, "lxc.net.0.name = eth0"));
	ck_assert(has_line(text, "lxc.net.0.mtu = 1400"));
	line = str_printf("lxc.net.0.hwaddr = %s", mac);
	ck_assert(has_line(text, line));
	ck_assert(has_line(text, "lxc.net.1.link = br1"));
	ck_assert(has_line(text, "lxc.net.1.name = eth1"));
	ck_assert(has_line(text, "lxc.net.1.hwaddr = 00:16:3e:aa:bb:cc"));
	ck_assert(has_line(text, "lxc.net.1.veth.pair = vhost1"));
	ck_assert(has_line(text, "lxc.mount.entry = /var/lib/lodge/devices/c1/unix.fuse dev/myfuse "
				 "none bind,create=file 0 0"));
	ck_assert(has_line(text, "lxc.cgroup.devices.allow = c 10:229 rwm"));
	free(text);
	text = NULL;

	/* Without a MAC, other nic types, bad names. */
	ck_assert_int_eq(build(&cg, "{}", devices_text, &test_map, &text, &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(
		build(&cg, "{}",
		      "{\"e\": {\"type\": \"nic\", \"nictype\": \"ipvlan\", \"parent\": \"eth0\"}}",
		      &test_map, &text, &err),
		-EOPNOTSUPP);
	error_clear(&err);
	ck_assert_int_eq(
		build(&cg, "{\"volatile.e.hwaddr\": \"00:16:3e:00:00:01\"}",
		      "{\"e\": {\"type\": \"nic\", \"nictype\": \"bridged\", \"parent\": \"../x\"}}",
		      &test_map, &text, &err),
		-EINVAL);
	error_clear(&err);
	ck_assert_int_eq(build(&cg, "{}", "{\"g\": {\"type\": \"gpu\"}}", &test_map, &text, &err),
			 -EOPNOTSUPP);
	error_clear(&err);
}
END_TEST

/* macvlan, p2p and physical nics: their liblxc types, MACs and host ends. */
START_TEST(test_conf_nic_types)
{
	struct cgroup_info cg = hybrid();
	autojson json_t *config = json_object();
	autojson json_t *devices = json_or_die(
		"{\"m\": {\"type\": \"nic\", \"nictype\": \"macvlan\", \"parent\": \"dum0\"},"
		" \"p\": {\"type\": \"nic\", \"nictype\": \"p2p\", \"name\": \"eth1\"},"
		" \"x\": {\"type\": \"nic\", \"nictype\": \"physical\", \"parent\": \"dum1\","
		" \"mtu\": \"1300\"}}");
	autofree char *text = NULL;
	autofree char *config_text = NULL;
	autofree char *devices_text = NULL;
	autofree char *line = NULL;
	struct error err = ERROR_INIT;

	/* MACs for macvlan and p2p, a host end for p2p only; physical keeps its own. */
	ck_assert_int_eq(lxc_volatile_fill(config, config, devices), 3);
	ck_assert_ptr_nonnull(json_get_str(config, "volatile.m.hwaddr"));
	ck_assert_ptr_null(json_get_str(config, "volatile.m.host_name"));
	ck_assert_ptr_nonnull(json_get_str(config, "volatile.p.host_name"));
	ck_assert_ptr_null(json_get_str(config, "volatile.x.hwaddr"));
	config_text = json_to_string(config);
	devices_text = json_to_string(devices);
	ck_assert_int_eq(build(&cg, config_text, devices_text, &test_map, &text, &err), 0);
	ck_assert(has_line(text, "lxc.net.0.type = macvlan"));
	ck_assert(has_line(text, "lxc.net.0.link = dum0"));
	ck_assert(has_line(text, "lxc.net.0.macvlan.mode = bridge"));
	line = str_printf("lxc.net.0.hwaddr = %s", json_get_str(config, "volatile.m.hwaddr"));
	ck_assert(has_line(text, line));
	ck_assert(has_line(text, "lxc.net.1.type = veth"));
	ck_assert(has_line(text, "lxc.net.1.name = eth1"));
	ck_assert(!strstr(text, "lxc.net.1.link"));
	free(line);
	line = str_printf("lxc.net.1.veth.pair = %s", json_get_str(config, "volatile.p.host_name"));
	ck_assert(has_line(text, line));
	ck_assert(has_line(text, "lxc.net.2.type = phys"));
	ck_assert(has_line(text, "lxc.net.2.link = dum1"));
	ck_assert(has_line(text, "lxc.net.2.mtu = 1300"));
	ck_assert(!strstr(text, "lxc.net.2.hwaddr"));
	free(text);
	text = NULL;

	/* What each type refuses. */
	static const char *const bad[] = {
		"{\"e\": {\"type\": \"nic\", \"nictype\": \"macvlan\"}}",
		"{\"e\": {\"type\": \"nic\", \"nictype\": \"p2p\", \"parent\": \"br0\"}}",
		"{\"e\": {\"type\": \"nic\", \"nictype\": \"physical\", \"parent\": \"d\","
		" \"host_name\": \"v1\"}}",
		"{\"e\": {\"type\": \"nic\", \"nictype\": \"macvlan\", \"parent\": \"d\","
		" \"network\": \"br0\"}}",
		"{\"e\": {\"type\": \"nic\", \"nictype\": \"p2p\", \"ipv4.address\": \"10.0.0.2\"}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(build(&cg, "{\"volatile.e.hwaddr\": \"00:16:3e:00:00:01\"}",
				       bad[i], &test_map, &text, &err),
				 -EINVAL);
		error_clear(&err);
	}
}
END_TEST

START_TEST(test_conf_missing_controller)
{
	struct cgroup_info cg;
	autofree char *text = NULL;
	struct error err = ERROR_INIT;

	/* Memory only on the cgroup2 of a hybrid host: liblxc would ignore the limit. */
	ck_assert_int_eq(cgroup_info_parse("cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n"
					   "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n",
					   "memory", true, &cg, NULL),
			 0);
	ck_assert_int_eq(build(&cg, "{\"limits.memory\": \"1GiB\"}", "{}", &test_map, &text, &err),
			 -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "memory cgroup controller"));
	error_clear(&err);
	ck_assert_int_eq(build(&cg, "{\"limits.processes\": \"10\"}", "{}", &test_map, &text, &err),
			 0);
}
END_TEST

START_TEST(test_limits_parse)
{
	struct lxc_cpu_limit lim;
	autofree char *set = NULL;
	uint64_t bytes;

	ck_assert_int_eq(lxc_limit_cpuset("2", "0-3", &set, NULL), 0);
	ck_assert_str_eq(set, "0-1");
	free(set);
	ck_assert_int_eq(lxc_limit_cpuset("8", "0-3", &set, NULL), 0);
	ck_assert_str_eq(set, "0-3");
	free(set);
	ck_assert_int_eq(lxc_limit_cpuset("2", "1,3,5-7", &set, NULL), 0);
	ck_assert_str_eq(set, "1,3");
	free(set);
	ck_assert_int_eq(lxc_limit_cpuset("0-1,3", "0-3", &set, NULL), 0);
	ck_assert_str_eq(set, "0-1,3");
	free(set);
	ck_assert_int_eq(lxc_limit_cpuset("2-2", "0-3", &set, NULL), 0);
	ck_assert_str_eq(set, "2");
	free(set);
	set = NULL;
	ck_assert_int_eq(lxc_limit_cpuset("0", "0-3", &set, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpuset("4-5", "0-3", &set, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpuset("3-1", "0-3", &set, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpuset("1,,2", "0-3", &set, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpuset("x", "0-3", &set, NULL), -EINVAL);

	ck_assert_int_eq(lxc_limit_cpu("50%", NULL, false, &lim, NULL), 0);
	ck_assert_int_eq(lim.shares, 512);
	ck_assert_int_eq(lim.quota_us, -1);
	ck_assert_int_eq(lxc_limit_cpu("25ms/100ms", NULL, false, &lim, NULL), 0);
	ck_assert_int_eq(lim.quota_us, 25000);
	ck_assert_int_eq(lim.period_us, 100000);
	ck_assert_int_eq(lim.shares, 1024);
	ck_assert_int_eq(lxc_limit_cpu("1.5s/1s", NULL, true, &lim, NULL), 0);
	ck_assert_int_eq(lim.quota_us, 1500000);
	ck_assert_int_eq(lim.shares, 100);
	ck_assert_int_eq(lxc_limit_cpu(NULL, "5", false, &lim, NULL), 0);
	ck_assert_int_eq(lim.shares, 1019);
	ck_assert_int_eq(lxc_limit_cpu("0%", NULL, false, &lim, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpu("150%", NULL, false, &lim, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpu("25ms", NULL, false, &lim, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpu("25xs/100ms", NULL, false, &lim, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpu("10us/100ms", NULL, false, &lim, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_cpu(NULL, "11", false, &lim, NULL), -EINVAL);

	ck_assert_int_eq(lxc_limit_memory("512MiB", 0, &bytes, NULL), 0);
	ck_assert_uint_eq(bytes, 512ULL << 20);
	ck_assert_int_eq(lxc_limit_memory("25%", 8ULL << 30, &bytes, NULL), 0);
	ck_assert_uint_eq(bytes, 2ULL << 30);
	ck_assert_int_eq(lxc_limit_memory("1GB", 0, &bytes, NULL), 0);
	ck_assert_uint_eq(bytes, 1000000000ULL);
	ck_assert_int_eq(lxc_limit_memory("1", 0, &bytes, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_memory("101%", 1ULL << 30, &bytes, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_memory("12 MiB", 0, &bytes, NULL), -EINVAL);
	ck_assert_int_eq(lxc_limit_memory("-5MiB", 0, &bytes, NULL), -EINVAL);

	ck_assert(lxc_cgroup_value_matches("memory.limit_in_bytes", "536870912", "536870912\n"));
	ck_assert(lxc_cgroup_value_matches("memory.limit_in_bytes", "1000000000", "999997440\n"));
	ck_assert(lxc_cgroup_value_matches("memory.limit_in_bytes", "-1", "9223372036854771712\n"));
	ck_assert(!lxc_cgroup_value_matches("memory.limit_in_bytes", "536870912",
					    "9223372036854771712"));
	ck_assert(lxc_cgroup_value_matches("cpuset.cpus", "0,1", "0-1\n"));
	ck_assert(!lxc_cgroup_value_matches("cpuset.cpus", "0", "0-1\n"));
	ck_assert(lxc_cgroup_value_matches("pids.max", "max", "max\n"));
	ck_assert(!lxc_cgroup_value_matches("pids.max", "100", "99\n"));
}
END_TEST

START_TEST(test_live_reset_items)
{
	struct cgroup_info cg = hybrid();
	autojson json_t *config = json_or_die("{\"limits.memory\": \"256MiB\"}");
	struct lxc_cgroup_items items = { 0 };
	bool saw_cpu = false, saw_mem = false, saw_pids = false;

	/* Keys that are unset go back to unlimited when applied live. */
	ck_assert_int_eq(lxc_cgroup_items_build(config, &cg, &test_host, true, &items, NULL), 0);
	for (size_t i = 0; i < items.n; i++) {
		ck_assert_int_eq(items.items[i].version, CGROUP_V1);
		if (streq(items.items[i].key, "cpuset.cpus")) {
			ck_assert_str_eq(items.items[i].value, "0-3");
			saw_cpu = true;
		} else if (streq(items.items[i].key, "memory.limit_in_bytes")) {
			ck_assert_str_eq(items.items[i].value, "268435456");
			saw_mem = true;
		} else if (streq(items.items[i].key, "pids.max")) {
			ck_assert_str_eq(items.items[i].value, "max");
			saw_pids = true;
		}
	}
	ck_assert(saw_cpu && saw_mem && saw_pids);
	lxc_cgroup_items_release(&items);
}
END_TEST

START_TEST(test_idmap_subid)
{
	autofree char *path = str_printf("%s/subuid", unit_tmpdir);
	autofree char *text = NULL;
	struct idmap_range r1, r2;

	/* A missing file gets LXD's default, once. */
	ck_assert_int_eq(idmap_subid_ensure(path, &r1, NULL), 0);
	ck_assert_uint_eq(r1.base, 1000000);
	ck_assert_uint_eq(r1.count, 1000000000);
	ck_assert_int_eq(idmap_subid_ensure(path, &r2, NULL), 0);
	ck_assert_uint_eq(r2.base, 1000000);
	ck_assert_int_eq(read_file(path, 4096, &text, NULL, NULL), 0);
	ck_assert_str_eq(text, "root:1000000:1000000000\n");
	free(text);
	text = NULL;

	/* Others' lines stay, and a range overlapping the default moves ours past it. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(
		write_file_atomic(path, "alice:100000:65536\nbob:1000000:65536", 36, 0644, NULL),
		0);
	ck_assert_int_eq(idmap_subid_ensure(path, &r1, NULL), 0);
	ck_assert_uint_eq(r1.base, 1065536);
	ck_assert_int_eq(read_file(path, 4096, &text, NULL, NULL), 0);
	ck_assert_str_eq(text, "alice:100000:65536\nbob:1000000:65536\nroot:1065536:1000000000\n");

	ck_assert_int_eq(idmap_subid_find("a:1:2\nroot:5:100000\n", "root", 0, &r1), 0);
	ck_assert_uint_eq(r1.base, 5);
	ck_assert_int_eq(idmap_subid_find("0:7:100000\n", "root", 0, &r1), 0);
	ck_assert_uint_eq(r1.base, 7);
	ck_assert_int_eq(idmap_subid_find("rootx:7:100000\nroot:x:1\n", "root", 0, &r1), -ENOENT);
}
END_TEST

START_TEST(test_idmap_allocate)
{
	struct idmap_range host = { 1000000, 1000000000 };
	struct idmap_range used[] = { { 1131072, 65536 }, { 1065536, 65536 }, { 1262144, 65536 } };
	struct idmap_range tiny = { 1000000, 131072 };
	uint64_t base = 0;

	ck_assert_int_eq(idmap_allocate(&host, NULL, 0, 65536, &base, NULL), 0);
	ck_assert_uint_eq(base, 1065536);
	/* The first gap, whatever the order of the used ranges. */
	ck_assert_int_eq(idmap_allocate(&host, used, 3, 65536, &base, NULL), 0);
	ck_assert_uint_eq(base, 1196608);
	ck_assert_int_eq(idmap_allocate(&host, used, 3, 131072, &base, NULL), 0);
	ck_assert_uint_eq(base, 1327680);
	ck_assert_int_eq(idmap_allocate(&tiny, used, 2, 65536, &base, NULL), -ENOSPC);
	ck_assert_int_eq(idmap_allocate(&tiny, NULL, 0, 65536, &base, NULL), 0);
}
END_TEST

/* --- real containers ----------------------------------------------------------------- */

static const char *const busybox_applets[] = {
	"sh", "echo",  "cat", "ls", "sleep",	"true", "false", "id",	"touch", "mkdir",
	"ip", "mount", "ps",  "wc", "poweroff", "halt", "env",	 "pwd", "seq",	 "stat",
};

static bool elf_is_static(const char *path)
{
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;

	if (fd < 0 || read(fd, &eh, sizeof(eh)) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			return false;
		if (ph.p_type == PT_INTERP)
			return false;
	}
	return true;
}

static bool can_run_containers(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: container tests need root\n");
		return false;
	}
	if (!elf_is_static("/bin/busybox")) {
		fprintf(stderr, "SKIP: container tests need busybox-static\n");
		return false;
	}
	return true;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	autofree char *data = NULL;
	size_t len = 0;

	ck_assert_int_eq(read_file(from, 64 << 20, &data, &len, NULL), 0);
	ck_assert_int_eq(write_file_atomic(to, data, len, mode, NULL), 0);
}

/* A busybox system in dir: applets, /sbin/init, an inittab that says hello on the
 * console. */
static void rootfs_build(const char *dir)
{
	static const char *const dirs[] = { "bin", "sbin", "etc", "dev", "proc", "sys",
					    "tmp", "root", "run", "var", "mnt" };
	static const char inittab[] = "::sysinit:/bin/echo lodge-console-ready\n"
				      "::shutdown:/bin/true\n";
	autofree char *busybox = str_printf("%s/bin/busybox", dir);
	autofree char *init = str_printf("%s/sbin/init", dir);
	autofree char *tab = str_printf("%s/etc/inittab", dir);

	ck_assert_int_eq(mkdir_p(dir, 0755, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		autofree char *p = str_printf("%s/%s", dir, dirs[i]);

		ck_assert_int_eq(mkdir_p(p, 0755, NULL), 0);
	}
	copy_file("/bin/busybox", busybox, 0755);
	for (size_t i = 0; i < ARRAY_SIZE(busybox_applets); i++) {
		autofree char *p = str_printf("%s/bin/%s", dir, busybox_applets[i]);

		ck_assert_int_eq(symlink("busybox", p), 0);
	}
	ck_assert_int_eq(symlink("/bin/busybox", init), 0);
	ck_assert_int_eq(write_file_atomic(tab, inittab, strlen(inittab), 0644, NULL), 0);
}

struct fixture {
	struct instance_env env;
	struct instance inst;
	char base[512];	     /* this test's files */
	char lodge_dir[512]; /* LODGE_DIR, shared by the run */
	char rootfs[512];
	char name[64];
	bool mounted; /* an overlay at rootfs */
};

static struct fixture fx;

/* The container tests share one directory, made before and removed after all of them by
 * the runner process: a failed assertion ends a test's process at once, so only the
 * runner can be sure to stop what a test left running. */
static char runner_dir[256];
static int runner_pid;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void runner_setup(void)
{
	runner_pid = (int)getpid();
	if (!snprintf_ok(runner_dir, sizeof(runner_dir), "/tmp/lodge-lxc-test-XXXXXX") ||
	    !mkdtemp(runner_dir))
		abort();
	/* An unprivileged container's root walks to its rootfs with "other" permissions. */
	(void)chmod(runner_dir, 0711);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int run(const char *const *argv);

static void runner_teardown(void)
{
	autofree char *lodge = str_printf("%s/lodge", runner_dir);
	autofree char *lxcpath = str_printf("%s/containers", lodge);
	autofree char *mounts = NULL;
	struct instance_env env = { .dir = lodge };
	char bridge[16];
	DIR *dir;
	struct dirent *de;

	if (!runner_dir[0])
		return;
	dir = opendir(lxcpath);
	while (dir && (de = readdir(dir))) {
		struct instance inst = { .name = de->d_name, .project = (char *)"default" };

		if (de->d_name[0] == '.')
			continue;
		(void)instance_driver_lxc.stop(&env, &inst, true, 0, NULL);
		(void)instance_driver_lxc.delete(&env, &inst, NULL);
	}
	if (dir)
		closedir(dir);
	if (read_file("/proc/self/mounts", 1 << 20, &mounts, NULL, NULL) == 0) {
		char *save = NULL;

		for (char *line = strtok_r(mounts, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *mnt = strchr(line, ' ');

			if (mnt && str_has_prefix(mnt + 1, runner_dir)) {
				*strchrnul(mnt + 1, ' ') = '\0';
				(void)umount2(mnt + 1, MNT_DETACH);
			}
		}
	}
	(void)snprintf_ok(bridge, sizeof(bridge), "ltb%d", runner_pid % 100000);
	{
		autofree char *sys = str_printf("/sys/class/net/%s", bridge);

		if (access(sys, F_OK) == 0)
			(void)run((const char *const[]){ "/usr/sbin/ip", "link", "del", bridge,
							 NULL });
	}
	(void)nftw(runner_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	/* liblxc's lock directories for this lxcpath (the driver removes the files). */
	{
		autofree char *locks = str_printf("/run/lxc/lock%s", lxcpath);

		for (char *slash; strlen(locks) > strlen("/run/lxc/lock/tmp");) {
			if (rmdir(locks) < 0)
				break;
			slash = strrchr(locks, '/');
			*slash = '\0';
		}
	}
	runner_dir[0] = '\0';
}

/* Every test gets its own container name and rootfs. */
static void fixture_init(const char *tag)
{
	memset(&fx, 0, sizeof(fx));
	(void)snprintf_ok(fx.base, sizeof(fx.base), "%s/%s", runner_dir, tag);
	(void)snprintf_ok(fx.lodge_dir, sizeof(fx.lodge_dir), "%s/lodge", runner_dir);
	(void)snprintf_ok(fx.rootfs, sizeof(fx.rootfs), "%s/rootfs", fx.base);
	(void)snprintf_ok(fx.name, sizeof(fx.name), "t%d-%s", runner_pid, tag);
	ck_assert_int_eq(mkdir_p(fx.base, 0711, NULL), 0);
	ck_assert_int_eq(mkdir_p(fx.lodge_dir, 0711, NULL), 0);
	rootfs_build(fx.rootfs);
	fx.env.dir = fx.lodge_dir;
	fx.inst.name = fx.name;
	fx.inst.project = (char *)"default";
	fx.inst.type = INSTANCE_CONTAINER;
	fx.inst.config = json_object();
	fx.inst.expanded_config = json_object();
	fx.inst.expanded_devices = json_object();
	fx.inst.driver = &instance_driver_lxc;
	fx.inst.rootfs = fx.rootfs;
}

static void config_set(const char *key, const char *value)
{
	(void)json_object_set_new(fx.inst.config, key, json_string(value));
	(void)json_object_set_new(fx.inst.expanded_config, key, json_string(value));
}

static void fixture_cleanup(void)
{
	if (fx.mounted)
		(void)umount2(fx.rootfs, MNT_DETACH);
	json_decref(fx.inst.config);
	json_decref(fx.inst.expanded_config);
	json_decref(fx.inst.expanded_devices);
	memset(&fx, 0, sizeof(fx));
}

/* Root's range in /etc/subuid, as the driver uses it (after the driver made sure). */
static struct idmap_range host_subuid(void)
{
	autofree char *text = NULL;
	struct idmap_range r = { 0, 0 };

	ck_assert_int_eq(read_file(IDMAP_SUBUID_PATH, 1 << 20, &text, NULL, NULL), 0);
	ck_assert_int_eq(idmap_subid_find(text, "root", 0, &r), 0);
	return r;
}

static void check_ok(int r, struct error *err)
{
	if (r < 0)
		ck_abort_msg("%s (%d)", error_message(err), r);
}

static void start_ok(void)
{
	struct error err = ERROR_INIT;
	long long t0 = now_us();

	check_ok(instance_driver_lxc.create(&fx.env, &fx.inst, &err), &err);
	check_ok(instance_driver_lxc.start(&fx.env, &fx.inst, &err), &err);
	fprintf(stderr, "TIMING %s: create+start to RUNNING %.1f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_RUNNING);
}

/* Runs argv in the container as uid:uid; returns its exit status, output in *out. */
static int exec_capture_as(char *const *argv, uint32_t uid, char **out)
{
	struct instance_exec_args args = { 0 };
	struct error err = ERROR_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *envp[] = { (char *)"PATH=/bin:/sbin", (char *)"HOME=/root", NULL };
	autoclose int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int pipefd[2], status = -1, pid = -1, r;
	autoclose int status_fd = -1;
	char buf[4096];
	ssize_t n;

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	args.argv = (char **)argv;
	args.envp = envp;
	args.uid = args.gid = uid;
	args.stdin_fd = null_fd;
	args.stdout_fd = pipefd[1];
	args.stderr_fd = pipefd[1];
	r = instance_driver_lxc.exec(&fx.env, &fx.inst, &args, &pid, &status_fd, &err);
	(void)close(pipefd[1]);
	if (r < 0) {
		(void)close(pipefd[0]);
		ck_abort_msg("exec: %s", error_message(&err));
	}
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
		strbuf_add(&sb, buf, (size_t)n);
	(void)close(pipefd[0]);
	ck_assert_int_eq(read(status_fd, &status, sizeof(status)), (ssize_t)sizeof(status));
	ck_assert(pid > 0 && WIFEXITED(status));
	*out = strbuf_detach(&sb);
	return WEXITSTATUS(status);
}

static int exec_capture(char *const *argv, char **out)
{
	return exec_capture_as(argv, 0, out);
}

static bool monitor_cgroups_left(const char *name)
{
	struct cgroup_info cg;
	bool found = false;

	ck_assert_int_eq(cgroup_info_detect(&cg, NULL), 0);
	for (unsigned i = 0; i < cg.n_hierarchies; i++) {
		autofree char *p1 = str_printf("%s/lxc.monitor.%s", cg.hierarchies[i].path, name);
		autofree char *p2 = str_printf("%s/lxc.monitor.%s-1", cg.hierarchies[i].path, name);
		autofree char *p3 = str_printf("%s/lxc.payload.%s", cg.hierarchies[i].path, name);

		found = found || access(p1, F_OK) == 0 || access(p2, F_OK) == 0 ||
			access(p3, F_OK) == 0;
	}
	return found;
}

static void stop_delete_ok(void)
{
	struct error err = ERROR_INIT;
	autofree char *config = str_printf("%s/containers/%s/config", fx.lodge_dir, fx.inst.name);
	autofree char *logs = str_printf("%s/logs/%s", fx.lodge_dir, fx.inst.name);
	autofree char *busybox = str_printf("%s/bin/busybox", fx.rootfs);
	long long t0 = now_us();

	check_ok(instance_driver_lxc.stop(&fx.env, &fx.inst, true, 0, &err), &err);
	check_ok(instance_driver_lxc.delete(&fx.env, &fx.inst, &err), &err);
	fprintf(stderr, "TIMING %s: stop (force) + delete %.1f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_STOPPED);
	ck_assert_int_eq(access(config, F_OK), -1);
	ck_assert_int_eq(access(logs, F_OK), -1);
	ck_assert_int_eq(access(busybox, X_OK), 0);
	ck_assert(!monitor_cgroups_left(fx.inst.name));
}

START_TEST(test_container_lifecycle)
{
	char *const echo[] = { (char *)"sh", (char *)"-c", (char *)"echo hi; exit 3", NULL };
	char *const fds[] = { (char *)"ls", (char *)"/proc/self/fd", NULL };
	char *const whoami[] = { (char *)"sh", (char *)"-c",
				 (char *)"id -u; pwd; cat /proc/self/uid_map", NULL };
	char *const missing[] = { (char *)"no-such-command", NULL };
	autofree char *out = NULL;
	autofree char *path = NULL;
	autofree char *text = NULL;
	autojson json_t *state = NULL;
	struct error err = ERROR_INIT;
	autoclose int leak = -1;
	long long t0;

	if (!can_run_containers())
		return;
	fixture_init("life");
	config_set("limits.memory", "256MiB");
	config_set("limits.processes", "200");
	start_ok();

	/* Exit codes and output come back; the round trip is timed. */
	t0 = now_us();
	ck_assert_int_eq(exec_capture(echo, &out), 3);
	fprintf(stderr, "TIMING %s: exec round trip %.2f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	ck_assert_str_eq(out, "hi\n");
	free(out);
	ck_assert_int_eq(exec_capture(missing, &out), 127);
	free(out);

	/* No descriptor of ours reaches the container, not even one without O_CLOEXEC
	 * (ls lists 0-2 and its own directory fd). */
	leak = open("/etc/hostname", O_RDONLY);
	ck_assert_int_ge(leak, 0);
	ck_assert_int_eq(exec_capture(fds, &out), 0);
	ck_assert_str_eq(out, "0\n1\n2\n3\n");
	free(out);

	/* Another user, another directory. */
	{
		char *const as_user[] = { (char *)"sh", (char *)"-c", (char *)"id -u; id -g; pwd",
					  NULL };

		ck_assert_int_eq(exec_capture_as(as_user, 1000, &out), 0);
		ck_assert_str_eq(out, "1000\n1000\n/root\n");
		free(out);
	}

	/* Interactive: the pty is the controlling terminal, with the size asked for. */
	{
		char *const tty_argv[] = { (char *)"sh", (char *)"-c", (char *)"stty size; exit 4",
					   NULL };
		struct instance_exec_args args = {
			.argv = (char **)tty_argv, .interactive = true, .width = 100, .height = 40
		};
		struct strbuf sb = STRBUF_INIT;
		int master = -1, slave = -1, pid = -1, status = -1;
		autoclose int status_fd = -1;
		char name[64], buf[256];
		ssize_t n;

		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		ck_assert_int_ge(master, 0);
		ck_assert_int_eq(grantpt(master), 0);
		ck_assert_int_eq(unlockpt(master), 0);
		ck_assert_int_eq(ptsname_r(master, name, sizeof(name)), 0);
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		ck_assert_int_ge(slave, 0);
		args.stdin_fd = args.stdout_fd = args.stderr_fd = slave;
		check_ok(instance_driver_lxc.exec(&fx.env, &fx.inst, &args, &pid, &status_fd, &err),
			 &err);
		(void)close(slave);
		while ((n = read(master, buf, sizeof(buf))) > 0)
			strbuf_add(&sb, buf, (size_t)n);
		ck_assert_int_eq(read(status_fd, &status, sizeof(status)), (ssize_t)sizeof(status));
		ck_assert_int_eq(WEXITSTATUS(status), 4);
		ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "40 100"));
		strbuf_release(&sb);
		(void)close(master);
	}

	/* The console log has what init said at boot. */
	{
		autofree char *log_path =
			str_printf("%s/logs/%s/console.log", fx.lodge_dir, fx.inst.name);
		bool seen = false;

		for (int i = 0; i < 100 && !seen; i++) {
			autofree char *log = NULL;

			seen = read_file(log_path, 1 << 20, &log, NULL, NULL) == 0 &&
			       strstr(log, "lodge-console-ready");
			if (!seen)
				(void)usleep(20000);
		}
		ck_assert(seen);
	}

	/* Unprivileged: root inside is root's subordinate range outside. */
	ck_assert_int_eq(exec_capture(whoami, &out), 0);
	ck_assert(str_has_prefix(out, "0\n/root\n"));
	{
		struct idmap_range subuid = host_subuid();
		autofree char *want = str_printf("0 %10llu %10llu", (unsigned long long)subuid.base,
						 (unsigned long long)subuid.count);

		ck_assert_ptr_nonnull(strstr(out, want));
	}
	free(out);
	out = NULL;

	/* The configured limits are in place. */
	path = str_printf("/sys/fs/cgroup/pids/lxc.payload.%s/pids.max", fx.inst.name);
	ck_assert_int_eq(read_file(path, 64, &text, NULL, NULL), 0);
	ck_assert_str_eq(text, "200\n");
	free(text);
	free(path);
	text = NULL;
	path = str_printf("/sys/fs/cgroup/memory/lxc.payload.%s/memory.limit_in_bytes",
			  fx.inst.name);
	ck_assert_int_eq(read_file(path, 64, &text, NULL, NULL), 0);
	ck_assert_str_eq(text, "268435456\n");
	free(text);
	text = NULL;

	/* state() */
	t0 = now_us();
	check_ok(instance_driver_lxc.state(&fx.env, &fx.inst, &state, &err), &err);
	fprintf(stderr, "TIMING %s: state() %.2f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	ck_assert_str_eq(json_get_str(state, "status"), "Running");
	ck_assert_int_eq(json_integer_value(json_object_get(state, "status_code")), 103);
	ck_assert_int_gt(json_integer_value(json_object_get(state, "pid")), 1);
	ck_assert_int_ge(json_integer_value(json_object_get(state, "processes")), 1);
	ck_assert_int_gt(
		json_integer_value(json_object_get(json_object_get(state, "memory"), "usage")), 0);
	ck_assert_int_gt(
		json_integer_value(json_object_get(json_object_get(state, "cpu"), "usage")), 0);
	ck_assert_str_eq(
		json_get_str(json_object_get(json_object_get(state, "network"), "lo"), "type"),
		"loopback");

	/* Seccomp filters init and what exec runs. */
	{
		autofree char *status_path = str_printf(
			"/proc/%lld/status", json_integer_value(json_object_get(state, "pid")));
		char *const status_argv[] = { (char *)"cat", (char *)"/proc/self/status", NULL };

		ck_assert_int_eq(read_file(status_path, 1 << 16, &text, NULL, NULL), 0);
		ck_assert_ptr_nonnull(strstr(text, "\nSeccomp:\t2\n"));
		free(text);
		text = NULL;
		ck_assert_int_eq(exec_capture(status_argv, &out), 0);
		ck_assert_ptr_nonnull(strstr(out, "\nSeccomp:\t2\n"));
		free(out);
		out = NULL;
	}

	/* Refusals while it runs. */
	ck_assert_int_eq(instance_driver_lxc.start(&fx.env, &fx.inst, &err), -EBUSY);
	error_clear(&err);
	ck_assert_int_eq(instance_driver_lxc.delete(&fx.env, &fx.inst, &err), -EBUSY);
	error_clear(&err);
	ck_assert_int_eq(instance_driver_lxc.rename(&fx.env, &fx.inst, "other", &err), -EBUSY);
	error_clear(&err);

	/* freeze / unfreeze; a frozen container runs nothing new. */
	check_ok(instance_driver_lxc.freeze(&fx.env, &fx.inst, &err), &err);
	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_FROZEN);
	{
		struct instance_exec_args args = {
			.argv = (char **)echo, .stdin_fd = 0, .stdout_fd = 1, .stderr_fd = 2
		};
		int pid = -1, status_fd = -1;

		ck_assert_int_eq(
			instance_driver_lxc.exec(&fx.env, &fx.inst, &args, &pid, &status_fd, &err),
			-EBUSY);
		error_clear(&err);
	}
	check_ok(instance_driver_lxc.unfreeze(&fx.env, &fx.inst, &err), &err);
	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_RUNNING);

	/* A live limit change is applied and read back; removing it lifts it. */
	{
		autojson json_t *old = json_deep_copy(fx.inst.expanded_config);

		config_set("limits.memory", "128MiB");
		check_ok(instance_driver_lxc.update_live(&fx.env, &fx.inst, old,
							 fx.inst.expanded_devices, &err),
			 &err);
		ck_assert_int_eq(read_file(path, 64, &text, NULL, NULL), 0);
		ck_assert_str_eq(text, "134217728\n");
		free(text);
		text = NULL;
		(void)json_object_del(fx.inst.expanded_config, "limits.memory");
		check_ok(instance_driver_lxc.update_live(&fx.env, &fx.inst, old,
							 fx.inst.expanded_devices, &err),
			 &err);
		ck_assert_int_eq(read_file(path, 64, &text, NULL, NULL), 0);
		ck_assert_str_eq(text, "9223372036854771712\n");
	}

	/* A clean shutdown: busybox init halts on SIGPWR. */
	t0 = now_us();
	check_ok(instance_driver_lxc.stop(&fx.env, &fx.inst, false, 10, &err), &err);
	fprintf(stderr, "TIMING %s: clean shutdown %.1f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_STOPPED);
	ck_assert(!monitor_cgroups_left(fx.inst.name));
	json_decref(state);
	check_ok(instance_driver_lxc.state(&fx.env, &fx.inst, &state, &err), &err);
	ck_assert_str_eq(json_get_str(state, "status"), "Stopped");
	ck_assert_int_eq(json_integer_value(json_object_get(state, "pid")), 0);
	ck_assert(json_is_null(json_object_get(state, "network")));

	/* Renamed while stopped, it starts under its new name. */
	{
		autofree char *new_name = str_printf("%s-b", fx.name);
		autofree char *old_dir = str_printf("%s/containers/%s", fx.lodge_dir, fx.name);
		autofree char *new_logs = str_printf("%s/logs/%s", fx.lodge_dir, new_name);

		check_ok(instance_driver_lxc.rename(&fx.env, &fx.inst, new_name, &err), &err);
		ck_assert_int_eq(access(old_dir, F_OK), -1);
		ck_assert_int_eq(access(new_logs, F_OK), 0);
		(void)snprintf_ok(fx.name, sizeof(fx.name), "%s", new_name);
	}

	/* And again, for the forced stop and delete. */
	start_ok();
	stop_delete_ok();
	fixture_cleanup();
}
END_TEST

struct exec_thread {
	int index;
	int status;
	char *out;
};

static void *exec_thread_main(void *data)
{
	struct exec_thread *t = data;
	char arg[32];
	char *const argv[] = { (char *)"echo", arg, NULL };

	(void)snprintf_ok(arg, sizeof(arg), "n%d", t->index);
	t->status = exec_capture(argv, &t->out);
	return NULL;
}

START_TEST(test_container_concurrent_exec)
{
	struct exec_thread threads[50];
	pthread_t tids[50];
	long long t0;

	if (!can_run_containers())
		return;
	/* Threads attaching at once fork a multithreaded process: fine with glibc's malloc,
	 * a deadlock with the sanitizers' (see test/integration/lib.sh). */
	if (getenv("LODGE_SANITIZED"))
		return;
	fixture_init("conc");
	start_ok();

	/* Sequential round trips and status() calls, for the timings. */
	t0 = now_us();
	for (int i = 0; i < 20; i++) {
		char *const argv[] = { (char *)"true", NULL };
		autofree char *out = NULL;

		ck_assert_int_eq(exec_capture(argv, &out), 0);
	}
	fprintf(stderr, "TIMING %s: exec of true, average of 20: %.2f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 20000.0);
	t0 = now_us();
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_RUNNING);
	fprintf(stderr, "TIMING %s: status(), average of 100: %.3f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 100000.0);

	t0 = now_us();
	for (int i = 0; i < 50; i++) {
		threads[i] = (struct exec_thread){ .index = i, .status = -1 };
		ck_assert_int_eq(pthread_create(&tids[i], NULL, exec_thread_main, &threads[i]), 0);
	}
	for (int i = 0; i < 50; i++) {
		autofree char *want = str_printf("n%d\n", i);

		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
		ck_assert_int_eq(threads[i].status, 0);
		ck_assert_str_eq(threads[i].out, want);
		free(threads[i].out);
	}
	fprintf(stderr, "TIMING %s: 50 concurrent execs %.1f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	stop_delete_ok();
	fixture_cleanup();
}
END_TEST

/* A container started by a process that is gone since (a previous lodged) is reached by
 * name: status, state, exec, console, files and stop all work. */
START_TEST(test_container_reattach)
{
	char *const echo[] = { (char *)"echo", (char *)"still here", NULL };
	char *const say[] = { (char *)"sh", (char *)"-c", (char *)"echo via-console > /dev/console",
			      NULL };
	autofree char *out = NULL;
	autojson json_t *state = NULL;
	struct error err = ERROR_INIT;
	autoclose int console = -1, root = -1, tab = -1;
	struct strbuf sb = STRBUF_INIT;
	int status = -1;
	pid_t pid;

	if (!can_run_containers())
		return;
	fixture_init("re");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct error cerr = ERROR_INIT;

		_exit(instance_driver_lxc.create(&fx.env, &fx.inst, &cerr) == 0 &&
				      instance_driver_lxc.start(&fx.env, &fx.inst, &cerr) == 0
			      ? 0
			      : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);

	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_RUNNING);
	check_ok(instance_driver_lxc.state(&fx.env, &fx.inst, &state, &err), &err);
	ck_assert_int_gt(json_integer_value(json_object_get(state, "pid")), 1);
	ck_assert_int_eq(exec_capture(echo, &out), 0);
	ck_assert_str_eq(out, "still here\n");
	free(out);

	/* The console: what goes to /dev/console inside comes out of our descriptor. */
	check_ok(instance_driver_lxc.console_open(&fx.env, &fx.inst, &console, &err), &err);
	ck_assert_int_eq(exec_capture(say, &out), 0);
	for (int i = 0; i < 50 && !strstr(strbuf_str(&sb), "via-console"); i++) {
		struct pollfd pfd = { .fd = console, .events = POLLIN };
		char buf[512];
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(console, buf, sizeof(buf));
		if (n > 0)
			strbuf_add(&sb, buf, (size_t)n);
	}
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "via-console"));
	strbuf_release(&sb);

	/* Files, resolved inside the running container's root. */
	check_ok(instance_driver_lxc.rootfs_open(&fx.env, &fx.inst, &root, &err), &err);
	tab = open_in_root(root, "/etc/../etc/inittab", O_RDONLY, 0);
	ck_assert_int_ge(tab, 0);

	stop_delete_ok();
	fixture_cleanup();
}
END_TEST

/* The state of a nic on a bridge, with an address set inside. */
static int run(const char *const *argv)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	(void)waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_container_network_state)
{
	char *const addr[] = { (char *)"ip",  (char *)"addr",
			       (char *)"add", (char *)"10.251.0.2/24",
			       (char *)"dev", (char *)"eth0",
			       NULL };
	char bridge[16];
	autofree char *out = NULL;
	autojson json_t *state = NULL;
	struct error err = ERROR_INIT;
	json_t *eth0, *a;
	long long t0;

	if (!can_run_containers())
		return;
	(void)snprintf_ok(bridge, sizeof(bridge), "ltb%d", runner_pid % 100000);
	ck_assert_int_eq(run((const char *const[]){ "/usr/sbin/ip", "link", "add", bridge, "type",
						    "bridge", NULL }),
			 0);
	fixture_init("net");
	(void)json_object_set_new(
		fx.inst.expanded_devices, "eth0",
		json_pack("{s:s,s:s,s:s}", "type", "nic", "nictype", "bridged", "parent", bridge));
	start_ok();
	/* The driver chose and recorded a MAC address and a host-side name. */
	ck_assert(
		str_has_prefix(json_get_str(fx.inst.config, "volatile.eth0.hwaddr"), "00:16:3e:"));
	ck_assert_ptr_nonnull(json_get_str(fx.inst.config, "volatile.eth0.host_name"));

	ck_assert_int_eq(exec_capture(addr, &out), 0);
	t0 = now_us();
	check_ok(instance_driver_lxc.state(&fx.env, &fx.inst, &state, &err), &err);
	fprintf(stderr, "TIMING %s: state() with a nic %.2f ms\n", fx.inst.name,
		(double)(now_us() - t0) / 1000.0);
	eth0 = json_object_get(json_object_get(state, "network"), "eth0");
	ck_assert_ptr_nonnull(eth0);
	ck_assert_str_eq(json_get_str(eth0, "hwaddr"),
			 json_get_str(fx.inst.config, "volatile.eth0.hwaddr"));
	ck_assert_str_eq(json_get_str(eth0, "host_name"),
			 json_get_str(fx.inst.config, "volatile.eth0.host_name"));
	ck_assert_str_eq(json_get_str(eth0, "state"), "up");
	ck_assert_str_eq(json_get_str(eth0, "type"), "broadcast");
	a = json_array_get(json_object_get(eth0, "addresses"), 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(json_get_str(a, "address"), "10.251.0.2");
	ck_assert_str_eq(json_get_str(a, "netmask"), "24");
	ck_assert_str_eq(json_get_str(a, "family"), "inet");
	ck_assert_str_eq(json_get_str(a, "scope"), "global");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(eth0, "counters"), "bytes_sent"));

	stop_delete_ok();
	fixture_cleanup();
	(void)run((const char *const[]){ "/usr/sbin/ip", "link", "del", bridge, NULL });
}
END_TEST

START_TEST(test_container_isolated_and_devices)
{
	char *const map[] = { (char *)"cat", (char *)"/proc/self/uid_map", NULL };
	char *const look[] = { (char *)"sh", (char *)"-c",
			       (char *)"stat -c '%u %t %T' /dev/lodgenull; cat /mnt/data/hello",
			       NULL };
	autofree char *out = NULL;
	autofree char *want = NULL;
	autofree char *data = NULL;
	autofree char *hello = NULL;
	uint64_t base = 0;

	if (!can_run_containers())
		return;
	fixture_init("iso");
	data = str_printf("%s/data", fx.base);
	hello = str_printf("%s/hello", data);
	ck_assert_int_eq(mkdir(data, 0755), 0);
	ck_assert_int_eq(write_file_atomic(hello, "world\n", 6, 0644, NULL), 0);
	config_set("security.idmap.isolated", "true");
	(void)json_object_set_new(fx.inst.expanded_devices, "data",
				  json_pack("{s:s,s:s,s:s,s:s}", "type", "disk", "source", data,
					    "path", "/mnt/data", "readonly", "true"));
	(void)json_object_set_new(fx.inst.expanded_devices, "null",
				  json_pack("{s:s,s:s,s:s,s:s}", "type", "unix-char", "source",
					    "/dev/null", "path", "/dev/lodgenull", "uid", "7"));
	start_ok();

	ck_assert_int_eq(parse_u64(json_get_str(fx.inst.config, "volatile.idmap.base"), &base), 0);
	ck_assert_uint_ge(base, host_subuid().base + 65536);
	ck_assert_int_eq(exec_capture(map, &out), 0);
	want = str_printf("0 %10llu      65536", (unsigned long long)base);
	ck_assert_ptr_nonnull(strstr(out, want));
	free(out);
	ck_assert_int_eq(exec_capture(look, &out), 0);
	ck_assert_str_eq(out, "7 1 3\nworld\n");
	stop_delete_ok();
	fixture_cleanup();
}
END_TEST

/* Overlayfs cannot be idmapped; an overlay over idmapped layers, shifted to the
 * container's map, is used as it is. */
START_TEST(test_container_overlay_rootfs)
{
	char *const touch[] = { (char *)"sh", (char *)"-c", (char *)"touch /root/new && id -u",
				NULL };
	autofree char *lower = NULL, *top = NULL, *upper = NULL, *work = NULL;
	autofree char *out = NULL, *created = NULL;
	struct idmap map = { { 1000000, 65536 }, { 1000000, 65536 } };
	struct error err = ERROR_INIT;
	struct stat st;
	autoclose int userns = -1, lower_fd = -1, top_fd = -1, upper_fd = -1, work_fd = -1;
	autoclose int fs = -1, mnt = -1;
	int r;

	if (!can_run_containers())
		return;
	fixture_init("ovl");
	lower = xstrdup(fx.rootfs);
	top = str_printf("%s/top", fx.base);
	upper = str_printf("%s/upper", top);
	work = str_printf("%s/work", top);
	ck_assert_int_eq(mkdir_p(upper, 0755, NULL), 0);
	ck_assert_int_eq(mkdir_p(work, 0755, NULL), 0);
	(void)snprintf_ok(fx.rootfs, sizeof(fx.rootfs), "%s/merged", fx.base);
	ck_assert_int_eq(mkdir(fx.rootfs, 0755), 0);

	/* A plain overlay: refused with a clear message. */
	{
		autofree char *opts =
			str_printf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);

		ck_assert_int_eq(mount("overlay", fx.rootfs, "overlay", 0, opts), 0);
		fx.mounted = true;
		r = instance_driver_lxc.start(&fx.env, &fx.inst, &err);
		ck_assert_int_eq(r, -EOPNOTSUPP);
		ck_assert_ptr_nonnull(strstr(error_message(&err), "overlayfs"));
		error_clear(&err);
		ck_assert_int_eq(umount(fx.rootfs), 0);
		fx.mounted = false;
	}

	/* Over idmapped layers; "map_host_root" gives overlayfs' own (root) credentials an
	 * id on the layers, or it cannot create its work directory (EOVERFLOW). */
	config_set("security.idmap.isolated", "true");
	config_set("security.idmap.base", "1000000");
	config_set("security.idmap.size", "65536");
	check_ok(idmap_userns_open(&map, true, &userns, &err), &err);
	check_ok(idmap_mount_clone(lower, userns, &lower_fd, &err), &err);
	check_ok(idmap_mount_clone(top, userns, &top_fd, &err), &err);
	upper_fd = openat(top_fd, "upper", O_PATH | O_DIRECTORY | O_CLOEXEC);
	work_fd = openat(top_fd, "work", O_PATH | O_DIRECTORY | O_CLOEXEC);
	fs = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */);
	ck_assert_int_ge(fs, 0);
	ck_assert_int_eq(
		syscall(SYS_fsconfig, fs, 5 /* FSCONFIG_SET_FD */, "lowerdir+", NULL, lower_fd), 0);
	ck_assert_int_eq(syscall(SYS_fsconfig, fs, 5, "upperdir", NULL, upper_fd), 0);
	ck_assert_int_eq(syscall(SYS_fsconfig, fs, 5, "workdir", NULL, work_fd), 0);
	ck_assert_int_eq(syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0), 0);
	mnt = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
	ck_assert_int_ge(mnt, 0);
	ck_assert_int_eq(syscall(SYS_move_mount, mnt, "", AT_FDCWD, fx.rootfs,
				 4 /* MOVE_MOUNT_F_EMPTY_PATH */),
			 0);
	fx.mounted = true;
	ck_assert_int_eq(stat(fx.rootfs, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000000);

	start_ok();
	ck_assert_int_eq(exec_capture(touch, &out), 0);
	ck_assert_str_eq(out, "0\n");
	/* Owned by root on disk, as the image's own files. */
	created = str_printf("%s/root/new", upper);
	ck_assert_int_eq(stat(created, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	stop_delete_ok();
	fixture_cleanup();
}
END_TEST

/* A start that fails says why, and leaves nothing running or behind in cgroups. */
START_TEST(test_container_start_failure)
{
	autofree char *init = NULL;
	struct error err = ERROR_INIT;

	if (!can_run_containers())
		return;
	fixture_init("fail");
	init = str_printf("%s/sbin/init", fx.rootfs);
	ck_assert_int_eq(unlink(init), 0);
	check_ok(instance_driver_lxc.create(&fx.env, &fx.inst, &err), &err);
	ck_assert_int_eq(instance_driver_lxc.start(&fx.env, &fx.inst, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "/sbin/init"));
	error_clear(&err);
	ck_assert_int_eq(instance_driver_lxc.status(&fx.env, &fx.inst), INSTANCE_STOPPED);
	ck_assert(!monitor_cgroups_left(fx.inst.name));

	/* A bridge that does not exist is named before liblxc tries. */
	(void)json_object_set_new(fx.inst.expanded_devices, "eth0",
				  json_pack("{s:s,s:s,s:s}", "type", "nic", "nictype", "bridged",
					    "parent", "nosuchbr0"));
	ck_assert_int_eq(instance_driver_lxc.start(&fx.env, &fx.inst, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(error_message(&err), "nosuchbr0"));
	error_clear(&err);
	check_ok(instance_driver_lxc.delete(&fx.env, &fx.inst, &err), &err);
	fixture_cleanup();
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("lxc");
	TCase *tc = tcase_create("config");
	TCase *ct = tcase_create("container");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_cgroup_layouts);
	tcase_add_test(tc, test_conf_unprivileged_hybrid);
	tcase_add_test(tc, test_conf_unified_privileged_nesting);
	tcase_add_test(tc, test_conf_refuses_injection);
	tcase_add_test(tc, test_conf_disk_paths);
	tcase_add_test(tc, test_conf_nics_and_unix_devices);
	tcase_add_test(tc, test_conf_nic_types);
	tcase_add_test(tc, test_conf_missing_controller);
	tcase_add_test(tc, test_limits_parse);
	tcase_add_test(tc, test_live_reset_items);
	tcase_add_test(tc, test_idmap_subid);
	tcase_add_test(tc, test_idmap_allocate);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(ct, runner_setup, runner_teardown);
	tcase_set_timeout(ct, 120);
	tcase_add_test(ct, test_container_lifecycle);
	tcase_add_test(ct, test_container_concurrent_exec);
	tcase_add_test(ct, test_container_reattach);
	tcase_add_test(ct, test_container_network_state);
	tcase_add_test(ct, test_container_isolated_and_devices);
	tcase_add_test(ct, test_container_overlay_rootfs);
	tcase_add_test(ct, test_container_start_failure);
	suite_add_tcase(s, ct);
	return s;
}
