/* daemon/http.h: the libwebsockets side: listeners, request bodies, reply writing and
 * websocket connections. Handlers never see lws; they see struct api_request (api.h) and
 * struct ws_conn. Loop thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/api.h"
#include "lib/list.h"

struct daemon;
struct lws_protocols;

/* The one protocol serving HTTP and websockets on every vhost (a terminated list). */
const struct lws_protocols *http_protocols(void);

struct daemon;

/* Frees the bookkeeping of unauthenticated TLS connections (after the lws context). */
void http_tls_admission_free(struct daemon *d);

/* Caps: anything a client can make us hold has a limit. */
#define HTTP_MAX_JSON_BODY   (8u << 20)	   /* non-streamed bodies */
#define HTTP_MAX_STREAM_BODY (64ull << 30) /* streamed bodies (image uploads) */
#define WS_MAX_MESSAGE	     (1u << 20)	   /* one incoming websocket message */
#define WS_MAX_QUEUED	     (16u << 20)   /* unsent outgoing bytes before we drop a listener */
/* TLS connections not yet used by a trusted client: at most this many at once (and from
 * one address), each stage
 * (handshake, request headers) within HTTP_TLS_TIMEOUT_SEC, idle keep-alive at most
 * HTTP_TLS_UNAUTH_IDLE_SEC. */
#define HTTP_TLS_UNAUTH_MAX	 512
#define HTTP_TLS_UNAUTH_PER_IP	 64
#define HTTP_TLS_TIMEOUT_SEC	 10
#define HTTP_TLS_UNAUTH_IDLE_SEC 5

struct ws_conn;

struct ws_ops {
	/* A complete message arrived (fragments joined). */
	void (*receive)(struct ws_conn *ws, bool binary, const void *data, size_t len);
	/* The queue drained (flow control for producers such as exec output). Optional. */
	void (*drained)(struct ws_conn *ws);
	/* The connection is gone; ws is freed after this returns. */
	void (*closed)(struct ws_conn *ws);
};

struct ws_conn {
	struct lws *wsi;
	struct daemon *d;
	const struct ws_ops *ops;
	void *data;
	struct api_identity identity;
	struct list_head outq;
	size_t queued;
	bool close_after_drain;
	int close_status;
};

/* Queues one message; returns -ENOBUFS when the peer is too slow (the connection is then
 * closed), -ENOTCONN after close. */
int ws_conn_send(struct ws_conn *ws, bool binary, const void *data, size_t len);
/* Stops (pause) or resumes reading the peer's messages: back pressure for a consumer
 * slower than the peer, such as a process reading its stdin. A few messages already read
 * may still arrive after the pause. */
void ws_conn_pause_rx(struct ws_conn *ws, bool pause);
/* Closes after everything queued was sent, with close status (1000 normal). */
void ws_conn_close(struct ws_conn *ws, int status);
