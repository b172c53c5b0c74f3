/* daemon/daemon.h: the running daemon: its event loop, listeners, database and registries.
 *
 * Threads: everything in struct daemon belongs to the loop thread unless a field says
 * otherwise. Worker threads (daemon_queue_work) reach the loop only through
 * daemon_call_on_loop().
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <uv.h>

#include "lib/error.h"
#include "lib/list.h"

struct db;
struct lws_context;
struct lws_vhost;
struct operations;
struct image_tasks;
struct events;
struct auth;
struct tls_admission;

struct daemon_options {
	const char *dir;   /* LODGE_DIR */
	const char *group; /* owner group of the unix socket, NULL: root */
	bool testing;	   /* enables /internal/testing routes for the test suite */
	/* On a first start (no network yet), create lodgebr0 and put an eth0 nic on it into
	 * the default profile (network_default_init). */
	bool default_network;
};

struct daemon {
	uv_loop_t loop;
	struct lws_context *lws;
	struct lws_context *lws_dying; /* destroyed once, freed by a second call (daemon_release) */
	struct lws_vhost *unix_vhost;
	struct lws_vhost *tls_vhost; /* NULL unless core.https_address is set */
	struct db *db;
	struct operations *operations;
	struct events *events;
	struct auth *auth;		 /* the trust store and pending trust tokens */
	struct image_tasks *image_tasks; /* daemon/api-images.c: cache expiry, auto-update */

	char *dir;
	char *socket_path;
	char *tmp_dir; /* $LODGE_DIR/tmp: large request bodies, staging */
	char *server_cert_pem;
	char *server_cert_fingerprint;
	char *https_address;		     /* as listening now, NULL if none */
	struct tls_admission *tls_admission; /* daemon/http.c: unauthenticated TLS connections */
	bool testing;

	long long started_sec;
	int lock_fd; /* flock on $LODGE_DIR/lodged.lock: one daemon per directory */
	bool socket_created;

	uv_signal_t sig_term, sig_int;
	uv_async_t wakeup;
	pthread_mutex_t calls_lock;
	struct list_head calls; /* guarded by calls_lock */
	bool stopping;
};

/* Prepares the state directory, database, certificate and listeners. Fails when another
 * lodged holds the directory. */
int daemon_init(struct daemon *d, const struct daemon_options *opts, struct error *err);

/* Runs the loop until daemon_stop(); returns 0 on a clean stop. */
int daemon_run(struct daemon *d);

/* Asks the loop to stop: closes listeners and lets running operations finish. Loop thread. */
void daemon_stop(struct daemon *d);

/* Frees everything daemon_init() built. Safe on a half-initialised daemon. */
void daemon_release(struct daemon *d);

/* Runs fn(data) on the loop thread soon. Thread-safe; the only way back from workers. */
void daemon_call_on_loop(struct daemon *d, void (*fn)(void *data), void *data);

/* Runs work(data) on a worker thread, then done(data) on the loop thread. work may block
 * (container start, unpack, copy); done may not. */
int daemon_queue_work(struct daemon *d, void (*work)(void *data), void (*done)(void *data),
		      void *data);

/* The periodic image task (daemon/api-images.c): drops cached images unused for
 * images.remote_cache_expiry days and refreshes auto-update images every
 * images.auto_update_interval hours, on a worker. Start: loop thread, after operations
 * exist; stop: before the loop closes. */
int image_tasks_start(struct daemon *d);
void image_tasks_stop(struct daemon *d);

/* (Re)starts or stops the HTTPS listener to match address (NULL or "": none). Loop thread. */
int daemon_https_listen(struct daemon *d, const char *address, struct error *err);
