#include "network/dnsmasq.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/run.h"
#include "lib/str.h"
#include "network/subnet.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

#define DNSMASQ_STOP_TIMEOUT_MS 5000

void argv_add(struct argv_builder *b, const char *arg)
{
	b->argv = xrealloc(b->argv, (b->n + 2) * sizeof(*b->argv));
	b->argv[b->n++] = xstrdup(arg);
	b->argv[b->n] = NULL;
}

void argv_addf(struct argv_builder *b, const char *fmt, ...)
{
	autofree char *arg = NULL;
	va_list ap;

	va_start(ap, fmt);
	arg = str_vprintf(fmt, ap);
	va_end(ap);
	argv_add(b, arg);
}

void argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static char *pid_file_path(const char *state_dir)
{
	return str_printf("%s/" DNSMASQ_PID_FILE, state_dir);
}

/* The pid in state_dir's pid file, when it names a live dnsmasq that was started with that
 * pid file (a recycled pid belongs to someone else); 0 otherwise. */
static pid_t dnsmasq_pid(const char *state_dir)
{
	autofree char *pid_path = pid_file_path(state_dir);
	autofree char *pid_arg = str_printf("--pid-file=%s", pid_path);
	autofree char *text = NULL;
	autofree char *cmdline = NULL;
	autofree char *cmdline_path = NULL;
	size_t len = 0;
	bool is_dnsmasq = false, has_pid_file = false;
	uint64_t pid;

	if (read_file(pid_path, 64, &text, NULL, NULL) < 0)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (parse_u64(text, &pid) < 0 || pid < 2 || pid > INT32_MAX)
		return 0;

	cmdline_path = str_printf("/proc/%llu/cmdline", (unsigned long long)pid);
	if (read_file(cmdline_path, 65536, &cmdline, &len, NULL) < 0)
		return 0;
	for (size_t off = 0; off < len; off += strlen(cmdline + off) + 1) {
		const char *arg = cmdline + off;
		const char *base = strrchr(arg, '/');

		if (off == 0)
			is_dnsmasq = streq(base ? base + 1 : arg, "dnsmasq");
		else if (streq(arg, pid_arg))
			has_pid_file = true;
	}
	return is_dnsmasq && has_pid_file ? (pid_t)pid : 0;
}

/* True while pid exists and is not a zombie (dnsmasq is not our child: nobody here reaps
 * it, init does). */
static bool process_is_alive(pid_t pid)
{
	autofree char *path = str_printf("/proc/%d/stat", (int)pid);
	autofree char *text = NULL;
	const char *paren;

	if (read_file(path, 4096, &text, NULL, NULL) < 0)
		return false;
	paren = strrchr(text, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

int dnsmasq_stop(const char *state_dir, struct error *err)
{
	autofree char *pid_path = pid_file_path(state_dir);
	pid_t pid = dnsmasq_pid(state_dir);

	if (pid > 0) {
		log_debug("Stopping dnsmasq %d of '%s'", (int)pid, state_dir);
		(void)kill(pid, SIGTERM);
		for (int waited = 0; process_is_alive(pid); waited += 10) {
			struct timespec ts = { 0, 10L * 1000 * 1000 };

			if (waited >= DNSMASQ_STOP_TIMEOUT_MS) {
				(void)kill(pid, SIGKILL);
				break;
			}
			nanosleep(&ts, NULL);
		}
	}
	if (unlink(pid_path) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "Failed to remove '%s'", pid_path);
	return 0;
}

/* True when process pid runs exactly argv. */
static bool process_runs(pid_t pid, const char *const argv[])
{
	autofree char *path = str_printf("/proc/%d/cmdline", (int)pid);
	autofree char *cmdline = NULL;
	size_t len = 0, off = 0;

	if (read_file(path, 65536, &cmdline, &len, NULL) < 0)
		return false;
	for (size_t i = 0; argv[i]; i++) {
		size_t n = strlen(argv[i]);

		if (off + n >= len + 1 || memcmp(cmdline + off, argv[i], n + 1) != 0)
			return false;
		off += n + 1;
	}
	return off == len;
}

int dnsmasq_start(const char *state_dir, const char *const argv[], struct error *err)
{
	pid_t pid = dnsmasq_pid(state_dir);
	int r;

	/* A dnsmasq left by a previous lodged with the same options keeps serving: restarting
	 * lodged must not interrupt DHCP and DNS. */
	if (pid > 0 && process_is_alive(pid) && process_runs(pid, argv)) {
		log_debug("Reusing dnsmasq %d of '%s'", (int)pid, state_dir);
		return 0;
	}
	r = dnsmasq_stop(state_dir, err);
	if (r < 0)
		return r;
	/* dnsmasq forks and its parent exits once the child listens, or with the reason it
	 * could not (address in use, bad option) on stderr. */
	return run_command(argv, err);
}

void dnsmasq_reload(const char *state_dir)
{
	pid_t pid = dnsmasq_pid(state_dir);

	if (pid > 0)
		(void)kill(pid, SIGHUP);
}

/* A DNS label as dnsmasq takes a host name: 1..63 of [A-Za-z0-9-], no '-' at either end. */
static bool hostname_label_is_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

int dnsmasq_host_line(const struct network_lease *lease, char **ret, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct subnet s;

	if (!lease->hwaddr || !network_hwaddr_is_valid(lease->hwaddr))
		return error_set(
			err, -EINVAL, "Invalid MAC address '%s'",
			lease->hwaddr && config_value_is_safe(lease->hwaddr) ? lease->hwaddr : "");
	if (lease->ipv4 && subnet_parse_address(lease->ipv4, AF_INET, &s) < 0)
		return error_set(err, -EINVAL, "Invalid IPv4 address '%s'",
				 config_value_is_safe(lease->ipv4) ? lease->ipv4 : "");
	if (lease->ipv6 && subnet_parse_address(lease->ipv6, AF_INET6, &s) < 0)
		return error_set(err, -EINVAL, "Invalid IPv6 address '%s'",
				 config_value_is_safe(lease->ipv6) ? lease->ipv6 : "");
	if (lease->hostname && !hostname_label_is_valid(lease->hostname))
		return error_set(err, -EINVAL, "Invalid host name '%s'",
				 config_value_is_safe(lease->hostname) ? lease->hostname : "");

	strbuf_adds(&sb, lease->hwaddr);
	if (lease->ipv4)
		strbuf_addf(&sb, ",%s", lease->ipv4);
	if (lease->ipv6)
		strbuf_addf(&sb, ",[%s]", lease->ipv6);
	if (lease->hostname)
		strbuf_addf(&sb, ",%s", lease->hostname);
	strbuf_addch(&sb, '\n');
	*ret = strbuf_detach(&sb);
	return 0;
}

static json_t *lease_new(const char *hostname, const char *hwaddr, const char *address,
			 const char *type)
{
	json_t *l = json_pack("{s:s, s:s, s:s, s:s, s:s}", "hostname", hostname, "hwaddr", hwaddr,
			      "address", address, "type", type, "location", "none");

	if (!l)
		abort();
	return l;
}

/* The next whitespace-separated field of *p, as a new string; NULL at the end. */
static char *next_field(const char **p)
{
	const char *s = *p + strspn(*p, " \t");
	size_t len = strcspn(s, " \t");

	if (len == 0)
		return NULL;
	*p = s + len;
	return xstrndup(s, len);
}

void dnsmasq_leases_parse(const char *text, json_t *leases)
{
	bool v6 = false;

	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n');
		autofree char *copy = xstrndup(line, (size_t)(end - line));
		const char *p = copy;
		autofree char *expiry = next_field(&p);
		autofree char *id = next_field(&p);
		autofree char *address = next_field(&p);
		autofree char *hostname = next_field(&p);
		struct subnet s;

		line = *end ? end + 1 : end;
		if (!expiry || !id)
			continue;
		if (streq(expiry, "duid")) {
			v6 = true; /* the IPv6 leases follow */
			continue;
		}
		if (!address || !hostname || !config_value_is_safe(copy))
			continue;
		if (subnet_parse_address(address, v6 ? AF_INET6 : AF_INET, &s) < 0)
			continue;
		if (!v6 && !network_hwaddr_is_valid(id))
			continue;
		/* An IPv6 lease carries an IAID, not a MAC address. */
		(void)json_array_append_new(leases, lease_new(streq(hostname, "*") ? "" : hostname,
							      v6 ? "" : id, address, "dynamic"));
	}
}

void dnsmasq_host_line_parse(const char *line, json_t *leases)
{
	autofree char *copy = xstrdup(line);
	char *fields[4] = { NULL };
	const char *hostname = "";
	size_t n = 0;
	char *p = copy;

	copy[strcspn(copy, "\n")] = '\0';
	while (n < ARRAY_SIZE(fields) && p) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		fields[n++] = p;
		p = comma ? comma + 1 : NULL;
	}
	if (n == 0 || !network_hwaddr_is_valid(fields[0]))
		return;
	/* The host name is the last field that is no address. */
	for (size_t i = 1; i < n; i++) {
		struct subnet s;

		if (fields[i][0] != '[' && subnet_parse_address(fields[i], 0, &s) < 0 &&
		    hostname_label_is_valid(fields[i]))
			hostname = fields[i];
	}
	for (size_t i = 1; i < n; i++) {
		char *addr = fields[i];
		size_t len = strlen(addr);
		struct subnet s;

		if (addr[0] == '[' && len > 2 && addr[len - 1] == ']') {
			addr[len - 1] = '\0';
			addr++;
		}
		if (subnet_parse_address(addr, 0, &s) == 0)
			(void)json_array_append_new(leases,
						    lease_new(hostname, fields[0], addr, "static"));
	}
}
