/* daemon/events.c: fan-out of events to /1.0/events websocket listeners.
 *
 * A message is serialised once and queued on every interested listener; a listener that
 * cannot keep up (WS_MAX_QUEUED bytes behind) is disconnected rather than allowed to grow
 * the daemon's memory. Log records become `logging` events for listeners that asked for
 * them; they are produced on any thread and delivered from the loop.
 */
#include "daemon/events.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/http.h"
#include "lib/json.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

struct events {
	struct daemon *d;
	struct list_head listeners;
	unsigned listening_mask; /* union of every listener's mask */
	bool log_hooked;
};

struct listener {
	struct list_head link;
	struct events *ev;
	struct ws_conn *ws;
	unsigned mask;
	char *project;	 /* NULL: all projects */
	bool restricted; /* a restricted client's: no token operations */
};

struct log_record {
	struct events *ev;
	enum log_level level;
	char *msg;
};

static const struct {
	const char *name;
	enum event_type type;
} event_type_names[] = {
	{ "logging", EVENT_LOGGING },
	{ "operation", EVENT_OPERATION },
	{ "lifecycle", EVENT_LIFECYCLE },
};

static const char *event_type_name(enum event_type type)
{
	for (size_t i = 0; i < ARRAY_SIZE(event_type_names); i++)
		if (event_type_names[i].type == type)
			return event_type_names[i].name;
	return "unknown";
}

int event_types_parse(const char *s, unsigned *ret_mask, struct error *err)
{
	autofree char *copy = xstrdup(s ? s : "");
	unsigned mask = 0;
	char *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (size_t i = 0; i < ARRAY_SIZE(event_type_names); i++) {
			if (streq(tok, event_type_names[i].name)) {
				mask |= event_type_names[i].type;
				found = true;
			}
		}
		if (!found)
			return error_set(err, -EINVAL, "'%s' isn't a supported event type", tok);
	}
	*ret_mask = mask ? mask : EVENT_LOGGING | EVENT_OPERATION | EVENT_LIFECYCLE;
	return 0;
}

static void events_recompute_mask(struct events *ev)
{
	struct list_head *pos;
	unsigned mask = 0;

	list_for_each(pos, &ev->listeners)
		mask |= list_entry(pos, struct listener, link)->mask;
	ev->listening_mask = mask;
}

bool events_has_listeners(struct events *ev, enum event_type type)
{
	return ev && (ev->listening_mask & type);
}

void events_send(struct events *ev, enum event_type type, const char *project, json_t *metadata)
{
	events_send_restricted(ev, type, project, metadata, true);
}

void events_send_restricted(struct events *ev, enum event_type type, const char *project,
			    json_t *metadata, bool restricted_ok)
{
	autofree char *text = NULL;
	struct list_head *pos, *tmp;
	struct timespec ts;
	json_t *msg;

	if (!events_has_listeners(ev, type)) {
		json_decref(metadata);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	msg = json_object();
	json_object_set_new(msg, "type", json_string(event_type_name(type)));
	json_object_set_new(msg, "timestamp", json_time(ts.tv_sec, ts.tv_nsec));
	json_object_set_new(msg, "metadata", metadata ? metadata : json_null());
	json_object_set_new(msg, "location", json_string("none"));
	if (project)
		json_object_set_new(msg, "project", json_string(project));
	text = json_to_string(msg);
	json_decref(msg);

	list_for_each_safe(pos, tmp, &ev->listeners) {
		struct listener *l = list_entry(pos, struct listener, link);

		if (!(l->mask & type))
			continue;
		if ((l->project && project && !streq(l->project, project)) ||
		    (l->restricted && !restricted_ok))
			continue;
		/* A failure closes that listener; its closed callback unlinks it later. */
		(void)ws_conn_send(l->ws, false, text, strlen(text));
	}
}

void events_lifecycle(struct events *ev, const char *project, const char *action,
		      const char *source, json_t *context, const struct api_identity *requestor)
{
	json_t *meta;

	if (!events_has_listeners(ev, EVENT_LIFECYCLE)) {
		json_decref(context);
		return;
	}
	meta = json_object();
	json_object_set_new(meta, "action", json_string(action));
	json_object_set_new(meta, "source", json_string(source));
	if (context)
		json_object_set_new(meta, "context", context);
	if (requestor) {
		json_t *r = json_object();

		json_object_set_new(r, "username", json_string(requestor->username));
		json_object_set_new(r, "protocol", json_string(requestor->protocol));
		json_object_set_new(r, "address", json_string(requestor->address));
		json_object_set_new(meta, "requestor", r);
	}
	events_send(ev, EVENT_LIFECYCLE, project, meta);
}

static void log_record_deliver(void *data)
{
	struct log_record *rec = data;
	json_t *meta = json_object();

	json_object_set_new(meta, "message", json_string(rec->msg));
	json_object_set_new(meta, "level", json_string(log_level_names[rec->level]));
	json_object_set_new(meta, "context", json_object());
	events_send(rec->ev, EVENT_LOGGING, NULL, meta);
	free(rec->msg);
	free(rec);
}

/* Runs under the log lock on any thread: no logging here, only a hand-off to the loop. */
static void events_log_hook(enum log_level level, const char *msg, void *data)
{
	struct events *ev = data;
	enum log_level max = log_get_level() > LOG_LEVEL_INFO ? log_get_level() : LOG_LEVEL_INFO;
	struct log_record *rec;

	if (level > max)
		return;
	rec = xcalloc(1, sizeof(*rec));
	rec->ev = ev;
	rec->level = level;
	rec->msg = xstrdup(msg);
	daemon_call_on_loop(ev->d, log_record_deliver, rec);
}

static void events_update_log_hook(struct events *ev)
{
	bool want = ev->listening_mask & EVENT_LOGGING;

	if (want == ev->log_hooked)
		return;
	log_set_hook(want ? events_log_hook : NULL, want ? ev : NULL);
	ev->log_hooked = want;
}

static void listener_closed(struct ws_conn *ws)
{
	struct listener *l = ws->data;
	struct events *ev = l->ev;

	list_del(&l->link);
	free(l->project);
	free(l);
	events_recompute_mask(ev);
	events_update_log_hook(ev);
}

static void listener_receive(struct ws_conn *ws, bool binary, const void *data, size_t len)
{
	/* Clients send nothing meaningful on the events stream. */
}

static const struct ws_ops listener_ops = {
	.receive = listener_receive,
	.closed = listener_closed,
};

int events_listen(struct events *ev, struct ws_conn *ws, unsigned mask, const char *project)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->ev = ev;
	l->ws = ws;
	l->mask = mask;
	l->project = project ? xstrdup(project) : NULL;
	l->restricted = ws->identity.restricted;
	list_add_tail(&l->link, &ev->listeners);
	ws->ops = &listener_ops;
	ws->data = l;
	events_recompute_mask(ev);
	events_update_log_hook(ev);
	return 0;
}

int events_new(struct daemon *d, struct events **ret)
{
	struct events *ev = xcalloc(1, sizeof(*ev));

	ev->d = d;
	list_init(&ev->listeners);
	*ret = ev;
	return 0;
}

void events_free(struct events *ev)
{
	struct list_head *pos, *tmp;

	if (!ev)
		return;
	if (ev->log_hooked)
		log_set_hook(NULL, NULL);
	list_for_each_safe(pos, tmp, &ev->listeners) {
		struct listener *l = list_entry(pos, struct listener, link);

		l->ws->ops = NULL;
		list_del(&l->link);
		free(l->project);
		free(l);
	}
	free(ev);
}
