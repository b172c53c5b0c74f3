/* daemon/http.c: HTTP/1.1 and websockets over libwebsockets.
 *
 * One protocol serves both listeners. For HTTP, a request is parsed and routed as soon as
 * its headers arrive (auth and routing errors are decided before any body is read); the
 * body is then collected (in memory up to a cap, or streamed to an unlinked temporary
 * file for routes that take large uploads) and the handler runs once it is complete. The
 * reply is written from the writeable callback: headers first, then the body in pieces.
 *
 * libwebsockets 4.1.6 passes chunked request bodies through with their framing and never
 * signals their end, so we decode the framing ourselves (lib/chunked.c) and dispatch on
 * the terminating chunk. A POST without Content-Length or Transfer-Encoding has an empty
 * body (RFC 9112 6.3) and is dispatched at once.
 */
#include "daemon/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/auth.h"
#include "daemon/daemon.h"
#include "daemon/router.h"
#include "lib/chunked.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

#define HTTP_WRITE_CHUNK (32u << 10)
#define HTTP_MAX_URI_ARG 8192

struct ws_msg {
	struct list_head link;
	bool binary;
	size_t len;
	unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
};

/* Per connection (lws allocates it as the protocol's per-session data). */
struct http_session {
	struct api_request *req;
	struct ws_conn *ws;
	struct strbuf ws_rx; /* fragments of the incoming websocket message */
	bool ws_rx_binary;
};

/* Per request, the transport's private state (req->http). */
struct http_state {
	struct http_session *session;
	int early_error; /* routing/auth/project refusal decided at header time */
	char *early_msg;
	bool expects_body;
	bool chunked;
	bool dispatched;
	struct chunked_decoder dec;
	uint64_t content_length;
	uint64_t received;
	int body_error; /* -EFBIG when the body was over its cap */
	bool headers_sent;
	uint64_t body_sent;
	bool head_only;
};

const char *const http_method_names[] = {
	[HTTP_GET] = "GET",   [HTTP_PUT] = "PUT",	[HTTP_PATCH] = "PATCH",
	[HTTP_POST] = "POST", [HTTP_DELETE] = "DELETE", [HTTP_HEAD] = "HEAD",
};

static const struct {
	enum lws_token_indexes token;
	enum http_method method;
} method_tokens[] = {
	{ WSI_TOKEN_GET_URI, HTTP_GET },       { WSI_TOKEN_POST_URI, HTTP_POST },
	{ WSI_TOKEN_PUT_URI, HTTP_PUT },       { WSI_TOKEN_PATCH_URI, HTTP_PATCH },
	{ WSI_TOKEN_DELETE_URI, HTTP_DELETE }, { WSI_TOKEN_HEAD_URI, HTTP_HEAD },
};

static struct daemon *wsi_daemon(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* --- TLS admission ------------------------------------------------------------------------ */

/* Anyone on the network can open TLS connections: each costs a descriptor, memory and, for
 * the handshake, CPU on the loop thread that also serves the unix socket. A connection
 * counts as unauthenticated from its accept until it makes a request as a trusted client.
 * New connections are refused at accept past HTTP_TLS_UNAUTH_MAX unauthenticated ones (or a
 * quarter of the descriptor limit, when that is lower) in
 * all, or HTTP_TLS_UNAUTH_PER_IP from one address, so a flood of idle, slow or handshaking
 * connections from a few hosts can neither starve the unix socket nor lock out clients
 * elsewhere. lws bounds each stage's time (handshake, headers: HTTP_TLS_TIMEOUT_SEC), and
 * an untrusted client's idle keep-alive connection ends after HTTP_TLS_UNAUTH_IDLE_SEC. */
struct tls_conn {
	struct lws *wsi;
	char addr[INET6_ADDRSTRLEN];
};

struct tls_admission {
	/* lws creates the connection's wsi right after accepting it, before the wsi has its
	 * descriptor: the address seen at accept, for the WSI_CREATE that follows. */
	char accepted[INET6_ADDRSTRLEN];
	size_t max; /* HTTP_TLS_UNAUTH_MAX or RLIMIT_NOFILE / 4 */
	size_t n_conns;
	struct tls_conn conns[HTTP_TLS_UNAUTH_MAX]; /* the unauthenticated connections */
};

static void sockaddr_to_string(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	const void *addr = sa->ss_family == AF_INET6
				   ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				   : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->ss_family, addr, buf, (socklen_t)size))
		buf[0] = '\0';
}

/* Uncounts wsi if it is counted. */
static void tls_admission_release(struct daemon *d, struct lws *wsi)
{
	struct tls_admission *a = d->tls_admission;

	for (size_t i = 0; a && i < a->n_conns; i++) {
		if (a->conns[i].wsi == wsi) {
			a->conns[i] = a->conns[--a->n_conns];
			return;
		}
	}
}

static int tls_admission_accept(struct daemon *d, const struct lws_filter_network_conn_args *args)
{
	struct tls_admission *a = d->tls_admission;
	char addr[INET6_ADDRSTRLEN];
	unsigned from_addr = 0;

	if (!a) {
		struct rlimit rl;

		a = d->tls_admission = xcalloc(1, sizeof(*a));
		a->max = HTTP_TLS_UNAUTH_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur / 4 < a->max)
			a->max = (size_t)rl.rlim_cur / 4;
	}
	sockaddr_to_string(&args->cli_addr, addr, sizeof(addr));
	for (size_t i = 0; i < a->n_conns; i++)
		from_addr += streq(a->conns[i].addr, addr);
	if (a->n_conns >= a->max || from_addr >= HTTP_TLS_UNAUTH_PER_IP) {
		log_debug("Refused a TLS connection from %s: %zu unauthenticated ones (%u from it)",
			  addr, a->n_conns, from_addr);
		return 1;
	}
	memcpy(a->accepted, addr, sizeof(addr));
	return 0;
}

static void tls_admission_count(struct daemon *d, struct lws *wsi)
{
	struct tls_admission *a = d->tls_admission;
	struct tls_conn *c;

	/* accept checked that a slot is free */
	if (!a || a->n_conns >= HTTP_TLS_UNAUTH_MAX)
		return;
	c = &a->conns[a->n_conns++];
	c->wsi = wsi;
	memcpy(c->addr, a->accepted, sizeof(c->addr));
	a->accepted[0] = '\0';
}

/* FILTER_NETWORK_CONNECTION, WSI_CREATE and WSI_DESTROY: lws calls them with no
 * per-session data. Returns nonzero to refuse the connection. */
static int tls_admission(struct lws *wsi, enum lws_callback_reasons reason, void *user)
{
	struct daemon *d = wsi_daemon(wsi);

	/* Listening sockets are created with the vhost, before d->tls_vhost is set. */
	if (reason != LWS_CALLBACK_WSI_DESTROY &&
	    (!d->tls_vhost || lws_get_vhost(wsi) != d->tls_vhost))
		return 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return tls_admission_accept(d, user);
	case LWS_CALLBACK_WSI_CREATE:
		tls_admission_count(d, wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		tls_admission_release(d, wsi);
		return 0;
	default:
		return 0;
	}
}

void http_tls_admission_free(struct daemon *d)
{
	free(d->tls_admission);
	d->tls_admission = NULL;
}

static void api_request_free(struct api_request *req)
{
	struct http_state *st;

	if (!req)
		return;
	st = req->http;
	if (st)
		free(st->early_msg);
	free(st);
	free(req->path);
	for (size_t i = 0; i < req->n_params; i++) {
		free(req->param_names[i]);
		free(req->param_values[i]);
	}
	for (char **q = req->query; q && *q; q++)
		free(*q);
	free(req->query);
	free(req->if_match);
	free(req->content_type);
	for (size_t i = 0; i < req->n_req_headers; i++) {
		free(req->req_headers[i].name);
		free(req->req_headers[i].value);
	}
	free(req->req_headers);
	strbuf_release(&req->body);
	closep(&req->body_fd);
	free(req->reply_content_type);
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	strbuf_release(&req->reply_body);
	closep(&req->reply_fd);
	free(req);
}

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes token)
{
	int len = lws_hdr_total_length(wsi, token);
	char *s;

	if (len <= 0)
		return NULL;
	s = xmalloc((size_t)len + 1);
	if (lws_hdr_copy(wsi, s, len + 1, token) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Collects the decoded query arguments ("k=v" each; lws splits on '&' and decodes). */
static char **query_collect(struct lws *wsi)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;
	autofree char *buf = xmalloc(HTTP_MAX_URI_ARG);

	for (int i = 0;; i++) {
		int len = lws_hdr_copy_fragment(wsi, buf, HTTP_MAX_URI_ARG, WSI_TOKEN_HTTP_URI_ARGS,
						i);

		if (len < 0)
			break;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrndup(buf, (size_t)len);
		v[n] = NULL;
	}
	return v;
}

const char *api_query(const struct api_request *req, const char *key)
{
	size_t klen = strlen(key);

	for (char **q = req->query; q && *q; q++)
		if (strncmp(*q, key, klen) == 0 && ((*q)[klen] == '=' || (*q)[klen] == '\0'))
			return (*q)[klen] == '=' ? *q + klen + 1 : *q + klen;
	return NULL;
}

/* lws 4.1 keeps headers it does not know by name but cannot enumerate them, so the custom
 * ones handlers read are listed here (lower case: lws stores header names that way) and
 * copied when the request arrives, before lws may reuse its header buffer for the body. */
static const char *const custom_headers[] = {
	"x-lxd-filename",    "x-lxd-public",  "x-lxd-properties", "x-lxd-profiles",
	"x-lxd-fingerprint", "x-lxd-aliases", "x-lxd-uid",	  "x-lxd-gid",
	"x-lxd-mode",	     "x-lxd-type",    "x-lxd-write",	  "x-lxd-modify-perm",
};

static void custom_headers_collect(struct lws *wsi, struct api_request *req)
{
	for (size_t i = 0; i < ARRAY_SIZE(custom_headers); i++) {
		autofree char *key = str_printf("%s:", custom_headers[i]);
		int len = lws_hdr_custom_length(wsi, key, (int)strlen(key));
		char *value;

		if (len < 0)
			continue;
		value = xmalloc((size_t)len + 1);
		if (lws_hdr_custom_copy(wsi, value, len + 1, key, (int)strlen(key)) < 0) {
			free(value);
			continue;
		}
		req->req_headers = xrealloc(req->req_headers,
					    (req->n_req_headers + 1) * sizeof(*req->req_headers));
		req->req_headers[req->n_req_headers].name = xstrdup(custom_headers[i]);
		req->req_headers[req->n_req_headers].value = value;
		req->n_req_headers++;
	}
}

const char *api_header(const struct api_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_req_headers; i++)
		if (strcasecmp(req->req_headers[i].name, name) == 0)
			return req->req_headers[i].value;
	return NULL;
}

const char *api_param(const struct api_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_params; i++)
		if (streq(req->param_names[i], name))
			return req->param_values[i];
	return "";
}

/* Parses what every request carries: ?recursion and ?project. Only the default project
 * exists for now. */
static int api_request_parse_common(struct api_request *req, struct error *err)
{
	const char *recursion = api_query(req, "recursion");
	const char *project = api_query(req, "project");

	req->recursion = 0;
	if (recursion && *recursion) {
		uint64_t v;

		if (parse_u64(recursion, &v) < 0 || v > 2)
			return error_set(err, -EINVAL, "Invalid recursion level '%s'", recursion);
		req->recursion = (int)v;
	}
	req->project = "default";
	if (project && *project && !streq(project, "default"))
		return error_set(err, -ENOENT, "Project '%s' not found", project);
	return 0;
}

static struct api_request *request_new(struct lws *wsi, struct http_session *session)
{
	struct api_request *req = xcalloc(1, sizeof(*req));
	struct http_state *st = xcalloc(1, sizeof(*st));

	req->d = wsi_daemon(wsi);
	req->wsi = wsi;
	req->body_fd = -1;
	req->reply_fd = -1;
	req->http = st;
	st->session = session;
	return req;
}

/* Routes and authorizes the request whose headers just arrived. Refusals are recorded as
 * early_error and answered once any body has been drained. */
static void request_route(struct api_request *req, const char *raw_path)
{
	struct http_state *st = req->http;
	struct error err = ERROR_INIT;
	int r;

	req->path = xstrdup(raw_path);
	r = auth_identify(req->d, req->wsi, &req->identity, &err);
	if (r == 0 && req->identity.trusted)
		tls_admission_release(req->d, lws_get_network_wsi(req->wsi));
	if (r == 0)
		r = router_match(req, &err);
	if (r == 0)
		r = auth_check(req, &err);
	if (r == 0)
		r = api_request_parse_common(req, &err);
	if (r < 0) {
		st->early_error = r;
		st->early_msg = xstrdup(error_message(&err));
	}
	error_clear(&err);
}

static int body_store(const char *data, size_t n, void *ctx)
{
	struct api_request *req = ctx;
	struct http_state *st = req->http;
	uint64_t cap = req->route && (req->route->flags & ROUTE_STREAM_BODY) ? HTTP_MAX_STREAM_BODY
									     : HTTP_MAX_JSON_BODY;
	int r;

	st->received += n;
	if (st->early_error || st->body_error)
		return 0; /* drain and forget */
	if (st->received > cap) {
		st->body_error = -EFBIG;
		strbuf_release(&req->body);
		closep(&req->body_fd);
		return 0;
	}
	if (req->route && (req->route->flags & ROUTE_STREAM_BODY)) {
		if (req->body_fd < 0) {
			req->body_fd = open(req->d->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			if (req->body_fd < 0) {
				st->body_error = log_warn_errno(
					-errno,
					"Failed to create a temporary file for a request body");
				return 0;
			}
		}
		r = write_all_fd(req->body_fd, data, n);
		if (r < 0) {
			st->body_error = r;
			closep(&req->body_fd);
		}
	} else {
		strbuf_add(&req->body, data, n);
	}
	req->body_len += n;
	return 0;
}

static void request_dispatch(struct api_request *req)
{
	struct http_state *st = req->http;
	int r;

	if (st->dispatched)
		return;
	st->dispatched = true;
	if (req->body_fd >= 0)
		(void)lseek(req->body_fd, 0, SEEK_SET);

	if (st->early_error)
		(void)api_reply_errorf(req, st->early_error, "%s", st->early_msg);
	else if (st->body_error == -EFBIG)
		(void)api_reply_errorf(
			req, -EFBIG, "Request body is larger than the %s limit",
			req->route && (req->route->flags & ROUTE_STREAM_BODY) ? "64 GiB" : "8 MiB");
	else if (st->body_error)
		(void)api_reply_errorf(req, st->body_error, "Failed to receive the request body");
	else if (!req->route->handlers[req->method])
		(void)api_reply_errorf(req, -EINVAL, "This endpoint requires a websocket upgrade");
	else {
		r = req->route->handlers[req->method](req);
		if (r < 0 && !req->replied && !req->later)
			(void)api_reply_errorf(req, r, "%s", strerror(-r));
		if (!req->replied && !req->later)
			(void)api_reply_errorf(req, -EIO, "Internal error: handler gave no reply");
	}

	if (req->later && !req->replied) {
		/* A long-poll: no lws timeout may kill it while it waits. */
		lws_set_timeout(req->wsi, NO_PENDING_TIMEOUT, 0);
		return;
	}
	lws_callback_on_writable(req->wsi);
}

void api_request_finish(struct api_request *req)
{
	struct http_state *st = req->http;

	req->later = false;
	if (!req->wsi || !st->session) {
		api_request_free(req);
		return;
	}
	if (!req->replied)
		(void)api_reply_errorf(req, -EIO, "Internal error: deferred handler gave no reply");
	lws_callback_on_writable(req->wsi);
}

static int http_on_request(struct lws *wsi, struct http_session *session, const char *uri)
{
	struct api_request *req;
	struct http_state *st;
	autofree char *cl = NULL, *te = NULL;
	bool found = false;

	api_request_free(session->req);
	req = session->req = request_new(wsi, session);
	st = req->http;

	for (size_t i = 0; i < ARRAY_SIZE(method_tokens); i++) {
		if (lws_hdr_total_length(wsi, method_tokens[i].token) > 0) {
			req->method = method_tokens[i].method;
			found = true;
			break;
		}
	}
	st->head_only = req->method == HTTP_HEAD;
	req->query = query_collect(wsi);
	req->if_match = hdr_dup(wsi, WSI_TOKEN_HTTP_IF_MATCH);
	req->content_type = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
	custom_headers_collect(wsi, req);

	if (!found) {
		st->early_error = -ENOSYS;
		st->early_msg = xstrdup("Method not supported");
		req->path = xstrdup(uri);
	} else {
		request_route(req, uri);
	}

	cl = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	te = hdr_dup(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
	if (te && strcasestr(te, "chunked")) {
		st->chunked = true;
		st->expects_body = true;
		chunked_init(&st->dec);
	} else if (cl) {
		if (parse_u64(cl, &st->content_length) < 0) {
			st->early_error = -EINVAL;
			free(st->early_msg);
			st->early_msg = xstrdup("Invalid Content-Length");
			st->content_length = 0;
		}
		st->expects_body = st->content_length > 0;
	}

	if (!st->expects_body)
		request_dispatch(req);
	return 0;
}

static int http_on_body(struct api_request *req, const char *in, size_t len)
{
	struct http_state *st = req->http;

	if (st->dispatched)
		return 0; /* bytes past a finished chunked body: ignore */
	if (!st->chunked)
		return body_store(in, len, req);

	if (chunked_feed(&st->dec, in, len, body_store, req) < 0) {
		if (!st->early_error) {
			st->early_error = -EINVAL;
			st->early_msg = xstrdup("Malformed chunked request body");
		}
		request_dispatch(req);
		return 0;
	}
	if (chunked_done(&st->dec))
		request_dispatch(req);
	return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
		      unsigned char *end)
{
	autofree char *key = str_printf("%s:", name);

	return lws_add_http_header_by_name(wsi, (const unsigned char *)key,
					   (const unsigned char *)value, (int)strlen(value), p,
					   end);
}

static int http_write_headers(struct lws *wsi, struct api_request *req)
{
	struct http_state *st = req->http;
	uint64_t len = req->reply_fd >= 0 ? req->reply_fd_len : req->reply_body.len;
	size_t need = LWS_PRE + 1024;
	autofree unsigned char *buf = NULL;
	unsigned char *start, *p, *end;

	for (size_t i = 0; i < req->n_headers; i++)
		need += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 8;
	buf = xmalloc(need);
	start = p = buf + LWS_PRE;
	end = buf + need - 1;

	if (lws_add_http_header_status(wsi, (unsigned int)req->status, &p, end) ||
	    add_header(wsi, "Content-Type",
		       req->reply_content_type ? req->reply_content_type : "application/json", &p,
		       end) ||
	    lws_add_http_header_content_length(wsi, len, &p, end))
		return -1;
	for (size_t i = 0; i < req->n_headers; i++)
		if (add_header(wsi, req->headers[i].name, req->headers[i].value, &p, end))
			return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	st->headers_sent = true;
	return 0;
}

/* Writes the next piece of the reply; returns 1 when the reply is complete. */
static int http_write_some(struct lws *wsi, struct api_request *req)
{
	struct http_state *st = req->http;
	uint64_t total = req->reply_fd >= 0 ? req->reply_fd_len : req->reply_body.len;
	size_t n = total - st->body_sent > HTTP_WRITE_CHUNK ? HTTP_WRITE_CHUNK
							    : (size_t)(total - st->body_sent);
	autofree unsigned char *buf = NULL;
	bool last;

	if (!st->headers_sent) {
		if (http_write_headers(wsi, req) < 0)
			return -1;
		if (total == 0 || st->head_only)
			return 1;
		return 0;
	}

	buf = xmalloc(LWS_PRE + n);
	if (req->reply_fd >= 0) {
		ssize_t got = read(req->reply_fd, buf + LWS_PRE, n);

		if (got <= 0)
			return -1; /* the file shrank under us: cut the connection */
		n = (size_t)got;
	} else {
		memcpy(buf + LWS_PRE, req->reply_body.buf + st->body_sent, n);
	}
	st->body_sent += n;
	last = st->body_sent >= total;
	if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
		return -1;
	return last ? 1 : 0;
}

static int http_on_writeable(struct lws *wsi, struct http_session *session)
{
	struct api_request *req = session->req;
	bool untrusted;
	int r;

	if (!req || !req->replied || req->later)
		return 0;
	r = http_write_some(wsi, req);
	if (r < 0)
		return -1;
	if (r == 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	untrusted = !req->identity.trusted;
	api_request_free(req);
	session->req = NULL;
	if (lws_http_transaction_completed(wsi))
		return -1;
	/* An untrusted client has little reason to keep a connection: it gets a short idle
	 * time, so that its slot frees soon. */
	if (untrusted)
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, HTTP_TLS_UNAUTH_IDLE_SEC);
	return 0;
}

static void http_on_closed(struct http_session *session)
{
	struct api_request *req = session->req;
	struct http_state *st;

	session->req = NULL;
	if (!req)
		return;
	st = req->http;
	if (req->later) {
		/* Its owner still holds it and frees it in api_request_finish(). */
		req->wsi = NULL;
		st->session = NULL;
		return;
	}
	api_request_free(req);
}

/* --- websockets ------------------------------------------------------------------------ */

static int ws_on_filter(struct lws *wsi, struct http_session *session)
{
	autofree char *uri = hdr_dup(wsi, WSI_TOKEN_GET_URI);
	struct api_request *req;
	struct http_state *st;
	struct ws_conn *ws;
	int r;

	if (!uri)
		return -1;
	req = request_new(wsi, session);
	st = req->http;
	req->method = HTTP_GET;
	req->query = query_collect(wsi);
	request_route(req, uri);
	if (st->early_error || !req->route->websocket) {
		log_debug("Refused websocket on '%s': %s", uri,
			  st->early_msg ? st->early_msg : "not a websocket endpoint");
		api_request_free(req);
		return -1;
	}

	ws = xcalloc(1, sizeof(*ws));
	ws->wsi = wsi;
	ws->d = req->d;
	ws->identity = req->identity;
	list_init(&ws->outq);
	r = req->route->websocket(req, ws);
	api_request_free(req);
	if (r < 0 || !ws->ops) {
		log_debug_errno(r, "Refused websocket on '%s'", uri);
		free(ws);
		return -1;
	}
	session->ws = ws;
	return 0;
}

int ws_conn_send(struct ws_conn *ws, bool binary, const void *data, size_t len)
{
	struct ws_msg *m;

	if (!ws->wsi || ws->close_after_drain)
		return -ENOTCONN;
	if (ws->queued + len > WS_MAX_QUEUED) {
		log_debug("Websocket peer too slow (%zu bytes queued), closing", ws->queued);
		ws_conn_close(ws, 1008);
		return -ENOBUFS;
	}
	m = xmalloc(sizeof(*m) + LWS_PRE + len);
	m->binary = binary;
	m->len = len;
	if (len)
		memcpy(m->data + LWS_PRE, data, len);
	list_add_tail(&m->link, &ws->outq);
	ws->queued += len;
	lws_callback_on_writable(ws->wsi);
	return 0;
}

void ws_conn_pause_rx(struct ws_conn *ws, bool pause)
{
	if (ws->wsi)
		(void)lws_rx_flow_control(ws->wsi, pause ? 0 : 1);
}

void ws_conn_close(struct ws_conn *ws, int status)
{
	if (!ws->wsi || ws->close_after_drain)
		return;
	ws->close_after_drain = true;
	ws->close_status = status;
	lws_callback_on_writable(ws->wsi);
}

static int ws_on_writeable(struct lws *wsi, struct ws_conn *ws)
{
	struct ws_msg *m;
	int r;

	if (list_empty(&ws->outq)) {
		if (ws->close_after_drain) {
			lws_close_reason(wsi, (enum lws_close_status)ws->close_status, NULL, 0);
			return -1;
		}
		return 0;
	}
	m = list_entry(ws->outq.next, struct ws_msg, link);
	list_del(&m->link);
	ws->queued -= m->len;
	r = lws_write(wsi, m->data + LWS_PRE, m->len,
		      m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
	free(m);
	if (r < 0)
		return -1;
	if (!list_empty(&ws->outq) || ws->close_after_drain)
		lws_callback_on_writable(wsi);
	else if (ws->ops && ws->ops->drained)
		ws->ops->drained(ws);
	return 0;
}

static int ws_on_receive(struct lws *wsi, struct http_session *session, const void *in, size_t len)
{
	struct ws_conn *ws = session->ws;

	if (lws_is_first_fragment(wsi)) {
		strbuf_reset(&session->ws_rx);
		session->ws_rx_binary = lws_frame_is_binary(wsi);
	}
	if (session->ws_rx.len + len > WS_MAX_MESSAGE) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
		return -1;
	}
	strbuf_add(&session->ws_rx, in, len);
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return 0;
	if (ws->ops && ws->ops->receive)
		ws->ops->receive(ws, session->ws_rx_binary, strbuf_str(&session->ws_rx),
				 session->ws_rx.len);
	strbuf_reset(&session->ws_rx);
	return 0;
}

static void ws_on_closed(struct http_session *session)
{
	struct ws_conn *ws = session->ws;
	struct list_head *pos, *tmp;

	session->ws = NULL;
	strbuf_release(&session->ws_rx);
	if (!ws)
		return;
	ws->wsi = NULL;
	if (ws->ops && ws->ops->closed)
		ws->ops->closed(ws);
	list_for_each_safe(pos, tmp, &ws->outq) {
		list_del(pos);
		free(list_entry(pos, struct ws_msg, link));
	}
	free(ws);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct http_session *session = user;

	if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION || reason == LWS_CALLBACK_WSI_CREATE ||
	    reason == LWS_CALLBACK_WSI_DESTROY)
		return tls_admission(wsi, reason, user);

	/* lws calls some of these (CLOSED_HTTP for a connection whose headers never
	 * completed) before it allocated the per-session data. */
	if (!session && reason != LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS)
		return lws_callback_http_dummy(wsi, reason, user, in, len);

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_on_request(wsi, session, in);
	case LWS_CALLBACK_HTTP_BODY:
		if (session->req)
			return http_on_body(session->req, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (session->req && !session->req->http)
			return 0;
		if (session->req && !((struct http_state *)session->req->http)->chunked)
			request_dispatch(session->req);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_on_writeable(wsi, session);
	case LWS_CALLBACK_CLOSED_HTTP:
		http_on_closed(session);
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_on_filter(wsi, session);
	case LWS_CALLBACK_RECEIVE:
		if (session->ws)
			return ws_on_receive(wsi, session, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (session->ws)
			return ws_on_writeable(wsi, session->ws);
		return 0;
	case LWS_CALLBACK_CLOSED:
		ws_on_closed(session);
		return 0;

	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		return auth_tls_setup(user, in);
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "lodge", http_callback, sizeof(struct http_session), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

const struct lws_protocols *http_protocols(void)
{
	return protocols;
}
