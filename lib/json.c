#include "json.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "str.h"

#include "banned.h"

int json_parse(const char *data, size_t len, bool any_type, json_t **ret, struct error *err)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb(data, len, JSON_REJECT_DUPLICATES | (any_type ? JSON_DECODE_ANY : 0), &jerr);
	if (!j)
		return error_set(err, -EINVAL, "Invalid JSON: %s at line %d column %d", jerr.text,
				 jerr.line, jerr.column);
	if (!any_type && !json_is_object(j)) {
		json_decref(j);
		return error_set(err, -EINVAL, "Invalid JSON: expected an object");
	}
	*ret = j;
	return 0;
}

char *json_to_string(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!s)
		abort();
	return s;
}

const char *json_get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool json_get_bool(const json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v))
		return false;
	*ret = json_is_true(v);
	return true;
}

bool json_get_int(const json_t *obj, const char *key, long long *ret)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return true;
	}
	/* Go clients encode every number as a JSON number; some send 30.0. */
	if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v)) {
		*ret = (long long)json_real_value(v);
		return true;
	}
	return false;
}

static const char *json_type_name(json_type type)
{
	switch (type) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

int json_check_type(const json_t *obj, const char *key, json_type type, struct error *err)
{
	json_t *v = json_object_get(obj, key);
	json_type t;

	if (!v || json_is_null(v))
		return 0;
	t = json_typeof(v);
	if (t == type || (type == JSON_TRUE && t == JSON_FALSE) ||
	    (type == JSON_INTEGER && t == JSON_REAL))
		return 0;
	return error_set(err, -EINVAL, "Invalid value for '%s': expected %s", key,
			 json_type_name(type));
}

json_t *json_string_array(const char *const *strv)
{
	json_t *a = json_array();

	for (; strv && *strv; strv++)
		json_array_append_new(a, json_string(*strv));
	return a;
}

char *time_format_rfc3339(long long sec, long nsec)
{
	struct tm tm;
	time_t t = (time_t)sec;
	char frac[16] = "";
	size_t n;

	if (sec == 0 && nsec == 0)
		return xstrdup("0001-01-01T00:00:00Z");

	gmtime_r(&t, &tm);
	/* Go's RFC3339Nano: the fraction without trailing zeros, none at all when zero. */
	if (nsec > 0 && nsec < 1000000000L && snprintf_ok(frac, sizeof(frac), ".%09ld", nsec)) {
		n = strlen(frac);
		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	return str_printf("%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
			  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

json_t *json_time(long long sec, long nsec)
{
	autofree char *s = time_format_rfc3339(sec, nsec);

	return json_string(s);
}
