/* daemon/events.h: the /1.0/events stream.
 *
 * Listeners are websocket connections with an optional type filter and project. Every
 * message is one text frame holding {"type","timestamp","metadata","location","project"}.
 * events_send() is loop-thread only; events_send_from_thread() may be called anywhere.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "daemon/api.h"

struct daemon;
struct events;
struct ws_conn;

enum event_type {
	EVENT_LOGGING = 1 << 0,
	EVENT_OPERATION = 1 << 1,
	EVENT_LIFECYCLE = 1 << 2,
};

int events_new(struct daemon *d, struct events **ret);
void events_free(struct events *ev);

/* Parses "operation,lifecycle" into a mask; "" means all. -EINVAL naming a bad type. */
int event_types_parse(const char *s, unsigned *ret_mask, struct error *err);

/* Adds a websocket listener for the given types and project (NULL: all projects). */
int events_listen(struct events *ev, struct ws_conn *ws, unsigned mask, const char *project);

/* Sends an event to every interested listener. Takes the reference to metadata. */
void events_send(struct events *ev, enum event_type type, const char *project, json_t *metadata);
/* events_send(), withheld from restricted clients' listeners unless restricted_ok. */
void events_send_restricted(struct events *ev, enum event_type type, const char *project,
			    json_t *metadata, bool restricted_ok);

/* A lifecycle event: {"action": action, "source": source, "context": context?,
 * "requestor": from identity}. context is taken (may be NULL). */
void events_lifecycle(struct events *ev, const char *project, const char *action,
		      const char *source, json_t *context, const struct api_identity *requestor);

/* True when somebody listens for type (lets callers skip building expensive events). */
bool events_has_listeners(struct events *ev, enum event_type type);
