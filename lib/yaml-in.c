/* lib/yaml-in.c: YAML documents read into JSON, with libyaml's event API.
 *
 * The events are consumed directly (not through libyaml's document loader) so that aliases
 * can be refused outright: a document loader would happily expand a "billion laughs"
 * document. Depth and node count are capped too. */
#include "yaml-in.h"

#include <errno.h>
#include <string.h>
#include <yaml.h>

#include "json.h"
#include "str.h"
/* Last, so that no system header follows its macros. */
#include "banned.h"

#define YAML_MAX_DEPTH 32
#define YAML_MAX_NODES 100000

struct yaml_reader {
	const char *what;
	yaml_parser_t parser;
	yaml_event_t event;
	bool has_event;
	unsigned nodes;
};

static int reader_next(struct yaml_reader *y, struct error *err)
{
	if (y->has_event)
		yaml_event_delete(&y->event);
	y->has_event = false;
	if (!yaml_parser_parse(&y->parser, &y->event))
		return error_set(err, -EINVAL, "Invalid %s: %s at line %zu column %zu", y->what,
				 y->parser.problem ? y->parser.problem : "syntax error",
				 y->parser.problem_mark.line + 1,
				 y->parser.problem_mark.column + 1);
	y->has_event = true;
	return 0;
}

static int scalar_to_json(const struct yaml_reader *y, const yaml_event_t *ev, json_t **ret,
			  struct error *err)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	json_t *j;

	if (memchr(s, '\0', len))
		return error_set(err, -EINVAL, "Invalid %s: a value contains a NUL byte", y->what);
	j = json_stringn(s, len);
	if (!j)
		return error_set(err, -EINVAL, "Invalid %s: a value is not valid UTF-8", y->what);
	*ret = j;
	return 0;
}

/* Converts the node starting at the current event; leaves its last event current. */
static int node_to_json(struct yaml_reader *y, unsigned depth, json_t **ret, struct error *err)
{
	autojson json_t *j = NULL;
	int r;

	if (++y->nodes > YAML_MAX_NODES)
		return error_set(err, -EINVAL, "Invalid %s: more than %d nodes", y->what,
				 YAML_MAX_NODES);
	if (depth > YAML_MAX_DEPTH)
		return error_set(err, -EINVAL, "Invalid %s: nested deeper than %d levels", y->what,
				 YAML_MAX_DEPTH);

	switch (y->event.type) {
	case YAML_SCALAR_EVENT:
		return scalar_to_json(y, &y->event, ret, err);
	case YAML_ALIAS_EVENT:
		return error_set(err, -EINVAL, "Invalid %s: aliases are not allowed", y->what);
	case YAML_SEQUENCE_START_EVENT:
		j = json_array();
		for (;;) {
			json_t *item = NULL;

			r = reader_next(y, err);
			if (r < 0)
				return r;
			if (y->event.type == YAML_SEQUENCE_END_EVENT)
				break;
			r = node_to_json(y, depth + 1, &item, err);
			if (r < 0)
				return r;
			json_array_append_new(j, item);
		}
		break;
	case YAML_MAPPING_START_EVENT:
		j = json_object();
		for (;;) {
			autofree char *key = NULL;
			json_t *value = NULL;

			r = reader_next(y, err);
			if (r < 0)
				return r;
			if (y->event.type == YAML_MAPPING_END_EVENT)
				break;
			if (y->event.type != YAML_SCALAR_EVENT)
				return error_set(err, -EINVAL,
						 "Invalid %s: mapping keys must be strings",
						 y->what);
			if (memchr(y->event.data.scalar.value, '\0', y->event.data.scalar.length))
				return error_set(err, -EINVAL,
						 "Invalid %s: a key contains a NUL byte", y->what);
			key = xstrndup((const char *)y->event.data.scalar.value,
				       y->event.data.scalar.length);
			if (json_object_get(j, key))
				return error_set(err, -EINVAL,
						 "Invalid %s: key '%s' is defined twice", y->what,
						 key);
			r = reader_next(y, err);
			if (r < 0)
				return r;
			r = node_to_json(y, depth + 1, &value, err);
			if (r < 0)
				return r;
			if (json_object_set_new(j, key, value) < 0)
				return error_set(err, -EINVAL, "Invalid %s: key is not valid UTF-8",
						 y->what);
		}
		break;
	default:
		return error_set(err, -EINVAL, "Invalid %s: unexpected YAML event", y->what);
	}
	*ret = take_ptr(j);
	return 0;
}

int yaml_in_parse(const char *data, size_t len, const char *what, json_t **ret, struct error *err)
{
	struct yaml_reader y = { .what = what, .has_event = false };
	int r;

	if (!yaml_parser_initialize(&y.parser))
		return error_set(err, -ENOMEM, "Failed to initialise the YAML parser");
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)data, len);

	r = reader_next(&y, err); /* STREAM-START */
	if (r == 0)
		r = reader_next(&y, err);
	if (r == 0 && y.event.type != YAML_DOCUMENT_START_EVENT)
		r = error_set(err, -EINVAL, "Invalid %s: the file is empty", y.what);
	if (r == 0)
		r = reader_next(&y, err);
	if (r == 0)
		r = node_to_json(&y, 0, ret, err);

	if (y.has_event)
		yaml_event_delete(&y.event);
	yaml_parser_delete(&y.parser);
	return r;
}
