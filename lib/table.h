/* lib/table.h: tables as the LXD client prints them.
 *
 * TABLE_STYLE_BOX is `lxc list`'s default (tablewriter with row lines): a border of
 * "+---+", titles centred, cells left-aligned with one space of padding, a line after every
 * row, and a cell with newlines taking several lines. TABLE_STYLE_CSV prints the rows only,
 * quoted like Go's encoding/csv. Pure; never blocks.
 */
#pragma once

#include <stddef.h>

#include "macro.h"

enum table_style {
	TABLE_STYLE_BOX,
	TABLE_STYLE_CSV,
};

struct table;

/* A table with the given column titles (a NULL-terminated vector, copied). */
struct table *table_new(const char *const *titles);
void table_free(struct table *t);
DEFINE_FREEP(struct table, table_free)

size_t table_columns(const struct table *t);

/* Appends a row of table_columns() cells (copied; NULL prints as ""). */
void table_add_row(struct table *t, const char *const *cells);

/* Sorts the rows by the text of column col, then by the following columns (lxc's byName). */
void table_sort(struct table *t, size_t col);

/* The rendered table, ending with a newline (empty for a CSV without rows). The caller
 * frees. */
char *table_render(const struct table *t, enum table_style style);
