#include "filter.h"

#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "str.h"

#include "banned.h"

#define FILTER_MAX_LEN	   4096
#define FILTER_MAX_CLAUSES 64

struct filter_clause {
	bool or ; /* joined to the previous result with "or" (else "and") */
	bool not ;
	bool ne;
	char *field;
	char *value;
	bool has_regex;
	regex_t regex;
};

struct filter {
	size_t n;
	struct filter_clause clauses[];
};

void filter_free(struct filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->clauses[i].field);
		free(f->clauses[i].value);
		if (f->clauses[i].has_regex)
			regfree(&f->clauses[i].regex);
	}
	free(f);
}

/* Splits s on spaces and tabs, as Go's strings.Fields. */
static char **fields_split(const char *s, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0;

	for (;;) {
		size_t len;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		len = strcspn(s, " \t");
		v = xrealloc(v, (n + 1) * sizeof(char *));
		v[n++] = xstrndup(s, len);
		s += len;
	}
	*ret_n = n;
	return v;
}

static void fields_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void clause_compile(struct filter_clause *c)
{
	autofree char *re = NULL;

	/* LXD anchors a value that does not anchor itself, and falls back to a literal
	 * comparison for values that are not valid expressions. */
	if (strchr(c->value, '^') || strchr(c->value, '$'))
		re = xstrdup(c->value);
	else
		re = str_printf("^(%s)$", c->value);
	c->has_regex = regcomp(&c->regex, re, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
}

int filter_parse(const char *s, struct filter **ret, struct error *err)
{
	autoclean(filter_freep) struct filter *f = NULL;
	char **parts = NULL;
	size_t n_parts = 0, i = 0;
	bool or = false;
	int r = 0;

	if (s && strlen(s) > FILTER_MAX_LEN)
		return error_set(err, -EINVAL, "Invalid filter: longer than %d characters",
				 FILTER_MAX_LEN);
	parts = fields_split(s ? s : "", &n_parts);
	f = xcalloc(1, sizeof(*f) + (n_parts / 3 + 1) * sizeof(struct filter_clause));

	while (i < n_parts) {
		struct filter_clause *c;
		struct strbuf value = STRBUF_INIT;

		if (f->n >= FILTER_MAX_CLAUSES) {
			r = error_set(err, -EINVAL, "Invalid filter: more than %d clauses",
				      FILTER_MAX_CLAUSES);
			goto out;
		}
		c = &f->clauses[f->n];
		if (strcasecmp(parts[i], "not") == 0) {
			c->not = true;
			if (++i == n_parts) {
				r = error_set(err, -EINVAL,
					      "Invalid filter: incomplete not clause");
				goto out;
			}
		}
		c->field = xstrdup(parts[i]);
		f->n++;
		if (++i == n_parts) {
			r = error_set(err, -EINVAL, "Invalid filter: clause has no operator");
			goto out;
		}
		if (streq(parts[i], "eq")) {
			c->ne = false;
		} else if (streq(parts[i], "ne")) {
			c->ne = true;
		} else {
			r = error_set(err, -EINVAL, "Invalid filter: unknown operator '%s'",
				      parts[i]);
			goto out;
		}
		if (++i == n_parts) {
			r = error_set(err, -EINVAL, "Invalid filter: clause has no value");
			goto out;
		}
		if (parts[i][0] == '"' && strlen(parts[i]) >= 2 && str_has_suffix(parts[i], "\"")) {
			strbuf_add(&value, parts[i] + 1, strlen(parts[i]) - 2);
		} else if (parts[i][0] == '"') {
			/* A quoted value spans the fields up to one ending in a quote. */
			strbuf_adds(&value, parts[i] + 1);
			do {
				if (++i == n_parts) {
					strbuf_release(&value);
					r = error_set(err, -EINVAL,
						      "Invalid filter: unterminated quote");
					goto out;
				}
				strbuf_addch(&value, ' ');
				strbuf_adds(&value, parts[i]);
			} while (!str_has_suffix(parts[i], "\""));
			value.buf[--value.len] = '\0';
		} else {
			strbuf_adds(&value, parts[i]);
		}
		c->value = strbuf_detach(&value);
		c->or = or ;
		clause_compile(c);
		i++;

		if (i < n_parts) {
			if (streq(parts[i], "and")) {
				or = false;
			} else if (streq(parts[i], "or")) {
				or = true;
			} else {
				r = error_set(err, -EINVAL,
					      "Invalid filter: expected 'and' or 'or', got '%s'",
					      parts[i]);
				goto out;
			}
			if (++i == n_parts) {
				r = error_set(err, -EINVAL,
					      "Invalid filter: unterminated compound clause");
				goto out;
			}
		}
	}
	*ret = take_ptr(f);
out:
	fields_free(parts, n_parts);
	return r;
}

/* The member named by a dotted path: a key holding the whole rest matches first, then the
 * path descends one dotted component at a time. */
static const json_t *filter_lookup(const json_t *obj, const char *path)
{
	const json_t *v;
	const char *dot;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, path);
	if (v)
		return v;
	for (dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
		autofree char *key = xstrndup(path, (size_t)(dot - path));

		v = json_object_get(obj, key);
		if (v && json_is_object(v)) {
			const json_t *found = filter_lookup(v, dot + 1);

			if (found)
				return found;
		}
	}
	return NULL;
}

static bool clause_match(const struct filter_clause *c, const json_t *obj)
{
	const json_t *v = filter_lookup(obj, c->field);
	bool match = false;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (c->has_regex)
			match = regexec(&c->regex, s, 0, NULL, 0) == 0;
		else
			match = strcasecmp(s, c->value) == 0;
	} else if (json_is_boolean(v)) {
		bool b;

		match = parse_bool(c->value, &b) == 0 && b == json_is_true(v);
	} else if (json_is_integer(v)) {
		int64_t n;

		match = parse_i64(c->value, &n) == 0 && n == (int64_t)json_integer_value(v);
	}
	if (c->ne)
		match = !match;
	if (c->not )
		match = !match;
	return match;
}

bool filter_match(const struct filter *f, const json_t *obj)
{
	bool match = true;

	if (!f)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		bool m = clause_match(&f->clauses[i], obj);

		match = f->clauses[i].or ? (match || m) : (match && m);
	}
	return match;
}
