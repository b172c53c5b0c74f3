#include "chunked.h"

#include <errno.h>
#include <string.h>

#include "banned.h"

#define CHUNKED_MAX_TRAILER 8192

void chunked_init(struct chunked_decoder *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CHUNKED_SIZE;
}

static int hexdigit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "1a2b[;ext=..]" without the CRLF. */
static int parse_size_line(const char *line, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < len; i++) {
		int d = hexdigit(line[i]);

		if (d < 0)
			break;
		if (v >> 60)
			return -EINVAL; /* would overflow */
		v = v * 16 + (uint64_t)d;
	}
	if (i == 0)
		return -EINVAL;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != ';')
		return -EINVAL;
	*ret = v;
	return 0;
}

long chunked_feed(struct chunked_decoder *c, const char *in, size_t len,
		  int (*out)(const char *data, size_t n, void *ctx), void *ctx)
{
	size_t i = 0;

	while (i < len && c->state != CHUNKED_DONE) {
		char ch = in[i];

		switch (c->state) {
		case CHUNKED_SIZE:
			i++;
			if (ch == '\r')
				continue;
			if (ch != '\n') {
				if (c->line_len >= sizeof(c->line))
					goto fail;
				c->line[c->line_len++] = ch;
				continue;
			}
			if (parse_size_line(c->line, c->line_len, &c->remaining) < 0)
				goto fail;
			c->line_len = 0;
			c->state = c->remaining ? CHUNKED_DATA : CHUNKED_TRAILER;
			break;
		case CHUNKED_DATA: {
			size_t n = len - i;
			int r;

			if (n > c->remaining)
				n = (size_t)c->remaining;
			r = out(in + i, n, ctx);
			if (r < 0) {
				c->state = CHUNKED_ERROR;
				return r;
			}
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CHUNKED_DATA_CR;
			break;
		}
		case CHUNKED_DATA_CR:
			i++;
			if (ch == '\n') { /* tolerate a bare LF */
				c->state = CHUNKED_SIZE;
				break;
			}
			if (ch != '\r')
				goto fail;
			c->state = CHUNKED_DATA_LF;
			break;
		case CHUNKED_DATA_LF:
			i++;
			if (ch != '\n')
				goto fail;
			c->state = CHUNKED_SIZE;
			break;
		case CHUNKED_TRAILER:
			/* Trailer lines end with an empty line; line_len counts the current one. */
			i++;
			if (++c->trailer_bytes > CHUNKED_MAX_TRAILER)
				goto fail;
			if (ch == '\r')
				continue;
			if (ch == '\n') {
				if (c->line_len == 0)
					c->state = CHUNKED_DONE;
				c->line_len = 0;
				continue;
			}
			c->line_len = 1;
			break;
		case CHUNKED_DONE:
		case CHUNKED_ERROR:
			goto fail;
		}
	}
	return (long)i;

fail:
	c->state = CHUNKED_ERROR;
	return -EINVAL;
}
