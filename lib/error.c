#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

#include "banned.h"

static _printf_(4, 0) int error_setv(struct error *err, int code, bool with_errno, const char *fmt,
				      va_list ap)
{
	char *msg;

	if (!err || err->code != 0)
		return code;

	msg = str_vprintf(fmt, ap);
	if (with_errno) {
		char *full = str_printf("%s: %s", msg, strerror(code < 0 ? -code : code));

		free(msg);
		msg = full;
	}
	err->code = code;
	err->msg = msg;
	return code;
}

int error_set(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = error_setv(err, code, false, fmt, ap);
	va_end(ap);
	return code;
}

int error_errno(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = error_setv(err, code, true, fmt, ap);
	va_end(ap);
	return code;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
	autofree char *prefix = NULL;
	va_list ap;

	if (!err || err->code == 0)
		return 0;

	va_start(ap, fmt);
	prefix = str_vprintf(fmt, ap);
	va_end(ap);

	char *full = str_printf("%s: %s", prefix, error_message(err));

	free(err->msg);
	err->msg = full;
	return err->code;
}

void error_clear(struct error *err)
{
	if (!err)
		return;
	free(err->msg);
	err->msg = NULL;
	err->code = 0;
}

const char *error_message(const struct error *err)
{
	if (!err || err->code == 0)
		return "Success";
	if (err->msg)
		return err->msg;
	return strerror(-err->code);
}
