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

struct resources_job {
	struct api_request *req;
	json_t *result;
	struct error err;
	int r;
};

static void resources_job_run(void *data)
{
	struct resources_job *job = data;

	job->r = resources_get(&job->result, &job->err);
}

static void resources_job_done(void *data)
{
	struct resources_job *job = data;

	if (job->r < 0)
		(void)api_reply_error(job->req, &job->err);
	else
		(void)api_reply_sync(job->req, job->result);
	api_request_finish(job->req);
	error_clear(&job->err);
	free(job);
}

/* GET /1.0/resources */
static int api_resources_get(struct api_request *req)
{
	struct resources_job *job = xcalloc(1, sizeof(*job));
	int r;

	job->req = req;
	r = daemon_queue_work(req->d, resources_job_run, resources_job_done, job);
	if (r < 0) {
		free(job);
		return api_reply_errorf(req, r, "Failed to queue the resources query");
	}
	return api_reply_later(req);
}

const struct route api_resources_routes[] = {
	{ .path = "/1.0/resources", .handlers = { [HTTP_GET] = api_resources_get } },
	{},
};
