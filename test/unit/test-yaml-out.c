#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/yaml-out.h"
#include "test/unit/unit.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* The first event of api-compat-traces/monitor.txt and what `lxc monitor` printed. */
static const char event_json[] =
	"{\"type\":\"operation\",\"timestamp\":\"2026-11-23T11:26:09.46808302Z\",\"metadata\":{\"id\""
	":\"d870c8cd-443d-46d5-a4fc-98d1f0a73cb9\",\"class\":\"websocket\",\"description\":\"Execu"
	"ting command\",\"created_at\":\"2026-11-23T11:26:09.466545106Z\",\"updated_at\":\"2026-1"
	"1-23T11:26:09.466545106Z\",\"status\":\"Pending\",\"status_code\":105,\"resources\":{\"con"
	"tainers\":[\"/1.0/containers/apiprobe-1\"],\"instances\":[\"/1.0/instances/apiprobe-1\""
	"]},\"metadata\":{\"command\":[\"true\"],\"environment\":{\"HOME\":\"/root\",\"LANG\":\"C.UTF-8\""
	",\"PATH\":\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM\":\"x"
	"term\",\"USER\":\"root\"},\"fds\":{\"0\":\"c170cc652fd38e9540492bb9d816f8d4ae85cbdcf5d2107"
	"0f24207bd5703dd57\",\"1\":\"881b2bea6886abfe3d77afe42bb1f5b1567a3ecd472186c0ab259c0b"
	"b9b5c22d\",\"2\":\"2748cfb9be2d68bb0b52d18a563ae4e41853d643ee302d5aef334563c0aeb969\""
	",\"control\":\"cf3e4db6ce1037ac7a17402f65fad3776e1fd5c9ccb3770d001f76c6d2d2069d\"},\""
	"interactive\":false},\"may_cancel\":false,\"err\":\"\",\"location\":\"none\"},\"location\":\"n"
	"one\",\"project\":\"default\"}";
static const char event_yaml[] =
	"location: none\n"
	"metadata:\n"
	"  class: websocket\n"
	"  created_at: \"2026-11-23T11:26:09.466545106Z\"\n"
	"  description: Executing command\n"
	"  err: \"\"\n"
	"  id: d870c8cd-443d-46d5-a4fc-98d1f0a73cb9\n"
	"  location: none\n"
	"  may_cancel: false\n"
	"  metadata:\n"
	"    command:\n"
	"    - \"true\"\n"
	"    environment:\n"
	"      HOME: /root\n"
	"      LANG: C.UTF-8\n"
	"      PATH: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	"      TERM: xterm\n"
	"      USER: root\n"
	"    fds:\n"
	"      \"0\": c170cc652fd38e9540492bb9d816f8d4ae85cbdcf5d21070f24207bd5703dd57\n"
	"      \"1\": 881b2bea6886abfe3d77afe42bb1f5b1567a3ecd472186c0ab259c0bb9b5c22d\n"
	"      \"2\": 2748cfb9be2d68bb0b52d18a563ae4e41853d643ee302d5aef334563c0aeb969\n"
	"      control: cf3e4db6ce1037ac7a17402f65fad3776e1fd5c9ccb3770d001f76c6d2d2069d\n"
	"    interactive: false\n"
	"  resources:\n"
	"    containers:\n"
	"    - /1.0/containers/apiprobe-1\n"
	"    instances:\n"
	"    - /1.0/instances/apiprobe-1\n"
	"  status: Pending\n"
	"  status_code: 105\n"
	"  updated_at: \"2026-11-23T11:26:09.466545106Z\"\n"
	"project: default\n"
	"timestamp: \"2026-11-23T11:26:09.46808302Z\"\n"
	"type: operation\n";

/* Renders the JSON text and compares with the expected YAML. */
static void check_yaml(const char *json, enum yaml_out_flags flags, const char *expected)
{
	struct error err = ERROR_INIT;
	json_t *j = NULL;
	char *out = NULL;

	ck_assert_int_eq(json_parse(json, strlen(json), true, &j, &err), 0);
	ck_assert_int_eq(yaml_out_render(j, flags, &out, &err), 0);
	if (!streq(out, expected))
		ck_abort_msg("YAML of %s:\n%s\nwanted:\n%s", json, out, expected);
	free(out);
	json_decref(j);
}

START_TEST(test_yaml_block_style)
{
	check_yaml(
		"{\"config\":{},\"api_extensions\":[\"etag\",\"patch\"],\"api_status\":\"stable\","
		"\"public\":false,\"auth_methods\":[],\"count\":3,\"n\":true,\"x\":null,"
		"\"environment\":{\"addresses\":[],\"kernel_features\":{\"netnsid_getifaddrs\":\"true\"},"
		"\"server_pid\":1234}}",
		0,
		"config: {}\n"
		"api_extensions:\n"
		"- etag\n"
		"- patch\n"
		"api_status: stable\n"
		"public: false\n"
		"auth_methods: []\n"
		"count: 3\n"
		"\"n\": true\n"
		"x: null\n"
		"environment:\n"
		"  addresses: []\n"
		"  kernel_features:\n"
		"    netnsid_getifaddrs: \"true\"\n"
		"  server_pid: 1234\n");
}
END_TEST

START_TEST(test_yaml_nested_sequences)
{
	check_yaml("[{\"a\":1,\"b\":[[1,2],{\"c\":\"d\"}]},\"x\"]", 0,
		   "- a: 1\n"
		   "  b:\n"
		   "  - - 1\n"
		   "    - 2\n"
		   "  - c: d\n"
		   "- x\n");
}
END_TEST

START_TEST(test_yaml_quoting)
{
	check_yaml(
		"{\"empty\":\"\",\"bool\":\"true\",\"yes\":\"yes\",\"off\":\"OFF\",\"null\":\"null\","
		"\"tilde\":\"~\",\"int\":\"0\",\"neg\":\"-12\",\"float\":\"1.5\",\"exp\":\"1e5\","
		"\"hex\":\"0x1F\",\"under\":\"1_000\",\"octal\":\"0o17\",\"time\":\"2026-11-23T11:26:09Z\","
		"\"date\":\"2026-11-23\",\"base60\":\"1:20\",\"inf\":\".inf\",\"merge\":\"<<\","
		"\"plain\":\"hello world\",\"version\":\"5.0.2\",\"ip\":\"10.0.0.1/24\","
		"\"mac\":\"00:16:3e:aa:bb:cc\",\"colon\":\"a: b\",\"dash\":\"- x\",\"hash\":\"#c\","
		"\"star\":\"*x\",\"space\":\" lead\",\"notdate\":\"2026-13-01\",\"size\":\"10GiB\"}",
		0,
		"empty: \"\"\n"
		"bool: \"true\"\n"
		"\"yes\": \"yes\"\n"
		"\"off\": \"OFF\"\n"
		"\"null\": \"null\"\n"
		"tilde: \"~\"\n"
		"int: \"0\"\n"
		"neg: \"-12\"\n"
		"float: \"1.5\"\n"
		"exp: \"1e5\"\n"
		"hex: \"0x1F\"\n"
		"under: \"1_000\"\n"
		"octal: \"0o17\"\n"
		"time: \"2026-11-23T11:26:09Z\"\n"
		"date: \"2026-11-23\"\n"
		"base60: \"1:20\"\n"
		"inf: \".inf\"\n"
		"merge: \"<<\"\n"
		"plain: hello world\n"
		"version: 5.0.2\n"
		"ip: 10.0.0.1/24\n"
		"mac: 00:16:3e:aa:bb:cc\n"
		"colon: 'a: b'\n"
		"dash: '- x'\n"
		"hash: '#c'\n"
		"star: '*x'\n"
		"space: ' lead'\n"
		"notdate: 2026-13-01\n"
		"size: 10GiB\n");
}
END_TEST

START_TEST(test_yaml_multiline_and_unicode)
{
	check_yaml(
		"{\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\","
		"\"name\":\"caf\\u00e9\"}",
		0,
		"certificate: |\n"
		"  -----BEGIN CERTIFICATE-----\n"
		"  MIIB\n"
		"  -----END CERTIFICATE-----\n"
		"name: caf\xc3\xa9\n");
}
END_TEST

START_TEST(test_yaml_nul_byte)
{
	struct error err = ERROR_INIT;
	json_t *j = json_stringn("a\0b", 3);
	char *out = NULL;

	ck_assert_int_eq(yaml_out_render(j, 0, &out, &err), 0);
	ck_assert_str_eq(out, "\"a\\0b\"\n");
	free(out);
	json_decref(j);
}
END_TEST

START_TEST(test_yaml_numbers)
{
	check_yaml("[1.5,1e6,0.0001,100.0,0.1,-2.5e-7,123456.0,9007199254740993,-1]", 0,
		   "- 1.5\n"
		   "- 1e+06\n"
		   "- 0.0001\n"
		   "- 100\n"
		   "- 0.1\n"
		   "- -2.5e-07\n"
		   "- 123456\n"
		   "- 9007199254740993\n"
		   "- -1\n");
}
END_TEST

START_TEST(test_yaml_scalar_document)
{
	check_yaml("\"hello\"", 0, "hello\n");
	check_yaml("{}", 0, "{}\n");
	check_yaml("[]", 0, "[]\n");
}
END_TEST

START_TEST(test_yaml_sorted_like_lxc_monitor)
{
	check_yaml(event_json, YAML_OUT_SORT_KEYS, event_yaml);
}
END_TEST

START_TEST(test_yaml_key_order)
{
	ck_assert_int_lt(yaml_key_compare("eth2", "eth10"), 0);
	ck_assert_int_gt(yaml_key_compare("eth10", "eth2"), 0);
	ck_assert_int_lt(yaml_key_compare("status", "status_code"), 0);
	ck_assert_int_lt(yaml_key_compare("2", "control"), 0);
	ck_assert_int_lt(yaml_key_compare("a_b", "aB"), 0);
	ck_assert_int_lt(yaml_key_compare("HOME", "LANG"), 0);
	ck_assert_int_eq(yaml_key_compare("same", "same"), 0);
	check_yaml("{\"b\":1,\"a10\":2,\"a9\":3,\"A\":4}", YAML_OUT_SORT_KEYS,
		   "A: 4\na9: 3\na10: 2\nb: 1\n");
	check_yaml("{\"b\":1,\"a10\":2,\"a9\":3,\"A\":4}", 0, "b: 1\na10: 2\na9: 3\nA: 4\n");
}
END_TEST

START_TEST(test_yaml_needs_quotes)
{
	ck_assert(yaml_str_needs_quotes(""));
	ck_assert(yaml_str_needs_quotes("True"));
	ck_assert(yaml_str_needs_quotes("n"));
	ck_assert(yaml_str_needs_quotes("+1"));
	ck_assert(yaml_str_needs_quotes(".5"));
	ck_assert(yaml_str_needs_quotes("2026-11-23 11:14:02.5"));
	ck_assert(yaml_str_needs_quotes("2026-1-2T3:4:5+01:00"));
	ck_assert(!yaml_str_needs_quotes("2026-11-23T11:14:02"));
	ck_assert(!yaml_str_needs_quotes("1.2.3"));
	ck_assert(!yaml_str_needs_quotes("-"));
	ck_assert(!yaml_str_needs_quotes("1:75"));
	ck_assert(!yaml_str_needs_quotes("container"));
	ck_assert(!yaml_str_needs_quotes("0x"));
	ck_assert(!yaml_str_needs_quotes("0b102"));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("yaml-out");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_yaml_block_style);
	tcase_add_test(tc, test_yaml_nested_sequences);
	tcase_add_test(tc, test_yaml_quoting);
	tcase_add_test(tc, test_yaml_multiline_and_unicode);
	tcase_add_test(tc, test_yaml_nul_byte);
	tcase_add_test(tc, test_yaml_numbers);
	tcase_add_test(tc, test_yaml_scalar_document);
	tcase_add_test(tc, test_yaml_sorted_like_lxc_monitor);
	tcase_add_test(tc, test_yaml_key_order);
	tcase_add_test(tc, test_yaml_needs_quotes);
	suite_add_tcase(s, tc);
	return s;
}
