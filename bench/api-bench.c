/* bench/api-bench.c: container workloads through the REST API itself, as a client library
 * (pylxd, Go's lxd client) drives it, for lodged and LXD alike.
 *
 *   api-bench SOCKET IMAGE_ALIAS ROUNDS [FILL]
 *
 * Measures, ROUNDS times each, in milliseconds:
 *	launch		POST /1.0/instances (from the alias) + PUT state start, both waited for
 *	exec		POST exec of `true` with its websockets (stdin, stdout, stderr, control)
 *			connected, until the operation reports the exit code
 *	list1, list2	GET /1.0/instances?recursion=1 and ?recursion=2
 *	stop+delete	PUT state stop (force) + DELETE, both waited for
 * With FILL > 0 it then starts FILL more containers and measures launch, list1 and list2
 * again with them all running (the "fill" lines), then removes them.
 * Prints one line per workload: "<name> <median> <p90> <n>". Exits 1 on any failure.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/stats.h"
#include "lib/http-client.h"
#include "lib/json.h"
#include "lib/lxd-client.h"
#include "lib/str.h"

#include "lib/banned.h"

static struct lxd_client *lxd;
static const char *image;

static double now_ms(void)
{
	return bench_now() * 1e3;
}

_noreturn_ static void die(const char *what, struct error *err)
{
	fprintf(stderr, "api-bench: %s: %s\n", what, error_message(err));
	exit(1);
}

static void report(const char *name, double *v, size_t n)
{
	double median;

	bench_sort(v, n);
	median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("%s %.2f %.2f %zu\n", name, median, v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], n);
	fflush(stdout);
}

static void wait_query(const char *method, const char *path, json_t *body)
{
	struct error err = ERROR_INIT;
	json_t *op = NULL;

	if (lxd_query_wait(lxd, method, path, body, NULL, &op, &err) < 0) {
		autofree char *what = str_printf("%s %s", method, path);

		die(what, &err);
	}
	json_decref(op);
	json_decref(body);
}

static double launch(const char *name)
{
	autofree char *state = str_printf("/1.0/instances/%s/state", name);
	double t0 = now_ms();

	wait_query("POST", "/1.0/instances",
		   json_pack("{s:s, s:{s:s, s:s}}", "name", name, "source", "type", "image",
			     "alias", image));
	wait_query("PUT", state, json_pack("{s:s, s:i}", "action", "start", "timeout", -1));
	return now_ms() - t0;
}

static double stop_delete(const char *name)
{
	autofree char *state = str_printf("/1.0/instances/%s/state", name);
	autofree char *path = str_printf("/1.0/instances/%s", name);
	double t0 = now_ms();

	wait_query("PUT", state,
		   json_pack("{s:s, s:b, s:i}", "action", "stop", "force", 1, "timeout", -1));
	wait_query("DELETE", path, NULL);
	return now_ms() - t0;
}

static double list(int recursion)
{
	struct error err = ERROR_INIT;
	autofree char *path = str_printf("/1.0/instances?recursion=%d", recursion);
	json_t *md = NULL;
	double t0 = now_ms();

	if (lxd_get(lxd, path, &md, &err) < 0)
		die(path, &err);
	if (!json_is_array(md)) {
		(void)error_set(&err, -EPROTO, "not a list");
		die(path, &err);
	}
	json_decref(md);
	return now_ms() - t0;
}

/* Reads a stream's websocket to its end: an empty text frame, the "barrier" LXD sends
 * (and then drops the connection without a close frame), a close, or the connection
 * going away (LXD may drop it while our answer to its close is on the way). The exit
 * code, read from the operation, is what proves the exec worked. */
static void drain(struct ws *ws)
{
	struct error err = ERROR_INIT;
	struct ws_message m = WS_MESSAGE_INIT;
	bool end = false;

	while (!end && ws_recv(ws, &m, &err) > 0) {
		end = m.opcode == WS_OP_TEXT && m.len == 0;
		ws_message_release(&m);
	}
	error_clear(&err);
}

static double exec_true(const char *name)
{
	static const char *const streams[] = { "0", "1", "2", "control" };
	struct error err = ERROR_INIT;
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *path = str_printf("/1.0/instances/%s/exec", name);
	autojson json_t *body =
		json_pack("{s:[s], s:b, s:b, s:{}, s:b}", "command", "true", "wait-for-websocket",
			  1, "interactive", 0, "environment", "record-output", 0);
	struct ws *ws[4] = { NULL };
	autofree char *id = NULL;
	json_t *op = NULL, *fds;
	double t0 = now_ms();

	if (lxd_query(lxd, "POST", path, body, NULL, &resp, &err) < 0)
		die(path, &err);
	id = lxd_operation_id(resp.operation);
	fds = json_object_get(json_object_get(resp.metadata, "metadata"), "fds");
	for (int i = 0; i < 4; i++) {
		const char *secret = json_string_value(json_object_get(fds, streams[i]));
		autofree char *wpath = NULL;

		if (!secret) {
			(void)error_set(&err, -EPROTO, "no secret for stream %s", streams[i]);
			die("exec", &err);
		}
		wpath = str_printf("/1.0/operations/%s/websocket?secret=%s", id, secret);
		if (lxd_websocket_connect(lxd, wpath, &ws[i], &err) < 0)
			die(wpath, &err);
	}
	/* Nothing to send: stdin ends at once (an empty text frame), as `lxc exec` with
	 * /dev/null for stdin does. */
	if (ws_send(ws[0], WS_OP_TEXT, "", 0, &err) < 0)
		error_clear(&err); /* LXD may have dropped it already: `true` has exited */
	drain(ws[1]);
	drain(ws[2]);
	if (lxd_operation_wait(lxd, id, -1, &op, &err) < 0)
		die("exec operation", &err);
	if (json_integer_value(json_object_get(json_object_get(op, "metadata"), "return")) != 0) {
		(void)error_set(&err, -EIO, "exec of true did not return 0");
		die("exec", &err);
	}
	json_decref(op);
	for (int i = 0; i < 4; i++)
		ws_free(ws[i]);
	return now_ms() - t0;
}

static void report_phase(const char *prefix, const char *name, double *v, int n)
{
	autofree char *full = str_printf("%s%s", prefix, name);

	report(full, v, (size_t)n);
}

/* One round of every workload on containers bench-0..rounds-1, created and removed here. */
static void phase(const char *prefix, int rounds, double *a, double *b)
{
	for (int i = 0; i < rounds; i++) {
		autofree char *name = str_printf("bench-%d", i);

		a[i] = launch(name);
	}
	report_phase(prefix, "launch", a, rounds);
	for (int i = 0; i < rounds; i++) {
		autofree char *name = str_printf("bench-%d", i);

		a[i] = exec_true(name);
	}
	report_phase(prefix, "exec", a, rounds);
	for (int i = 0; i < rounds; i++) {
		a[i] = list(1);
		b[i] = list(2);
	}
	report_phase(prefix, "list1", a, rounds);
	report_phase(prefix, "list2", b, rounds);
	for (int i = 0; i < rounds; i++) {
		autofree char *name = str_printf("bench-%d", i);

		a[i] = stop_delete(name);
	}
	report_phase(prefix, "stop+delete", a, rounds);
}

int main(int argc, char **argv)
{
	uint64_t rounds_arg = 0, fill_arg = 0;
	int rounds, fill;
	double *a, *b;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: api-bench SOCKET IMAGE_ALIAS ROUNDS [FILL]\n");
		return 2;
	}
	lxd = lxd_client_new(argv[1]);
	image = argv[2];
	if (parse_u64(argv[3], &rounds_arg) < 0 || rounds_arg < 1 || rounds_arg > 10000 ||
	    (argc == 5 && (parse_u64(argv[4], &fill_arg) < 0 || fill_arg > 10000))) {
		fprintf(stderr, "api-bench: bad ROUNDS or FILL\n");
		return 2;
	}
	rounds = (int)rounds_arg;
	fill = (int)fill_arg;
	a = xcalloc((size_t)rounds, sizeof(double));
	b = xcalloc((size_t)rounds, sizeof(double));

	/* The first launch unpacks the image into the pool: not what is measured. */
	(void)launch("bench-warm");
	(void)stop_delete("bench-warm");

	phase("", rounds, a, b);

	if (fill > 0) {
		double *f = xcalloc((size_t)fill, sizeof(double));

		for (int i = 0; i < fill; i++) {
			autofree char *name = str_printf("fill-%d", i);

			f[i] = launch(name);
		}
		report("fill-launches", f, (size_t)fill);
		phase("fill-", rounds, a, b);
		for (int i = 0; i < fill; i++) {
			autofree char *name = str_printf("fill-%d", i);

			f[i] = stop_delete(name);
		}
		free(f);
	}
	free(a);
	free(b);
	lxd_client_free(lxd);
	return 0;
}
