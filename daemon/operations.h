/* daemon/operations.h: asynchronous work as LXD models it.
 *
 * An operation has a UUID, a class, a status, metadata, resources and an error; every
 * status or metadata change is announced as an `operation` event (the `lxc` client waits
 * through /1.0/events only). Finished operations stay readable for OPERATION_KEEP_SEC,
 * then are reaped.
 *
 * The run function executes on a worker thread and may block; everything else is loop
 * thread only, except operation_set_metadata(), operation_is_cancelled() and
 * operation_progress(), which workers may call.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "lib/error.h"
#include "lib/list.h"

struct api_identity;

struct daemon;
struct api_request;

#define OPERATION_KEEP_SEC 30

enum operation_class {
	OPERATION_TASK,
	OPERATION_WEBSOCKET,
	OPERATION_TOKEN,
	_OPERATION_CLASS_MAX,
};

extern const char *const operation_class_names[];

/* LXD's status codes; the names are what the API prints. */
enum operation_status {
	OPERATION_PENDING = 105,
	OPERATION_RUNNING = 103,
	OPERATION_CANCELLING = 104,
	OPERATION_SUCCESS = 200,
	OPERATION_FAILURE = 400,
	OPERATION_CANCELLED = 401,
};

const char *operation_status_name(enum operation_status status);

struct operation;

struct operation_ops {
	/* Worker thread. Returns 0 or a negative errno with err filled. Must return soon
	 * after operation_is_cancelled() turns true when the operation may be cancelled. */
	int (*run)(struct operation *op, struct error *err);
	/* Loop thread, after run returned (whatever the outcome). Optional. */
	void (*done)(struct operation *op);
	/* Loop thread, on DELETE /1.0/operations/<id>. Optional: without it and without
	 * may_cancel the request is refused. For token/websocket operations that have no
	 * run function, cancel ends them. */
	void (*cancel)(struct operation *op);
	/* Frees op->data. Optional. */
	void (*free)(void *data);
};

struct operation {
	struct list_head link;
	struct daemon *d;
	char *id;
	enum operation_class class;
	char *description;
	char *project;
	json_t *resources; /* {"instances": ["/1.0/instances/c1"], ...} */
	bool may_cancel;
	const struct operation_ops *ops;
	void *data;

	/* Guarded by lock: changed by workers. */
	pthread_mutex_t lock;
	enum operation_status status;
	json_t *metadata;
	char *err;
	long long created_sec, updated_sec;
	long created_nsec, updated_nsec;
	bool cancel_requested;

	long long finished_mono_ms; /* for reaping; loop thread */
	struct list_head waiters;   /* deferred /wait requests; loop thread */
	int refs;
};

struct operations;

int operations_new(struct daemon *d, struct operations **ret);
void operations_free(struct operations *ops);

/* A new pending operation (not yet visible). resources may be NULL; it is taken. */
struct operation *operation_new(struct daemon *d, enum operation_class class,
				const char *description, json_t *resources,
				const struct operation_ops *ops, void *data);

/* Registers op and announces it; with a run function queues it on a worker, else it stays
 * Running until operation_finish() (websocket and token operations). Takes the caller's
 * reference: use operation_ref() to keep one. */
int operation_start(struct operation *op);

/* Ends a Running operation without a run function. err NULL means success. Loop thread. */
void operation_finish(struct operation *op, const struct error *err);

/* Replaces (set) or merges (merge) the metadata object; announced on the loop. Takes
 * the reference to metadata. Thread-safe. */
void operation_set_metadata(struct operation *op, json_t *metadata);
void operation_merge_metadata(struct operation *op, json_t *metadata);

bool operation_is_cancelled(struct operation *op);
bool operation_is_done(struct operation *op);

/* The API object, as GET /1.0/operations/<id> returns it. New reference. */
json_t *operation_to_json(struct operation *op);

/* Lookup by id; NULL when unknown or reaped. Borrowed: valid until the loop turns. */
struct operation *operations_find(struct operations *ops, const char *id);

/* Object keyed by lower-case status ("running", "success", ...) of arrays of URLs, or of
 * operation objects when full; only operations of project (NULL: all). New reference. */
json_t *operations_list(struct operations *ops, const char *project, bool full,
			const struct api_identity *who);
/* Whether who (NULL: the daemon itself) may see op: token operations carry a join secret,
 * which restricted clients never see, in lists, by id or in events. */
bool operation_visible_to(const struct operation *op, const struct api_identity *who);

/* DELETE /1.0/operations/<id>: cancels when possible; -EPERM-free: returns -EINVAL with a
 * message when the operation cannot be cancelled. */
int operation_cancel(struct operation *op, struct error *err);

/* Defers req until op is done or timeout_sec passes (-1: no limit), then replies with the
 * operation object (as LXD's /wait does). */
int operation_wait_reply(struct operation *op, struct api_request *req, double timeout_sec);

/* Number of operations not yet done (shutdown waits for them). */
unsigned operations_running(struct operations *ops);

void operation_ref(struct operation *op);
void operation_unref(struct operation *op);
