/* daemon/operations.c: the registry of operations, their life cycle and their events.
 *
 * Life cycle: Pending (created) -> Running -> Success | Failure | Cancelled, with
 * Cancelling in between when a running operation is asked to stop. Each change, and each
 * metadata change, is sent as an `operation` event carrying the whole object: the `lxc`
 * client reads the final status, `err` and metadata (an exec's `return`) from that event.
 */
#include "daemon/operations.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

struct operations {
	struct daemon *d;
	struct list_head list;
	uv_timer_t reaper;
	unsigned running;
};

struct op_waiter {
	struct list_head link;
	struct operation *op;
	struct api_request *req;
	uv_timer_t timer;
	bool has_timer;
};

struct op_work {
	struct operation *op;
	int r;
	struct error err;
};

const char *const operation_class_names[] = {
	[OPERATION_TASK] = "task",
	[OPERATION_WEBSOCKET] = "websocket",
	[OPERATION_TOKEN] = "token",
};

const char *operation_status_name(enum operation_status status)
{
	switch (status) {
	case OPERATION_PENDING:
		return "Pending";
	case OPERATION_RUNNING:
		return "Running";
	case OPERATION_CANCELLING:
		return "Cancelling";
	case OPERATION_SUCCESS:
		return "Success";
	case OPERATION_FAILURE:
		return "Failure";
	case OPERATION_CANCELLED:
		return "Cancelled";
	}
	return "Unknown";
}

static bool status_is_final(enum operation_status s)
{
	return s == OPERATION_SUCCESS || s == OPERATION_FAILURE || s == OPERATION_CANCELLED;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Caller holds op->lock. */
static void op_touch(struct operation *op)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	op->updated_sec = ts.tv_sec;
	op->updated_nsec = ts.tv_nsec;
}

void operation_ref(struct operation *op)
{
	__atomic_add_fetch(&op->refs, 1, __ATOMIC_SEQ_CST);
}

void operation_unref(struct operation *op)
{
	if (!op || __atomic_sub_fetch(&op->refs, 1, __ATOMIC_SEQ_CST) > 0)
		return;
	if (op->ops && op->ops->free)
		op->ops->free(op->data);
	free(op->id);
	free(op->description);
	free(op->project);
	json_decref(op->resources);
	json_decref(op->metadata);
	free(op->err);
	pthread_mutex_destroy(&op->lock);
	free(op);
}

json_t *operation_to_json(struct operation *op)
{
	json_t *j = json_object();

	pthread_mutex_lock(&op->lock);
	json_object_set_new(j, "id", json_string(op->id));
	json_object_set_new(j, "class", json_string(operation_class_names[op->class]));
	json_object_set_new(j, "description", json_string(op->description));
	json_object_set_new(j, "created_at", json_time(op->created_sec, op->created_nsec));
	json_object_set_new(j, "updated_at", json_time(op->updated_sec, op->updated_nsec));
	json_object_set_new(j, "status", json_string(operation_status_name(op->status)));
	json_object_set_new(j, "status_code", json_integer(op->status));
	json_object_set_new(j, "resources",
			    op->resources ? json_deep_copy(op->resources) : json_null());
	json_object_set_new(j, "metadata",
			    op->metadata ? json_deep_copy(op->metadata) : json_null());
	json_object_set_new(j, "may_cancel", json_boolean(op->may_cancel));
	json_object_set_new(j, "err", json_string(op->err ? op->err : ""));
	json_object_set_new(j, "location", json_string("none"));
	pthread_mutex_unlock(&op->lock);
	return j;
}

static void op_announce(struct operation *op)
{
	if (op->d->events)
		events_send_restricted(op->d->events, EVENT_OPERATION, op->project,
				       operation_to_json(op), op->class != OPERATION_TOKEN);
}

static void op_announce_on_loop(void *data)
{
	struct operation *op = data;

	op_announce(op);
	operation_unref(op);
}

struct operation *operation_new(struct daemon *d, enum operation_class class,
				const char *description, json_t *resources,
				const struct operation_ops *ops, void *data)
{
	struct operation *op = xcalloc(1, sizeof(*op));
	struct timespec ts;

	op->d = d;
	op->id = uuid_new();
	op->class = class;
	op->description = xstrdup(description);
	op->project = xstrdup("default");
	op->resources = resources;
	op->ops = ops;
	op->data = data;
	op->status = OPERATION_PENDING;
	op->refs = 1;
	pthread_mutex_init(&op->lock, NULL);
	list_init(&op->link);
	list_init(&op->waiters);
	clock_gettime(CLOCK_REALTIME, &ts);
	op->created_sec = op->updated_sec = ts.tv_sec;
	op->created_nsec = op->updated_nsec = ts.tv_nsec;
	return op;
}

static void waiter_closed(uv_handle_t *h)
{
	free(h->data);
}

static void waiter_release(struct op_waiter *w)
{
	list_del(&w->link);
	operation_unref(w->op);
	if (w->has_timer)
		uv_close((uv_handle_t *)&w->timer, waiter_closed);
	else
		free(w);
}

static void waiter_reply(struct op_waiter *w)
{
	(void)api_reply_sync(w->req, operation_to_json(w->op));
	api_request_finish(w->req);
	waiter_release(w);
}

static void waiter_timeout(uv_timer_t *t)
{
	waiter_reply(t->data);
}

static void op_finished(struct operation *op)
{
	struct list_head *pos, *tmp;

	op->finished_mono_ms = mono_ms();
	op->d->operations->running--;
	op_announce(op);
	list_for_each_safe(pos, tmp, &op->waiters)
		waiter_reply(list_entry(pos, struct op_waiter, link));
}

static void op_set_final(struct operation *op, enum operation_status status, const char *msg)
{
	pthread_mutex_lock(&op->lock);
	op->status = status;
	free(op->err);
	op->err = msg ? xstrdup(msg) : NULL;
	op_touch(op);
	pthread_mutex_unlock(&op->lock);
}

static void op_work_run(void *data)
{
	struct op_work *w = data;

	pthread_mutex_lock(&w->op->lock);
	if (w->op->status == OPERATION_PENDING)
		w->op->status = OPERATION_RUNNING;
	op_touch(w->op);
	pthread_mutex_unlock(&w->op->lock);
	w->r = w->op->ops->run(w->op, &w->err);
}

static void op_work_done(void *data)
{
	struct op_work *w = data;
	struct operation *op = w->op;

	if (w->r >= 0)
		op_set_final(op, OPERATION_SUCCESS, NULL);
	else if (operation_is_cancelled(op) && w->r == -ECANCELED)
		op_set_final(op, OPERATION_CANCELLED, error_message(&w->err));
	else
		op_set_final(op, OPERATION_FAILURE, error_message(&w->err));
	if (w->r < 0)
		log_debug("Operation %s (%s) failed: %s", op->id, op->description,
			  error_message(&w->err));
	if (op->ops->done)
		op->ops->done(op);
	op_finished(op);
	error_clear(&w->err);
	operation_unref(op);
	free(w);
}

int operation_start(struct operation *op)
{
	struct operations *ops = op->d->operations;

	list_add_tail(&op->link, &ops->list); /* the registry holds the caller's reference */
	ops->running++;
	op_announce(op);

	pthread_mutex_lock(&op->lock);
	op->status = OPERATION_RUNNING;
	op_touch(op);
	pthread_mutex_unlock(&op->lock);

	if (op->ops && op->ops->run) {
		struct op_work *w = xcalloc(1, sizeof(*w));
		int r;

		w->op = op;
		operation_ref(op);
		r = daemon_queue_work(op->d, op_work_run, op_work_done, w);
		if (r < 0) {
			operation_unref(op);
			free(w);
			op_set_final(op, OPERATION_FAILURE, "Failed to queue the operation");
			op_finished(op);
			return r;
		}
		return 0;
	}
	op_announce(op);
	return 0;
}

void operation_finish(struct operation *op, const struct error *err)
{
	if (operation_is_done(op))
		return;
	if (err && error_is_set(err))
		op_set_final(op, OPERATION_FAILURE, error_message(err));
	else
		op_set_final(op, OPERATION_SUCCESS, NULL);
	if (op->ops && op->ops->done)
		op->ops->done(op);
	op_finished(op);
}

static void op_metadata_changed(struct operation *op)
{
	operation_ref(op);
	daemon_call_on_loop(op->d, op_announce_on_loop, op);
}

void operation_set_metadata(struct operation *op, json_t *metadata)
{
	pthread_mutex_lock(&op->lock);
	json_decref(op->metadata);
	op->metadata = metadata;
	op_touch(op);
	pthread_mutex_unlock(&op->lock);
	op_metadata_changed(op);
}

void operation_merge_metadata(struct operation *op, json_t *metadata)
{
	pthread_mutex_lock(&op->lock);
	if (!json_is_object(op->metadata)) {
		json_decref(op->metadata);
		op->metadata = json_object();
	}
	json_object_update(op->metadata, metadata);
	op_touch(op);
	pthread_mutex_unlock(&op->lock);
	json_decref(metadata);
	op_metadata_changed(op);
}

bool operation_is_cancelled(struct operation *op)
{
	bool r;

	pthread_mutex_lock(&op->lock);
	r = op->cancel_requested;
	pthread_mutex_unlock(&op->lock);
	return r;
}

bool operation_is_done(struct operation *op)
{
	bool r;

	pthread_mutex_lock(&op->lock);
	r = status_is_final(op->status);
	pthread_mutex_unlock(&op->lock);
	return r;
}

int operation_cancel(struct operation *op, struct error *err)
{
	bool has_run = op->ops && op->ops->run;

	if (operation_is_done(op))
		return error_set(err, -EINVAL, "Operation '%s' has already finished", op->id);
	if (!op->may_cancel)
		return error_set(err, -EINVAL, "This operation can't be cancelled");

	pthread_mutex_lock(&op->lock);
	op->cancel_requested = true;
	op->status = has_run ? OPERATION_CANCELLING : OPERATION_CANCELLED;
	if (!has_run) {
		free(op->err);
		op->err = xstrdup("Operation cancelled");
	}
	op_touch(op);
	pthread_mutex_unlock(&op->lock);

	if (op->ops && op->ops->cancel)
		op->ops->cancel(op);
	if (has_run) {
		op_announce(op);
		return 0;
	}
	if (op->ops && op->ops->done)
		op->ops->done(op);
	op_finished(op);
	return 0;
}

int operation_wait_reply(struct operation *op, struct api_request *req, double timeout_sec)
{
	struct op_waiter *w;

	if (operation_is_done(op))
		return api_reply_sync(req, operation_to_json(op));

	w = xcalloc(1, sizeof(*w));
	w->op = op;
	w->req = req;
	operation_ref(op);
	list_add_tail(&w->link, &op->waiters);
	if (timeout_sec >= 0) {
		uv_timer_init(&op->d->loop, &w->timer);
		w->timer.data = w;
		w->has_timer = true;
		uv_timer_start(&w->timer, waiter_timeout, (uint64_t)(timeout_sec * 1000), 0);
	}
	return api_reply_later(req);
}

struct operation *operations_find(struct operations *ops, const char *id)
{
	struct list_head *pos;

	list_for_each(pos, &ops->list) {
		struct operation *op = list_entry(pos, struct operation, link);

		if (streq(op->id, id))
			return op;
	}
	return NULL;
}

bool operation_visible_to(const struct operation *op, const struct api_identity *who)
{
	/* A token operation's metadata is the secret that lets anyone join as a fully
	 * trusted client: no restricted client sees it. */
	return op->class != OPERATION_TOKEN || !who || !who->restricted;
}

json_t *operations_list(struct operations *ops, const char *project, bool full,
			const struct api_identity *who)
{
	json_t *result = json_object();
	struct list_head *pos;

	list_for_each(pos, &ops->list) {
		struct operation *op = list_entry(pos, struct operation, link);
		autofree char *key = NULL;
		json_t *arr;

		if ((project && !streq(op->project, project)) || !operation_visible_to(op, who))
			continue;
		pthread_mutex_lock(&op->lock);
		key = xstrdup(operation_status_name(op->status));
		pthread_mutex_unlock(&op->lock);
		for (char *c = key; *c; c++)
			*c = (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
		arr = json_object_get(result, key);
		if (!arr) {
			arr = json_array();
			json_object_set_new(result, key, arr);
		}
		if (full)
			json_array_append_new(arr, operation_to_json(op));
		else
			json_array_append_new(arr, json_sprintf("/1.0/operations/%s", op->id));
	}
	return result;
}

unsigned operations_running(struct operations *ops)
{
	return ops->running;
}

static void reaper_tick(uv_timer_t *t)
{
	struct operations *ops = t->data;
	long long now = mono_ms();
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &ops->list) {
		struct operation *op = list_entry(pos, struct operation, link);

		if (!op->finished_mono_ms || now - op->finished_mono_ms < OPERATION_KEEP_SEC * 1000)
			continue;
		list_del(&op->link);
		operation_unref(op);
	}
}

int operations_new(struct daemon *d, struct operations **ret)
{
	struct operations *ops = xcalloc(1, sizeof(*ops));

	ops->d = d;
	list_init(&ops->list);
	uv_timer_init(&d->loop, &ops->reaper);
	ops->reaper.data = ops;
	uv_timer_start(&ops->reaper, reaper_tick, 1000, 1000);
	uv_unref((uv_handle_t *)&ops->reaper);
	*ret = ops;
	return 0;
}

static void operations_closed(uv_handle_t *h)
{
	free(h->data);
}

void operations_free(struct operations *ops)
{
	struct list_head *pos, *tmp;

	if (!ops)
		return;
	list_for_each_safe(pos, tmp, &ops->list) {
		struct operation *op = list_entry(pos, struct operation, link);
		struct list_head *wpos, *wtmp;

		list_for_each_safe(wpos, wtmp, &op->waiters) {
			struct op_waiter *w = list_entry(wpos, struct op_waiter, link);

			api_request_finish(w->req); /* the client is gone with the listeners */
			waiter_release(w);
		}
		list_del(&op->link);
		operation_unref(op);
	}
	uv_close((uv_handle_t *)&ops->reaper, operations_closed);
}
