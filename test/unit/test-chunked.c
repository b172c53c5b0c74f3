#include <errno.h>
#include <string.h>

#include "lib/chunked.h"
#include "lib/str.h"
#include "test/unit/unit.h"

#include "lib/banned.h"

static int collect(const char *data, size_t n, void *ctx)
{
	strbuf_add(ctx, data, n);
	return 0;
}

/* Feeds in pieces of size step; returns the decoder's final state. */
static enum chunked_state decode(const char *in, size_t step, struct strbuf *out, long *ret_last)
{
	struct chunked_decoder c;
	size_t len = strlen(in);

	chunked_init(&c);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		long r = chunked_feed(&c, in + off, n, collect, out);

		*ret_last = r;
		if (r < 0 || chunked_done(&c))
			break;
	}
	return c.state;
}

START_TEST(test_chunked_any_split)
{
	const char *in = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";

	for (size_t step = 1; step <= strlen(in); step++) {
		struct strbuf out = STRBUF_INIT;
		long last = 0;

		ck_assert_int_eq(decode(in, step, &out, &last), CHUNKED_DONE);
		ck_assert_str_eq(strbuf_str(&out), "hello, world");
		strbuf_release(&out);
	}
}
END_TEST

START_TEST(test_chunked_leaves_next_request)
{
	struct chunked_decoder c;
	struct strbuf out = STRBUF_INIT;
	const char *in = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";

	chunked_init(&c);
	ck_assert_int_eq(chunked_feed(&c, in, strlen(in), collect, &out), 13);
	ck_assert(chunked_done(&c));
	strbuf_release(&out);
}
END_TEST

START_TEST(test_chunked_refuses_garbage)
{
	static const char *const bad[] = {
		"zz\r\n",
		"5\r\nhelloXX",
		"fffffffffffffffffffff\r\n",
		"5 x\r\nhello\r\n",
		"00000000000000000000000000000000000000000000000000000000000000000000001\r\n",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct strbuf out = STRBUF_INIT;
		long last = 0;

		ck_assert_int_eq(decode(bad[i], 1000, &out, &last), CHUNKED_ERROR);
		ck_assert_int_eq(last, -EINVAL);
		strbuf_release(&out);
	}
}
END_TEST

START_TEST(test_chunked_trailer_cap)
{
	struct chunked_decoder c;
	struct strbuf out = STRBUF_INIT;
	char buf[10000];

	chunked_init(&c);
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(chunked_feed(&c, "0\r\n", 3, collect, &out), 3);
	ck_assert_int_eq(chunked_feed(&c, buf, sizeof(buf), collect, &out), -EINVAL);
	strbuf_release(&out);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("chunked");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_chunked_any_split);
	tcase_add_test(tc, test_chunked_leaves_next_request);
	tcase_add_test(tc, test_chunked_refuses_garbage);
	tcase_add_test(tc, test_chunked_trailer_cap);
	suite_add_tcase(s, tc);
	return s;
}
