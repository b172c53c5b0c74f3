/* daemon/api.h: what a REST handler sees: the request, the route table entry, and the
 * reply helpers that build LXD's response envelopes.
 *
 * A handler reads the request, calls one core function and writes the reply with exactly
 * one api_reply_*() call, whose result it returns. Work slower than a database read runs
 * as an operation (daemon/operations.h): the handler starts it and replies 202 at once.
 * A handler that must answer later (long-poll) calls api_reply_later() and, once ready,
 * one api_reply_*() followed by api_request_finish().
 *
 * All of this runs on the loop thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "lib/str.h"

struct daemon;
struct operation;
struct lws;
struct ws_conn;

enum http_method {
	HTTP_GET,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_POST,
	HTTP_DELETE,
	HTTP_HEAD,
	_HTTP_METHOD_MAX,
};

extern const char *const http_method_names[];

/* Who is asking. Decided once per connection (daemon/auth.c), before routing. */
struct api_identity {
	bool trusted;
	const char *protocol; /* "unix" or "tls" */
	char username[64];    /* unix: the peer's user name or uid */
	char address[96];     /* "@" on the unix socket, "ip:port" over TLS */
	char fingerprint[65]; /* TLS client certificate SHA-256, "" if none */
	/* A trusted TLS client limited to projects (comma-separated names). */
	bool restricted;
	char projects[512];
};

#define API_MAX_PARAMS 4

struct api_request;
typedef int (*api_handler)(struct api_request *req);

/* Accepts a websocket upgrade on the route by setting ws's callbacks (daemon/http.h), or
 * returns a negative errno to refuse it. */
typedef int (*api_ws_handler)(struct api_request *req, struct ws_conn *ws);

enum route_flags {
	/* Served to untrusted clients too (GET /, GET /1.0). */
	ROUTE_UNTRUSTED = 1 << 0,
	/* The body may be huge (image upload, file push): streamed to a temporary file
	 * (req->body_fd) instead of memory. */
	ROUTE_STREAM_BODY = 1 << 1,
	/* Only registered when the daemon runs with --testing. */
	ROUTE_TESTING = 1 << 2,
	/* POST is served to untrusted clients too; the handler authorises them itself
	 * (POST /1.0/certificates with a trust password or token). */
	ROUTE_UNTRUSTED_POST = 1 << 3,
};

struct route {
	const char *path; /* "/1.0/operations/{id}/wait": {x} matches one segment */
	api_handler handlers[_HTTP_METHOD_MAX];
	api_ws_handler websocket; /* GET with Upgrade: websocket */
	unsigned flags;
};

struct api_reply_header {
	char *name;
	char *value;
};

struct api_request {
	struct daemon *d;
	struct lws *wsi; /* NULL once the client went away */
	enum http_method method;
	char *path; /* decoded, without the query */
	const struct route *route;
	char *param_names[API_MAX_PARAMS];
	char *param_values[API_MAX_PARAMS];
	size_t n_params;
	char **query; /* decoded "key=value" strings, NULL-terminated */
	struct api_identity identity;

	/* Parsed once for every request (api_request_parse_common). */
	int recursion;
	const char *project; /* "default" unless ?project= */

	/* Request headers a handler may want, copied at arrival. */
	char *if_match;
	char *content_type;
	struct api_reply_header *req_headers; /* the custom X-LXD-* ones: api_header() */
	size_t n_req_headers;

	/* Body: in memory (body) unless the route streams it (body_fd, rewound). */
	struct strbuf body;
	int body_fd;
	uint64_t body_len;

	/* Reply, filled by api_reply_*(). */
	int status;
	char *reply_content_type;
	struct api_reply_header *headers;
	size_t n_headers;
	struct strbuf reply_body;
	int reply_fd; /* body streamed from this fd, reply_fd_len bytes, when >= 0 */
	uint64_t reply_fd_len;
	bool replied;
	bool later; /* api_reply_later() was called */

	/* Internal to daemon/http.c. */
	void *http;
};

/* The value of path parameter name ("{name}"), never NULL for a declared parameter. */
const char *api_param(const struct api_request *req, const char *name);
/* The decoded value of query argument key, NULL when absent. */
const char *api_query(const struct api_request *req, const char *key);
/* The value of a custom request header ("X-LXD-filename"; any case), NULL when absent.
 * Only the headers listed in daemon/http.c (X-LXD-filename, -public, -properties,
 * -profiles, -fingerprint, -aliases, -uid, -gid, -mode, -type, -write, -modify-perm) are
 * collected; add a name there to read another. */
const char *api_header(const struct api_request *req, const char *name);

/* Parses the body as a JSON object; on failure replies 400 naming the problem and returns
 * the negative errno, so a handler can `if (r < 0) return r;`. */
int api_request_json(struct api_request *req, json_t **ret);

/* {"type":"sync","status":"Success","status_code":200,...,"metadata":metadata}. Takes the
 * reference to metadata (NULL: JSON null). */
int api_reply_sync(struct api_request *req, json_t *metadata);
/* Same with an ETag header computed as LXD does: sha256 of the JSON of etag_source. */
int api_reply_sync_etag(struct api_request *req, json_t *metadata, const json_t *etag_source);
/* 201 with a Location header and null metadata (object creation, as LXD answers). */
int api_reply_created(struct api_request *req, const char *location);
/* 202 with the operation object and a Location header. */
int api_reply_async(struct api_request *req, struct operation *op);
/* The error envelope with the HTTP status mapped from err->code (daemon/api-error.c). */
int api_reply_error(struct api_request *req, const struct error *err);
int api_reply_errorf(struct api_request *req, int code, const char *fmt, ...) _printf_(3, 4);
/* Raw bytes with a content type (file pulls, exports, console logs). Copies data. */
int api_reply_raw(struct api_request *req, int status, const char *content_type, const void *data,
		  size_t len);
/* Streams len bytes from fd (takes it); the caller has set its position. */
int api_reply_fd(struct api_request *req, int status, const char *content_type, int fd,
		 uint64_t len);
/* Adds a header to the reply (before or after the api_reply_* call). */
void api_reply_add_header(struct api_request *req, const char *name, const char *value);

/* Defers the reply; api_request_finish() sends it later. Returns 0. */
int api_reply_later(struct api_request *req);
/* Sends a deferred reply (or drops it if the client went away) and frees the request. */
void api_request_finish(struct api_request *req);

/* Runs work(data, err) on a worker thread, then, on the loop, reply(req, data) when it
 * returned >= 0, or the error envelope otherwise, and free_data(data) (may be NULL). For
 * handlers whose answer needs blocking work but stays synchronous for the client. Takes
 * data; returns what the handler returns. */
int api_reply_from_worker(struct api_request *req, int (*work)(void *data, struct error *err),
			  int (*reply)(struct api_request *req, void *data),
			  void (*free_data)(void *data), void *data);

/* errno -> HTTP status, the one table (daemon/api-error.c). */
int api_error_status(int code);

/* Compares the request's If-Match with the ETag of etag_source. Returns 0 when absent or
 * equal; otherwise replies 412 (as LXD does) and returns -EAGAIN. */
int api_request_check_etag(struct api_request *req, const json_t *etag_source);
/* The ETag LXD would send for this value: sha256 hex of its JSON. */
char *api_etag(const json_t *etag_source);
