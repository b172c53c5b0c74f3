/* lib/lxd-client.h: the LXD REST API (/1.0) from the client side, over lib/http-client.h.
 *
 * Every reply is an envelope (lxd-client-compat.md, 2.2): {"type":"sync"|"async"|"error",
 * "status_code", "operation", "error_code", "error", "metadata"}. A "type":"error" envelope
 * (or any HTTP status >= 400) becomes a struct error carrying the server's message, its
 * code mapped from the HTTP status: 400 -EINVAL, 403 -EPERM, 404 -ENOENT, 409 -EEXIST,
 * anything else -EIO. Like `lxc`, each request uses its own connection. All calls block.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "http-client.h"
#include "http-tls.h"
#include "macro.h"

/* Where the daemon listens: $LODGE_SOCKET, else $LODGE_DIR/unix.socket, else
 * /var/lib/lodge/unix.socket. The caller frees. */
char *lxd_socket_path(void);

struct lxd_client;

/* A client for the daemon at socket_path (NULL: lxd_socket_path()). Does not connect yet. */
struct lxd_client *lxd_client_new(const char *socket_path);
/* A client for the server at url ("https://host[:port]") over TLS, verified and presenting
 * a client certificate as tls says (its strings are copied). -EINVAL for a bad url. */
int lxd_client_new_https(const char *url, const struct http_tls_options *tls,
			 struct lxd_client **ret, struct error *err);

/* True for an https client, false for the unix socket. */
bool lxd_client_is_remote(const struct lxd_client *c);

void lxd_client_free(struct lxd_client *c);
DEFINE_FREEP(struct lxd_client, lxd_client_free)

/* The unix socket path, or NULL for an https client. */
const char *lxd_client_get_socket_path(const struct lxd_client *c);

/* Milliseconds a request may wait between two reads or writes (-1: forever); default 120 s.
 * Waiting for an operation and reading events ignore it. */
void lxd_client_set_timeout(struct lxd_client *c, int timeout_ms);

/* Adds ?project=<name> to every request (NULL: the server's default project). */
void lxd_client_set_project(struct lxd_client *c, const char *project);

/* A descriptor whose readability interrupts any wait with -ECANCELED (not owned). */
void lxd_client_set_cancel_fd(struct lxd_client *c, int fd);

enum lxd_response_type {
	LXD_RESPONSE_SYNC,
	LXD_RESPONSE_ASYNC,
	LXD_RESPONSE_ERROR,
};

struct lxd_response {
	int status; /* the HTTP status */
	enum lxd_response_type type;
	json_t *metadata; /* never NULL after success: json null when absent */
	char *operation;  /* "/1.0/operations/<id>" of an async reply, else NULL */
	char *etag;	  /* the ETag header, for If-Match on the next PUT, or NULL */
	char *location;	  /* the Location header of a 201 or 202, or NULL */
};

#define LXD_RESPONSE_INIT \
	{                 \
		0         \
	}

void lxd_response_release(struct lxd_response *r);

/* The negative errno for an HTTP error status, as the daemon maps its codes. */
int lxd_status_to_errno(int http_status);

/* Decodes an envelope that came with http_status. An error envelope, a status >= 400 or a
 * body that is not an envelope fails with the mapped errno and the server's message (or
 * one naming the status). Pure; exposed for tests. */
int lxd_response_parse(int http_status, const char *body, size_t len, struct lxd_response *ret,
		       struct error *err);

/* Sends method path (path and query, percent-encoded) with body (NULL: none) and, when
 * etag is not NULL, If-Match: etag. Fills ret on success (any sync or async envelope). */
int lxd_query(struct lxd_client *c, const char *method, const char *path, const json_t *body,
	      const char *etag, struct lxd_response *ret, struct error *err);

/* GET path, returning the envelope's metadata (a new reference; json null when absent). */
int lxd_get(struct lxd_client *c, const char *path, json_t **ret_metadata, struct error *err);

/* The operation ID in "/1.0/operations/<id>[?...]" (or of a bare ID). The caller frees. */
char *lxd_operation_id(const char *operation);

/* Waits for an operation ("/1.0/operations/<id>" or its ID) to end, through
 * GET /1.0/operations/<id>/wait?timeout=<timeout_s> (-1: no limit). Returns the final
 * operation object (a new reference). A failed operation fails with -EIO and its "err"
 * message, a cancelled one with -ECANCELED, one still running after timeout_s with
 * -ETIMEDOUT. */
int lxd_operation_wait(struct lxd_client *c, const char *operation, int timeout_s, json_t **ret_op,
		       struct error *err);

/* lxd_query() that expects an async reply and waits for its operation (no time limit).
 * Returns the final operation object. */
int lxd_query_wait(struct lxd_client *c, const char *method, const char *path, const json_t *body,
		   const char *etag, json_t **ret_op, struct error *err);

/* Opens a websocket on path (path and query, percent-encoded): an operation's
 * "/1.0/operations/<id>/websocket?secret=<secret>" for exec and console streams. Reads on
 * it wait forever (until the cancel descriptor). A refused upgrade fails like any request
 * (the server's message and mapped errno). */
int lxd_websocket_connect(struct lxd_client *c, const char *path, struct ws **ret,
			  struct error *err);

/* Opens the events websocket, GET /1.0/events[?query] (query like "type=lifecycle" or
 * "all-projects=true", NULL for none). Each message is one JSON event as text. A refused
 * upgrade fails like any request (the server's message and mapped errno). */
int lxd_events_connect(struct lxd_client *c, const char *query, struct ws **ret, struct error *err);

/* A request whose body or reply is not JSON (file transfers, logs): req->target is the path
 * (the project is added), req->headers extra headers (User-Agent is added). A reply of
 * status >= 400 fails with the server's message; any other is returned as is, its body in
 * memory or written to req->response_fd. Blocks. */
int lxd_do(struct lxd_client *c, const struct http_request *req, struct http_response *ret,
	   struct error *err);

/* Parses an RFC 3339 time as Go prints it ("2026-11-23T11:14:02.861940086Z" or with a
 * "+01:00" offset) into UTC seconds and nanoseconds. -EINVAL when malformed. */
int lxd_time_parse(const char *s, long long *ret_sec, long *ret_nsec);
