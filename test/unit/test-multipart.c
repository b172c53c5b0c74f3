/* test/unit/test-multipart.c: the streaming multipart/form-data parser, fed whole and one
 * byte at a time, with delimiter look-alikes in the content. */
#include <errno.h>
#include <string.h>

#include "lib/multipart.h"
#include "lib/str.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

struct collect {
	struct strbuf out; /* "[name|filename]content" per part */
	int fail_at_part;
};

static int on_begin(void *data, const char *name, const char *filename, struct error *err)
{
	struct collect *c = data;

	strbuf_addf(&c->out, "[%s|%s]", name, filename);
	return 0;
}

static int on_data(void *data, const void *buf, size_t len, struct error *err)
{
	struct collect *c = data;

	strbuf_add(&c->out, buf, len);
	return 0;
}

static int on_end(void *data, struct error *err)
{
	struct collect *c = data;

	strbuf_addch(&c->out, ';');
	return 0;
}

static const struct multipart_ops ops = { on_begin, on_data, on_end };

static int parse(const char *body, size_t len, size_t step, char **ret, struct error *err)
{
	struct collect c = { STRBUF_INIT, 0 };
	struct multipart_parser p;
	int r = 0;

	multipart_init(&p, "b0und", &ops, &c);
	for (size_t i = 0; i < len && r == 0; i += step)
		r = multipart_feed(&p, body + i, len - i < step ? len - i : step, err);
	if (r == 0)
		r = multipart_finish(&p, err);
	multipart_release(&p);
	*ret = strbuf_detach(&c.out);
	return r;
}

static const char body[] =
	"preamble\r\n"
	"--b0und\r\n"
	"Content-Disposition: form-data; name=\"metadata\"; filename=\"m \\\"q\\\".tgz\"\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"meta\r\n--b0un\r\r\n--b0unX\r\n"
	"\r\n--b0und  \r\n"
	"Content-Disposition: form-data; name=rootfs\r\n"
	"\r\n"
	"\r\n"
	"\r\n--b0und--\r\nepilogue";

START_TEST(test_multipart_whole_and_bytewise)
{
	static const char want[] =
		"[metadata|m \"q\".tgz]meta\r\n--b0un\r\r\n--b0unX\r\n;[rootfs|]\r\n;";

	for (size_t step = 1; step <= sizeof(body); step = step * 2 + 1) {
		struct error err = ERROR_INIT;
		autofree char *got = NULL;

		ck_assert_msg(parse(body, sizeof(body) - 1, step, &got, &err) == 0, "step %zu: %s",
			      step, error_message(&err));
		ck_assert_msg(streq(got, want), "step %zu: got '%s'", step, got);
	}
}
END_TEST

START_TEST(test_multipart_refused)
{
	static const char *const bad[] = {
		"--b0und\r\nContent-Disposition: form-data; name=a\r\n\r\nno end",
		"--b0undjunk\r\n\r\nx\r\n--b0und--",
		"nothing at all",
	};
	char *bounds = NULL;
	struct error err = ERROR_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		autofree char *got = NULL;

		ck_assert_msg(parse(bad[i], strlen(bad[i]), 7, &got, &err) == -EINVAL, "case %zu",
			      i);
		error_clear(&err);
	}
	ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=\"a b\"", &bounds, &err),
			 0);
	ck_assert_str_eq(bounds, "a b");
	free(bounds);
	ck_assert_int_eq(multipart_boundary("multipart/form-data", &bounds, &err), -EINVAL);
	error_clear(&err);
	ck_assert_int_eq(multipart_boundary("application/octet-stream", &bounds, &err), -EINVAL);
	error_clear(&err);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("multipart");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_multipart_whole_and_bytewise);
	tcase_add_test(tc, test_multipart_refused);
	suite_add_tcase(s, tc);
	return s;
}
