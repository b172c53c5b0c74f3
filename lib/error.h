/* lib/error.h: a negative errno plus one sentence for the user.
 *
 * The first function that knows what went wrong fills the error; callers pass it up or add
 * context with error_prefix(). Every setter returns the code, so failing takes one line:
 *
 *	return error_errno(err, -errno, "Failed to create '%s'", path);
 *
 * err may be NULL when nobody will read it. Setting an error that is already set keeps the
 * first one: the innermost cause is the most precise.
 */
#pragma once

#include <stdbool.h>

#include "macro.h"

struct error {
	int code;  /* negative errno, 0 when unset */
	char *msg; /* heap, NULL when unset */
};

#define ERROR_INIT      \
	{               \
		0, NULL \
	}

/* Records code and a printf-formatted message; returns code. */
int error_set(struct error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Like error_set() and appends ": <strerror(-code)>". */
int error_errno(struct error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prepends "<prefix>: " to a set message; returns the code (0 if unset). */
int error_prefix(struct error *err, const char *fmt, ...) _printf_(2, 3);

/* Forgets the error, freeing its message. Safe on an unset error. */
void error_clear(struct error *err);

static inline bool error_is_set(const struct error *err)
{
	return err && err->code != 0;
}

/* The message, or a generic one derived from code when none was given. Never NULL. */
const char *error_message(const struct error *err);
