#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/http-client.h"
#include "lib/str.h"
#include "test/unit/unit.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* --- a fake server in a child process, on the other end of a socketpair ---------------- */

struct fake_reply {
	const char *data;
	size_t len;	    /* 0: strlen(data) */
	bool slow;	    /* one byte per write, so the client sees every split */
	bool no_read;	    /* do not wait for a request first */
	bool hang;	    /* never answer */
	const char *expect; /* when set, the request must be exactly this */
};

/* Reads one request: its head, then a Content-Length or chunked body. */
static int read_request(int fd, struct strbuf *sb)
{
	const char *head_end;
	char buf[4096];

	for (;;) {
		ssize_t n;

		head_end = strstr(strbuf_str(sb), "\r\n\r\n");
		if (head_end) {
			const char *all = strbuf_str(sb);
			size_t head = (size_t)(head_end - all) + 4;
			const char *cl = strcasestr(all, "Content-Length: ");

			if (strcasestr(all, "Transfer-Encoding: chunked")) {
				if (str_has_suffix(all + head, "0\r\n\r\n"))
					return 0;
			} else if (!cl || sb->len - head >= strtoull(cl + 16, NULL, 10)) {
				return 0;
			}
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		strbuf_add(sb, buf, (size_t)n);
	}
}

static int serve_reply(int fd, const struct fake_reply *reply)
{
	struct strbuf req = STRBUF_INIT;
	size_t len = reply->len ? reply->len : strlen(reply->data);

	if (!reply->no_read && read_request(fd, &req) < 0)
		return 2;
	if (reply->expect && !streq(strbuf_str(&req), reply->expect)) {
		fprintf(stderr, "request differs:\n%s\n", strbuf_str(&req));
		return 3;
	}
	if (reply->hang) {
		pause();
		return 0;
	}
	if (reply->slow) {
		for (size_t i = 0; i < len; i++) {
			if (write_all_fd(fd, reply->data + i, 1) < 0)
				return 4;
			usleep(100);
		}
	} else if (write_all_fd(fd, reply->data, len) < 0) {
		return 4;
	}
	strbuf_release(&req);
	return 0;
}

typedef int (*fake_fn)(int fd, const void *arg);

static struct http_conn *fake_start(fake_fn fn, const void *arg, pid_t *ret_pid)
{
	int sv[2];
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		(void)close(sv[0]);
		_exit(fn(sv[1], arg));
	}
	(void)close(sv[1]);
	*ret_pid = pid;
	return http_conn_new_fd(sv[0]);
}

static int serve_reply_fn(int fd, const void *arg)
{
	return serve_reply(fd, arg);
}

static struct http_conn *fake_reply_start(const struct fake_reply *reply, pid_t *ret_pid)
{
	return fake_start(serve_reply_fn, reply, ret_pid);
}

/* The child must have exited 0: its own checks passed. */
static void fake_finish(pid_t pid)
{
	int status = 0;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static void fake_kill(pid_t pid)
{
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static const struct http_request get_req = { .method = "GET", .target = "/1.0" };

/* Runs GET /1.0 against a canned reply; returns http_do()'s result. */
static int fetch(const struct fake_reply *reply, const struct http_request *req,
		 struct http_response *resp, struct error *err)
{
	pid_t pid;
	struct http_conn *c = fake_reply_start(reply, &pid);
	int r;

	http_conn_set_timeout(c, 5000);
	r = http_do(c, req ? req : &get_req, resp, err);
	http_conn_free(c);
	fake_kill(pid);
	return r;
}

/* --- responses -------------------------------------------------------------------------- */

START_TEST(test_response_content_length)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			"Content-Length:   11  \r\nETag: \"abc\"\r\n\r\n{\"a\":\"bcd\"}",
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(fetch(&reply, NULL, &resp, &err), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.reason, "OK");
	ck_assert_str_eq(resp.body, "{\"a\":\"bcd\"}");
	ck_assert_uint_eq(resp.body_len, 11);
	ck_assert_str_eq(http_response_header(&resp, "content-type"), "application/json");
	ck_assert_str_eq(http_response_header(&resp, "ETAG"), "\"abc\"");
	ck_assert_ptr_null(http_response_header(&resp, "Location"));
	ck_assert(!resp.close);
	http_response_release(&resp);
}
END_TEST

START_TEST(test_response_chunked)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
			"5\r\nhello\r\n6;ext=1\r\n world\r\nA \r\n, chunked!\r\n0\r\nX-Trailer: x\r\n\r\n",
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(fetch(&reply, NULL, &resp, &err), 0);
	ck_assert_str_eq(resp.body, "hello world, chunked!");
	ck_assert(resp.close);
	http_response_release(&resp);

	/* The same, one byte per write. */
	reply.slow = true;
	ck_assert_int_eq(fetch(&reply, NULL, &resp, &err), 0);
	ck_assert_str_eq(resp.body, "hello world, chunked!");
	http_response_release(&resp);
}
END_TEST

START_TEST(test_response_read_to_close)
{
	struct fake_reply reply = {
		.data = "HTTP/1.0 404 Not Found\n\n{\"type\":\"error\"}",
		.slow = true,
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(fetch(&reply, NULL, &resp, &err), 0);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_str_eq(resp.reason, "Not Found");
	ck_assert_str_eq(resp.body, "{\"type\":\"error\"}");
	ck_assert(resp.close);
	http_response_release(&resp);
}
END_TEST

START_TEST(test_response_no_body)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(fetch(&reply, NULL, &resp, &err), 0);
	ck_assert_int_eq(resp.status, 204);
	ck_assert_uint_eq(resp.body_len, 0);
	http_response_release(&resp);
}
END_TEST

START_TEST(test_response_keeps_following_bytes)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			"HTTP/1.1 409 Conflict\r\nContent-Length: 3\r\n\r\nbad",
		.no_read = true,
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	pid_t pid;
	struct http_conn *c = fake_reply_start(&reply, &pid);

	ck_assert_int_eq(http_response_read(c, &get_req, &resp, &err), 0);
	ck_assert_str_eq(resp.body, "ok");
	http_response_release(&resp);
	ck_assert_int_eq(http_response_read(c, &get_req, &resp, &err), 0);
	ck_assert_int_eq(resp.status, 409);
	ck_assert_str_eq(resp.body, "bad");
	http_response_release(&resp);
	http_conn_free(c);
	fake_finish(pid);
}
END_TEST

static void check_rejected(const char *data, int code)
{
	struct fake_reply reply = { .data = data };
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	int r = fetch(&reply, NULL, &resp, &err);

	if (r != code)
		ck_abort_msg("reply %.60s: got %d (%s), wanted %d", data, r, error_message(&err),
			     code);
	ck_assert(error_is_set(&err));
	ck_assert_ptr_null(resp.body);
	error_clear(&err);
}

START_TEST(test_response_hostile)
{
	char *big;

	check_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "ffffffffffffffffff\r\n",
		       -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "fffffffffffffff0\r\nabc",
		       -EFBIG);
	check_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO);
	check_rejected(
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		-EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		       -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n", -EFBIG);
	check_rejected("HTTP/1.1 2000 OK\r\n\r\n", -EPROTO);
	check_rejected("HTTP/2 200 OK\r\n\r\n", -EPROTO);
	check_rejected("SSH-2.0-OpenSSH\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nX: a\001b\r\n\r\n", -EPROTO);
	check_rejected("HTTP/1.1 200 OK\r\nX: a", -EPROTO);
	check_rejected("", -EPROTO);

	/* NUL inside the head. */
	{
		static const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
		struct fake_reply reply = { .data = nul, .len = sizeof(nul) - 1 };
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct error err = ERROR_INIT;

		ck_assert_int_eq(fetch(&reply, NULL, &resp, &err), -EPROTO);
		error_clear(&err);
	}

	/* One endless header line. */
	big = xmalloc(20001);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', 19980);
	big[20000] = '\0';
	check_rejected(big, -EPROTO);

	/* Too many headers. */
	{
		struct strbuf sb = STRBUF_INIT;

		strbuf_adds(&sb, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < 200; i++)
			strbuf_addf(&sb, "X-%d: v\r\n", i);
		strbuf_adds(&sb, "\r\n");
		check_rejected(sb.buf, -EPROTO);
		strbuf_release(&sb);
	}

	/* Too many interim replies. */
	{
		struct strbuf sb = STRBUF_INIT;

		for (int i = 0; i < 20; i++)
			strbuf_adds(&sb, "HTTP/1.1 100 Continue\r\n\r\n");
		check_rejected(sb.buf, -EPROTO);
		strbuf_release(&sb);
	}
	free(big);
}
END_TEST

START_TEST(test_response_body_cap)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\n\r\n0123456789",
	};
	struct http_request req = { .method = "GET", .target = "/1.0", .max_body = 9 };
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), -EFBIG);
	error_clear(&err);
	req.max_body = 10;
	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), 0);
	ck_assert_str_eq(resp.body, "0123456789");
	http_response_release(&resp);

	reply.data = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\n01234\r\n5\r\n56789\r\n1\r\nX\r\n0\r\n\r\n";
	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), -EFBIG);
	error_clear(&err);
}
END_TEST

START_TEST(test_response_to_fd)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	};
	autofree char *path = str_printf("%s/out", unit_tmpdir);
	autofree char *data = NULL;
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	struct http_request req = {
		.method = "GET",
		.target = "/1.0/instances/c1/files?path=/etc/hostname",
		.body_to_fd = true,
		.response_fd = fd,
		.max_body = 4, /* no cap when streaming */
	};

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), 0);
	ck_assert_ptr_null(resp.body);
	ck_assert_uint_eq(resp.written, 11);
	ck_assert_int_eq(read_file(path, 100, &data, NULL, &err), 0);
	ck_assert_str_eq(data, "hello world");
	http_response_release(&resp);

	/* An error reply stays in memory, for its message. */
	reply.data = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), 0);
	ck_assert_str_eq(resp.body, "nope");
	http_response_release(&resp);
	(void)close(fd);
}
END_TEST

/* --- requests --------------------------------------------------------------------------- */

START_TEST(test_request_bytes)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
		.expect = "POST /1.0/profiles?project=p1 HTTP/1.1\r\nHost: unix.socket\r\n"
			  "X-Test: 1\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
	};
	const char *headers[] = { "X-Test: 1", NULL };
	struct http_request req = {
		.method = "POST",
		.target = "/1.0/profiles?project=p1",
		.headers = headers,
		.body = "abc",
		.body_len = 3,
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	pid_t pid;
	struct http_conn *c = fake_reply_start(&reply, &pid);

	ck_assert_int_eq(http_do(c, &req, &resp, &err), 0);
	ck_assert_int_eq(resp.status, 201);
	http_response_release(&resp);
	http_conn_free(c);
	fake_finish(pid);
}
END_TEST

START_TEST(test_response_to_fd_capped)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
	};
	autofree char *path = str_printf("%s/out", unit_tmpdir);
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	struct http_request req = {
		.method = "GET",
		.target = "/big",
		.body_to_fd = true,
		.response_fd = fd,
		.max_fd_body = 5,
	};

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), -EFBIG);
	ck_assert_str_eq(error_message(&err), "Reply from the server is larger than 5 bytes");
	error_clear(&err);
	http_response_release(&resp);
	req.max_fd_body = 11; /* exactly the body: fine */
	ck_assert_int_eq(fetch(&reply, &req, &resp, &err), 0);
	ck_assert_uint_eq(resp.written, 11);
	http_response_release(&resp);
	(void)close(fd);
}
END_TEST

START_TEST(test_request_streams_fd)
{
	struct fake_reply reply = {
		.data = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		.expect = "POST /1.0/instances/c1/files?path=/a HTTP/1.1\r\nHost: unix.socket\r\n"
			  "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "b\r\nhello world\r\n0\r\n\r\n",
	};
	struct http_request req = {
		.method = "POST",
		.target = "/1.0/instances/c1/files?path=/a",
		.body_from_fd = true,
		.body_fd_len = HTTP_LENGTH_UNKNOWN,
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	struct http_conn *c;
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write_all_fd(p[1], "hello world", 11), 0);
	(void)close(p[1]);
	req.body_fd = p[0];

	c = fake_reply_start(&reply, &pid);
	ck_assert_int_eq(http_do(c, &req, &resp, &err), 0);
	http_response_release(&resp);
	http_conn_free(c);
	fake_finish(pid);
	(void)close(p[0]);

	/* With a known length: Content-Length, and a short source is an error. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(write_all_fd(p[1], "hello", 5), 0);
	(void)close(p[1]);
	req.body_fd = p[0];
	req.body_fd_len = 6;
	reply.expect = NULL;
	reply.hang = true;
	c = fake_reply_start(&reply, &pid);
	ck_assert_int_eq(http_do(c, &req, &resp, &err), -EIO);
	ck_assert_str_eq(error_message(&err), "Request body ended after 5 of 6 bytes");
	error_clear(&err);
	http_conn_free(c);
	fake_kill(pid);
	(void)close(p[0]);
}
END_TEST

START_TEST(test_request_rejects_injection)
{
	const char *headers[] = { "X: a\r\nEvil: 1", NULL };
	struct http_request req = { .method = "GET", .target = "/1.0 HTTP/1.1\r\nX: y" };
	struct error err = ERROR_INIT;
	struct http_conn *c = http_conn_new_fd(open("/dev/null", O_RDWR | O_CLOEXEC));

	ck_assert_int_eq(http_request_write(c, &req, &err), -EINVAL);
	error_clear(&err);
	req.target = "/1.0";
	req.headers = headers;
	ck_assert_int_eq(http_request_write(c, &req, &err), -EINVAL);
	error_clear(&err);
	req.headers = NULL;
	req.method = "GET /";
	ck_assert_int_eq(http_request_write(c, &req, &err), -EINVAL);
	error_clear(&err);
	http_conn_free(c);
}
END_TEST

START_TEST(test_timeout_and_cancel)
{
	struct fake_reply reply = { .data = "", .hang = true };
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	struct http_conn *c;
	pid_t pid;
	int p[2];

	c = fake_reply_start(&reply, &pid);
	http_conn_set_timeout(c, 100);
	ck_assert_int_eq(http_do(c, &get_req, &resp, &err), -ETIMEDOUT);
	error_clear(&err);
	http_conn_free(c);
	fake_kill(pid);

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	c = fake_reply_start(&reply, &pid);
	http_conn_set_timeout(c, -1);
	http_conn_set_cancel_fd(c, p[0]);
	ck_assert_int_eq(write_all_fd(p[1], "x", 1), 0);
	ck_assert_int_eq(http_do(c, &get_req, &resp, &err), -ECANCELED);
	error_clear(&err);
	http_conn_free(c);
	fake_kill(pid);
	(void)close(p[0]);
	(void)close(p[1]);
}
END_TEST

START_TEST(test_connect_unix)
{
	autofree char *path = str_printf("%s/missing.socket", unit_tmpdir);
	struct http_conn *c = NULL;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(http_conn_new_unix(path, 1000, &c, &err), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert(strstr(error_message(&err), "missing.socket") != NULL);
	error_clear(&err);
}
END_TEST

/* --- websocket framing ------------------------------------------------------------------ */

START_TEST(test_ws_accept_key)
{
	autofree char *accept = ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==");
	autofree char *key = ws_key_new();
	autofree char *other = ws_key_new();

	/* RFC 6455 section 1.3 (SHA-1 b37a4f2c...b2bec4ea). The value often quoted instead,
	 * "s3pPLMBiTxaQ9kZzRbZOoo+xK+o=", is not what the RFC computes. */
	ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	free(accept);
	/* LXD's answer in api-compat-traces/monitor.txt. */
	accept = ws_accept_for_key("op4lUFuwrcaA77GAqpkNjQ==");
	ck_assert_str_eq(accept, "IO/3wLWVThOmZe2BVxfA7kSs87s=");
	ck_assert_uint_eq(strlen(key), 24);
	ck_assert_str_ne(key, other);
}
END_TEST

START_TEST(test_ws_frame_rfc_examples)
{
	/* RFC 6455 section 5.7. */
	static const uint8_t unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	static const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					  0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const uint8_t key[] = { 0x37, 0xfa, 0x21, 0x3d };
	struct strbuf sb = STRBUF_INIT;
	struct ws_frame_header h;
	char payload[6] = { 0 };

	ws_frame_encode(&sb, WS_OP_TEXT, true, NULL, "Hello", 5);
	ck_assert_uint_eq(sb.len, sizeof(unmasked));
	ck_assert_mem_eq(sb.buf, unmasked, sizeof(unmasked));
	strbuf_reset(&sb);
	ws_frame_encode(&sb, WS_OP_TEXT, true, key, "Hello", 5);
	ck_assert_uint_eq(sb.len, sizeof(masked));
	ck_assert_mem_eq(sb.buf, masked, sizeof(masked));
	strbuf_release(&sb);

	ck_assert_int_eq(ws_frame_header_parse(masked, sizeof(masked), 100, &h), 6);
	ck_assert(h.fin);
	ck_assert(h.masked);
	ck_assert_int_eq(h.opcode, WS_OP_TEXT);
	ck_assert_uint_eq(h.payload_len, 5);
	memcpy(payload, masked + 6, 5);
	ws_mask_apply(payload, 5, h.mask, 0);
	ck_assert_str_eq(payload, "Hello");

	/* Every prefix of a header is "need more". */
	for (size_t i = 0; i < 6; i++)
		ck_assert_int_eq(ws_frame_header_parse(masked, i, 100, &h), 0);
}
END_TEST

START_TEST(test_ws_frame_lengths)
{
	size_t sizes[] = { 0, 125, 126, 65535, 65536, 200000 };
	uint8_t key[4] = { 1, 2, 3, 4 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		autofree char *payload = xmalloc(sizes[i] + 1);
		struct strbuf sb = STRBUF_INIT;
		struct ws_frame_header h;
		int hl;

		for (size_t k = 0; k < sizes[i]; k++)
			payload[k] = (char)(k * 7);
		ws_frame_encode(&sb, WS_OP_BINARY, false, key, payload, sizes[i]);
		hl = ws_frame_header_parse(sb.buf, sb.len, UINT64_MAX, &h);
		ck_assert_int_eq(hl, sizes[i] < 126 ? 6 : sizes[i] <= 0xffff ? 8 : 14);
		ck_assert(!h.fin);
		ck_assert_int_eq(h.opcode, WS_OP_BINARY);
		ck_assert_uint_eq(h.payload_len, sizes[i]);
		ck_assert_uint_eq(sb.len, (size_t)hl + sizes[i]);
		ws_mask_apply(sb.buf + hl, sizes[i], h.mask, 0);
		ck_assert_mem_eq(sb.buf + hl, payload, sizes[i]);
		if (sizes[i] > 0)
			ck_assert_int_eq(ws_frame_header_parse(sb.buf, sb.len, sizes[i] - 1, &h),
					 -EMSGSIZE);
		strbuf_release(&sb);
	}
}
END_TEST

START_TEST(test_ws_frame_hostile)
{
	struct ws_frame_header h;
	static const uint8_t reserved_op[] = { 0x83, 0x00 };
	static const uint8_t rsv_bits[] = { 0xc1, 0x00 };
	static const uint8_t long_ping[] = { 0x89, 0x7e, 0x00, 0x80 };
	static const uint8_t fragmented_close[] = { 0x08, 0x00 };
	static const uint8_t short_as_16[] = { 0x82, 0x7e, 0x00, 0x05 };
	static const uint8_t short_as_64[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t top_bit[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t huge[] = {
		0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};

	ck_assert_int_eq(ws_frame_header_parse(reserved_op, 2, 100, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(rsv_bits, 2, 100, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(long_ping, 4, 1000, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(fragmented_close, 2, 100, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(short_as_16, 4, 100, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(short_as_64, 10, 100000, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(top_bit, 10, UINT64_MAX, &h), -EPROTO);
	ck_assert_int_eq(ws_frame_header_parse(huge, 10, 1 << 20, &h), -EMSGSIZE);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(utf8_is_valid("plain", 5));
	ck_assert(utf8_is_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
	ck_assert(!utf8_is_valid("\xc3", 1));
	ck_assert(!utf8_is_valid("\xc0\xaf", 2));	  /* overlong '/' */
	ck_assert(!utf8_is_valid("\xed\xa0\x80", 3));	  /* surrogate */
	ck_assert(!utf8_is_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
	ck_assert(!utf8_is_valid("\xff", 1));
	ck_assert(!utf8_is_valid("\x80", 1));
}
END_TEST

/* --- websocket connections -------------------------------------------------------------- */

enum ws_script {
	WS_SCRIPT_NORMAL,
	WS_SCRIPT_BAD_ACCEPT,
	WS_SCRIPT_REFUSE,
	WS_SCRIPT_MASKED,
	WS_SCRIPT_BAD_UTF8,
	WS_SCRIPT_BIG,
	WS_SCRIPT_EOF,
	WS_SCRIPT_STRAY_CONTINUATION,
	WS_SCRIPT_PING_AT_CAP,
};

/* Reads one client frame; it must be masked. Returns the unmasked payload. */
static int read_client_frame(int fd, struct ws_frame_header *h, struct strbuf *payload)
{
	uint8_t buf[WS_FRAME_HEADER_MAX];
	size_t have = 0;
	int r;

	for (;;) {
		r = ws_frame_header_parse(buf, have, 1 << 20, h);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
		if (read(fd, buf + have, 1) != 1)
			return -1;
		have++;
	}
	if (!h->masked)
		return -1;
	strbuf_reset(payload);
	for (uint64_t i = 0; i < h->payload_len; i++) {
		char ch;

		if (read(fd, &ch, 1) != 1)
			return -1;
		strbuf_addch(payload, ch);
	}
	ws_mask_apply(payload->buf, payload->len, h->mask, 0);
	return 0;
}

static int ws_server(int fd, const void *arg)
{
	enum ws_script script = *(const enum ws_script *)arg;
	struct strbuf req = STRBUF_INIT;
	struct strbuf out = STRBUF_INIT;
	struct strbuf payload = STRBUF_INIT;
	struct ws_frame_header h;
	const char *key;
	char *accept;
	size_t klen;

	if (read_request(fd, &req) < 0)
		return 10;
	if (!str_has_prefix(strbuf_str(&req), "GET /1.0/events HTTP/1.1\r\n") ||
	    !strstr(strbuf_str(&req), "\r\nUpgrade: websocket\r\n") ||
	    !strstr(strbuf_str(&req), "\r\nSec-WebSocket-Version: 13\r\n"))
		return 11;
	key = strstr(strbuf_str(&req), "\r\nSec-WebSocket-Key: ");
	if (!key)
		return 12;
	key += 21;
	klen = strcspn(key, "\r");
	accept = ws_accept_for_key(xstrndup(key, klen));

	if (script == WS_SCRIPT_REFUSE) {
		strbuf_adds(&out, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
		return write_all_fd(fd, out.buf, out.len) < 0 ? 13 : 0;
	}
	strbuf_addf(&out,
		    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		    script == WS_SCRIPT_BAD_ACCEPT ? "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" : accept);

	switch (script) {
	case WS_SCRIPT_NORMAL:
		ws_frame_encode(&out, WS_OP_PING, true, NULL, "keepalive", 9);
		ws_frame_encode(&out, WS_OP_TEXT, false, NULL, "{\"type\":", 8);
		ws_frame_encode(&out, WS_OP_PONG, true, NULL, "", 0);
		ws_frame_encode(&out, WS_OP_CONTINUATION, false, NULL, "\"lifecycle\"", 11);
		ws_frame_encode(&out, WS_OP_CONTINUATION, true, NULL, "}", 1);
		ws_frame_encode(&out, WS_OP_BINARY, true, NULL, "\0\1\2", 3);
		ws_frame_encode(&out, WS_OP_CLOSE, true, NULL,
				"\x03\xe8"
				"bye",
				5);
		break;
	case WS_SCRIPT_MASKED:
		ws_frame_encode(&out, WS_OP_TEXT, true, (const uint8_t *)"abcd", "x", 1);
		break;
	case WS_SCRIPT_BAD_UTF8:
		ws_frame_encode(&out, WS_OP_TEXT, true, NULL, "\xc3(", 2);
		break;
	case WS_SCRIPT_BIG:
		ws_frame_encode(&out, WS_OP_TEXT, false, NULL, "0123456789", 10);
		ws_frame_encode(&out, WS_OP_CONTINUATION, true, NULL, "0123456789", 10);
		break;
	case WS_SCRIPT_STRAY_CONTINUATION:
		ws_frame_encode(&out, WS_OP_CONTINUATION, true, NULL, "x", 1);
		break;
	case WS_SCRIPT_PING_AT_CAP:
		ws_frame_encode(&out, WS_OP_BINARY, false, NULL, "0123456789", 10);
		ws_frame_encode(&out, WS_OP_PING, true, NULL, "p", 1);
		ws_frame_encode(&out, WS_OP_CONTINUATION, true, NULL, "", 0);
		ws_frame_encode(&out, WS_OP_CLOSE, true, NULL, "", 0);
		break;
	case WS_SCRIPT_EOF:
		ws_frame_encode(&out, WS_OP_TEXT, false, NULL, "abc", 3);
		break;
	default:
		break;
	}
	if (write_all_fd(fd, out.buf, out.len) < 0)
		return 14;

	switch (script) {
	case WS_SCRIPT_NORMAL:
		/* The client answers the ping, then echoes the close. */
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_PONG ||
		    !streq(strbuf_str(&payload), "keepalive"))
			return 15;
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_CLOSE ||
		    payload.len != 2 || memcmp(payload.buf, "\x03\xe8", 2) != 0)
			return 16;
		return 0;
	case WS_SCRIPT_PING_AT_CAP:
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_PONG ||
		    !streq(strbuf_str(&payload), "p"))
			return 20;
		/* A close without a code is answered without one. */
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_CLOSE ||
		    payload.len != 0)
			return 21;
		return 0;
	case WS_SCRIPT_MASKED:
	case WS_SCRIPT_STRAY_CONTINUATION:
		/* 1002 protocol error. */
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_CLOSE ||
		    payload.len < 2 || memcmp(payload.buf, "\x03\xea", 2) != 0)
			return 17;
		return 0;
	case WS_SCRIPT_BAD_UTF8:
		/* 1007 invalid data. */
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_CLOSE ||
		    payload.len < 2 || memcmp(payload.buf, "\x03\xef", 2) != 0)
			return 18;
		return 0;
	case WS_SCRIPT_BIG:
		/* 1009 too big. */
		if (read_client_frame(fd, &h, &payload) < 0 || h.opcode != WS_OP_CLOSE ||
		    payload.len < 2 || memcmp(payload.buf, "\x03\xf1", 2) != 0)
			return 19;
		return 0;
	default:
		return 0;
	}
}

static const struct http_request events_req = { .method = "GET", .target = "/1.0/events" };

static int ws_run(enum ws_script script, size_t max_message, struct ws **ret_ws, pid_t *ret_pid,
		  struct error *err)
{
	struct http_conn *c = fake_start(ws_server, &script, ret_pid);
	struct ws *ws = NULL;
	int r;

	http_conn_set_timeout(c, 5000);
	r = ws_connect(c, &events_req, &ws, err);
	if (r < 0)
		return r;
	if (max_message)
		ws_set_max_message(ws, max_message);
	*ret_ws = ws;
	return 0;
}

START_TEST(test_ws_session)
{
	struct ws_message m = WS_MESSAGE_INIT;
	struct error err = ERROR_INIT;
	struct ws *ws = NULL;
	pid_t pid;

	ck_assert_int_eq(ws_run(WS_SCRIPT_NORMAL, 0, &ws, &pid, &err), 0);
	ck_assert_int_eq(ws_close_code(ws), 0);

	ck_assert_int_eq(ws_recv(ws, &m, &err), 1);
	ck_assert_int_eq(m.opcode, WS_OP_TEXT);
	ck_assert_str_eq(m.data, "{\"type\":\"lifecycle\"}");
	ck_assert_uint_eq(m.len, 20);
	ws_message_release(&m);

	ck_assert_int_eq(ws_recv(ws, &m, &err), 1);
	ck_assert_int_eq(m.opcode, WS_OP_BINARY);
	ck_assert_uint_eq(m.len, 3);
	ck_assert_mem_eq(m.data, "\0\1\2", 3);
	ws_message_release(&m);

	ck_assert_int_eq(ws_recv(ws, &m, &err), 0);
	ck_assert_int_eq(ws_close_code(ws), 1000);
	ck_assert_int_eq(ws_recv(ws, &m, &err), 0);
	ck_assert(!error_is_set(&err));
	ws_free(ws);
	fake_finish(pid);
}
END_TEST

START_TEST(test_ws_control_frames_at_cap)
{
	struct ws_message m = WS_MESSAGE_INIT;
	struct error err = ERROR_INIT;
	struct ws *ws = NULL;
	pid_t pid;

	ck_assert_int_eq(ws_run(WS_SCRIPT_PING_AT_CAP, 10, &ws, &pid, &err), 0);
	ck_assert_int_eq(ws_recv(ws, &m, &err), 1);
	ck_assert_int_eq(m.opcode, WS_OP_BINARY);
	ck_assert_uint_eq(m.len, 10);
	ws_message_release(&m);
	ck_assert_int_eq(ws_recv(ws, &m, &err), 0);
	ck_assert_int_eq(ws_close_code(ws), WS_CLOSE_NO_STATUS);
	ws_free(ws);
	fake_finish(pid);
}
END_TEST

static void check_ws_fails(enum ws_script script, size_t max_message, int code)
{
	struct ws_message m = WS_MESSAGE_INIT;
	struct error err = ERROR_INIT;
	struct ws *ws = NULL;
	pid_t pid;

	ck_assert_int_eq(ws_run(script, max_message, &ws, &pid, &err), 0);
	ck_assert_int_eq(ws_recv(ws, &m, &err), code);
	ck_assert(error_is_set(&err));
	ck_assert_ptr_null(m.data);
	error_clear(&err);
	ws_free(ws);
	fake_finish(pid);
}

START_TEST(test_ws_hostile)
{
	struct error err = ERROR_INIT;
	struct ws *ws = NULL;
	pid_t pid;

	ck_assert_int_eq(ws_run(WS_SCRIPT_BAD_ACCEPT, 0, &ws, &pid, &err), -EPROTO);
	ck_assert_ptr_null(ws);
	ck_assert_str_eq(error_message(&err), "Server sent a wrong Sec-WebSocket-Accept");
	error_clear(&err);
	fake_kill(pid);

	ck_assert_int_eq(ws_run(WS_SCRIPT_REFUSE, 0, &ws, &pid, &err), -EPROTO);
	ck_assert(strstr(error_message(&err), "403") != NULL);
	error_clear(&err);
	fake_kill(pid);

	check_ws_fails(WS_SCRIPT_MASKED, 0, -EPROTO);
	check_ws_fails(WS_SCRIPT_BAD_UTF8, 0, -EPROTO);
	check_ws_fails(WS_SCRIPT_BIG, 15, -EMSGSIZE);
	check_ws_fails(WS_SCRIPT_STRAY_CONTINUATION, 0, -EPROTO);
	check_ws_fails(WS_SCRIPT_EOF, 0, -ECONNRESET);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("http-client");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_response_content_length);
	tcase_add_test(tc, test_response_chunked);
	tcase_add_test(tc, test_response_read_to_close);
	tcase_add_test(tc, test_response_no_body);
	tcase_add_test(tc, test_response_keeps_following_bytes);
	tcase_add_test(tc, test_response_hostile);
	tcase_add_test(tc, test_response_body_cap);
	tcase_add_test(tc, test_response_to_fd);
	tcase_add_test(tc, test_response_to_fd_capped);
	tcase_add_test(tc, test_request_bytes);
	tcase_add_test(tc, test_request_streams_fd);
	tcase_add_test(tc, test_request_rejects_injection);
	tcase_add_test(tc, test_timeout_and_cancel);
	tcase_add_test(tc, test_connect_unix);
	tcase_add_test(tc, test_ws_accept_key);
	tcase_add_test(tc, test_ws_frame_rfc_examples);
	tcase_add_test(tc, test_ws_frame_lengths);
	tcase_add_test(tc, test_ws_frame_hostile);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_ws_session);
	tcase_add_test(tc, test_ws_control_frames_at_cap);
	tcase_add_test(tc, test_ws_hostile);
	suite_add_tcase(s, tc);
	return s;
}
