/* daemon/api-error.c: the one table mapping our negative errno codes to HTTP statuses. */
#include <errno.h>

#include "daemon/api.h"
#include "lib/macro.h"

#include "lib/banned.h"

static const struct {
	int code;
	int status;
} error_statuses[] = {
	{ -ENOENT, 404 },    { -EEXIST, 409 },	     { -EINVAL, 400 },	   { -EPERM, 403 },
	{ -EACCES, 403 },    { -ENOSYS, 405 },	     { -EFBIG, 413 },	   { -EBUSY, 409 },
	{ -ENOTEMPTY, 409 }, { -ECANCELED, 400 },    { -EAGAIN, 412 },	   { -ETIMEDOUT, 504 },
	{ -ERANGE, 400 },    { -ENAMETOOLONG, 400 }, { -EOPNOTSUPP, 501 }, { -ENOTSUP, 501 },
	{ -EUNATCH, 503 },
};

int api_error_status(int code)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_statuses); i++)
		if (error_statuses[i].code == code)
			return error_statuses[i].status;
	return 500;
}
