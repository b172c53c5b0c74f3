#include "http-client.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "str.h"
/* Last, so that no system header follows its macros. */
#include "banned.h"

#define HTTP_TIMEOUT_DEFAULT_MS (120 * 1000)
#define HTTP_BUF_SIZE		16384
/* One status, header, chunk-size or trailer line. */
#define HTTP_LINE_MAX 8192
/* The head of a reply: its header count and bytes, and the interim replies before it. */
#define HTTP_HEADERS_MAX  128
#define HTTP_HEAD_MAX	  ((size_t)64 << 10)
#define HTTP_INTERIM_MAX  8
#define HTTP_TRAILERS_MAX 64
/* Bytes read from a body descriptor at once. */
#define HTTP_UPLOAD_CHUNK ((size_t)64 << 10)

#define WS_GUID		    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_CONTROL_MAX	    125
#define WS_CLOSE_REASON_MAX 123
#define WS_CLOSE_TIMEOUT_MS 1000

struct http_conn {
	const struct http_transport *transport;
	void *data;
	int timeout_ms;
	int cancel_fd;
	size_t start, end; /* unread bytes are buf[start..end) */
	char buf[HTTP_BUF_SIZE];
};

struct ws {
	struct http_conn *conn;
	size_t max_message;
	uint16_t close_code;
	bool close_sent;
};

/* --- the unix socket transport -------------------------------------------------------- */

static ssize_t unix_read(void *data, void *buf, size_t len)
{
	ssize_t n = recv(*(int *)data, buf, len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static ssize_t unix_write(void *data, const void *buf, size_t len)
{
	/* MSG_NOSIGNAL: a daemon that went away is an error to report, not a SIGPIPE. */
	ssize_t n = send(*(int *)data, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static int unix_get_fd(void *data)
{
	return *(int *)data;
}

static void unix_free(void *data)
{
	int *fd = data;

	if (fd && *fd >= 0)
		(void)close(*fd);
	free(fd);
}

const struct http_transport http_transport_unix = {
	.name = "unix",
	.read = unix_read,
	.write = unix_write,
	.get_fd = unix_get_fd,
	.free = unix_free,
};

/* --- connections ------------------------------------------------------------------------ */

struct http_conn *http_conn_new(const struct http_transport *transport, void *data)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));

	c->transport = transport;
	c->data = data;
	c->timeout_ms = HTTP_TIMEOUT_DEFAULT_MS;
	c->cancel_fd = -1;
	return c;
}

struct http_conn *http_conn_new_fd(int fd)
{
	int *data = xmalloc(sizeof(*data));
	int flags;

	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	*data = fd;
	return http_conn_new(&http_transport_unix, data);
}

int http_conn_new_unix(const char *path, int timeout_ms, struct http_conn **ret, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	autoclose int fd = -1;
	struct http_conn *c;

	if (!snprintf_ok(sa.sun_path, sizeof(sa.sun_path), "%s", path))
		return error_set(err, -ENAMETOOLONG, "Socket path '%s' is too long", path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to create a socket");

	/* Connecting to a unix socket completes or fails at once, so it can block. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINTR)
			return error_errno(err, -errno, "Failed to connect to '%s'", path);
	}

	c = http_conn_new_fd(take_fd(fd));
	c->timeout_ms = timeout_ms;
	*ret = c;
	return 0;
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	if (c->transport && c->transport->free)
		c->transport->free(c->data);
	free(c);
}

void http_conn_set_timeout(struct http_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void http_conn_set_cancel_fd(struct http_conn *c, int fd)
{
	c->cancel_fd = fd;
}

int http_conn_get_fd(const struct http_conn *c)
{
	return c->transport->get_fd(c->data);
}

bool http_conn_has_buffered(const struct http_conn *c)
{
	if (c->end > c->start)
		return true;
	return c->transport->has_pending && c->transport->has_pending(c->data);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the transport is ready for events, the timeout passed or cancel_fd fired. */
static int conn_wait(struct http_conn *c, short events, struct error *err)
{
	struct pollfd pfd[2] = {
		{ .fd = http_conn_get_fd(c), .events = events },
		{ .fd = c->cancel_fd, .events = POLLIN },
	};
	long long deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;

	for (;;) {
		int timeout = -1;
		int r;

		if (deadline >= 0) {
			long long left = deadline - now_ms();

			timeout = left < 0 ? 0 : (int)left;
		}
		/* poll() ignores the entry whose fd is -1. */
		r = poll(pfd, 2, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, -errno, "Failed to wait for the server");
		}
		if (r == 0)
			return error_set(err, -ETIMEDOUT, "Timed out waiting for the server");
		if (pfd[1].revents)
			return error_set(err, -ECANCELED, "Interrupted");
		/* POLLHUP and POLLERR are reported by the read or write that follows. */
		return 0;
	}
}

static ssize_t transport_read(struct http_conn *c, void *buf, size_t len, struct error *err)
{
	for (;;) {
		ssize_t n = c->transport->read(c->data, buf, len);
		int r;

		if (n >= 0)
			return n;
		if (n != -EAGAIN)
			return error_errno(err, (int)n, "Failed to read from the server");
		r = conn_wait(c, POLLIN, err);
		if (r < 0)
			return r;
	}
}

int http_conn_write(struct http_conn *c, const void *buf, size_t len, struct error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = c->transport->write(c->data, p, len);
		int r;

		if (n == -EAGAIN) {
			r = conn_wait(c, POLLOUT, err);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return error_errno(err, (int)n, "Failed to write to the server");
		if (n == 0)
			return error_set(err, -EIO, "Failed to write to the server");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more bytes into the buffer, making room at its end. Returns the count or 0 at the
 * end of the stream. Pointers into the buffer are invalid afterwards. */
static ssize_t conn_fill(struct http_conn *c, struct error *err)
{
	ssize_t n;

	if (c->start == c->end) {
		c->start = 0;
		c->end = 0;
	} else if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf))
		return error_set(err, -ENOBUFS, "Reply from the server does not fit the buffer");

	n = transport_read(c, c->buf + c->end, sizeof(c->buf) - c->end, err);
	if (n > 0)
		c->end += (size_t)n;
	return n;
}

ssize_t http_conn_read(struct http_conn *c, void *buf, size_t len, struct error *err)
{
	size_t n;

	if (len == 0)
		return 0;
	if (c->start == c->end)
		return transport_read(c, buf, len, err);

	n = c->end - c->start;
	if (n > len)
		n = len;
	memcpy(buf, c->buf + c->start, n);
	c->start += n;
	return (ssize_t)n;
}

/* The next line, without its LF or CR LF, NUL-terminated inside the buffer: valid until
 * the next read. Lines longer than max and lines with a NUL byte fail with -EPROTO. */
static int conn_read_line(struct http_conn *c, size_t max, char **ret_line, size_t *ret_len,
			  struct error *err)
{
	size_t scanned = 0;

	for (;;) {
		char *start = c->buf + c->start;
		char *nl = memchr(start + scanned, '\n', c->end - c->start - scanned);
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - start);

			c->start += len + 1;
			if (len > 0 && start[len - 1] == '\r')
				len--;
			if (len > max)
				return error_set(
					err, -EPROTO,
					"Reply from the server has a line longer than %zu bytes",
					max);
			if (memchr(start, '\0', len))
				return error_set(
					err, -EPROTO,
					"Reply from the server has a NUL byte in its head");
			start[len] = '\0';
			*ret_line = start;
			*ret_len = len;
			return 0;
		}

		scanned = c->end - c->start;
		if (scanned > max + 1)
			return error_set(err, -EPROTO,
					 "Reply from the server has a line longer than %zu bytes",
					 max);
		n = conn_fill(c, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return error_set(err, -EPROTO,
					 "Server closed the connection in the middle of a reply");
	}
}

/* --- requests --------------------------------------------------------------------------- */

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_token(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0' || !is_tchar(s[i]))
			return false;
	}
	return true;
}

static bool request_is_valid(const struct http_request *req)
{
	if (!req->method || !is_token(req->method, strlen(req->method)))
		return false;
	if (!req->target || req->target[0] != '/' || !str_is_single_line(req->target) ||
	    strpbrk(req->target, " \t"))
		return false;
	if (req->host && (!str_is_single_line(req->host) || strpbrk(req->host, " \t")))
		return false;
	for (const char *const *h = req->headers; h && *h; h++) {
		const char *colon = strchr(*h, ':');

		if (!colon || !is_token(*h, (size_t)(colon - *h)) || !str_is_single_line(*h))
			return false;
	}
	return true;
}

static int request_stream_body(struct http_conn *c, const struct http_request *req,
			       struct error *err)
{
	bool chunked = req->body_fd_len == HTTP_LENGTH_UNKNOWN;
	autofree char *buf = xmalloc(HTTP_UPLOAD_CHUNK);
	uint64_t left = req->body_fd_len;
	uint64_t sent = 0;
	int r;

	while (chunked || left > 0) {
		size_t want = HTTP_UPLOAD_CHUNK;
		ssize_t n;

		if (!chunked && left < want)
			want = (size_t)left;
		n = read(req->body_fd, buf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, -errno, "Failed to read the request body");
		}
		if (n == 0) {
			if (!chunked)
				return error_set(err, -EIO,
						 "Request body ended after %llu of %llu bytes",
						 (unsigned long long)sent,
						 (unsigned long long)req->body_fd_len);
			return http_conn_write(c, "0\r\n\r\n", 5, err);
		}
		if (chunked) {
			char line[32];

			if (!snprintf_ok(line, sizeof(line), "%zx\r\n", (size_t)n))
				return error_set(err, -EINVAL, "Chunk too large");
			r = http_conn_write(c, line, strlen(line), err);
			if (r < 0)
				return r;
		}
		r = http_conn_write(c, buf, (size_t)n, err);
		if (r < 0)
			return r;
		if (chunked) {
			r = http_conn_write(c, "\r\n", 2, err);
			if (r < 0)
				return r;
		}
		sent += (uint64_t)n;
		if (!chunked)
			left -= (uint64_t)n;
	}
	return 0;
}

int http_request_write(struct http_conn *c, const struct http_request *req, struct error *err)
{
	autoclean(strbuf_release) struct strbuf sb = STRBUF_INIT;
	int r;

	if (!request_is_valid(req))
		return error_set(err, -EINVAL, "Invalid HTTP request for '%s'",
				 req->target ? req->target : "");

	strbuf_addf(&sb, "%s %s HTTP/1.1\r\nHost: %s\r\n", req->method, req->target,
		    req->host ? req->host : "unix.socket");
	for (const char *const *h = req->headers; h && *h; h++)
		strbuf_addf(&sb, "%s\r\n", *h);
	if (!req->keep_alive)
		strbuf_adds(&sb, "Connection: close\r\n");
	if (req->body_from_fd) {
		if (req->body_fd_len == HTTP_LENGTH_UNKNOWN)
			strbuf_adds(&sb, "Transfer-Encoding: chunked\r\n");
		else
			strbuf_addf(&sb, "Content-Length: %llu\r\n",
				    (unsigned long long)req->body_fd_len);
	} else if (req->body) {
		strbuf_addf(&sb, "Content-Length: %zu\r\n", req->body_len);
	}
	strbuf_adds(&sb, "\r\n");
	if (!req->body_from_fd && req->body)
		strbuf_add(&sb, req->body, req->body_len);

	r = http_conn_write(c, sb.buf, sb.len, err);
	if (r < 0)
		return r;
	if (req->body_from_fd)
		return request_stream_body(c, req, err);
	return 0;
}

/* --- responses -------------------------------------------------------------------------- */

void http_response_release(struct http_response *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->reason);
	free(r->body);
	*r = (struct http_response)HTTP_RESPONSE_INIT;
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	}
	return NULL;
}

static bool list_has_token(const char *list, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = list;

	while (*p) {
		size_t len;

		p += strspn(p, " \t,");
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == tlen && strncasecmp(p, token, tlen) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

bool http_response_header_has_token(const struct http_response *r, const char *name,
				    const char *token)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		if (strcasecmp(r->headers[i].name, name) == 0 &&
		    list_has_token(r->headers[i].value, token))
			return true;
	}
	return false;
}

/* The last coding of a Transfer-Encoding list, e.g. "chunked" in "gzip, chunked". */
static bool transfer_encoding_is_chunked(const char *te)
{
	const char *last = strrchr(te, ',');

	last = last ? last + 1 : te;
	last += strspn(last, " \t");
	return strncasecmp(last, "chunked", 7) == 0 && last[7 + strspn(last + 7, " \t")] == '\0';
}

static int parse_status_line(const char *line, size_t len, struct http_response *resp,
			     struct error *err)
{
	/* "HTTP/1.1 200 OK": the reason may be empty, even without its space. */
	if (len < 12 || !str_has_prefix(line, "HTTP/1.") || line[7] < '0' || line[7] > '9' ||
	    line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9' || (len > 12 && line[12] != ' '))
		return error_set(err, -EPROTO, "Server sent an invalid HTTP status line");

	resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	free(resp->reason);
	resp->reason = xstrdup(len > 12 ? line + 13 : "");
	resp->close = line[7] == '0';
	return 0;
}

static int parse_header_line(char *line, size_t len, struct http_response *resp, struct error *err)
{
	char *colon = memchr(line, ':', len);
	char *value, *end;

	if (line[0] == ' ' || line[0] == '\t')
		return error_set(err, -EPROTO, "Server sent a folded HTTP header");
	if (!colon || !is_token(line, (size_t)(colon - line)))
		return error_set(err, -EPROTO, "Server sent an invalid HTTP header");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return error_set(err, -EPROTO,
					 "Server sent a control character in an HTTP header");
	}
	if (resp->n_headers >= HTTP_HEADERS_MAX)
		return error_set(err, -EPROTO, "Server sent more than %d HTTP headers",
				 HTTP_HEADERS_MAX);

	value = colon + 1;
	value += strspn(value, " \t");
	end = line + len;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;

	resp->headers = xrealloc(resp->headers, (resp->n_headers + 1) * sizeof(*resp->headers));
	resp->headers[resp->n_headers].name = xstrndup(line, (size_t)(colon - line));
	resp->headers[resp->n_headers].value = xstrndup(value, (size_t)(end - value));
	resp->n_headers++;
	return 0;
}

static int read_head(struct http_conn *c, struct http_response *resp, struct error *err)
{
	size_t total = 0;
	char *line = NULL;
	size_t len = 0;
	int r;

	r = conn_read_line(c, HTTP_LINE_MAX, &line, &len, err);
	if (r < 0)
		return r;
	r = parse_status_line(line, len, resp, err);
	if (r < 0)
		return r;

	for (;;) {
		r = conn_read_line(c, HTTP_LINE_MAX, &line, &len, err);
		if (r < 0)
			return r;
		if (len == 0)
			break;
		total += len;
		if (total > HTTP_HEAD_MAX)
			return error_set(err, -EPROTO,
					 "Server sent HTTP headers larger than %zu bytes",
					 HTTP_HEAD_MAX);
		r = parse_header_line(line, len, resp, err);
		if (r < 0)
			return r;
	}

	if (http_response_header_has_token(resp, "Connection", "close"))
		resp->close = true;
	else if (http_response_header_has_token(resp, "Connection", "keep-alive"))
		resp->close = false;
	return 0;
}

/* Where the body goes: memory up to max bytes, or a descriptor. */
struct body_sink {
	struct strbuf sb;
	bool to_fd;
	int fd;
	uint64_t max;
	uint64_t written;
};

static int sink_add(struct body_sink *s, const void *data, size_t len, struct error *err)
{
	int r;

	if (s->to_fd) {
		r = write_all_fd(s->fd, data, len);
		if (r < 0)
			return error_errno(err, r, "Failed to write the reply");
		s->written += len;
		return 0;
	}
	if (len > s->max - s->sb.len)
		return error_set(err, -EFBIG, "Reply from the server is larger than %llu bytes",
				 (unsigned long long)s->max);
	strbuf_add(&s->sb, data, len);
	return 0;
}

/* Moves exactly n body bytes from the connection to the sink. */
static int read_exact(struct http_conn *c, struct body_sink *s, uint64_t n, struct error *err)
{
	char buf[HTTP_BUF_SIZE];
	int r;

	while (n > 0) {
		size_t want = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		ssize_t got = http_conn_read(c, buf, want, err);

		if (got < 0)
			return (int)got;
		if (got == 0)
			return error_set(err, -EPROTO,
					 "Server closed the connection in the middle of a reply");
		r = sink_add(s, buf, (size_t)got, err);
		if (r < 0)
			return r;
		n -= (uint64_t)got;
	}
	return 0;
}

static int read_to_close(struct http_conn *c, struct body_sink *s, struct error *err)
{
	char buf[HTTP_BUF_SIZE];
	int r;

	for (;;) {
		ssize_t got = http_conn_read(c, buf, sizeof(buf), err);

		if (got < 0)
			return (int)got;
		if (got == 0)
			return 0;
		r = sink_add(s, buf, (size_t)got, err);
		if (r < 0)
			return r;
	}
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "1a2b", optionally followed by whitespace and ";extension". */
static int parse_chunk_size(const char *line, uint64_t *ret)
{
	uint64_t size = 0;
	size_t i;

	/* The analyzer cannot see that error_set() returns its negative code, so it thinks
	 * conn_read_line() may succeed without a line. */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	for (i = 0; hex_digit(line[i]) >= 0; i++) {
		if (size > (UINT64_MAX >> 4))
			return -ERANGE;
		size = (size << 4) | (uint64_t)hex_digit(line[i]);
	}
	if (i == 0)
		return -EINVAL;
	i += strspn(line + i, " \t");
	if (line[i] != '\0' && line[i] != ';')
		return -EINVAL;
	*ret = size;
	return 0;
}

static int read_chunked(struct http_conn *c, struct body_sink *s, struct error *err)
{
	char *line = NULL;
	size_t len = 0;
	int r;

	for (;;) {
		uint64_t size;

		r = conn_read_line(c, HTTP_LINE_MAX, &line, &len, err);
		if (r < 0)
			return r;
		r = parse_chunk_size(line, &size);
		if (r < 0)
			return error_set(err, -EPROTO, "Server sent an invalid chunk size");
		if (size == 0)
			break;
		if (!s->to_fd && size > s->max - s->sb.len)
			return error_set(err, -EFBIG,
					 "Reply from the server is larger than %llu bytes",
					 (unsigned long long)s->max);
		r = read_exact(c, s, size, err);
		if (r < 0)
			return r;
		r = conn_read_line(c, HTTP_LINE_MAX, &line, &len, err);
		if (r < 0)
			return r;
		if (len != 0)
			return error_set(err, -EPROTO, "Server sent a chunk longer than its size");
	}

	/* Trailers are read and dropped. */
	for (int i = 0; i <= HTTP_TRAILERS_MAX; i++) {
		r = conn_read_line(c, HTTP_LINE_MAX, &line, &len, err);
		if (r < 0)
			return r;
		if (len == 0)
			return 0;
	}
	return error_set(err, -EPROTO, "Server sent more than %d trailers", HTTP_TRAILERS_MAX);
}

static int parse_content_length(const struct http_response *resp, uint64_t *ret, struct error *err)
{
	bool found = false;
	uint64_t len = 0;

	/* Several Content-Length headers must agree, or the body's end is ambiguous. */
	for (size_t i = 0; i < resp->n_headers; i++) {
		uint64_t v;

		if (strcasecmp(resp->headers[i].name, "Content-Length") != 0)
			continue;
		if (parse_u64(resp->headers[i].value, &v) < 0 || (found && v != len))
			return error_set(err, -EPROTO, "Server sent an invalid Content-Length");
		len = v;
		found = true;
	}
	*ret = len;
	return found ? 1 : 0;
}

static int read_body(struct http_conn *c, const struct http_request *req,
		     struct http_response *resp, struct error *err)
{
	struct body_sink s = {
		.sb = STRBUF_INIT,
		.to_fd = req->body_to_fd && resp->status / 100 == 2,
		.fd = req->response_fd,
		.max = req->max_body ? req->max_body : HTTP_BODY_MAX_DEFAULT,
	};
	const char *te = http_response_header(resp, "Transfer-Encoding");
	uint64_t len = 0;
	int r;

	if (streq(req->method, "HEAD") || resp->status / 100 == 1 || resp->status == 204 ||
	    resp->status == 304) {
		r = 0;
	} else if (te) {
		/* Transfer-Encoding wins over Content-Length (RFC 9112 6.3). */
		if (transfer_encoding_is_chunked(te)) {
			r = read_chunked(c, &s, err);
		} else {
			resp->close = true;
			r = read_to_close(c, &s, err);
		}
	} else {
		r = parse_content_length(resp, &len, err);
		if (r > 0) {
			if (!s.to_fd && len > s.max)
				r = error_set(err, -EFBIG,
					      "Reply from the server is larger than %llu bytes",
					      (unsigned long long)s.max);
			else
				r = read_exact(c, &s, len, err);
		} else if (r == 0) {
			resp->close = true;
			r = read_to_close(c, &s, err);
		}
	}
	if (r < 0) {
		strbuf_release(&s.sb);
		return r;
	}

	if (s.to_fd) {
		resp->written = s.written;
	} else {
		resp->body_len = s.sb.len;
		resp->body = strbuf_detach(&s.sb);
	}
	return 0;
}

int http_response_read(struct http_conn *c, const struct http_request *req,
		       struct http_response *ret, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	int r;

	/* Interim replies (100 Continue, 103 Early Hints) precede the real one; 101 ends the
	 * HTTP part of the connection. */
	for (int i = 0;; i++) {
		http_response_release(&resp);
		r = read_head(c, &resp, err);
		if (r < 0)
			return r;
		if (resp.status / 100 != 1 || resp.status == 101)
			break;
		if (i >= HTTP_INTERIM_MAX)
			return error_set(err, -EPROTO, "Server sent too many interim replies");
	}

	r = read_body(c, req, &resp, err);
	if (r < 0)
		return r;

	*ret = resp;
	resp = (struct http_response)HTTP_RESPONSE_INIT;
	return 0;
}

int http_do(struct http_conn *c, const struct http_request *req, struct http_response *ret,
	    struct error *err)
{
	int r;

	r = http_request_write(c, req, err);
	if (r < 0)
		return r;
	return http_response_read(c, req, ret, err);
}

/* --- websocket framing ------------------------------------------------------------------ */

static bool ws_opcode_is_known(unsigned op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

int ws_frame_header_parse(const void *buf, size_t len, uint64_t max_payload,
			  struct ws_frame_header *ret)
{
	const uint8_t *p = buf;
	struct ws_frame_header h = { 0 };
	uint64_t plen;
	size_t hl = 2;

	if (len < 2)
		return 0;
	h.fin = p[0] & 0x80;
	h.rsv = (p[0] >> 4) & 0x7;
	h.opcode = (enum ws_opcode)(p[0] & 0x0f);
	h.masked = p[1] & 0x80;
	plen = p[1] & 0x7f;

	if (!ws_opcode_is_known(h.opcode) || h.rsv != 0)
		return -EPROTO;

	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = ((uint64_t)p[2] << 8) | p[3];
		if (plen < 126)
			return -EPROTO;
		hl = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = (plen << 8) | p[i];
		if ((plen >> 63) || plen <= 0xffff)
			return -EPROTO;
		hl = 10;
	}

	if ((h.opcode & 0x8) && (!h.fin || plen > WS_CONTROL_MAX))
		return -EPROTO;

	if (h.masked) {
		if (len < hl + 4)
			return 0;
		memcpy(h.mask, p + hl, 4);
		hl += 4;
	}

	if (plen > max_payload)
		return -EMSGSIZE;

	h.payload_len = plen;
	h.header_len = hl;
	*ret = h;
	return (int)hl;
}

void ws_mask_apply(void *buf, size_t len, const uint8_t mask[4], uint64_t offset)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[(offset + i) & 3];
}

void ws_frame_encode(struct strbuf *out, enum ws_opcode op, bool fin, const uint8_t *mask,
		     const void *payload, size_t len)
{
	uint8_t head[WS_FRAME_HEADER_MAX];
	size_t hl = 2;
	size_t start;

	head[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
	head[1] = mask ? 0x80 : 0;
	if (len < 126) {
		head[1] |= (uint8_t)len;
	} else if (len <= 0xffff) {
		head[1] |= 126;
		head[2] = (uint8_t)(len >> 8);
		head[3] = (uint8_t)len;
		hl = 4;
	} else {
		head[1] |= 127;
		for (int i = 0; i < 8; i++)
			head[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (mask) {
		memcpy(head + hl, mask, 4);
		hl += 4;
	}

	strbuf_add(out, head, hl);
	start = out->len;
	if (len > 0)
		strbuf_add(out, payload, len);
	if (mask)
		ws_mask_apply(out->buf + start, len, mask, 0);
}

static void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Masking keys need not be secret; the handshake key only unique. */
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

char *ws_key_new(void)
{
	uint8_t nonce[16];

	random_bytes(nonce, sizeof(nonce));
	return base64_encode(nonce, sizeof(nonce));
}

char *ws_accept_for_key(const char *key)
{
	autofree char *joined = str_printf("%s%s", key, WS_GUID);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!EVP_Digest(joined, strlen(joined), md, &md_len, EVP_sha1(), NULL))
		abort();
	return base64_encode(md, md_len);
}

bool utf8_is_valid(const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* --- websocket connections -------------------------------------------------------------- */

int ws_handshake(struct http_conn *c, const struct http_request *req,
		 struct http_response *ret_response, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *key = ws_key_new();
	autofree char *key_header = str_printf("Sec-WebSocket-Key: %s", key);
	autofree char *expected = ws_accept_for_key(key);
	autofree const char **headers = NULL;
	struct http_request up = *req;
	const char *accept;
	size_t n = 0;
	int r;

	while (req->headers && req->headers[n])
		n++;
	headers = xcalloc(n + 5, sizeof(*headers));
	for (size_t i = 0; i < n; i++)
		headers[i] = req->headers[i];
	headers[n++] = "Upgrade: websocket";
	headers[n++] = "Connection: Upgrade";
	headers[n++] = key_header;
	headers[n++] = "Sec-WebSocket-Version: 13";

	up.method = "GET";
	up.headers = headers;
	up.keep_alive = true;
	up.body = NULL;
	up.body_len = 0;
	up.body_from_fd = false;
	up.body_to_fd = false;

	r = http_do(c, &up, &resp, err);
	if (r < 0)
		return r;

	if (resp.status == 101) {
		accept = http_response_header(&resp, "Sec-WebSocket-Accept");
		if (!http_response_header_has_token(&resp, "Upgrade", "websocket") ||
		    !http_response_header_has_token(&resp, "Connection", "upgrade"))
			return error_set(err, -EPROTO,
					 "Server did not upgrade the connection to a websocket");
		if (!accept || !streq(accept, expected))
			return error_set(err, -EPROTO, "Server sent a wrong Sec-WebSocket-Accept");
		/* We offered no extension, so none may be in use. */
		if (http_response_header(&resp, "Sec-WebSocket-Extensions"))
			return error_set(err, -EPROTO,
					 "Server enabled a websocket extension we did not offer");
	}

	*ret_response = resp;
	resp = (struct http_response)HTTP_RESPONSE_INIT;
	return 0;
}

struct ws *ws_new(struct http_conn *c)
{
	struct ws *ws = xcalloc(1, sizeof(*ws));

	ws->conn = c;
	ws->max_message = WS_MESSAGE_MAX_DEFAULT;
	return ws;
}

int ws_connect(struct http_conn *c, const struct http_request *req, struct ws **ret,
	       struct error *err)
{
	autoclean(http_conn_freep) struct http_conn *conn = c;
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	int r;

	r = ws_handshake(conn, req, &resp, err);
	if (r < 0)
		return r;
	if (resp.status != 101)
		return error_set(err, -EPROTO,
				 "Server refused the websocket upgrade of '%s': %d %s", req->target,
				 resp.status, resp.reason);

	*ret = ws_new(take_ptr(conn));
	return 0;
}

void ws_free(struct ws *ws)
{
	if (!ws)
		return;
	http_conn_free(ws->conn);
	free(ws);
}

void ws_set_max_message(struct ws *ws, size_t max)
{
	ws->max_message = max;
}

struct http_conn *ws_get_conn(struct ws *ws)
{
	return ws->conn;
}

uint16_t ws_close_code(const struct ws *ws)
{
	return ws->close_code;
}

void ws_message_release(struct ws_message *m)
{
	if (!m)
		return;
	free(m->data);
	*m = (struct ws_message)WS_MESSAGE_INIT;
}

int ws_send(struct ws *ws, enum ws_opcode op, const void *data, size_t len, struct error *err)
{
	autoclean(strbuf_release) struct strbuf sb = STRBUF_INIT;
	uint8_t mask[4];

	if ((op & 0x8) && len > WS_CONTROL_MAX)
		return error_set(err, -EMSGSIZE, "Websocket control frame too large");
	if (ws->close_sent)
		return error_set(err, -EPIPE, "Websocket is closed");

	random_bytes(mask, sizeof(mask));
	ws_frame_encode(&sb, op, true, mask, data, len);
	return http_conn_write(ws->conn, sb.buf, sb.len, err);
}

int ws_close(struct ws *ws, uint16_t code, const char *reason, struct error *err)
{
	autoclean(strbuf_release) struct strbuf payload = STRBUF_INIT;
	int r;

	if (ws->close_sent)
		return 0;
	if (code != 0 && code != WS_CLOSE_NO_STATUS) {
		size_t rlen = reason ? strlen(reason) : 0;

		strbuf_addch(&payload, (char)(code >> 8));
		strbuf_addch(&payload, (char)(code & 0xff));
		if (rlen > 0)
			strbuf_add(&payload, reason,
				   rlen < WS_CLOSE_REASON_MAX ? rlen : WS_CLOSE_REASON_MAX);
	}
	r = ws_send(ws, WS_OP_CLOSE, payload.buf, payload.len, err);
	ws->close_sent = true;
	return r;
}

/* Reports a protocol violation: tells the server (best effort, briefly) and fails. */
static int ws_fail(struct ws *ws, uint16_t code, int r)
{
	http_conn_set_timeout(ws->conn, WS_CLOSE_TIMEOUT_MS);
	(void)ws_close(ws, code, NULL, NULL);
	return r;
}

/* Makes sure n bytes are buffered (n <= WS_FRAME_HEADER_MAX). 0 at the end of the stream. */
static int ws_buffer_at_least(struct ws *ws, size_t n, struct error *err)
{
	struct http_conn *c = ws->conn;

	while (c->end - c->start < n) {
		ssize_t got = conn_fill(c, err);

		if (got < 0)
			return (int)got;
		if (got == 0)
			return 0;
	}
	return 1;
}

static int ws_read_header(struct ws *ws, uint64_t max_payload, struct ws_frame_header *ret,
			  struct error *err)
{
	struct http_conn *c = ws->conn;
	size_t need = 2;
	int r;

	for (;;) {
		r = ws_buffer_at_least(ws, need, err);
		if (r < 0)
			return r;
		if (r == 0) {
			ws->close_code = WS_CLOSE_ABNORMAL;
			return error_set(err, -ECONNRESET,
					 "Server closed the websocket without a close frame");
		}
		r = ws_frame_header_parse(c->buf + c->start, c->end - c->start, max_payload, ret);
		if (r == -EMSGSIZE)
			return ws_fail(ws, WS_CLOSE_TOO_BIG,
				       error_set(err, -EMSGSIZE,
						 "Websocket message larger than %zu bytes",
						 ws->max_message));
		if (r < 0)
			return ws_fail(
				ws, WS_CLOSE_PROTOCOL_ERROR,
				error_set(err, -EPROTO, "Server sent an invalid websocket frame"));
		if (r > 0) {
			c->start += (size_t)r;
			return 0;
		}
		need = c->end - c->start + 1;
	}
}

static int ws_read_payload(struct ws *ws, void *buf, uint64_t len, struct error *err)
{
	char *p = buf;

	while (len > 0) {
		ssize_t got = http_conn_read(ws->conn, p, (size_t)len, err);

		if (got < 0)
			return (int)got;
		if (got == 0) {
			ws->close_code = WS_CLOSE_ABNORMAL;
			return error_set(err, -ECONNRESET,
					 "Server closed the websocket in the middle of a frame");
		}
		p += got;
		len -= (uint64_t)got;
	}
	return 0;
}

static int ws_read_payload_into(struct ws *ws, struct strbuf *sb, uint64_t len, struct error *err)
{
	char buf[HTTP_BUF_SIZE];
	int r;

	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);

		r = ws_read_payload(ws, buf, want, err);
		if (r < 0)
			return r;
		strbuf_add(sb, buf, want);
		len -= want;
	}
	return 0;
}

static bool ws_close_code_is_valid(uint16_t code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* Handles a control frame whose payload was read. Returns 0 to go on, 1 once closed. */
static int ws_handle_control(struct ws *ws, const struct ws_frame_header *h, const uint8_t *payload,
			     struct error *err)
{
	size_t len = (size_t)h->payload_len;
	uint16_t code;
	int r;

	switch (h->opcode) {
	case WS_OP_PING:
		if (ws->close_sent)
			return 0;
		r = ws_send(ws, WS_OP_PONG, payload, len, err);
		return r < 0 ? r : 0;
	case WS_OP_PONG:
		return 0;
	case WS_OP_CLOSE:
		if (len == 0) {
			ws->close_code = WS_CLOSE_NO_STATUS;
			(void)ws_close(ws, WS_CLOSE_NO_STATUS, NULL, NULL);
			return 1;
		}
		code = (uint16_t)((payload[0] << 8) | payload[1]);
		if (len == 1 || !ws_close_code_is_valid(code) ||
		    !utf8_is_valid(payload + 2, len - 2))
			return ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR,
				       error_set(err, -EPROTO,
						 "Server sent an invalid websocket close frame"));
		ws->close_code = code;
		(void)ws_close(ws, code, NULL, NULL);
		return 1;
	default:
		return ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR,
			       error_set(err, -EPROTO, "Server sent an invalid websocket frame"));
	}
}

int ws_recv(struct ws *ws, struct ws_message *ret, struct error *err)
{
	autoclean(strbuf_release) struct strbuf msg = STRBUF_INIT;
	enum ws_opcode msg_op = WS_OP_CONTINUATION;
	bool started = false;
	size_t room;
	int r;

	if (ws->close_code != 0)
		return 0;

	for (;;) {
		struct ws_frame_header h = { 0 };
		uint8_t control[WS_CONTROL_MAX];

		/* Control frames may come between fragments even when the message is at its
		 * cap; the parser limits them to 125 bytes. */
		room = msg.len < ws->max_message ? ws->max_message - msg.len : 0;
		r = ws_read_header(ws, room > WS_CONTROL_MAX ? room : WS_CONTROL_MAX, &h, err);
		if (r < 0)
			return r;
		if (!(h.opcode & 0x8) && h.payload_len > room)
			return ws_fail(ws, WS_CLOSE_TOO_BIG,
				       error_set(err, -EMSGSIZE,
						 "Websocket message larger than %zu bytes",
						 ws->max_message));
		/* A server must not mask its frames (RFC 6455 5.1). */
		if (h.masked)
			return ws_fail(
				ws, WS_CLOSE_PROTOCOL_ERROR,
				error_set(err, -EPROTO, "Server sent a masked websocket frame"));

		if (h.opcode & 0x8) {
			r = ws_read_payload(ws, control, h.payload_len, err);
			if (r < 0)
				return r;
			r = ws_handle_control(ws, &h, control, err);
			if (r < 0)
				return r;
			if (r > 0)
				return 0;
			continue;
		}

		if (h.opcode == WS_OP_CONTINUATION && !started)
			return ws_fail(
				ws, WS_CLOSE_PROTOCOL_ERROR,
				error_set(err, -EPROTO,
					  "Server sent a continuation frame outside a message"));
		if (h.opcode != WS_OP_CONTINUATION) {
			if (started)
				return ws_fail(
					ws, WS_CLOSE_PROTOCOL_ERROR,
					error_set(
						err, -EPROTO,
						"Server started a websocket message inside another"));
			msg_op = h.opcode;
			started = true;
		}

		/* The header parser capped payload_len at what the message may still grow. */
		r = ws_read_payload_into(ws, &msg, h.payload_len, err);
		if (r < 0)
			return r;

		if (!h.fin)
			continue;

		if (msg_op == WS_OP_TEXT && !utf8_is_valid(msg.buf, msg.len))
			return ws_fail(
				ws, WS_CLOSE_INVALID_DATA,
				error_set(
					err, -EPROTO,
					"Server sent a websocket text message that is not UTF-8"));
		ret->opcode = msg_op;
		ret->len = msg.len;
		ret->data = strbuf_detach(&msg);
		return 1;
	}
}
