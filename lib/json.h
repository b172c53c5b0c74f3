/* lib/json.h: small helpers over jansson for reading client input and writing replies.
 *
 * Getters return the member when it exists with the right type, else NULL/false; they never
 * allocate. Parsers fill err with a sentence naming the problem (for 400 replies).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

/* jansson provides json_decrefp() for this. */
#define autojson autoclean(json_decrefp)

/* Parses a JSON document of at most len bytes; the top level must be an object (or any
 * value when any_type). -EINVAL with "Invalid JSON: <reason> at line L column C". */
int json_parse(const char *data, size_t len, bool any_type, json_t **ret, struct error *err);

/* Compact serialisation; never NULL. The caller frees. */
char *json_to_string(const json_t *j);

/* The string member key of obj, or NULL if absent or not a string. */
const char *json_get_str(const json_t *obj, const char *key);
/* True with *ret set if key is a boolean; false (ret untouched) otherwise. */
bool json_get_bool(const json_t *obj, const char *key, bool *ret);
bool json_get_int(const json_t *obj, const char *key, long long *ret);

/* Checks that member key is absent/null or of the given jansson type; -EINVAL naming the
 * key otherwise. */
int json_check_type(const json_t *obj, const char *key, json_type type, struct error *err);

/* A JSON array of the strings in a NULL-terminated vector. */
json_t *json_string_array(const char *const *strv);

/* RFC 3339 with nanoseconds in UTC, as Go prints time.Time: "2026-11-23T11:14:02.861940086Z".
 * A zero time prints as "0001-01-01T00:00:00Z". */
json_t *json_time(long long sec, long nsec);
char *time_format_rfc3339(long long sec, long nsec);
