#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "json.h"
#include "str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "banned.h"

#define CONFIG_KEY_NAME_MAX 255

static bool config_key_name_is_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONFIG_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && !strchr("._:-", c))
			return false;
	}
	return true;
}

const struct config_key *config_key_find(const struct config_schema *schema, const char *name)
{
	const struct config_key *best = NULL;
	size_t best_len = 0;

	if (!name || !config_key_name_is_valid(name))
		return NULL;

	for (const struct config_key *k = schema->keys; k->name; k++) {
		size_t len = strlen(k->name);

		if (!(k->flags & CONFIG_KEY_PREFIX)) {
			if (streq(k->name, name))
				return k;
			continue;
		}
		/* A prefix key needs a suffix: "user." alone is not a key. */
		if (str_has_prefix(name, k->name) && name[len] != '\0' && len > best_len) {
			best = k;
			best_len = len;
		}
	}
	return best;
}

bool config_value_is_safe(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The key called name, or NULL with err saying why there is none. */
static const struct config_key *config_key_lookup(const struct config_schema *schema,
						  const char *name, struct error *err)
{
	const struct config_key *key = config_key_find(schema, name);

	if (key)
		return key;
	/* Only repeat the name to the user when it cannot break a log line. */
	if (!config_value_is_safe(name))
		(void)error_set(err, -EINVAL,
				"Invalid configuration key: control characters are not allowed");
	else if (!config_key_name_is_valid(name))
		(void)error_set(
			err, -EINVAL,
			"Invalid configuration key '%s': only letters, digits and '.', '_', ':', '-' are allowed",
			name);
	else
		(void)error_set(err, -EINVAL, "Unknown configuration key '%s'", name);
	return NULL;
}

static int config_key_check(const struct config_key *key, const char *name, const char *value,
			    struct error *err)
{
	uint64_t u;
	int64_t i;
	bool b;
	int r;

	if (!config_value_is_safe(value))
		return error_set(
			err, -EINVAL,
			"Invalid value for '%s': control characters (such as line breaks) are not allowed",
			name);

	switch (key->type) {
	case CONFIG_TYPE_STRING:
		break;
	case CONFIG_TYPE_BOOL:
		if (parse_bool(value, &b) < 0)
			return error_set(err, -EINVAL,
					 "Invalid value for '%s': expected true or false", name);
		break;
	case CONFIG_TYPE_INT:
		if (parse_i64(value, &i) < 0)
			return error_set(err, -EINVAL,
					 "Invalid value for '%s': expected an integer", name);
		break;
	case CONFIG_TYPE_SIZE:
		if (parse_size(value, &u) < 0)
			return error_set(
				err, -EINVAL,
				"Invalid value for '%s': expected a size such as 512MiB or 10GB",
				name);
		break;
	}

	if (key->validate) {
		r = key->validate(value, err);
		if (r < 0) {
			(void)error_prefix(err, "Invalid value for '%s'", name);
			return r;
		}
	}
	return 0;
}

int config_validate(const struct config_schema *schema, const char *name, const char *value,
		    struct error *err)
{
	const struct config_key *key = config_key_lookup(schema, name, err);

	if (!key)
		return -EINVAL;
	return config_key_check(key, name, value, err);
}

int config_value_from_json(const char *name, const json_t *value, char **ret, struct error *err)
{
	double d;

	switch (value ? json_typeof(value) : JSON_NULL) {
	case JSON_NULL:
		*ret = NULL;
		return 0;
	case JSON_STRING:
		/* jansson refuses \u0000 by default; make sure no NUL cut the string short. */
		if (strlen(json_string_value(value)) != json_string_length(value))
			return error_set(
				err, -EINVAL,
				"Invalid value for '%s': control characters (such as line breaks) are not allowed",
				name);
		*ret = str_is_empty(json_string_value(value)) ? NULL
							      : xstrdup(json_string_value(value));
		return 0;
	case JSON_TRUE:
		*ret = xstrdup("true");
		return 0;
	case JSON_FALSE:
		*ret = xstrdup("false");
		return 0;
	case JSON_INTEGER:
		*ret = str_printf("%" JSON_INTEGER_FORMAT, json_integer_value(value));
		return 0;
	case JSON_REAL:
		/* Go clients send every number as a float64; 30.0 means 30. */
		d = json_real_value(value);
		if (d == trunc(d) && fabs(d) < 9007199254740992.0)
			*ret = str_printf("%.0f", d);
		else
			*ret = str_printf("%.17g", d);
		return 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;
	}
	return error_set(err, -EINVAL,
			 "Invalid value for '%s': expected a string, a number or a boolean", name);
}

/* Validates and converts one value a client sent into the string to store. */
static int config_value_prepare(const struct config_key *key, const char *name, const char *value,
				char **ret, struct error *err)
{
	bool b;
	int r;

	r = config_key_check(key, name, value, err);
	if (r < 0)
		return r;

	if (key->type == CONFIG_TYPE_BOOL && parse_bool(value, &b) == 0)
		value = b ? "true" : "false";

	if (key->setter) {
		r = key->setter(value, ret, err);
		if (r < 0) {
			(void)error_prefix(err, "Invalid value for '%s'", name);
			return r;
		}
		return 0;
	}

	*ret = xstrdup(value);
	return 0;
}

/* The one implementation of config_normalize(), config_replace() and config_patch(). */
static int config_apply(const struct config_schema *schema, const json_t *current, const json_t *in,
			bool patch, json_t **ret, struct error *err)
{
	autojson json_t *result = NULL;
	const char *name;
	json_t *value;
	int r;

	if (in && !json_is_object(in) && !json_is_null(in))
		return error_set(err, -EINVAL, "Invalid %s configuration: expected an object",
				 schema->what);
	if (!json_is_object(current))
		current = NULL;

	result = patch && current ? json_deep_copy(current) : json_object();
	if (!result)
		abort();

	json_object_foreach((json_t *)in, name, value)
	{
		const struct config_key *key = config_key_lookup(schema, name, err);
		autofree char *text = NULL;
		autofree char *stored = NULL;
		json_t *keep;

		if (!key)
			return -EINVAL;

		if ((key->flags & CONFIG_KEY_HIDDEN) && json_is_true(value)) {
			keep = current ? json_object_get(current, name) : NULL;
			if (json_is_string(keep))
				(void)json_object_set(result, name, keep);
			else
				(void)json_object_del(result, name);
			continue;
		}

		r = config_value_from_json(name, value, &text, err);
		if (r < 0)
			return r;
		if (!text) {
			(void)json_object_del(result, name);
			continue;
		}

		r = config_value_prepare(key, name, text, &stored, err);
		if (r < 0)
			return r;

		/* json_string() refuses invalid UTF-8, which only a setter could produce. */
		if (json_object_set_new(result, name, json_string(stored)) < 0)
			return error_set(err, -EINVAL, "Invalid value for '%s': not valid UTF-8",
					 name);
	}

	*ret = take_ptr(result);
	return 0;
}

int config_normalize(const struct config_schema *schema, const json_t *in, json_t **ret,
		     struct error *err)
{
	return config_apply(schema, NULL, in, false, ret, err);
}

int config_replace(const struct config_schema *schema, const json_t *current, const json_t *in,
		   json_t **ret, struct error *err)
{
	return config_apply(schema, current, in, false, ret, err);
}

int config_patch(const struct config_schema *schema, const json_t *current, const json_t *patch,
		 json_t **ret, struct error *err)
{
	return config_apply(schema, current, patch, true, ret, err);
}

const char *config_get(const struct config_schema *schema, const json_t *values, const char *name)
{
	const struct config_key *key = config_key_find(schema, name);
	const char *value = json_get_str(values, name);

	if (!str_is_empty(value))
		return value;
	return key ? key->default_value : NULL;
}

static const char *config_default(const struct config_schema *schema, const char *name)
{
	const struct config_key *key = config_key_find(schema, name);

	return key ? key->default_value : NULL;
}

bool config_get_bool(const struct config_schema *schema, const json_t *values, const char *name)
{
	bool b = false;

	if (parse_bool(config_get(schema, values, name), &b) == 0)
		return b;
	if (parse_bool(config_default(schema, name), &b) == 0)
		return b;
	return false;
}

int64_t config_get_int(const struct config_schema *schema, const json_t *values, const char *name)
{
	int64_t i = 0;

	if (parse_i64(config_get(schema, values, name), &i) == 0)
		return i;
	if (parse_i64(config_default(schema, name), &i) == 0)
		return i;
	return 0;
}

uint64_t config_get_size(const struct config_schema *schema, const json_t *values, const char *name)
{
	uint64_t u = 0;

	if (parse_size(config_get(schema, values, name), &u) == 0)
		return u;
	if (parse_size(config_default(schema, name), &u) == 0)
		return u;
	return 0;
}

json_t *config_to_api(const struct config_schema *schema, const json_t *values)
{
	json_t *out = json_object();
	const char *name;
	json_t *value;

	json_object_foreach((json_t *)values, name, value)
	{
		const struct config_key *key = config_key_find(schema, name);

		if (key && (key->flags & CONFIG_KEY_HIDDEN))
			(void)json_object_set_new(out, name, json_true());
		else
			(void)json_object_set(out, name, value);
	}
	return out;
}

int config_validate_bool(const char *value, struct error *err)
{
	bool b;

	if (parse_bool(value, &b) < 0)
		return error_set(err, -EINVAL, "expected true or false");
	return 0;
}

int config_validate_uint(const char *value, struct error *err)
{
	uint64_t u;

	if (parse_u64(value, &u) < 0 || u > INT64_MAX)
		return error_set(err, -EINVAL, "expected a non-negative integer");
	return 0;
}

int config_validate_size(const char *value, struct error *err)
{
	uint64_t u;

	if (parse_size(value, &u) < 0)
		return error_set(err, -EINVAL, "expected a size such as 512MiB or 10GB");
	return 0;
}

int config_validate_one_of(const char *value, const char *const *allowed, struct error *err)
{
	struct strbuf sb = STRBUF_INIT;
	int r;

	for (const char *const *a = allowed; *a; a++)
		if (streq(value, *a))
			return 0;

	for (const char *const *a = allowed; *a; a++)
		strbuf_addf(&sb, "%s%s", a == allowed ? "" : ", ", *a);
	r = error_set(err, -EINVAL, "must be one of: %s", strbuf_str(&sb));
	strbuf_release(&sb);
	return r;
}

/* A DNS name: dot-separated labels of letters, digits and '-', not starting or ending with
 * '-'. IPv4 literals pass too. */
static bool hostname_is_valid(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

static bool ipv6_is_valid(const char *s, size_t len)
{
	autofree char *buf = NULL;
	struct in6_addr addr;

	if (len == 0 || len > INET6_ADDRSTRLEN)
		return false;
	buf = xstrndup(s, len);
	return inet_pton(AF_INET6, buf, &addr) == 1;
}

static int port_parse(const char *s, unsigned *ret, struct error *err)
{
	uint64_t port;

	if (parse_u64(s, &port) < 0 || port == 0 || port > 65535)
		return error_set(err, -EINVAL, "expected a port number between 1 and 65535");
	*ret = (unsigned)port;
	return 0;
}

int config_address_parse(const char *value, char **ret_host, unsigned *ret_port, struct error *err)
{
	const char *host = value;
	const char *port = NULL;
	const char *colon;
	size_t host_len;
	unsigned p = 0;
	int r;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (!close)
			return error_set(err, -EINVAL, "missing ']' after an IPv6 address");
		host = value + 1;
		host_len = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return error_set(err, -EINVAL, "expected ':' and a port after ']'");
		if (!ipv6_is_valid(host, host_len))
			return error_set(err, -EINVAL, "invalid IPv6 address");
	} else if ((colon = strrchr(value, ':')) && colon != strchr(value, ':')) {
		/* Several colons and no brackets: an IPv6 address without a port, as "::". */
		host_len = strlen(value);
		if (!ipv6_is_valid(host, host_len))
			return error_set(
				err, -EINVAL,
				"invalid address, write an IPv6 address with a port as [addr]:port");
	} else {
		host_len = colon ? (size_t)(colon - value) : strlen(value);
		if (colon)
			port = colon + 1;
		/* ":8443" listens on every address; an empty value is not an address. */
		if (!(host_len == 0 && colon) && !hostname_is_valid(host, host_len))
			return error_set(err, -EINVAL, "invalid host name or address");
	}

	if (port) {
		r = port_parse(port, &p, err);
		if (r < 0)
			return r;
	}

	if (ret_host)
		*ret_host = xstrndup(host, host_len);
	if (ret_port)
		*ret_port = p;
	return 0;
}

int config_validate_address(const char *value, struct error *err)
{
	return config_address_parse(value, NULL, NULL, err);
}

int config_validate_abspath(const char *value, struct error *err)
{
	const char *p = value;

	if (value[0] != '/')
		return error_set(err, -EINVAL, "expected an absolute path");
	if (strlen(value) >= 4096)
		return error_set(err, -EINVAL, "path too long");
	if (streq(value, "/"))
		return 0;

	/* Each component, between one '/' and the next, may not be empty, "." or "..". */
	while (*p == '/') {
		const char *start = p + 1;
		const char *end = strchrnul(start, '/');
		size_t len = (size_t)(end - start);

		if (len == 0 || (len == 1 && start[0] == '.') ||
		    (len == 2 && start[0] == '.' && start[1] == '.'))
			return error_set(
				err, -EINVAL,
				"expected a normalized path without empty, '.' or '..' components");
		p = end;
	}
	return 0;
}
