/* daemon/api-testing.c: routes that exist only under `lodged --testing`, for the test
 * suite to exercise machinery that real endpoints reach only with containers running:
 * an operation that sleeps (cancellable, reporting progress) and one that fails. */
#include <errno.h>
#include <time.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/operations.h"
#include "daemon/router.h"
#include "lib/json.h"
#include "lib/str.h"

#include "lib/banned.h"

static int sleep_run(struct operation *op, struct error *err)
{
	long long ms = (long long)(intptr_t)op->data;

	for (long long done = 0; done < ms; done += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (operation_is_cancelled(op))
			return error_set(err, -ECANCELED, "Operation cancelled");
		if (done % 100 == 0) {
			autofree char *pct = str_printf("%lld%%", done * 100 / ms);

			operation_merge_metadata(op, json_pack("{s:s}", "testing_progress", pct));
		}
		nanosleep(&ts, NULL);
	}
	if (ms < 0)
		return error_set(err, -EIO, "Failed as asked");
	return 0;
}

static const struct operation_ops sleep_ops = { .run = sleep_run };

/* POST /internal/testing/operations {"duration_ms": N, "fail": bool} */
static int api_testing_operation(struct api_request *req)
{
	autojson json_t *body = NULL;
	struct operation *op;
	long long ms = 0;
	bool fail = false;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	(void)json_get_int(body, "duration_ms", &ms);
	(void)json_get_bool(body, "fail", &fail);
	if (ms < 0 || ms > 600000)
		return api_reply_errorf(req, -EINVAL, "Invalid duration_ms");
	op = operation_new(req->d, OPERATION_TASK, "Testing operation", NULL, &sleep_ops,
			   (void *)(intptr_t)(fail ? -1 : ms));
	op->may_cancel = true;
	operation_ref(op);
	r = operation_start(op);
	if (r < 0) {
		operation_unref(op);
		return api_reply_errorf(req, r, "Failed to start the operation");
	}
	r = api_reply_async(req, op);
	operation_unref(op);
	return r;
}

const struct route api_testing_routes[] = {
	{ .path = "/internal/testing/operations",
	  .handlers = { [HTTP_POST] = api_testing_operation },
	  .flags = ROUTE_TESTING },
	{},
};
