/* daemon/main.c: lodged's command line.
 *
 *   lodged [--group G] [--verbose] [--debug]   run the daemon in the foreground
 *          [--no-default-network]              (or LODGE_NO_DEFAULT_NETWORK=1): no lodgebr0
 *   lodged waitready [--timeout N]             wait until the API answers
 *   lodged shutdown [--timeout N]              stop a running daemon cleanly
 *   lodged init --auto | --preseed < YAML       set up a running daemon, as `lxd init`
 *
 * LODGE_DIR selects the state directory (default /var/lib/lodge), as LXD_DIR does.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/init.h"
#include "daemon/server.h"
#include "instance/lifecycle.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/lxd-client.h"
#include "lib/str.h"
#include "lib/yaml-in.h"

#include "lib/banned.h"

static const char *arg_group;
static bool arg_testing;
static int arg_default_network = -1; /* -1: unless --testing or LODGE_NO_DEFAULT_NETWORK=1 */
static bool arg_auto, arg_preseed;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: lodged [OPTIONS] [COMMAND]\n\n"
		"Runs the lodge daemon in the foreground (state in $LODGE_DIR, default /var/lib/lodge).\n\n"
		"Commands:\n"
		"  waitready [--timeout N]   Wait until the daemon answers on its socket\n"
		"  shutdown [--timeout N]    Stop the running daemon cleanly\n"
		"  init --auto               Give the running daemon a storage pool, the lodgebr0\n"
		"                            network and a default profile using them (what is\n"
		"                            missing of these)\n"
		"  init --preseed < YAML     Apply an `lxd init` preseed (config, storage_pools,\n"
		"                            networks, profiles) read from standard input\n"
		"  version                   Print the version\n\n"
		"Options:\n"
		"  --group GROUP   Group owning the unix socket (default: root)\n"
		"  --no-default-network  Do not create lodgebr0 on a first start (also\n"
		"                  LODGE_NO_DEFAULT_NETWORK=1; the default under --testing,\n"
		"                  which --default-network overrides)\n"
		"  -v, --verbose   Log informational messages\n"
		"  -d, --debug     Log debug messages\n"
		"  -h, --help      Show this help\n");
}

static const char *state_dir(void)
{
	const char *dir = getenv("LODGE_DIR");

	return str_is_empty(dir) ? "/var/lib/lodge" : dir;
}

static char *socket_path(void)
{
	return str_printf("%s/unix.socket", state_dir());
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* lodged waitready: polls GET /1.0 until it answers (timeout 0: wait forever). */
static int cmd_waitready(uint64_t timeout)
{
	autofree char *sock = socket_path();
	long long deadline = now_ms() + (long long)timeout * 1000;

	for (;;) {
		autoclean(lxd_client_freep) struct lxd_client *c = lxd_client_new(sock);
		struct error err = ERROR_INIT;
		json_t *meta = NULL;
		int r;

		lxd_client_set_timeout(c, 2000);
		r = lxd_get(c, "/1.0", &meta, &err);
		json_decref(meta);
		error_clear(&err);
		if (r == 0)
			return EXIT_SUCCESS;
		if (timeout && now_ms() >= deadline) {
			fprintf(stderr, "Error: lodged did not become ready within %llus\n",
				(unsigned long long)timeout);
			return EXIT_FAILURE;
		}
		usleep(20 * 1000);
	}
}

/* lodged shutdown: asks the daemon to stop, then waits for its socket to go away. */
static int cmd_shutdown(uint64_t timeout)
{
	autofree char *sock = socket_path();
	autoclean(lxd_client_freep) struct lxd_client *c = lxd_client_new(sock);
	struct lxd_response resp = LXD_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	long long deadline = now_ms() + (long long)(timeout ? timeout : 600) * 1000;
	int r;

	r = lxd_query(c, "PUT", "/internal/shutdown", NULL, NULL, &resp, &err);
	lxd_response_release(&resp);
	if (r < 0) {
		fprintf(stderr, "Error: %s\n", error_message(&err));
		error_clear(&err);
		return EXIT_FAILURE;
	}
	while (access(sock, F_OK) == 0) {
		if (now_ms() >= deadline) {
			fprintf(stderr, "Error: lodged did not stop within the timeout\n");
			return EXIT_FAILURE;
		}
		usleep(20 * 1000);
	}
	return EXIT_SUCCESS;
}

#define PRESEED_MAX (4 << 20)

/* lodged init --auto | --preseed: a client of the running daemon, as `lxd init`. */
static int cmd_init(void)
{
	autofree char *sock = socket_path();
	autojson json_t *preseed = NULL;
	struct error err = ERROR_INIT;
	int r;

	if (arg_auto == arg_preseed) {
		fprintf(stderr, "Error: lodged init needs exactly one of --auto and --preseed\n");
		return EXIT_FAILURE;
	}
	if (arg_auto) {
		r = init_auto_preseed(sock, &preseed, &err);
	} else {
		autofree char *text = NULL;
		size_t len = 0;

		r = read_file("/dev/stdin", PRESEED_MAX, &text, &len, &err);
		if (r == 0)
			r = yaml_in_parse(text, len, "preseed", &preseed, &err);
		if (r == -EINVAL && len == 0) {
			error_clear(&err);
			r = 0; /* an empty preseed does nothing, as in LXD */
		}
	}
	if (r == 0 && preseed)
		r = init_preseed_apply(sock, preseed, &err);
	if (r < 0) {
		fprintf(stderr, "Error: %s\n", error_message(&err));
		error_clear(&err);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* The test suite's daemons must not add a bridge to the host they run on: --testing skips
 * the default network unless a test (in its own network namespace) asks for it. */
static bool default_network_wanted(void)
{
	const char *env = getenv("LODGE_NO_DEFAULT_NETWORK");
	bool no = false;

	if (arg_default_network >= 0)
		return arg_default_network;
	if (!str_is_empty(env) && parse_bool(env, &no) == 0 && no)
		return false;
	return !arg_testing;
}

/* Brings back the instances that should run (boot.autostart, or running before the host
 * went down), on a worker while the API already serves. */
static void autostart_run(void *data)
{
	struct daemon *d = data;
	struct instance_env env = { .db = d->db, .dir = d->dir };

	instances_autostart(&env);
}

/* Every container, exec stream and client holds descriptors: take all the hard limit
 * allows, as LXD does (the soft default of 1024 runs out at a few hundred execs). */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run_daemon(void)
{
	struct daemon d;
	struct daemon_options opts = {
		.dir = state_dir(),
		.group = arg_group,
		.testing = arg_testing,
		.default_network = default_network_wanted(),
	};
	struct error err = ERROR_INIT;
	int r;

	nofile_raise();

	r = daemon_init(&d, &opts, &err);
	if (r == 0) {
		struct instance_env env = { .db = d.db, .dir = d.dir };

		instances_reconcile(&env);
		r = server_environment_init(&d, &err);
	}
	if (r == 0)
		r = server_config_apply(&d, &err);
	if (r == 0)
		r = daemon_queue_work(&d, autostart_run, NULL, &d);
	if (r == 0)
		r = daemon_run(&d);
	if (r < 0)
		log_error("%s", error_is_set(&err) ? error_message(&err) : strerror(-r));
	daemon_release(&d);
	error_clear(&err);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	static const struct option options[] = { { "group", required_argument, NULL, 'g' },
						 { "verbose", no_argument, NULL, 'v' },
						 { "debug", no_argument, NULL, 'd' },
						 { "testing", no_argument, NULL, 'T' },
						 { "default-network", no_argument, NULL, 'N' },
						 { "no-default-network", no_argument, NULL, 'n' },
						 { "timeout", required_argument, NULL, 't' },
						 { "auto", no_argument, NULL, 'A' },
						 { "preseed", no_argument, NULL, 'P' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	uint64_t timeout = 0;
	int c;

	/* Descriptors we inherited must not reach containers (liblxc's attach leaks every
	 * non-CLOEXEC fd of the calling process). */
	fds_set_cloexec_from(3);
	signal(SIGPIPE, SIG_IGN);
	/* libuv's pool runs container starts and unpacks; its default of 4 threads would
	 * let four slow jobs stall everything else. Must be set before the pool starts. */
	setenv("UV_THREADPOOL_SIZE", "32", 0);

	while ((c = getopt_long(argc, argv, "vdh", options, NULL)) >= 0) {
		switch (c) {
		case 'g':
			arg_group = optarg;
			break;
		case 'v':
			if (log_get_level() < LOG_LEVEL_INFO)
				log_set_level(LOG_LEVEL_INFO);
			break;
		case 'd':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'T':
			arg_testing = true;
			break;
		case 'N':
			arg_default_network = 1;
			break;
		case 'n':
			arg_default_network = 0;
			break;
		case 'A':
			arg_auto = true;
			break;
		case 'P':
			arg_preseed = true;
			break;
		case 't':
			if (parse_u64(optarg, &timeout) < 0) {
				fprintf(stderr, "Error: invalid timeout '%s'\n", optarg);
				return EXIT_FAILURE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}

	if (optind >= argc)
		return run_daemon();
	if (streq(argv[optind], "waitready"))
		return cmd_waitready(timeout);
	if (streq(argv[optind], "shutdown"))
		return cmd_shutdown(timeout);
	if (streq(argv[optind], "init"))
		return cmd_init();
	if (streq(argv[optind], "version")) {
		printf("%s\n", LODGE_VERSION);
		return EXIT_SUCCESS;
	}
	fprintf(stderr, "Error: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_FAILURE;
}
