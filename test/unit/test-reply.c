#include <errno.h>
#include <string.h>

#include "daemon/api.h"
#include "lib/json.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

static json_t *reply_json(struct api_request *req)
{
	json_t *j = NULL;

	ck_assert_int_eq(
		json_parse(strbuf_str(&req->reply_body), req->reply_body.len, false, &j, NULL), 0);
	return j;
}

static void req_init(struct api_request *req)
{
	memset(req, 0, sizeof(*req));
	req->reply_fd = -1;
	req->body_fd = -1;
	req->path = (char *)"/1.0/x";
}

static void req_release(struct api_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->reply_content_type);
	strbuf_release(&req->reply_body);
}

START_TEST(test_reply_sync_envelope)
{
	struct api_request req;
	autojson json_t *j = NULL;

	req_init(&req);
	api_reply_sync(&req, json_pack("{s:s}", "a", "b"));
	ck_assert_int_eq(req.status, 200);
	j = reply_json(&req);
	ck_assert_str_eq(json_get_str(j, "type"), "sync");
	ck_assert_str_eq(json_get_str(j, "status"), "Success");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status_code")), 200);
	ck_assert_str_eq(json_get_str(j, "operation"), "");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "error_code")), 0);
	ck_assert_str_eq(json_get_str(j, "error"), "");
	ck_assert_str_eq(json_get_str(json_object_get(j, "metadata"), "a"), "b");
	/* The key order the clients saw from LXD. */
	ck_assert(strncmp(strbuf_str(&req.reply_body), "{\"type\":\"sync\",\"status\":", 24) == 0);
	req_release(&req);
}
END_TEST

START_TEST(test_reply_error_maps_status)
{
	static const struct {
		int code, status;
	} cases[] = { { -ENOENT, 404 }, { -EEXIST, 409 }, { -EINVAL, 400 }, { -EPERM, 403 },
		      { -EACCES, 403 }, { -ENOSYS, 405 }, { -EFBIG, 413 },  { -EIO, 500 } };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct api_request req;
		autojson json_t *j = NULL;

		req_init(&req);
		api_reply_errorf(&req, cases[i].code, "Thing '%s' broke", "x");
		ck_assert_int_eq(req.status, cases[i].status);
		j = reply_json(&req);
		ck_assert_str_eq(json_get_str(j, "type"), "error");
		ck_assert_int_eq(json_integer_value(json_object_get(j, "error_code")),
				 cases[i].status);
		ck_assert_str_eq(json_get_str(j, "error"), "Thing 'x' broke");
		ck_assert(json_is_null(json_object_get(j, "metadata")));
		req_release(&req);
	}
}
END_TEST

START_TEST(test_reply_created_location)
{
	struct api_request req;

	req_init(&req);
	api_reply_created(&req, "/1.0/profiles/p1");
	ck_assert_int_eq(req.status, 201);
	ck_assert_uint_eq(req.n_headers, 1);
	ck_assert_str_eq(req.headers[0].name, "Location");
	ck_assert_str_eq(req.headers[0].value, "/1.0/profiles/p1");
	req_release(&req);
}
END_TEST

START_TEST(test_etag_check)
{
	struct api_request req;
	autojson json_t *v = json_pack("{s:s}", "k", "v");
	autofree char *etag = api_etag(v);
	autofree char *quoted = str_printf("\"%s\"", etag);

	ck_assert_uint_eq(strlen(etag), 64);
	req_init(&req);
	ck_assert_int_eq(api_request_check_etag(&req, v), 0); /* no If-Match */
	req.if_match = quoted;
	ck_assert_int_eq(api_request_check_etag(&req, v), 0);
	req.if_match = (char *)"\"0000\"";
	ck_assert_int_eq(api_request_check_etag(&req, v), -EAGAIN);
	ck_assert_int_eq(req.status, 412);
	req_release(&req);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_reply_sync_envelope);
	tcase_add_test(tc, test_reply_error_maps_status);
	tcase_add_test(tc, test_reply_created_location);
	tcase_add_test(tc, test_etag_check);
	suite_add_tcase(s, tc);
	return s;
}
