#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "str.h"
/* Last, so that no system header follows its macros. */
#include "banned.h"

struct table {
	size_t columns;
	char **titles;
	char ***rows; /* rows[i][column] */
	size_t n_rows;
};

struct table *table_new(const char *const *titles)
{
	struct table *t = xcalloc(1, sizeof(*t));

	while (titles[t->columns])
		t->columns++;
	t->titles = xcalloc(t->columns, sizeof(*t->titles));
	for (size_t i = 0; i < t->columns; i++)
		t->titles[i] = xstrdup(titles[i]);
	return t;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_rows; i++) {
		for (size_t c = 0; c < t->columns; c++)
			free(t->rows[i][c]);
		free(t->rows[i]);
	}
	free(t->rows);
	for (size_t c = 0; c < t->columns; c++)
		free(t->titles[c]);
	free(t->titles);
	free(t);
}

size_t table_columns(const struct table *t)
{
	return t->columns;
}

void table_add_row(struct table *t, const char *const *cells)
{
	char **row = xcalloc(t->columns, sizeof(*row));

	for (size_t c = 0; c < t->columns; c++)
		row[c] = xstrdup(cells[c] ? cells[c] : "");
	t->rows = xrealloc(t->rows, (t->n_rows + 1) * sizeof(*t->rows));
	t->rows[t->n_rows++] = row;
}

struct sort_key {
	size_t col;
	size_t columns;
};

static int row_cmp(const void *a, const void *b, void *data)
{
	const struct sort_key *key = data;
	char *const *ra = *(char **const *)a;
	char *const *rb = *(char **const *)b;

	for (size_t c = key->col; c < key->columns; c++) {
		int r = strcmp(ra[c], rb[c]);

		if (r != 0)
			return r;
	}
	return 0;
}

void table_sort(struct table *t, size_t col)
{
	struct sort_key key = { .col = col, .columns = t->columns };

	if (col >= t->columns || t->n_rows < 2)
		return;
	qsort_r(t->rows, t->n_rows, sizeof(*t->rows), row_cmp, &key);
}

/* Characters, not bytes: UTF-8 continuation bytes take no column. */
static size_t display_width(const char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	}
	return w;
}

/* The width of the widest line of s. */
static size_t cell_width(const char *s)
{
	size_t w = 0;

	for (;;) {
		size_t len = strcspn(s, "\n");
		size_t lw = display_width(s, len);

		if (lw > w)
			w = lw;
		if (s[len] == '\0')
			return w;
		s += len + 1;
	}
}

static size_t cell_lines(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Line i of s (empty past its last line), as start and length. */
static const char *cell_line(const char *s, size_t i, size_t *ret_len)
{
	for (; i > 0; i--) {
		s = strchr(s, '\n');
		if (!s) {
			*ret_len = 0;
			return "";
		}
		s++;
	}
	*ret_len = strcspn(s, "\n");
	return s;
}

static void add_spaces(struct strbuf *sb, size_t n)
{
	while (n-- > 0)
		strbuf_addch(sb, ' ');
}

static void add_border(struct strbuf *sb, const size_t *widths, size_t columns)
{
	strbuf_addch(sb, '+');
	for (size_t c = 0; c < columns; c++) {
		for (size_t i = 0; i < widths[c] + 2; i++)
			strbuf_addch(sb, '-');
		strbuf_addch(sb, '+');
	}
	strbuf_addch(sb, '\n');
}

static void add_row(struct strbuf *sb, char *const *cells, const size_t *widths, size_t columns,
		    bool centre)
{
	size_t height = 1;

	for (size_t c = 0; c < columns; c++) {
		size_t h = cell_lines(cells[c]);

		if (h > height)
			height = h;
	}

	for (size_t line = 0; line < height; line++) {
		strbuf_addch(sb, '|');
		for (size_t c = 0; c < columns; c++) {
			size_t len;
			const char *s = cell_line(cells[c], line, &len);
			size_t gap = widths[c] - display_width(s, len);
			/* tablewriter centres with the odd space on the right. */
			size_t left = centre ? gap / 2 : 0;

			strbuf_addch(sb, ' ');
			add_spaces(sb, left);
			strbuf_add(sb, s, len);
			add_spaces(sb, gap - left);
			strbuf_adds(sb, " |");
		}
		strbuf_addch(sb, '\n');
	}
}

static char *render_box(const struct table *t)
{
	struct strbuf sb = STRBUF_INIT;
	autofree size_t *widths = xcalloc(t->columns + 1, sizeof(*widths));

	for (size_t c = 0; c < t->columns; c++) {
		widths[c] = cell_width(t->titles[c]);
		for (size_t i = 0; i < t->n_rows; i++) {
			size_t w = cell_width(t->rows[i][c]);

			if (w > widths[c])
				widths[c] = w;
		}
	}

	add_border(&sb, widths, t->columns);
	add_row(&sb, t->titles, widths, t->columns, true);
	add_border(&sb, widths, t->columns);
	for (size_t i = 0; i < t->n_rows; i++) {
		add_row(&sb, t->rows[i], widths, t->columns, false);
		add_border(&sb, widths, t->columns);
	}
	return strbuf_detach(&sb);
}

/* Go's encoding/csv quotes a field with a comma, quote, CR or LF, or a leading space. */
static bool csv_needs_quotes(const char *s)
{
	if (s[0] == '\0')
		return false;
	if (streq(s, "\\.") || strpbrk(s, ",\"\r\n"))
		return true;
	return s[0] == ' ' || s[0] == '\t';
}

static char *render_csv(const struct table *t)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < t->n_rows; i++) {
		for (size_t c = 0; c < t->columns; c++) {
			const char *s = t->rows[i][c];

			if (c > 0)
				strbuf_addch(&sb, ',');
			if (!csv_needs_quotes(s)) {
				strbuf_adds(&sb, s);
				continue;
			}
			strbuf_addch(&sb, '"');
			for (; *s; s++) {
				if (*s == '"')
					strbuf_addch(&sb, '"');
				strbuf_addch(&sb, *s);
			}
			strbuf_addch(&sb, '"');
		}
		strbuf_addch(&sb, '\n');
	}
	return strbuf_detach(&sb);
}

char *table_render(const struct table *t, enum table_style style)
{
	switch (style) {
	case TABLE_STYLE_CSV:
		return render_csv(t);
	case TABLE_STYLE_BOX:
		break;
	}
	return render_box(t);
}
