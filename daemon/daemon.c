/* daemon/daemon.c: start-up, the event loop and shutdown.
 *
 * One libuv loop runs libwebsockets (a foreign loop), our timers, signals and the wakeup
 * that workers use to hand results back. Blocking work goes to libuv's thread pool through
 * daemon_queue_work(); main() sizes that pool before the loop starts.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libwebsockets.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/events.h"
#include "daemon/http.h"
#include "daemon/operations.h"
#include "db/db.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/tls-cert.h"
#include "network/network.h"
#include "storage/storage.h"

#include "lib/banned.h"

struct loop_call {
	struct list_head link;
	void (*fn)(void *data);
	void *data;
};

struct work_item {
	uv_work_t req;
	void (*work)(void *data);
	void (*done)(void *data);
	void *data;
};

static void on_wakeup(uv_async_t *handle)
{
	struct daemon *d = handle->data;
	struct list_head calls, *pos, *tmp;

	list_init(&calls);
	pthread_mutex_lock(&d->calls_lock);
	if (!list_empty(&d->calls)) {
		calls = d->calls;
		calls.next->prev = &calls;
		calls.prev->next = &calls;
		list_init(&d->calls);
	}
	pthread_mutex_unlock(&d->calls_lock);

	list_for_each_safe(pos, tmp, &calls) {
		struct loop_call *c = list_entry(pos, struct loop_call, link);

		list_del(pos);
		c->fn(c->data);
		free(c);
	}
}

void daemon_call_on_loop(struct daemon *d, void (*fn)(void *data), void *data)
{
	struct loop_call *c = xcalloc(1, sizeof(*c));

	c->fn = fn;
	c->data = data;
	pthread_mutex_lock(&d->calls_lock);
	list_add_tail(&c->link, &d->calls);
	pthread_mutex_unlock(&d->calls_lock);
	uv_async_send(&d->wakeup);
}

static void work_run(uv_work_t *req)
{
	struct work_item *w = req->data;

	w->work(w->data);
}

static void work_done(uv_work_t *req, int status)
{
	struct work_item *w = req->data;

	if (w->done)
		w->done(w->data);
	free(w);
}

int daemon_queue_work(struct daemon *d, void (*work)(void *data), void (*done)(void *data),
		      void *data)
{
	struct work_item *w = xcalloc(1, sizeof(*w));
	int r;

	w->work = work;
	w->done = done;
	w->data = data;
	w->req.data = w;
	r = uv_queue_work(&d->loop, &w->req, work_run, work_done);
	if (r < 0) {
		free(w);
		return r;
	}
	return 0;
}

static void on_signal(uv_signal_t *handle, int signum)
{
	struct daemon *d = handle->data;

	log_info("Received %s, shutting down", strsignal(signum));
	daemon_stop(d);
}

/* One daemon per state directory: lws would silently replace another daemon's socket. */
static int daemon_lock(struct daemon *d, struct error *err)
{
	autofree char *path = str_printf("%s/lodged.lock", d->dir);

	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0)
		return error_errno(err, -errno, "Failed to open '%s'", path);
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return error_set(err, -EBUSY, "Another lodged is already running on '%s'",
					 d->dir);
		return error_errno(err, -errno, "Failed to lock '%s'", path);
	}
	return 0;
}

static int daemon_prepare_dirs(struct daemon *d, struct error *err)
{
	static const char *const subdirs[] = { "logs", "tmp", "database" };
	int r;

	r = mkdir_p(d->dir, 0711, err);
	if (r < 0)
		return r;
	/* Unprivileged containers (high host uids) and dnsmasq (nobody) traverse it, as with
	 * LXD's /var/lib/lxd. */
	if (chmod(d->dir, 0711) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", d->dir);
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		autofree char *p = str_printf("%s/%s", d->dir, subdirs[i]);

		r = mkdir_p(p, 0700, err);
		if (r < 0)
			return r;
	}
	d->tmp_dir = str_printf("%s/tmp", d->dir);
	return 0;
}

static int daemon_load_certificate(struct daemon *d, struct error *err)
{
	autofree char *crt = str_printf("%s/server.crt", d->dir);
	autofree char *key = str_printf("%s/server.key", d->dir);
	int r;

	r = tls_cert_ensure(crt, key, true, err);
	if (r < 0)
		return r;
	r = read_file(crt, 1 << 20, &d->server_cert_pem, NULL, err);
	if (r < 0)
		return r;
	return tls_cert_fingerprint(d->server_cert_pem, &d->server_cert_fingerprint, err);
}

static int daemon_listen_unix(struct daemon *d, const char *group, struct error *err)
{
	struct lws_context_creation_info info = { 0 };
	gid_t gid = 0;
	mode_t old;

	if (group && *group) {
		struct group *gr = getgrnam(group);

		if (!gr)
			return error_set(err, -ENOENT, "Group '%s' not found", group);
		gid = gr->gr_gid;
	}

	info.vhost_name = "unix";
	info.options = LWS_SERVER_OPTION_UNIX_SOCK;
	info.iface = d->socket_path;
	info.port = 0;
	info.protocols = http_protocols();
	info.keepalive_timeout = 60;

	/* lws creates the socket with the process umask: make it 0660, then set the group. */
	old = umask(0117);
	d->unix_vhost = lws_create_vhost(d->lws, &info);
	umask(old);
	if (!d->unix_vhost)
		return error_set(err, -EADDRINUSE, "Failed to listen on '%s'", d->socket_path);
	d->socket_created = true;
	if (chown(d->socket_path, 0, gid) < 0)
		return error_errno(err, -errno, "Failed to set the group of '%s'", d->socket_path);
	if (chmod(d->socket_path, 0660) < 0)
		return error_errno(err, -errno, "Failed to set the mode of '%s'", d->socket_path);
	return 0;
}

/* Splits "host:port", "[v6]:port" or ":port" (any address). */
static int address_split(const char *address, char **ret_host, int *ret_port, struct error *err)
{
	const char *colon;
	autofree char *host = NULL;
	uint64_t port = 8443;

	if (address[0] == '[') {
		const char *end = strchr(address, ']');

		if (!end)
			return error_set(err, -EINVAL, "Invalid address '%s'", address);
		host = xstrndup(address + 1, (size_t)(end - address - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(address, ':');
		host = colon ? xstrndup(address, (size_t)(colon - address)) : xstrdup(address);
	}
	if (colon && (parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535))
		return error_set(err, -EINVAL, "Invalid port in address '%s'", address);
	*ret_host = *host ? take_ptr(host) : NULL;
	*ret_port = (int)port;
	return 0;
}

int daemon_https_listen(struct daemon *d, const char *address, struct error *err)
{
	struct lws_context_creation_info info = { 0 };
	autofree char *host = NULL;
	autofree char *crt = str_printf("%s/server.crt", d->dir);
	autofree char *key = str_printf("%s/server.key", d->dir);
	int port = 0, r;

	if (d->tls_vhost) {
		lws_vhost_destroy(d->tls_vhost);
		d->tls_vhost = NULL;
		free(d->https_address);
		d->https_address = NULL;
	}
	if (str_is_empty(address))
		return 0;

	r = address_split(address, &host, &port, err);
	if (r < 0)
		return r;

	info.vhost_name = "https";
	info.iface = host;
	info.port = port;
	info.protocols = http_protocols();
	info.ssl_cert_filepath = crt;
	info.ssl_private_key_filepath = key;
	info.alpn = "http/1.1"; /* lws 4.1.6 hangs on HTTP/2 bodies */
	/* Ask for a client certificate; auth_tls_setup() makes it optional and accepts
	 * self-signed ones, trust is then decided by fingerprint. */
	info.options = LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
	info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION |
			       SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
	/* TLS 1.2 with forward secrecy and AEAD only (TLS 1.3's suites all are). */
	info.ssl_cipher_list = "ECDHE+AESGCM:ECDHE+CHACHA20";
	info.keepalive_timeout = 60;
	/* Handshakes and request headers must not take long (daemon/http.c admits a bounded
	 * number of connections that have not authenticated yet). */
	info.timeout_secs = HTTP_TLS_TIMEOUT_SEC;
	info.timeout_secs_ah_idle = HTTP_TLS_TIMEOUT_SEC;
	d->tls_vhost = lws_create_vhost(d->lws, &info);
	if (!d->tls_vhost)
		return error_set(err, -EADDRINUSE, "Failed to listen on '%s'", address);
	d->https_address = xstrdup(address);
	log_info("Listening on https://%s", address);
	return 0;
}

/* Brings up the managed networks before clients can reach them, creating the default one
 * on a first start when asked. A network that fails does not keep the daemon down: its
 * error is logged and the API still serves (and can fix) it. Blocks on `ip`, `nft` and
 * dnsmasq, before the loop runs. */
static void daemon_networks_start(struct daemon *d, bool default_network)
{
	struct network_env env = { .db = d->db, .dir = d->dir };
	autoclean(error_clear) struct error err = ERROR_INIT;
	int r;

	if (default_network) {
		r = network_default_init(&env, &err);
		if (r < 0)
			log_error("Failed to create the default network: %s", error_message(&err));
	}
	(void)network_start_all(&env);
}

int daemon_init(struct daemon *d, const struct daemon_options *opts, struct error *err)
{
	struct lws_context_creation_info info = { 0 };
	void *foreign_loops[1];
	autofree char *log_path = NULL, *db_path = NULL;
	struct timespec now;
	int r;

	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
	list_init(&d->calls);
	pthread_mutex_init(&d->calls_lock, NULL);
	d->dir = xstrdup(opts->dir);
	d->socket_path = str_printf("%s/unix.socket", d->dir);
	d->testing = opts->testing;
	clock_gettime(CLOCK_REALTIME, &now);
	d->started_sec = now.tv_sec;

	r = daemon_prepare_dirs(d, err);
	if (r < 0)
		return r;
	r = daemon_lock(d, err);
	if (r < 0)
		return r;
	log_path = str_printf("%s/logs/lodged.log", d->dir);
	r = log_open_file(log_path);
	if (r < 0)
		return error_errno(err, r, "Failed to open '%s'", log_path);

	db_path = str_printf("%s/database/local.db", d->dir);
	r = db_open(db_path, &d->db, err);
	if (r < 0)
		return r;
	r = storage_default_init(d->db, d->dir, err);
	if (r < 0)
		return r;
	r = daemon_load_certificate(d, err);
	if (r < 0)
		return r;
	daemon_networks_start(d, opts->default_network);

	r = uv_loop_init(&d->loop);
	if (r < 0)
		return error_errno(err, r, "Failed to create the event loop");
	d->loop.data = d;
	uv_async_init(&d->loop, &d->wakeup, on_wakeup);
	d->wakeup.data = d;
	uv_unref((uv_handle_t *)&d->wakeup);
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	d->sig_term.data = d->sig_int.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_unref((uv_handle_t *)&d->sig_term);
	uv_unref((uv_handle_t *)&d->sig_int);

	r = operations_new(d, &d->operations);
	if (r < 0)
		return error_errno(err, r, "Failed to set up operations");
	r = events_new(d, &d->events);
	if (r < 0)
		return error_errno(err, r, "Failed to set up events");
	r = auth_new(d, &d->auth, err);
	if (r < 0)
		return r;
	r = image_tasks_start(d);
	if (r < 0)
		return error_errno(err, r, "Failed to set up the image task");

	lws_set_log_level(log_get_level() >= LOG_LEVEL_DEBUG ? LLL_ERR | LLL_WARN : LLL_ERR, NULL);
	foreign_loops[0] = &d->loop;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.foreign_loops = foreign_loops;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = d;
	info.max_http_header_data = 16384;
	info.timeout_secs = 20;
	d->lws = lws_create_context(&info);
	if (!d->lws)
		return error_set(
			err, -EIO,
			"Failed to create the libwebsockets context (is libwebsockets-evlib-uv installed?)");

	r = daemon_listen_unix(d, opts->group, err);
	if (r < 0)
		return r;
	log_info("lodged %s listening on '%s'", LODGE_VERSION, d->socket_path);
	return 0;
}

int daemon_run(struct daemon *d)
{
	return uv_run(&d->loop, UV_RUN_DEFAULT) < 0 ? -EIO : 0;
}

void daemon_stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	/* Destroying the context closes every listener and connection; uv_run returns once
	 * lws has released its handles (ours are unreferenced). */
	if (d->lws) {
		lws_context_destroy(d->lws);
		d->lws_dying = d->lws;
		d->lws = NULL;
		d->unix_vhost = d->tls_vhost = NULL;
	}
}

static void close_handle(uv_handle_t *h)
{
	if (h->loop && !uv_is_closing(h))
		uv_close(h, NULL);
}

void daemon_release(struct daemon *d)
{
	if (d->lws)
		lws_context_destroy(d->lws);
	d->lws = NULL;
	events_free(d->events);
	d->events = NULL;
	operations_free(d->operations);
	d->operations = NULL;
	auth_free(d->auth);
	d->auth = NULL;
	image_tasks_stop(d);
	if (d->loop.data) {
		on_wakeup(&d->wakeup);
		close_handle((uv_handle_t *)&d->wakeup);
		close_handle((uv_handle_t *)&d->sig_term);
		close_handle((uv_handle_t *)&d->sig_int);
		(void)uv_run(&d->loop, UV_RUN_DEFAULT);
		/* On a foreign loop lws frees its context in a second call, once the loop has
		 * let its handles close. */
		if (d->lws_dying)
			lws_context_destroy(d->lws_dying);
		d->lws_dying = NULL;
		if (uv_loop_close(&d->loop) < 0)
			log_debug("Event loop still had handles at exit, ignoring");
	}
	http_tls_admission_free(d);
	db_close(d->db);
	d->db = NULL;
	/* Only the daemon that created the socket removes it: one that failed to take the
	 * lock must not break the running one's. */
	if (d->socket_path && d->socket_created)
		(void)unlink(d->socket_path);
	closep(&d->lock_fd);
	log_close_file();
	free(d->dir);
	free(d->socket_path);
	free(d->tmp_dir);
	free(d->server_cert_pem);
	free(d->server_cert_fingerprint);
	free(d->https_address);
	pthread_mutex_destroy(&d->calls_lock);
}
