#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/lxd-client.h"
#include "lib/str.h"
#include "test/unit/unit.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* --- envelopes -------------------------------------------------------------------------- */

static int parse(int status, const char *body, struct lxd_response *resp, struct error *err)
{
	return lxd_response_parse(status, body, strlen(body), resp, err);
}

START_TEST(test_parse_sync_and_async)
{
	struct lxd_response resp = LXD_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(
		parse(200,
		      "{\"type\":\"sync\",\"status\":\"Success\",\"status_code\":200,"
		      "\"operation\":\"\",\"error_code\":0,\"error\":\"\",\"metadata\":{\"a\":1}}",
		      &resp, &err),
		0);
	ck_assert_int_eq(resp.type, LXD_RESPONSE_SYNC);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_null(resp.operation);
	ck_assert_int_eq(json_integer_value(json_object_get(resp.metadata, "a")), 1);
	lxd_response_release(&resp);

	ck_assert_int_eq(
		parse(202,
		      "{\"type\":\"async\",\"status\":\"Operation created\",\"status_code\":100,"
		      "\"operation\":\"/1.0/operations/5187\",\"error_code\":0,\"error\":\"\","
		      "\"metadata\":{\"id\":\"5187\"}}",
		      &resp, &err),
		0);
	ck_assert_int_eq(resp.type, LXD_RESPONSE_ASYNC);
	ck_assert_str_eq(resp.operation, "/1.0/operations/5187");
	lxd_response_release(&resp);

	ck_assert_int_eq(parse(200, "{\"type\":\"sync\"}", &resp, &err), 0);
	ck_assert(json_is_null(resp.metadata));
	lxd_response_release(&resp);
}
END_TEST

static void check_error(int status, const char *body, int code, const char *msg)
{
	struct lxd_response resp = LXD_RESPONSE_INIT;
	struct error err = ERROR_INIT;

	ck_assert_int_eq(parse(status, body, &resp, &err), code);
	ck_assert_str_eq(error_message(&err), msg);
	ck_assert_ptr_null(resp.metadata);
	error_clear(&err);
}

START_TEST(test_parse_errors)
{
	static const char fmt[] =
		"{\"type\":\"error\",\"status\":\"\",\"status_code\":0,"
		"\"operation\":\"\",\"error_code\":%d,\"error\":\"%s\",\"metadata\":null}";
	struct {
		int status;
		int code;
	} map[] = { { 400, -EINVAL }, { 403, -EPERM }, { 404, -ENOENT },
		    { 409, -EEXIST }, { 500, -EIO },   { 412, -EIO } };

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		autofree char *body = str_printf(fmt, map[i].status, "Instance not found");

		check_error(map[i].status, body, map[i].code, "Instance not found");
		ck_assert_int_eq(lxd_status_to_errno(map[i].status), map[i].code);
	}
	check_error(502, "<html>Bad gateway</html>", -EIO, "Server replied with HTTP status 502");
	check_error(404, "", -ENOENT, "Server replied with HTTP status 404");
	check_error(200, "not json", -EIO, "Server sent a reply that is not a JSON object");
	check_error(200, "[1]", -EIO, "Server sent a reply that is not a JSON object");
	check_error(200, "{\"type\":\"weird\"}", -EIO,
		    "Server sent a reply of unknown type 'weird'");
	check_error(404, "{\"type\":\"sync\"}", -ENOENT, "Server replied with HTTP status 404");
	/* An error envelope with a 200 status falls back on error_code. */
	check_error(200, "{\"type\":\"error\",\"error_code\":409,\"error\":\"Exists\"}", -EEXIST,
		    "Exists");
	check_error(500, "{\"type\":\"error\",\"error\":\"\"}", -EIO,
		    "Server replied with HTTP status 500");
}
END_TEST

START_TEST(test_operation_id)
{
	autofree char *a = lxd_operation_id("/1.0/operations/5187-aa");
	autofree char *b = lxd_operation_id("5187-aa");
	autofree char *c = lxd_operation_id("/1.0/operations/5187-aa?project=p");

	ck_assert_str_eq(a, "5187-aa");
	ck_assert_str_eq(b, "5187-aa");
	ck_assert_str_eq(c, "5187-aa");
}
END_TEST

START_TEST(test_time_parse)
{
	long long sec = 0;
	long nsec = 0;

	ck_assert_int_eq(lxd_time_parse("2026-11-23T11:14:02.861940086Z", &sec, &nsec), 0);
	ck_assert_int_eq(sec, 1795432442LL);
	ck_assert_int_eq(nsec, 861940086);
	ck_assert_int_eq(lxd_time_parse("2026-11-23T12:14:02.5+01:00", &sec, &nsec), 0);
	ck_assert_int_eq(sec, 1795432442LL);
	ck_assert_int_eq(nsec, 500000000);
	ck_assert_int_eq(lxd_time_parse("2026-11-23T06:14:02-05:00", &sec, &nsec), 0);
	ck_assert_int_eq(sec, 1795432442LL);
	ck_assert_int_eq(lxd_time_parse("2026-11-23T11:14:02", &sec, &nsec), -EINVAL);
	ck_assert_int_eq(lxd_time_parse("2026-11-23 11:14:02Z", &sec, &nsec), -EINVAL);
	ck_assert_int_eq(lxd_time_parse("2026-13-23T11:14:02Z", &sec, &nsec), -EINVAL);
	ck_assert_int_eq(lxd_time_parse("2026-11-23T11:14:02.Z", &sec, &nsec), -EINVAL);
	ck_assert_int_eq(lxd_time_parse("2026-11-23T11:14:02Zjunk", &sec, &nsec), -EINVAL);
	ck_assert_int_eq(lxd_time_parse("", &sec, &nsec), -EINVAL);
}
END_TEST

START_TEST(test_socket_path)
{
	char *p;

	ck_assert_int_eq(unsetenv("LODGE_SOCKET"), 0);
	ck_assert_int_eq(unsetenv("LODGE_DIR"), 0);
	p = lxd_socket_path();
	ck_assert_str_eq(p, "/var/lib/lodge/unix.socket");
	free(p);
	ck_assert_int_eq(setenv("LODGE_DIR", "/tmp/x", 1), 0);
	p = lxd_socket_path();
	ck_assert_str_eq(p, "/tmp/x/unix.socket");
	free(p);
	ck_assert_int_eq(setenv("LODGE_SOCKET", "/run/l.sock", 1), 0);
	p = lxd_socket_path();
	ck_assert_str_eq(p, "/run/l.sock");
	free(p);
}
END_TEST

/* --- against a fake daemon on a unix socket --------------------------------------------- */

/* Serves one canned reply per connection, in order; each request must start with the
 * matching expected line. */
struct fake_daemon {
	const char *const *expect; /* request lines, NULL-terminated */
	const char *const *replies;
};

static int read_head(int fd, struct strbuf *sb)
{
	char ch;

	while (!strstr(strbuf_str(sb), "\r\n\r\n")) {
		if (read(fd, &ch, 1) != 1)
			return -1;
		strbuf_addch(sb, ch);
	}
	return 0;
}

static pid_t fake_daemon_start(const struct fake_daemon *d, char **ret_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *path = str_printf("%s/unix.socket", unit_tmpdir);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	ck_assert_int_ge(lfd, 0);
	ck_assert(snprintf_ok(sa.sun_path, sizeof(sa.sun_path), "%s", path));
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (size_t i = 0; d->replies[i]; i++) {
			struct strbuf req = STRBUF_INIT;
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0 || read_head(fd, &req) < 0)
				_exit(10);
			if (!str_has_prefix(req.buf, d->expect[i])) {
				fprintf(stderr, "request %zu: %s\n", i, req.buf);
				_exit(11);
			}
			if (write_all_fd(fd, d->replies[i], strlen(d->replies[i])) < 0)
				_exit(12);
			(void)close(fd);
			strbuf_release(&req);
		}
		_exit(0);
	}
	(void)close(lfd);
	*ret_path = path;
	return pid;
}

static void fake_daemon_finish(pid_t pid)
{
	int status = 0;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static char *reply(const char *status, const char *body)
{
	return str_printf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nETag: \"e1\"\r\n"
			  "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
			  status, strlen(body), body);
}

START_TEST(test_get_and_errors)
{
	autofree char *r1 =
		reply("200 OK", "{\"type\":\"sync\",\"metadata\":{\"api_version\":\"1.0\"}}");
	autofree char *r2 = reply("404 Not Found", "{\"type\":\"error\",\"error_code\":404,"
						   "\"error\":\"Operation not found\"}");
	autofree char *r3 = reply("200 OK", "{\"type\":\"sync\",\"metadata\":null}");
	const char *replies[] = { r1, r2, r3, NULL };
	const char *expect[] = { "GET /1.0 HTTP/1.1\r\n", "GET /1.0/operations/x?project=p%2F1 ",
				 "DELETE /1.0/operations/x?project=p%2F1 ", NULL };
	struct fake_daemon d = { .expect = expect, .replies = replies };
	struct lxd_response resp = LXD_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	autofree char *path = NULL;
	struct lxd_client *c;
	json_t *meta = NULL;
	pid_t pid;

	pid = fake_daemon_start(&d, &path);
	c = lxd_client_new(path);
	ck_assert_int_eq(lxd_get(c, "/1.0", &meta, &err), 0);
	ck_assert_str_eq(json_get_str(meta, "api_version"), "1.0");
	json_decref(meta);

	lxd_client_set_project(c, "p/1");
	meta = NULL;
	ck_assert_int_eq(lxd_get(c, "/1.0/operations/x", &meta, &err), -ENOENT);
	ck_assert_str_eq(error_message(&err), "Operation not found");
	ck_assert_ptr_null(meta);
	error_clear(&err);

	ck_assert_int_eq(lxd_query(c, "DELETE", "/1.0/operations/x", NULL, NULL, &resp, &err), 0);
	ck_assert_str_eq(resp.etag, "\"e1\"");
	lxd_response_release(&resp);
	lxd_client_free(c);
	fake_daemon_finish(pid);
}
END_TEST

START_TEST(test_operation_wait)
{
	autofree char *ok =
		reply("200 OK", "{\"type\":\"sync\",\"metadata\":{\"id\":\"op1\","
				"\"status\":\"Success\",\"status_code\":200,\"err\":\"\"}}");
	autofree char *failed = reply("200 OK", "{\"type\":\"sync\",\"metadata\":{\"id\":\"op1\","
						"\"status\":\"Failure\",\"status_code\":400,"
						"\"err\":\"Failed to start: boom\"}}");
	autofree char *running = reply("200 OK", "{\"type\":\"sync\",\"metadata\":{\"id\":\"op1\","
						 "\"status\":\"Running\",\"status_code\":103}}");
	autofree char *cancelled =
		reply("200 OK", "{\"type\":\"sync\",\"metadata\":{\"id\":\"op1\","
				"\"status\":\"Cancelled\",\"status_code\":401}}");
	const char *replies[] = { ok, failed, running, cancelled, NULL };
	const char *expect[] = { "GET /1.0/operations/op1/wait?timeout=-1 ",
				 "GET /1.0/operations/op1/wait?timeout=-1 ",
				 "GET /1.0/operations/op1/wait?timeout=5 ",
				 "GET /1.0/operations/op1/wait?timeout=-1 ", NULL };
	struct fake_daemon d = { .expect = expect, .replies = replies };
	struct error err = ERROR_INIT;
	autofree char *path = NULL;
	struct lxd_client *c;
	json_t *op = NULL;
	pid_t pid;

	pid = fake_daemon_start(&d, &path);
	c = lxd_client_new(path);

	ck_assert_int_eq(lxd_operation_wait(c, "/1.0/operations/op1", -1, &op, &err), 0);
	ck_assert_str_eq(json_get_str(op, "status"), "Success");
	json_decref(op);
	op = NULL;

	ck_assert_int_eq(lxd_operation_wait(c, "op1", -1, &op, &err), -EIO);
	ck_assert_str_eq(error_message(&err), "Failed to start: boom");
	ck_assert_ptr_null(op);
	error_clear(&err);

	ck_assert_int_eq(lxd_operation_wait(c, "op1", 5, &op, &err), -ETIMEDOUT);
	error_clear(&err);

	ck_assert_int_eq(lxd_operation_wait(c, "op1", -1, &op, &err), -ECANCELED);
	error_clear(&err);

	/* IDs never reach the path unchecked. */
	ck_assert_int_eq(lxd_operation_wait(c, "/1.0/operations/..", -1, &op, &err), -EINVAL);
	error_clear(&err);

	lxd_client_free(c);
	fake_daemon_finish(pid);
}
END_TEST

START_TEST(test_events_refused)
{
	autofree char *r1 = reply("403 Forbidden", "{\"type\":\"error\",\"error_code\":403,"
						   "\"error\":\"Not authorized\"}");
	const char *replies[] = { r1, NULL };
	const char *expect[] = { "GET /1.0/events?type=lifecycle HTTP/1.1\r\n", NULL };
	struct fake_daemon d = { .expect = expect, .replies = replies };
	struct error err = ERROR_INIT;
	autofree char *path = NULL;
	struct lxd_client *c;
	struct ws *ws = NULL;
	pid_t pid;

	pid = fake_daemon_start(&d, &path);
	c = lxd_client_new(path);
	ck_assert_int_eq(lxd_events_connect(c, "type=lifecycle", &ws, &err), -EPERM);
	ck_assert_str_eq(error_message(&err), "Not authorized");
	ck_assert_ptr_null(ws);
	error_clear(&err);
	lxd_client_free(c);
	fake_daemon_finish(pid);
}
END_TEST

START_TEST(test_no_daemon)
{
	autofree char *path = str_printf("%s/none.socket", unit_tmpdir);
	struct lxd_client *c = lxd_client_new(path);
	struct error err = ERROR_INIT;
	json_t *meta = NULL;

	ck_assert_int_eq(lxd_get(c, "/1.0", &meta, &err), -ENOENT);
	ck_assert(strstr(error_message(&err), "none.socket") != NULL);
	error_clear(&err);
	lxd_client_free(c);
}
END_TEST

/* lxd_do(): a raw body comes back as is; an error status fails with the server's message. */
START_TEST(test_do_raw)
{
	autofree char *r1 = reply("200 OK", "raw\nbytes");
	autofree char *r2 = reply("404 Not Found", "{\"type\":\"error\",\"error_code\":404,"
						   "\"error\":\"Not found\"}");
	const char *replies[] = { r1, r2, NULL };
	const char *expect[] = { "POST /1.0/instances/c1/files?path=/x HTTP/1.1\r\n",
				 "GET /1.0/instances/c1/files?path=/y ", NULL };
	const char *headers[] = { "X-LXD-type: file", NULL };
	struct fake_daemon d = { .expect = expect, .replies = replies };
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct error err = ERROR_INIT;
	autofree char *path = NULL;
	struct lxd_client *c;
	pid_t pid;

	pid = fake_daemon_start(&d, &path);
	c = lxd_client_new(path);
	ck_assert_int_eq(lxd_do(c,
				&(struct http_request){ .method = "POST",
							.target = "/1.0/instances/c1/files?path=/x",
							.headers = headers,
							.body = "data",
							.body_len = 4 },
				&resp, &err),
			 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.body, "raw\nbytes");
	ck_assert_str_eq(http_response_header(&resp, "ETag"), "\"e1\"");
	http_response_release(&resp);

	ck_assert_int_eq(
		lxd_do(c,
		       &(struct http_request){ .method = "GET",
					       .target = "/1.0/instances/c1/files?path=/y" },
		       &resp, &err),
		-ENOENT);
	ck_assert_str_eq(error_message(&err), "Not found");
	error_clear(&err);
	lxd_client_free(c);
	fake_daemon_finish(pid);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("lxd-client");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_parse_sync_and_async);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_operation_id);
	tcase_add_test(tc, test_time_parse);
	tcase_add_test(tc, test_socket_path);
	tcase_add_test(tc, test_get_and_errors);
	tcase_add_test(tc, test_operation_wait);
	tcase_add_test(tc, test_events_refused);
	tcase_add_test(tc, test_do_raw);
	tcase_add_test(tc, test_no_daemon);
	suite_add_tcase(s, tc);
	return s;
}
