#include <errno.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/router.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

static struct daemon test_daemon;

static int route(struct api_request *req, enum http_method method, const char *path)
{
	struct error err = ERROR_INIT;
	int r;

	memset(req, 0, sizeof(*req));
	req->d = &test_daemon;
	req->method = method;
	req->path = xstrdup(path);
	r = router_match(req, &err);
	error_clear(&err);
	return r;
}

static void release(struct api_request *req)
{
	for (size_t i = 0; i < req->n_params; i++) {
		free(req->param_names[i]);
		free(req->param_values[i]);
	}
	free(req->path);
}

START_TEST(test_router_matches_params)
{
	struct api_request req;

	ck_assert_int_eq(route(&req, HTTP_GET, "/1.0/operations/abc-1/wait"), 0);
	ck_assert_str_eq(req.route->path, "/1.0/operations/{id}/wait");
	ck_assert_str_eq(api_param(&req, "id"), "abc-1");
	ck_assert_str_eq(api_param(&req, "nope"), "");
	release(&req);

	ck_assert_int_eq(route(&req, HTTP_DELETE, "/1.0/operations/x"), 0);
	ck_assert_str_eq(req.route->path, "/1.0/operations/{id}");
	release(&req);
}
END_TEST

START_TEST(test_router_404_and_405)
{
	struct api_request req;

	ck_assert_int_eq(route(&req, HTTP_GET, "/1.0/nothing"), -ENOENT);
	release(&req);
	ck_assert_int_eq(route(&req, HTTP_GET, "/1.0/operations/a/b/c"), -ENOENT);
	release(&req);
	ck_assert_int_eq(route(&req, HTTP_DELETE, "/1.0"), -ENOSYS);
	ck_assert_uint_eq(req.n_params, 0);
	release(&req);
	/* An empty segment is not a parameter. */
	ck_assert_int_eq(route(&req, HTTP_GET, "/1.0/operations//wait"), -ENOENT);
	release(&req);
}
END_TEST

START_TEST(test_router_trailing_slash_and_head)
{
	struct api_request req;

	ck_assert_int_eq(route(&req, HTTP_GET, "/1.0/operations/"), 0);
	ck_assert_str_eq(req.route->path, "/1.0/operations");
	release(&req);
	ck_assert_int_eq(route(&req, HTTP_HEAD, "/1.0"), 0);
	ck_assert_int_eq(req.method, HTTP_GET);
	release(&req);
}
END_TEST

START_TEST(test_router_testing_routes_hidden)
{
	struct api_request req;

	test_daemon.testing = false;
	ck_assert_int_eq(route(&req, HTTP_POST, "/internal/testing/operations"), -ENOENT);
	release(&req);
	test_daemon.testing = true;
	ck_assert_int_eq(route(&req, HTTP_POST, "/internal/testing/operations"), 0);
	release(&req);
	test_daemon.testing = false;
}
END_TEST

START_TEST(test_router_websocket_route)
{
	struct api_request req;

	ck_assert_int_eq(route(&req, HTTP_GET, "/1.0/events"), 0);
	ck_assert_ptr_nonnull(req.route->websocket);
	release(&req);
	ck_assert_int_eq(route(&req, HTTP_POST, "/1.0/events"), -ENOSYS);
	release(&req);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_router_matches_params);
	tcase_add_test(tc, test_router_404_and_405);
	tcase_add_test(tc, test_router_trailing_slash_and_head);
	tcase_add_test(tc, test_router_testing_routes_hidden);
	tcase_add_test(tc, test_router_websocket_route);
	suite_add_tcase(s, tc);
	return s;
}
