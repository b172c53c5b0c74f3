/* lib/macro.h: scope-bound cleanup and small helpers used everywhere.
 *
 * autofree, autoclose, autofclose and autoclean(fn) release a variable when it leaves
 * scope. take_ptr()/take_fd() hand ownership on by returning the value and clearing the
 * variable, so the cleanup does nothing.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Closes *fd (when open) and marks it closed: a variable closed early by hand and again by
 * autoclose must not close a descriptor number another thread has been given since. */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		(void)close(*fd);
		errno = saved;
		*fd = -1;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

#define autoclean(fn) __attribute__((cleanup(fn)))
#define autofree      autoclean(freep)
#define autoclose     autoclean(closep)
#define autofclose    autoclean(fclosep)

#define take_ptr(p)                      \
	({                               \
		__typeof__(p) _tp = (p); \
		(p) = NULL;              \
		_tp;                     \
	})

#define take_fd(fd)             \
	({                      \
		int _tf = (fd); \
		(fd) = -1;      \
		_tf;            \
	})

/* DEFINE_FREEP(struct volume, volume_free) defines volume_freep() for autoclean(). */
#define DEFINE_FREEP(type, fn)             \
	static inline void fn##p(type **p) \
	{                                  \
		fn(*p);                    \
	}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define streq(a, b) (strcmp((a), (b)) == 0)

/* streq() that takes NULL: equal when both are NULL or both hold the same string. */
static inline _Bool streq_ptr(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_       __attribute__((unused))
#define _noreturn_     __attribute__((noreturn))

/* Allocation failure is not a condition this daemon can serve through: abort loudly. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
