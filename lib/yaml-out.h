/* lib/yaml-out.h: JSON values printed as YAML, the way `lxc ... show` prints them.
 *
 * Block style, two-space indents, sequences inside mappings not indented ("key:\n- a"),
 * empty containers as {} and [], lines folded near 80 columns: what Go's yaml.v2 (which
 * the LXD client uses) writes through the same libyaml emitter. Strings that YAML 1.1 would
 * read back as something else ("true", "0", "", "2026-11-23T11:26:09Z", "null", ...) are
 * double-quoted, strings with a newline use the literal style "|". Keys keep the object's
 * order unless YAML_OUT_SORT_KEYS asks for the order yaml.v2 gives Go maps.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

enum yaml_out_flags {
	YAML_OUT_SORT_KEYS = 1 << 0,
};

/* Renders j as one YAML document into *ret (heap, NUL-terminated, ends with a newline).
 * -EIO if libyaml fails. */
int yaml_out_render(const json_t *j, enum yaml_out_flags flags, char **ret, struct error *err);

/* yaml_out_render() written to f. */
int yaml_out_print(FILE *f, const json_t *j, enum yaml_out_flags flags, struct error *err);

/* True when s, written plain, would read back as a null, bool, number or timestamp. */
bool yaml_str_needs_quotes(const char *s);

/* strcmp() as yaml.v2 sorts map keys: letters after other characters, digit runs compared
 * as numbers ("eth2" < "eth10"). */
int yaml_key_compare(const char *a, const char *b);
