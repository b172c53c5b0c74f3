/* bench/https-bench.c: GET over HTTPS with a client certificate, the way a remote client
 * talks to lodged or LXD (lib/http-tls.h, the server pinned by fingerprint).
 *
 *   https-bench reuse URL PATH CERT KEY FINGERPRINT SECONDS CONNECTIONS
 *	one thread per connection, each keeping its connection: requests back to back
 *	-> "rate <req/s> p50 <ms> p99 <ms> n <requests> errors <n>"
 *   https-bench fresh URL PATH CERT KEY FINGERPRINT COUNT
 *	COUNT times in a row: connect, TLS handshake, one request, close
 *	-> "median <ms> p90 <ms> n <count> errors <n>"
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/stats.h"
#include "lib/http-client.h"
#include "lib/http-tls.h"
#include "lib/str.h"

#include "lib/banned.h"

struct bench {
	struct http_url url;
	const char *path;
	struct http_tls_options tls;
};

struct worker {
	pthread_t thread;
	const struct bench *b;
	double deadline;
	double *lat;
	size_t n, cap;
	int errors;
};

static void record(struct worker *w, double t)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 4096;
		w->lat = xrealloc(w->lat, w->cap * sizeof(double));
	}
	w->lat[w->n++] = t;
}

static int connect_tls(const struct bench *b, struct http_conn **ret)
{
	return http_conn_new_tls(b->url.host, b->url.port, &b->tls, 10000, ret, NULL, NULL);
}

/* One GET on c; 0 when it answered 200. */
static int get(const struct bench *b, struct http_conn *c)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	int r;

	r = http_do(c,
		    &(struct http_request){ .method = "GET",
					    .target = b->path,
					    .host = b->url.host,
					    .keep_alive = true },
		    &resp, NULL);
	if (r == 0 && resp.status != 200)
		r = -1;
	http_response_release(&resp);
	return r;
}

static void *worker_reuse(void *data)
{
	struct worker *w = data;
	struct http_conn *c = NULL;

	if (connect_tls(w->b, &c) < 0) {
		w->errors++;
		return NULL;
	}
	while (bench_now() < w->deadline) {
		double t0 = bench_now();

		if (get(w->b, c) < 0) {
			w->errors++;
			break;
		}
		record(w, bench_now() - t0);
	}
	http_conn_free(c);
	return NULL;
}

static double pct(const double *v, size_t n, double p)
{
	return n ? v[(size_t)((double)(n - 1) * p)] * 1000 : 0;
}

static int run_reuse(const struct bench *b, double seconds, size_t conns)
{
	struct worker *w = xcalloc(conns, sizeof(*w));
	double start = bench_now(), elapsed;
	size_t total = 0, k = 0;
	int errors = 0;
	double *all;

	for (size_t i = 0; i < conns; i++) {
		w[i].b = b;
		w[i].deadline = start + seconds;
		pthread_create(&w[i].thread, NULL, worker_reuse, &w[i]);
	}
	for (size_t i = 0; i < conns; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	elapsed = bench_now() - start;
	all = xcalloc(total + 1, sizeof(double));
	for (size_t i = 0; i < conns; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(double));
		k += w[i].n;
		free(w[i].lat);
	}
	bench_sort(all, total);
	printf("rate %.0f p50 %.3f p99 %.3f n %zu errors %d\n", (double)total / elapsed,
	       pct(all, total, 0.5), pct(all, total, 0.99), total, errors);
	free(all);
	free(w);
	return errors ? 1 : 0;
}

static int run_fresh(const struct bench *b, size_t count)
{
	struct worker w = { .b = b };

	for (size_t i = 0; i < count; i++) {
		struct http_conn *c = NULL;
		double t0 = bench_now();

		if (connect_tls(b, &c) < 0 || get(b, c) < 0)
			w.errors++;
		else
			record(&w, bench_now() - t0);
		http_conn_free(c);
	}
	bench_sort(w.lat, w.n);
	printf("median %.3f p90 %.3f n %zu errors %d\n", pct(w.lat, w.n, 0.5), pct(w.lat, w.n, 0.9),
	       w.n, w.errors);
	free(w.lat);
	return w.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	uint64_t n = 0, conns = 0;
	bool reuse = argc == 9 && streq(argv[1], "reuse");
	bool fresh = argc == 8 && streq(argv[1], "fresh");

	if ((!reuse && !fresh) || http_url_parse(argv[2], &b.url, NULL) < 0 ||
	    (reuse && (parse_u64(argv[8], &conns) < 0 || conns == 0 || conns > 1024)) ||
	    (fresh && (parse_u64(argv[7], &n) < 0 || n == 0))) {
		fprintf(stderr,
			"usage: https-bench reuse URL PATH CERT KEY FINGERPRINT SECONDS "
			"CONNECTIONS\n       https-bench fresh URL PATH CERT KEY FINGERPRINT "
			"COUNT\n");
		return 2;
	}
	b.path = argv[3];
	b.tls = (struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
					   .fingerprint = argv[6],
					   .cert_file = argv[4],
					   .key_file = argv[5] };
	if (reuse)
		return run_reuse(&b, strtod(argv[7], NULL), conns);
	return run_fresh(&b, n);
}
