/* daemon/api-operations.c: /1.0/operations. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/exec.h"
#include "daemon/operations.h"
#include "daemon/router.h"

#include "lib/banned.h"

static int operation_lookup(struct api_request *req, struct operation **ret)
{
	struct operation *op = operations_find(req->d->operations, api_param(req, "id"));

	if (!op || !operation_visible_to(op, &req->identity))
		return api_reply_errorf(req, -ENOENT, "Operation '%s' not found",
					api_param(req, "id"));
	*ret = op;
	return 0;
}

/* GET /1.0/operations */
static int api_operations_get(struct api_request *req)
{
	return api_reply_sync(req, operations_list(req->d->operations, req->project,
						   req->recursion > 0, &req->identity));
}

/* GET /1.0/operations/{id} */
static int api_operation_get(struct api_request *req)
{
	struct operation *op;
	int r;

	r = operation_lookup(req, &op);
	if (r < 0)
		return r;
	return api_reply_sync(req, operation_to_json(op));
}

/* DELETE /1.0/operations/{id} */
static int api_operation_delete(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct operation *op;
	int r;

	r = operation_lookup(req, &op);
	if (r < 0)
		return r;
	r = operation_cancel(op, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_sync(req, NULL);
}

/* GET /1.0/operations/{id}/wait?timeout=N: long-polls until the operation is done (-1 or
 * no timeout: no limit), then returns it. */
static int api_operation_wait(struct api_request *req)
{
	const char *timeout = api_query(req, "timeout");
	struct operation *op;
	double t = -1;
	char *end;
	int r;

	r = operation_lookup(req, &op);
	if (r < 0)
		return r;
	if (timeout && *timeout) {
		t = strtod(timeout, &end);
		if (*end || !isfinite(t) || t > 86400 * 365)
			return api_reply_errorf(req, -EINVAL, "Invalid timeout '%s'", timeout);
	}
	return operation_wait_reply(op, req, t < 0 ? -1 : t);
}

/* GET /1.0/operations/{id}/websocket?secret=: the streams of exec and console operations.
 * The secret alone identifies the stream (as with LXD), so this also serves untrusted TLS
 * clients that hold one. */
static int api_operation_websocket(struct api_request *req, struct ws_conn *ws)
{
	struct operation *op = operations_find(req->d->operations, api_param(req, "id"));

	if (!op || !exec_operation_is(op))
		return -ENOENT;
	return exec_websocket_connect(op, api_query(req, "secret"), ws);
}

const struct route api_operations_routes[] = {
	{ .path = "/1.0/operations", .handlers = { [HTTP_GET] = api_operations_get } },
	{ .path = "/1.0/operations/{id}",
	  .handlers = { [HTTP_GET] = api_operation_get, [HTTP_DELETE] = api_operation_delete } },
	{ .path = "/1.0/operations/{id}/wait", .handlers = { [HTTP_GET] = api_operation_wait } },
	{ .path = "/1.0/operations/{id}/websocket",
	  .websocket = api_operation_websocket,
	  .flags = ROUTE_UNTRUSTED },
	{},
};
