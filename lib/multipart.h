/* lib/multipart.h: a streaming multipart/form-data parser (RFC 7578), for bodies too large
 * to hold in memory (split image uploads).
 *
 * Feed the body in pieces of any size; the parser calls part_begin() with each part's
 * form name and file name, part_data() with its content (in pieces), and part_end(). A
 * callback that returns a negative errno stops the parse with that error. Memory use is
 * bounded: a part's header block may not exceed MULTIPART_MAX_HEADERS bytes, and content
 * is never buffered. Pure: no I/O, no logging.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "str.h"

#define MULTIPART_MAX_BOUNDARY 200
#define MULTIPART_MAX_HEADERS  (16u << 10)

struct multipart_ops {
	/* name and filename are "" when the part has none. */
	int (*part_begin)(void *data, const char *name, const char *filename, struct error *err);
	int (*part_data)(void *data, const void *buf, size_t len, struct error *err);
	int (*part_end)(void *data, struct error *err);
};

enum multipart_state {
	MULTIPART_PREAMBLE,
	MULTIPART_AFTER_DELIMITER,
	MULTIPART_HEADERS,
	MULTIPART_BODY,
	MULTIPART_EPILOGUE,
};

struct multipart_parser {
	const struct multipart_ops *ops;
	void *data;
	char *delim; /* "\r\n--" boundary */
	size_t delim_len;
	size_t *fail;	/* KMP failure function of delim */
	size_t matched; /* bytes of delim matched so far */
	enum multipart_state state;
	struct strbuf line; /* AFTER_DELIMITER and HEADERS: the bytes seen so far */
	size_t n_parts;
};

/* The boundary parameter of a "multipart/form-data; boundary=..." Content-Type, as a new
 * string. -EINVAL naming the problem when content_type is not multipart/form-data or the
 * boundary is missing, empty or longer than MULTIPART_MAX_BOUNDARY. */
int multipart_boundary(const char *content_type, char **ret, struct error *err);

/* True when content_type is multipart/form-data (any parameters). */
bool multipart_is_form_data(const char *content_type);

void multipart_init(struct multipart_parser *p, const char *boundary,
		    const struct multipart_ops *ops, void *data);
void multipart_release(struct multipart_parser *p);

/* Parses the next len bytes. 0, or a negative errno (-EINVAL for malformed input, with a
 * message) from the parser or a callback. */
int multipart_feed(struct multipart_parser *p, const void *buf, size_t len, struct error *err);

/* Call at the end of the body: -EINVAL unless the closing delimiter was seen. */
int multipart_finish(struct multipart_parser *p, struct error *err);

/* Parses the whole multipart/form-data body in fd (read from its start with pread) whose
 * Content-Type is content_type, calling ops with data: multipart_init(), feed and finish in
 * one call. Blocks on reads. */
int multipart_parse_fd(int fd, const char *content_type, const struct multipart_ops *ops,
		       void *data, struct error *err);

/* Writing a multipart/form-data body to out: one part named name (with filename) holding
 * the whole file from (copied from its start, its position untouched), then the closing
 * delimiter. 0 or a negative errno. Block on I/O. */
int multipart_write_file(int out, const char *boundary, const char *name, const char *filename,
			 int from);
int multipart_write_end(int out, const char *boundary);
