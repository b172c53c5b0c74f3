#include "yaml-out.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "str.h"
/* Last, so that no system header follows its macros. */
#include "banned.h"

static const char *const yaml_special_words[] = {
	/* null */
	"~",
	"null",
	"Null",
	"NULL",
	/* YAML 1.1 booleans, which yaml.v2 still reads */
	"y",
	"Y",
	"yes",
	"Yes",
	"YES",
	"n",
	"N",
	"no",
	"No",
	"NO",
	"true",
	"True",
	"TRUE",
	"false",
	"False",
	"FALSE",
	"on",
	"On",
	"ON",
	"off",
	"Off",
	"OFF",
	/* floats */
	".inf",
	".Inf",
	".INF",
	"+.inf",
	"+.Inf",
	"+.INF",
	"-.inf",
	"-.Inf",
	"-.INF",
	".nan",
	".NaN",
	".NAN",
	/* the merge key */
	"<<",
};

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Up to max digits at *p (at least one); advances p. */
static bool take_number(const char **p, int max, int *ret)
{
	int v = 0, n = 0;

	while (n < max && is_digit(**p)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*ret = v;
	return n > 0;
}

/* The timestamps yaml.v2 recognises: "2006-1-2", "2006-1-2 15:4:5[.9]" and
 * "2006-1-2T15:4:5[.9](Z|+07:00)". */
static bool looks_like_timestamp(const char *s)
{
	const char *p = s + 4;
	int mon, day, hour, min, sec, oh, om;
	char sep;

	if (strlen(s) < 8 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) ||
	    !is_digit(s[3]) || *p++ != '-')
		return false;
	if (!take_number(&p, 2, &mon) || *p++ != '-' || !take_number(&p, 2, &day))
		return false;
	if (mon < 1 || mon > 12 || day < 1 || day > 31)
		return false;
	if (*p == '\0')
		return true;

	sep = *p++;
	if (sep != 'T' && sep != 't' && sep != ' ')
		return false;
	if (!take_number(&p, 2, &hour) || *p++ != ':' || !take_number(&p, 2, &min) || *p++ != ':' ||
	    !take_number(&p, 2, &sec) || hour > 23 || min > 59 || sec > 59)
		return false;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	if (sep == ' ')
		return *p == '\0';
	if (*p == 'Z')
		return p[1] == '\0';
	if (*p != '+' && *p != '-')
		return false;
	p++;
	return take_number(&p, 2, &oh) && *p++ == ':' && take_number(&p, 2, &om) && *p == '\0' &&
	       oh < 24 && om < 60;
}

/* "1:20", "-190:20:30.15": the sexagesimal numbers of YAML 1.1,
 * ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool looks_like_base60(const char *s)
{
	const char *p = s;

	if (*p == '+' || *p == '-')
		p++;
	if (!is_digit(*p))
		return false;
	while (is_digit(*p) || *p == '_')
		p++;
	if (*p != ':')
		return false;
	while (*p == ':') {
		p++;
		if (is_digit(p[0]) && is_digit(p[1])) {
			if (p[0] > '5')
				return false;
			p += 2;
		} else if (is_digit(p[0])) {
			p++;
		} else {
			return false;
		}
	}
	if (*p == '.') {
		p++;
		while (is_digit(*p) || *p == '_')
			p++;
	}
	return *p == '\0';
}

static bool looks_like_number(const char *s)
{
	autofree char *plain = xmalloc(strlen(s) + 1);
	const char *digits;
	char *end;
	size_t n = 0;

	/* yaml.v2 drops underscores before parsing: "1_000" is a number. */
	for (const char *p = s; *p; p++) {
		if (*p != '_')
			plain[n++] = *p;
	}
	plain[n] = '\0';
	if (n == 0)
		return false;

	digits = plain + (plain[0] == '+' || plain[0] == '-');
	if (digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'o') && digits[2]) {
		const char *set = digits[1] == 'b' ? "01" : "01234567";

		return strspn(digits + 2, set) == strlen(digits + 2);
	}

	(void)strtoll(plain, &end, 0);
	if (*end == '\0')
		return true;
	(void)strtoull(plain, &end, 0);
	if (*end == '\0')
		return true;
	(void)strtod(plain, &end);
	return *end == '\0';
}

bool yaml_str_needs_quotes(const char *s)
{
	if (s[0] == '\0')
		return true;
	for (size_t i = 0; i < sizeof(yaml_special_words) / sizeof(yaml_special_words[0]); i++) {
		if (streq(s, yaml_special_words[i]))
			return true;
	}
	/* Only these first characters start a number or a timestamp in yaml.v2. */
	if (!strchr("+-.0123456789", s[0]))
		return false;
	return looks_like_number(s) || looks_like_timestamp(s) || looks_like_base60(s);
}

static bool is_letter(unsigned char ch)
{
	/* Multi-byte UTF-8 characters count as letters; most are. */
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

/* yaml.v2's keyList.Less() for two strings. */
static bool key_less(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	for (size_t i = 0; i < la && i < lb; i++) {
		unsigned long long an = 0, bn = 0;
		size_t ai, bi;
		bool al, bl;

		if (a[i] == b[i])
			continue;
		al = is_letter((unsigned char)a[i]);
		bl = is_letter((unsigned char)b[i]);
		if (al && bl)
			return (unsigned char)a[i] < (unsigned char)b[i];
		if (al || bl)
			return bl;
		/* A run of digits that only has leading zeros so far: "0" < "00" stays textual. */
		if (a[i] == '0' || b[i] == '0') {
			for (size_t j = i; j > 0 && is_digit(a[j - 1]); j--) {
				if (a[j - 1] != '0') {
					an = 1;
					bn = 1;
					break;
				}
			}
		}
		for (ai = i; ai < la && is_digit(a[ai]); ai++)
			an = an * 10 + (unsigned)(a[ai] - '0');
		for (bi = i; bi < lb && is_digit(b[bi]); bi++)
			bn = bn * 10 + (unsigned)(b[bi] - '0');
		if (an != bn)
			return an < bn;
		if (ai != bi)
			return ai < bi;
		return (unsigned char)a[i] < (unsigned char)b[i];
	}
	return la < lb;
}

int yaml_key_compare(const char *a, const char *b)
{
	if (key_less(a, b))
		return -1;
	if (key_less(b, a))
		return 1;
	return strcmp(a, b);
}

static int key_cmp(const void *a, const void *b)
{
	return yaml_key_compare(*(const char *const *)a, *(const char *const *)b);
}

/* Go's strconv.FormatFloat(f, 'g', -1, 64): the shortest digits that read back as f,
 * exponent form below 1e-4 and from 1e6 on. */
static void format_real(double v, char *buf, size_t size)
{
	char tmp[64];
	int prec, exp;

	if (isnan(v)) {
		(void)snprintf_ok(buf, size, ".nan");
		return;
	}
	if (isinf(v)) {
		(void)snprintf_ok(buf, size, v > 0 ? ".inf" : "-.inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		if (snprintf_ok(tmp, sizeof(tmp), "%.*e", prec - 1, v) && strtod(tmp, NULL) == v)
			break;
	}
	(void)snprintf_ok(tmp, sizeof(tmp), "%.*e", prec - 1, v);
	exp = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
	if (exp < -4 || exp >= 6)
		(void)snprintf_ok(buf, size, "%s", tmp);
	else
		(void)snprintf_ok(buf, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev, struct error *err)
{
	if (!yaml_emitter_emit(e, ev))
		return error_set(err, -EIO, "Failed to write YAML: %s",
				 e->problem ? e->problem : "unknown error");
	return 0;
}

static int emit_scalar(yaml_emitter_t *e, const char *value, size_t len, yaml_scalar_style_t style,
		       struct error *err)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, (int)len, 1, 1,
					  style))
		return error_set(err, -EIO, "Failed to write YAML");
	return emit(e, &ev, err);
}

static int emit_string(yaml_emitter_t *e, const char *s, size_t len, struct error *err)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;

	/* yaml.v2 chooses the same way; the emitter falls back to quotes itself where the
	 * chosen style cannot hold the string (": ", leading "- ", trailing spaces, ...). */
	if (memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (strlen(s) != len || yaml_str_needs_quotes(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return emit_scalar(e, s, len, style, err);
}

static int emit_value(yaml_emitter_t *e, const json_t *j, enum yaml_out_flags flags,
		      struct error *err);

static int emit_object(yaml_emitter_t *e, const json_t *j, enum yaml_out_flags flags,
		       struct error *err)
{
	size_t n = json_object_size(j);
	autofree const char **keys = xcalloc(n + 1, sizeof(*keys));
	yaml_event_t ev;
	size_t i = 0;
	int r;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	r = emit(e, &ev, err);
	if (r < 0)
		return r;

	for (void *it = json_object_iter((json_t *)j); it;
	     it = json_object_iter_next((json_t *)j, it))
		keys[i++] = json_object_iter_key(it);
	if (flags & YAML_OUT_SORT_KEYS)
		qsort(keys, n, sizeof(*keys), key_cmp);

	for (i = 0; i < n; i++) {
		r = emit_string(e, keys[i], strlen(keys[i]), err);
		if (r < 0)
			return r;
		r = emit_value(e, json_object_get(j, keys[i]), flags, err);
		if (r < 0)
			return r;
	}

	yaml_mapping_end_event_initialize(&ev);
	return emit(e, &ev, err);
}

static int emit_array(yaml_emitter_t *e, const json_t *j, enum yaml_out_flags flags,
		      struct error *err)
{
	yaml_event_t ev;
	size_t i;
	json_t *v;
	int r;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	r = emit(e, &ev, err);
	if (r < 0)
		return r;

	for (i = 0; i < json_array_size(j) && (v = json_array_get(j, i)); i++) {
		r = emit_value(e, v, flags, err);
		if (r < 0)
			return r;
	}

	yaml_sequence_end_event_initialize(&ev);
	return emit(e, &ev, err);
}

static int emit_value(yaml_emitter_t *e, const json_t *j, enum yaml_out_flags flags,
		      struct error *err)
{
	char buf[64];

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return emit_object(e, j, flags, err);
	case JSON_ARRAY:
		return emit_array(e, j, flags, err);
	case JSON_STRING:
		return emit_string(e, json_string_value(j), json_string_length(j), err);
	case JSON_INTEGER:
		(void)snprintf_ok(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return emit_scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE, err);
	case JSON_REAL:
		format_real(json_real_value(j), buf, sizeof(buf));
		return emit_scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE, err);
	case JSON_TRUE:
		return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE, err);
	case JSON_FALSE:
		return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE, err);
	case JSON_NULL:
		return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE, err);
	}
	return error_set(err, -EINVAL, "Cannot write this JSON value as YAML");
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	strbuf_add(data, buffer, size);
	return 1;
}

static void emitter_deletep(yaml_emitter_t *e)
{
	yaml_emitter_delete(e);
}

int yaml_out_render(const json_t *j, enum yaml_out_flags flags, char **ret, struct error *err)
{
	autoclean(strbuf_release) struct strbuf sb = STRBUF_INIT;
	autoclean(emitter_deletep) yaml_emitter_t e;
	yaml_event_t ev;
	int r;

	if (!yaml_emitter_initialize(&e))
		abort();
	yaml_emitter_set_output(&e, write_handler, &sb);
	yaml_emitter_set_unicode(&e, 1);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	r = emit(&e, &ev, err);
	if (r < 0)
		return r;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	r = emit(&e, &ev, err);
	if (r < 0)
		return r;
	r = emit_value(&e, j, flags, err);
	if (r < 0)
		return r;
	yaml_document_end_event_initialize(&ev, 1);
	r = emit(&e, &ev, err);
	if (r < 0)
		return r;
	yaml_stream_end_event_initialize(&ev);
	r = emit(&e, &ev, err);
	if (r < 0)
		return r;
	if (!yaml_emitter_flush(&e))
		return error_set(err, -EIO, "Failed to write YAML");

	*ret = strbuf_detach(&sb);
	return 0;
}

int yaml_out_print(FILE *f, const json_t *j, enum yaml_out_flags flags, struct error *err)
{
	autofree char *s = NULL;
	int r;

	r = yaml_out_render(j, flags, &s, err);
	if (r < 0)
		return r;
	if (fputs(s, f) == EOF)
		return error_errno(err, -EIO, "Failed to write the output");
	return 0;
}
