#include "lxd-client.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http-tls.h"
#include "json.h"
#include "log.h"
#include "str.h"
/* Last, so that no system header follows its macros. */
#include "banned.h"

#define LXD_DIR_DEFAULT	       "/var/lib/lodge"
#define LXD_TIMEOUT_DEFAULT_MS (120 * 1000)
#define LXD_USER_AGENT	       "User-Agent: lodge " LODGE_VERSION

struct lxd_client {
	char *socket_path; /* NULL for an https remote */
	struct http_url url;
	char *host_header; /* "host:port" of an https remote */
	enum http_tls_verify verify;
	char *fingerprint;
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *project;
	int timeout_ms;
	int cancel_fd;
};

char *lxd_socket_path(void)
{
	const char *socket = getenv("LODGE_SOCKET");
	const char *dir = getenv("LODGE_DIR");

	if (!str_is_empty(socket))
		return xstrdup(socket);
	return str_printf("%s/unix.socket", !str_is_empty(dir) ? dir : LXD_DIR_DEFAULT);
}

struct lxd_client *lxd_client_new(const char *socket_path)
{
	struct lxd_client *c = xcalloc(1, sizeof(*c));

	c->socket_path = socket_path ? xstrdup(socket_path) : lxd_socket_path();
	c->timeout_ms = LXD_TIMEOUT_DEFAULT_MS;
	c->cancel_fd = -1;
	return c;
}

static char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int lxd_client_new_https(const char *url, const struct http_tls_options *tls,
			 struct lxd_client **ret, struct error *err)
{
	struct lxd_client *c;
	struct http_url u = HTTP_URL_INIT;
	int r;

	r = http_url_parse(url, &u, err);
	if (r < 0)
		return r;
	c = xcalloc(1, sizeof(*c));
	c->url = u;
	c->host_header = strchr(u.host, ':') ? str_printf("[%s]:%s", u.host, u.port)
					     : str_printf("%s:%s", u.host, u.port);
	c->verify = tls->verify;
	c->fingerprint = xstrdup_or_null(tls->fingerprint);
	c->ca_file = xstrdup_or_null(tls->ca_file);
	c->cert_file = xstrdup_or_null(tls->cert_file);
	c->key_file = xstrdup_or_null(tls->key_file);
	c->timeout_ms = LXD_TIMEOUT_DEFAULT_MS;
	c->cancel_fd = -1;
	*ret = c;
	return 0;
}

bool lxd_client_is_remote(const struct lxd_client *c)
{
	return !c->socket_path;
}

void lxd_client_free(struct lxd_client *c)
{
	if (!c)
		return;
	free(c->socket_path);
	http_url_release(&c->url);
	free(c->host_header);
	free(c->fingerprint);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->project);
	free(c);
}

const char *lxd_client_get_socket_path(const struct lxd_client *c)
{
	return c->socket_path;
}

void lxd_client_set_timeout(struct lxd_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void lxd_client_set_project(struct lxd_client *c, const char *project)
{
	free(c->project);
	c->project = project ? xstrdup(project) : NULL;
}

void lxd_client_set_cancel_fd(struct lxd_client *c, int fd)
{
	c->cancel_fd = fd;
}

void lxd_response_release(struct lxd_response *r)
{
	if (!r)
		return;
	json_decref(r->metadata);
	free(r->operation);
	free(r->etag);
	free(r->location);
	*r = (struct lxd_response)LXD_RESPONSE_INIT;
}

int lxd_status_to_errno(int http_status)
{
	switch (http_status) {
	case 400:
		return -EINVAL;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	default:
		return -EIO;
	}
}

int lxd_response_parse(int http_status, const char *body, size_t len, struct lxd_response *ret,
		       struct error *err)
{
	autojson json_t *j = NULL;
	const char *type, *msg, *op;
	json_t *meta;
	long long code = 0;
	int r;

	r = json_parse(body, len, false, &j, NULL);
	if (r < 0) {
		if (http_status >= 400)
			return error_set(err, lxd_status_to_errno(http_status),
					 "Server replied with HTTP status %d", http_status);
		return error_set(err, -EIO, "Server sent a reply that is not a JSON object");
	}

	type = json_get_str(j, "type");
	if (type && streq(type, "error")) {
		msg = json_get_str(j, "error");
		/* Go clients use the HTTP status; error_code says the same when the status
		 * itself carries no information. */
		if (http_status < 400 && json_get_int(j, "error_code", &code) && code >= 400 &&
		    code < 600)
			http_status = (int)code;
		if (str_is_empty(msg))
			return error_set(err, lxd_status_to_errno(http_status),
					 "Server replied with HTTP status %d", http_status);
		return error_set(err, lxd_status_to_errno(http_status), "%s", msg);
	}
	if (http_status >= 400)
		return error_set(err, lxd_status_to_errno(http_status),
				 "Server replied with HTTP status %d", http_status);
	if (!type || (!streq(type, "sync") && !streq(type, "async")))
		return error_set(err, -EIO, "Server sent a reply of unknown type '%s'",
				 type ? type : "");

	meta = json_object_get(j, "metadata");
	op = json_get_str(j, "operation");
	*ret = (struct lxd_response){
		.status = http_status,
		.type = streq(type, "sync") ? LXD_RESPONSE_SYNC : LXD_RESPONSE_ASYNC,
		.metadata = meta ? json_incref(meta) : json_null(),
		.operation = !str_is_empty(op) ? xstrdup(op) : NULL,
	};
	return 0;
}

/* Percent-encodes a query value: everything but unreserved characters. */
static void query_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || strchr("-._~", ch))
			strbuf_addch(sb, (char)ch);
		else
			strbuf_addf(sb, "%%%02X", ch);
	}
}

/* path with the client's project added to its query. */
static char *lxd_client_target(const struct lxd_client *c, const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, path);
	if (c->project) {
		strbuf_adds(&sb, strchr(path, '?') ? "&project=" : "?project=");
		query_escape(&sb, c->project);
	}
	return strbuf_detach(&sb);
}

static int lxd_connect(struct lxd_client *c, int timeout_ms, struct http_conn **ret,
		       struct error *err)
{
	struct http_conn *conn = NULL;
	int r;

	if (c->socket_path)
		r = http_conn_new_unix(c->socket_path, timeout_ms, &conn, err);
	else
		r = http_conn_new_tls(c->url.host, c->url.port,
				      &(struct http_tls_options){
					      .verify = c->verify,
					      .fingerprint = c->fingerprint,
					      .ca_file = c->ca_file,
					      .cert_file = c->cert_file,
					      .key_file = c->key_file,
				      },
				      timeout_ms, &conn, NULL, err);
	if (r < 0)
		return r;
	http_conn_set_cancel_fd(conn, c->cancel_fd);
	*ret = conn;
	return 0;
}

static int lxd_query_timeout(struct lxd_client *c, const char *method, const char *path,
			     const json_t *body, const char *etag, int timeout_ms,
			     struct lxd_response *ret, struct error *err)
{
	autoclean(http_conn_freep) struct http_conn *conn = NULL;
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autoclean(lxd_response_release) struct lxd_response lresp = LXD_RESPONSE_INIT;
	autofree char *target = lxd_client_target(c, path);
	autofree char *data = NULL;
	autofree char *if_match = NULL;
	const char *headers[5] = { LXD_USER_AGENT };
	size_t n = 1;
	const char *v;
	int r;

	if (body) {
		data = json_to_string(body);
		headers[n++] = "Content-Type: application/json";
	}
	if (etag) {
		if_match = str_printf("If-Match: %s", etag);
		headers[n++] = if_match;
	}

	r = lxd_connect(c, timeout_ms, &conn, err);
	if (r < 0)
		return r;

	log_debug("%s %s", method, target);
	r = http_do(conn,
		    &(struct http_request){
			    .method = method,
			    .target = target,
			    .host = c->host_header,
			    .headers = headers,
			    .body = data,
			    .body_len = data ? strlen(data) : 0,
		    },
		    &resp, err);
	if (r < 0)
		return r;

	r = lxd_response_parse(resp.status, resp.body, resp.body_len, &lresp, err);
	if (r < 0)
		return r;

	v = http_response_header(&resp, "ETag");
	if (v)
		lresp.etag = xstrdup(v);
	v = http_response_header(&resp, "Location");
	if (v)
		lresp.location = xstrdup(v);

	*ret = lresp;
	lresp = (struct lxd_response)LXD_RESPONSE_INIT;
	return 0;
}

int lxd_query(struct lxd_client *c, const char *method, const char *path, const json_t *body,
	      const char *etag, struct lxd_response *ret, struct error *err)
{
	return lxd_query_timeout(c, method, path, body, etag, c->timeout_ms, ret, err);
}

int lxd_get(struct lxd_client *c, const char *path, json_t **ret_metadata, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	int r;

	r = lxd_query(c, "GET", path, NULL, NULL, &resp, err);
	if (r < 0)
		return r;
	*ret_metadata = take_ptr(resp.metadata);
	return 0;
}

char *lxd_operation_id(const char *operation)
{
	const char *end = operation + strcspn(operation, "?");
	const char *start = end;

	while (start > operation && start[-1] != '/')
		start--;
	return xstrndup(start, (size_t)(end - start));
}

int lxd_operation_wait(struct lxd_client *c, const char *operation, int timeout_s, json_t **ret_op,
		       struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *id = lxd_operation_id(operation);
	autofree char *path = NULL;
	long long code = 0;
	const char *msg;
	int r;

	if (!object_name_is_valid(id))
		return error_set(err, -EINVAL, "Invalid operation '%s'", operation);

	path = str_printf("/1.0/operations/%s/wait?timeout=%d", id, timeout_s < 0 ? -1 : timeout_s);
	/* The server holds the reply until the operation ends: no idle timeout, or one a
	 * little past the server's. */
	r = lxd_query_timeout(c, "GET", path, NULL, NULL,
			      timeout_s < 0 ? -1 : (timeout_s + 30) * 1000, &resp, err);
	if (r < 0)
		return r;

	if (!json_is_object(resp.metadata) || !json_get_int(resp.metadata, "status_code", &code))
		return error_set(err, -EIO, "Server sent an invalid operation '%s'", id);

	msg = json_get_str(resp.metadata, "err");
	if (code < 200)
		return error_set(err, -ETIMEDOUT, "Timed out waiting for operation '%s'", id);
	if (code == 401)
		return error_set(err, -ECANCELED, "%s",
				 !str_is_empty(msg) ? msg : "Operation cancelled");
	if (code != 200 || !str_is_empty(msg))
		return error_set(err, -EIO, "%s", !str_is_empty(msg) ? msg : "Operation failed");

	*ret_op = take_ptr(resp.metadata);
	return 0;
}

int lxd_query_wait(struct lxd_client *c, const char *method, const char *path, const json_t *body,
		   const char *etag, json_t **ret_op, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	int r;

	r = lxd_query(c, method, path, body, etag, &resp, err);
	if (r < 0)
		return r;
	if (resp.type != LXD_RESPONSE_ASYNC || !resp.operation)
		return error_set(err, -EIO, "Server did not start an operation for %s '%s'", method,
				 path);
	return lxd_operation_wait(c, resp.operation, -1, ret_op, err);
}

int lxd_websocket_connect(struct lxd_client *c, const char *path, struct ws **ret,
			  struct error *err)
{
	autoclean(http_conn_freep) struct http_conn *conn = NULL;
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autoclean(lxd_response_release) struct lxd_response lresp = LXD_RESPONSE_INIT;
	autofree char *target = lxd_client_target(c, path);
	const char *headers[] = { LXD_USER_AGENT, NULL };
	int r;

	r = lxd_connect(c, c->timeout_ms, &conn, err);
	if (r < 0)
		return r;

	log_debug("GET %s (websocket)", target);
	r = ws_handshake(conn,
			 &(struct http_request){
				 .method = "GET",
				 .target = target,
				 .host = c->host_header,
				 .headers = headers,
			 },
			 &resp, err);
	if (r < 0)
		return r;

	if (resp.status != 101) {
		r = lxd_response_parse(resp.status, resp.body, resp.body_len, &lresp, err);
		if (r < 0)
			return r;
		return error_set(err, -EPROTO, "Server did not upgrade '%s' to a websocket",
				 target);
	}

	/* Messages may be minutes apart: reads wait forever (until the cancel descriptor). */
	http_conn_set_timeout(conn, -1);
	*ret = ws_new(take_ptr(conn));
	return 0;
}

int lxd_events_connect(struct lxd_client *c, const char *query, struct ws **ret, struct error *err)
{
	autofree char *path = str_printf("/1.0/events%s%s", query ? "?" : "", query ? query : "");

	return lxd_websocket_connect(c, path, ret, err);
}

int lxd_do(struct lxd_client *c, const struct http_request *req, struct http_response *ret,
	   struct error *err)
{
	autoclean(http_conn_freep) struct http_conn *conn = NULL;
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autoclean(lxd_response_release) struct lxd_response lresp = LXD_RESPONSE_INIT;
	autofree char *target = lxd_client_target(c, req->target);
	autofree const char **headers = NULL;
	struct http_request copy = *req;
	size_t n = 0;
	int r;

	while (req->headers && req->headers[n])
		n++;
	headers = xcalloc(n + 2, sizeof(*headers));
	headers[0] = LXD_USER_AGENT;
	for (size_t i = 0; i < n; i++)
		headers[i + 1] = req->headers[i];
	copy.target = target;
	copy.headers = headers;

	r = lxd_connect(c, c->timeout_ms, &conn, err);
	if (r < 0)
		return r;
	log_debug("%s %s", req->method, target);
	r = http_do(conn, &copy, &resp, err);
	if (r < 0)
		return r;
	if (resp.status >= 400) {
		r = lxd_response_parse(resp.status, resp.body, resp.body_len, &lresp, err);
		return r < 0 ? r
			     : error_set(err, -EIO, "Server replied with HTTP status %d",
					 resp.status);
	}
	*ret = resp;
	resp = (struct http_response)HTTP_RESPONSE_INIT;
	return 0;
}

static bool parse_digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int lxd_time_parse(const char *s, long long *ret_sec, long *ret_nsec)
{
	struct tm tm = { 0 };
	int year, mon, day, hour, min, sec;
	int off_h = 0, off_m = 0;
	long nsec = 0;
	long long t;
	const char *p;

	/* "2006-01-02T15:04:05" */
	if (strlen(s) < 20 || !parse_digits(s, 4, &year) || s[4] != '-' ||
	    !parse_digits(s + 5, 2, &mon) || s[7] != '-' || !parse_digits(s + 8, 2, &day) ||
	    (s[10] != 'T' && s[10] != 't') || !parse_digits(s + 11, 2, &hour) || s[13] != ':' ||
	    !parse_digits(s + 14, 2, &min) || s[16] != ':' || !parse_digits(s + 17, 2, &sec))
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;

	p = s + 19;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits < 9)
				nsec = nsec * 10 + (*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
		for (; digits < 9; digits++)
			nsec *= 10;
	}

	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (!parse_digits(p + 1, 2, &off_h) || p[3] != ':' ||
		    !parse_digits(p + 4, 2, &off_m) || off_h > 23 || off_m > 59)
			return -EINVAL;
		if (*p == '-') {
			off_h = -off_h;
			off_m = -off_m;
		}
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;

	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = (long long)timegm(&tm);
	*ret_sec = t - (off_h * 3600LL + off_m * 60LL);
	*ret_nsec = nsec;
	return 0;
}
