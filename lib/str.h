/* lib/str.h: strings, parsing of numbers and sizes, and name validation.
 *
 * Every function here is pure (no I/O, no logging) and never blocks.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A growable string. Initialise with STRBUF_INIT; the buffer is always NUL-terminated. */
struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

#define STRBUF_INIT        \
	{                  \
		NULL, 0, 0 \
	}

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) _printf_(2, 0);
void strbuf_reset(struct strbuf *sb);
/* Returns the heap string (never NULL, "" when empty) and resets sb; the caller frees it. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* The current contents, "" when empty; valid until the next change. */
const char *strbuf_str(const struct strbuf *sb);

/* Heap-allocated printf; never NULL. */
char *str_printf(const char *fmt, ...) _printf_(1, 2);
char *str_vprintf(const char *fmt, va_list ap) _printf_(1, 0);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
bool str_is_empty(const char *s);

/* snprintf() that reports truncation as false. */
bool snprintf_ok(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

/* Decimal unsigned number, no sign, no spaces, no trailing junk, no overflow.
 * Returns 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t *ret);
/* Signed decimal, same rules. */
int parse_i64(const char *s, int64_t *ret);
/* "true"/"false" (also "1"/"0", "yes"/"no", "on"/"off", as LXD accepts). */
int parse_bool(const char *s, bool *ret);
/* Sizes as LXD writes them: "512", "10GiB", "1.5GB", "64MiB", "100kB"; bytes. */
int parse_size(const char *s, uint64_t *ret);

/* True when s contains no CR, LF or other control character: safe to write into a
 * line-based file or a single argument. */
bool str_is_single_line(const char *s);

/* The names clients give to objects (instances, profiles, pools, ...): 1..63 chars of
 * [A-Za-z0-9-_.], not starting with '-' or '.', and never "." or "..". Path-safe. */
bool object_name_is_valid(const char *name);

/* Lower-case hex of len bytes into a new string. */
char *hex_encode(const unsigned char *data, size_t len);

/* Standard base64 (RFC 4648, with padding) of len bytes, as a new string. */
char *base64_encode(const void *data, size_t len);

/* Decodes standard base64, skipping whitespace (PEM bodies come with newlines); padding
 * is optional. Returns a new buffer (NUL-terminated, not counted in *ret_len), or NULL for
 * any other character or a bad length. */
unsigned char *base64_decode(const char *s, size_t *ret_len);

/* n random bytes as 2n lower-case hex characters, from getrandom(). */
char *random_hex(size_t nbytes);

/* A random RFC 4122 version 4 UUID string. */
char *uuid_new(void);

/* Percent-decodes s (as in a URL path or query), "+" stays "+". Returns NULL for a bad
 * escape or an embedded NUL. */
char *url_decode(const char *s);
/* Percent-encodes everything but unreserved characters and '/'. */
char *url_encode_path(const char *s);
