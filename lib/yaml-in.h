/* lib/yaml-in.c: YAML documents read into JSON (image metadata.yaml, `lodge ... edit`).
 *
 * Scalars all become JSON strings (YAML 1.1 typing is the reader's business: "true" stays
 * "true"); mappings become objects, sequences arrays. Aliases, duplicate keys, NUL bytes and
 * invalid UTF-8 are refused, depth and node count are capped. Pure; never blocks.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "error.h"

/* The first document of data (len bytes) as JSON in *ret (the caller's). Messages start
 * with "Invalid <what>: " ("Invalid metadata.yaml: aliases are not allowed"); -EINVAL. */
int yaml_in_parse(const char *data, size_t len, const char *what, json_t **ret, struct error *err);
