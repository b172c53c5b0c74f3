/* lib/chunked.h: an incremental decoder for HTTP/1.1 chunked transfer coding.
 *
 * Feed it bytes as they arrive, in pieces of any size; it hands out the payload and tells
 * when the terminating chunk (and trailers) ended. Hostile input is refused: chunk-size
 * lines longer than 64 bytes, sizes that overflow, bad CRLFs. Pure; never blocks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chunked_state {
	CHUNKED_SIZE,	 /* reading the hex size line */
	CHUNKED_DATA,	 /* inside a chunk */
	CHUNKED_DATA_CR, /* expecting CR after data */
	CHUNKED_DATA_LF, /* expecting LF after data */
	CHUNKED_TRAILER, /* reading trailer lines after the last chunk */
	CHUNKED_DONE,
	CHUNKED_ERROR,
};

struct chunked_decoder {
	enum chunked_state state;
	uint64_t remaining; /* bytes left in the current chunk */
	char line[64];
	size_t line_len;
	size_t trailer_bytes;
};

void chunked_init(struct chunked_decoder *c);

/* Consumes up to len bytes of in. For each payload piece calls out(data, n, ctx); a
 * negative return from out stops decoding and is returned. Returns the number of bytes
 * consumed (less than len only once done: the rest belongs to the next request), or
 * -EINVAL on malformed input. */
long chunked_feed(struct chunked_decoder *c, const char *in, size_t len,
		  int (*out)(const char *data, size_t n, void *ctx), void *ctx);

static inline bool chunked_done(const struct chunked_decoder *c)
{
	return c->state == CHUNKED_DONE;
}
