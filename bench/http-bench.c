/* bench/http-bench.c: a keep-alive HTTP/1.1 load generator for unix sockets.
 *
 *   http-bench SOCKET PATH SECONDS CONNECTIONS
 *
 * Each connection is a thread with one request in flight: send, read the headers, read
 * Content-Length (or chunked) body, repeat. Prints
 * "rate <req/s> p50 <ms> p99 <ms> n <requests> errors <n>".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench/stats.h"
#include "lib/str.h"

#include "lib/banned.h"

struct worker {
	pthread_t thread;
	const char *sock;
	const char *path;
	double deadline;
	double *lat;
	size_t n, cap;
	int errors;
};

/* Reads one response from fd into buf (keeping leftovers); returns 0 or -1. */
static int read_response(int fd, char *buf, size_t size, size_t *have)
{
	for (;;) {
		char *end = memmem(buf, *have, "\r\n\r\n", 4);

		if (end && memmem(buf, (size_t)(end - buf), "ransfer-Encoding: chunked", 25)) {
			/* LXD answers chunked: read to the terminating zero-size chunk. */
			size_t head = (size_t)(end - buf) + 4;
			char *term;

			while (!(term = memmem(buf + head, *have - head, "\r\n0\r\n\r\n", 7))) {
				ssize_t n = read(fd, buf + *have, size - *have);

				if (n <= 0)
					return -1;
				*have += (size_t)n;
			}
			term += 7;
			memmove(buf, term, (size_t)(buf + *have - term));
			*have = (size_t)(buf + *have - term);
			return 0;
		}
		if (end) {
			size_t head = (size_t)(end - buf) + 4;
			char *cl = memmem(buf, head, "ontent-length:", 14);
			size_t body = cl ? strtoul(cl + 14, NULL, 10) : 0;

			while (*have < head + body) {
				ssize_t n = read(fd, buf + *have, size - *have);

				if (n <= 0)
					return -1;
				*have += (size_t)n;
			}
			memmove(buf, buf + head + body, *have - head - body);
			*have -= head + body;
			return 0;
		}
		if (*have == size)
			return -1;
		ssize_t n = read(fd, buf + *have, size - *have);

		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

static void *worker_run(void *data)
{
	struct worker *w = data;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char *req = str_printf("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", w->path);
	size_t reqlen = strlen(req), have = 0;
	static const size_t size = 1 << 20;
	char *buf = xmalloc(size);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)snprintf_ok(addr.sun_path, sizeof(addr.sun_path), "%s", w->sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		w->errors++;
		goto out;
	}
	while (bench_now() < w->deadline) {
		double t0 = bench_now();

		if (write(fd, req, reqlen) != (ssize_t)reqlen ||
		    read_response(fd, buf, size, &have)) {
			w->errors++;
			break;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = xrealloc(w->lat, w->cap * sizeof(double));
		}
		w->lat[w->n++] = bench_now() - t0;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(req);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *w;
	double *all, seconds;
	size_t total = 0, k = 0;
	uint64_t conns;
	int errors = 0;

	if (argc != 5 || parse_u64(argv[4], &conns) < 0 || conns == 0 || conns > 1024) {
		fprintf(stderr, "usage: http-bench SOCKET PATH SECONDS CONNECTIONS\n");
		return 2;
	}
	seconds = strtod(argv[3], NULL);
	w = xcalloc(conns, sizeof(*w));
	for (size_t i = 0; i < conns; i++) {
		w[i].sock = argv[1];
		w[i].path = argv[2];
		w[i].deadline = bench_now() + seconds;
		pthread_create(&w[i].thread, NULL, worker_run, &w[i]);
	}
	for (size_t i = 0; i < conns; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	all = xcalloc(total ? total : 1, sizeof(double));
	for (size_t i = 0; i < conns; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(double));
		k += w[i].n;
		free(w[i].lat);
	}
	bench_sort(all, total);
	printf("rate %.0f p50 %.3f p99 %.3f n %zu errors %d\n", (double)total / seconds,
	       total ? all[total / 2] * 1000 : 0,
	       total ? all[(size_t)((double)total * 0.99)] * 1000 : 0, total, errors);
	free(all);
	free(w);
	return 0;
}
