/* daemon/api-events.c: GET /1.0/events (websocket). The `lxc` client opens it before every
 * asynchronous request and waits for the operation's events there. */
#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/http.h"
#include "daemon/router.h"
#include "lib/log.h"

#include "lib/banned.h"

static int api_events_ws(struct api_request *req, struct ws_conn *ws)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	const char *all = api_query(req, "all-projects");
	unsigned mask;
	int r;

	r = event_types_parse(api_query(req, "type"), &mask, &err);
	if (r < 0) {
		log_debug("Refused events listener: %s", error_message(&err));
		return r;
	}
	return events_listen(req->d->events, ws, mask,
			     all && streq(all, "true") ? NULL : req->project);
}

const struct route api_events_routes[] = {
	{ .path = "/1.0/events", .websocket = api_events_ws },
	{},
};
