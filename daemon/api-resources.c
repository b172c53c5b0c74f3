/* daemon/api-resources.c: GET /1.0/resources (what `lxc info --resources` shows). Reading
 * /sys takes ~10 ms, so it runs on a worker. */
#include <errno.h>
#include <stdlib.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/resources.h"
#include "daemon/router.h"
#include "lib/json.h"

#include "lib/banned.h"

static int resources_work(void *data, struct error *err)
{
	return resources_get(data, err);
}

static int resources_reply(struct api_request *req, void *data)
{
	json_t **result = data;

	return api_reply_sync(req, take_ptr(*result));
}

static void resources_free(void *data)
{
	json_t **result = data;

	json_decref(*result);
	free(result);
}

/* GET /1.0/resources */
static int api_resources_get(struct api_request *req)
{
	return api_reply_from_worker(req, resources_work, resources_reply, resources_free,
				     xcalloc(1, sizeof(json_t *)));
}

const struct route api_resources_routes[] = {
	{ .path = "/1.0/resources", .handlers = { [HTTP_GET] = api_resources_get } },
	{},
};
