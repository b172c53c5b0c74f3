/* lib/http-client.h: a small blocking HTTP/1.1 client and a websocket client (RFC 6455).
 *
 * A connection runs over a transport, a const table of functions whose state lives in the
 * connection (http_transport_unix today; TLS for remotes can be added as another table).
 * Every call blocks until it is done, until the connection's timeout passes between two
 * reads or writes (-ETIMEDOUT), or until its cancel descriptor becomes readable
 * (-ECANCELED). Bytes from the server are outside input: header lines, header counts,
 * bodies and websocket messages all have caps, and a violation fails with -EPROTO,
 * -EMSGSIZE or -EFBIG and a sentence in err.
 *
 * Not thread-safe: one connection belongs to one thread at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "macro.h"
#include "str.h"

/* --- transports ------------------------------------------------------------------------- */

struct http_transport {
	const char *name;
	/* Reads at most len bytes without blocking: a count, 0 at the end of the stream,
	 * -EAGAIN when nothing is ready yet, or another negative errno. */
	ssize_t (*read)(void *data, void *buf, size_t len);
	/* Writes at most len bytes without blocking; same returns as read(). */
	ssize_t (*write)(void *data, const void *buf, size_t len);
	/* The descriptor to poll() after -EAGAIN. */
	int (*get_fd)(void *data);
	/* Optional: true when read() has bytes that poll() cannot see (decrypted TLS data). */
	bool (*has_pending)(void *data);
	/* Releases data, closing the descriptor. */
	void (*free)(void *data);
};

/* A connected stream socket; data is a heap int holding the descriptor. */
extern const struct http_transport http_transport_unix;

struct http_conn;

/* Connects to the unix socket at path. timeout_ms applies to every later read and write
 * (-1: wait forever). Blocks. */
int http_conn_new_unix(const char *path, int timeout_ms, struct http_conn **ret, struct error *err);

/* Wraps a connected stream socket (taken over; made non-blocking and close-on-exec). */
struct http_conn *http_conn_new_fd(int fd);

/* Wraps a transport and its state (taken over, freed with the connection). */
struct http_conn *http_conn_new(const struct http_transport *transport, void *data);

void http_conn_free(struct http_conn *c);
DEFINE_FREEP(struct http_conn, http_conn_free)

/* Milliseconds one read or write may wait; -1 waits forever. The default is 120 s. */
void http_conn_set_timeout(struct http_conn *c, int timeout_ms);

/* A descriptor (or -1) whose readability aborts any wait with -ECANCELED: a signalfd for
 * SIGINT lets `lodge monitor` stop cleanly. Not owned by the connection. */
void http_conn_set_cancel_fd(struct http_conn *c, int fd);

/* The transport's descriptor, to poll() it together with others (exec's stdin). */
int http_conn_get_fd(const struct http_conn *c);

/* True when bytes are already buffered (here or in the transport): poll() would not
 * report them, so read before polling. */
bool http_conn_has_buffered(const struct http_conn *c);

/* Writes all of buf. */
int http_conn_write(struct http_conn *c, const void *buf, size_t len, struct error *err);

/* Reads between 1 and len bytes, buffered bytes first. Returns the count, 0 at the end of
 * the stream, or a negative errno. */
ssize_t http_conn_read(struct http_conn *c, void *buf, size_t len, struct error *err);

/* --- requests and responses ------------------------------------------------------------- */

/* The cap on a response body kept in memory. */
#define HTTP_BODY_MAX_DEFAULT (64u << 20)
/* body_fd_len when the length is unknown: the body is sent chunked. */
#define HTTP_LENGTH_UNKNOWN UINT64_MAX

struct http_request {
	const char *method; /* "GET", "POST", ... */
	const char *target; /* path and query, already percent-encoded */
	const char *host;   /* NULL: "unix.socket", as the LXD client sends */
	/* NULL or a NULL-terminated vector of "Name: value" lines. */
	const char *const *headers;

	/* The body: body_len bytes at body, or when body_from_fd, body_fd_len bytes read
	 * from body_fd (HTTP_LENGTH_UNKNOWN: until its end, sent chunked). */
	const void *body;
	size_t body_len;
	bool body_from_fd;
	int body_fd;
	uint64_t body_fd_len;

	/* When body_to_fd, a 2xx reply's body is written to response_fd as it arrives and is
	 * not capped; other replies are kept in memory for their error message. */
	bool body_to_fd;
	int response_fd;
	size_t max_body; /* 0: HTTP_BODY_MAX_DEFAULT */
	/* The cap on a body streamed to response_fd: -EFBIG beyond it. 0: none. */
	uint64_t max_fd_body;

	/* Omit "Connection: close" so the connection can carry another request. */
	bool keep_alive;
};

struct http_header {
	char *name;
	char *value;
};

struct http_response {
	int status;
	char *reason;
	struct http_header *headers;
	size_t n_headers;
	char *body;	  /* NUL-terminated; NULL when streamed to response_fd */
	size_t body_len;  /* bytes in body */
	uint64_t written; /* bytes written to response_fd */
	bool close;	  /* the connection cannot carry another request */
};

#define HTTP_RESPONSE_INIT \
	{                  \
		0          \
	}

/* Sends req and reads the whole reply into ret (released by the caller with
 * http_response_release()). Any status is success here; the caller judges it. A 1xx reply
 * has no body and leaves the bytes after its head on the connection (websocket upgrade).
 * Blocks. */
int http_do(struct http_conn *c, const struct http_request *req, struct http_response *ret,
	    struct error *err);

/* The two halves of http_do(). http_response_read() needs req for the method, the body
 * cap and the response descriptor. */
int http_request_write(struct http_conn *c, const struct http_request *req, struct error *err);
int http_response_read(struct http_conn *c, const struct http_request *req,
		       struct http_response *ret, struct error *err);

/* The value of the first header called name (case-insensitive), or NULL. */
const char *http_response_header(const struct http_response *r, const char *name);

/* True when the comma-separated header name contains token (case-insensitive). */
bool http_response_header_has_token(const struct http_response *r, const char *name,
				    const char *token);

void http_response_release(struct http_response *r);

/* --- websockets --------------------------------------------------------------------------- */

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL_ERROR = 1002,
	WS_CLOSE_NO_STATUS = 1005,
	WS_CLOSE_ABNORMAL = 1006,
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_TOO_BIG = 1009,
};

/* The cap on one (reassembled) message. */
#define WS_MESSAGE_MAX_DEFAULT (16u << 20)
/* The longest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_FRAME_HEADER_MAX 14

struct ws_frame_header {
	bool fin;
	uint8_t rsv; /* the three reserved bits, 0 unless an extension was negotiated */
	enum ws_opcode opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t payload_len;
	size_t header_len;
};

/* Decodes the frame header at the start of buf. Returns its length, 0 when len is too
 * short to tell, -EPROTO for a malformed header (reserved opcode, fragmented or long
 * control frame, non-minimal length) and -EMSGSIZE when payload_len > max_payload. Pure. */
int ws_frame_header_parse(const void *buf, size_t len, uint64_t max_payload,
			  struct ws_frame_header *ret);

/* Appends one frame to out. mask is NULL for an unmasked (server) frame, else the 4-byte
 * key the payload is masked with (a client must mask every frame). */
void ws_frame_encode(struct strbuf *out, enum ws_opcode op, bool fin, const uint8_t *mask,
		     const void *payload, size_t len);

/* XORs len bytes of buf with mask, starting at byte offset of the payload. */
void ws_mask_apply(void *buf, size_t len, const uint8_t mask[4], uint64_t offset);

/* A random Sec-WebSocket-Key (16 random bytes, base64). The caller frees. */
char *ws_key_new(void);

/* The Sec-WebSocket-Accept value for key: base64(SHA-1(key + RFC 6455 GUID)). */
char *ws_accept_for_key(const char *key);

/* True when s is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool utf8_is_valid(const void *s, size_t len);

struct ws;

struct ws_message {
	enum ws_opcode opcode; /* WS_OP_TEXT or WS_OP_BINARY */
	char *data;	       /* NUL-terminated (not counted in len) */
	size_t len;
};

#define WS_MESSAGE_INIT \
	{               \
		0       \
	}

/* Sends req as a websocket upgrade (adding Upgrade, Connection, Sec-WebSocket-Key and
 * -Version headers) and reads the reply into ret_response. A 101 reply whose Upgrade,
 * Connection or Sec-WebSocket-Accept headers are wrong fails with -EPROTO; any other
 * status is returned for the caller to judge (its body holds the server's error). On a
 * valid 101, wrap the connection with ws_new(). Blocks. */
int ws_handshake(struct http_conn *c, const struct http_request *req,
		 struct http_response *ret_response, struct error *err);

/* The client side of an upgraded connection (taken over). */
struct ws *ws_new(struct http_conn *c);

/* ws_handshake() and ws_new() in one; a non-101 reply fails with -EPROTO. c is taken over
 * either way. */
int ws_connect(struct http_conn *c, const struct http_request *req, struct ws **ret,
	       struct error *err);

void ws_free(struct ws *ws);
DEFINE_FREEP(struct ws, ws_free)

/* The cap on a message (default WS_MESSAGE_MAX_DEFAULT). */
void ws_set_max_message(struct ws *ws, size_t max);

struct http_conn *ws_get_conn(struct ws *ws);

/* Reads the next text or binary message, reassembling fragments, answering pings and
 * skipping pongs. Returns 1 with *ret filled (release with ws_message_release()), 0 when
 * the server closed the websocket (its close frame is answered; see ws_close_code()), or a
 * negative errno; a protocol violation sends a close frame and fails with -EPROTO. Text
 * must be UTF-8 (-EPROTO otherwise). Blocks. */
int ws_recv(struct ws *ws, struct ws_message *ret, struct error *err);

/* Sends one unfragmented, masked message (or a control frame: ping, pong). Blocks. */
int ws_send(struct ws *ws, enum ws_opcode op, const void *data, size_t len, struct error *err);

/* Sends a close frame with code and reason (at most 123 bytes, cut) unless one was sent
 * already. Does not wait for the server's answer. */
int ws_close(struct ws *ws, uint16_t code, const char *reason, struct error *err);

/* The code of the server's close frame, WS_CLOSE_NO_STATUS when it carried none, or 0
 * while none was received. */
uint16_t ws_close_code(const struct ws *ws);

void ws_message_release(struct ws_message *m);
