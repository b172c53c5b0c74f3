/* lib/filter.h: LXD's server-side list filters (the `api_filtering` extension), as in
 * `GET /1.0/images?filter=architecture eq x86_64 and public eq true`.
 *
 * Grammar, as LXD parses it: clauses joined by "and" / "or", evaluated left to right with
 * no precedence; a clause is [not] <field> <eq|ne> <value>, where value may be quoted with
 * double quotes to hold spaces. A field names a member of the API object: "architecture",
 * or a dotted path into nested objects: "properties.os", "config.image.os" (a key that
 * itself contains dots matches whole). String members match case-insensitively, as an
 * anchored extended regular expression when the value is one ("^busybox", "x86.*"), else
 * literally; booleans and numbers match their JSON spelling. Pure: no I/O, no logging.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

struct filter;

/* Parses s; an empty or NULL s gives a filter matching everything. -EINVAL with a message
 * naming the problem ("Invalid filter: clause has no value"). The caller frees *ret. */
int filter_parse(const char *s, struct filter **ret, struct error *err);
void filter_free(struct filter *f);
DEFINE_FREEP(struct filter, filter_free)

/* True when obj (an API object) passes the filter. */
bool filter_match(const struct filter *f, const json_t *obj);
