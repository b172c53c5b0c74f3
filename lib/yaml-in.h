/* lib/yaml-in.h: YAML documents read as JSON (image metadata.yaml, `lodged init --preseed`).
 *
 * Every scalar becomes a JSON string (LXD's config values are strings anyway; callers
 * check types they need). Aliases, non-string keys, duplicate keys, NUL bytes, invalid
 * UTF-8, more than 100000 nodes and nesting deeper than 32 levels are refused, with
 * messages that start "Invalid <what>: ".
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "lib/error.h"

/* The first document of data (len bytes) as a new JSON value. */
int yaml_to_json(const char *data, size_t len, const char *what, json_t **ret, struct error *err);
