/* daemon/reply.c: LXD's response envelopes. The exact keys and their order are what the
 * real clients were seen to receive (../shared/research/lxd-client-compat.md 2.2). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/operations.h"
#include "lib/json.h"
#include "lib/log.h"

#include "lib/banned.h"

static void reply_set_json(struct api_request *req, int status, json_t *envelope)
{
	autofree char *s = json_to_string(envelope);

	json_decref(envelope);
	req->status = status;
	free(req->reply_content_type);
	req->reply_content_type = xstrdup("application/json");
	strbuf_reset(&req->reply_body);
	strbuf_adds(&req->reply_body, s);
	strbuf_addch(&req->reply_body, '\n');
	req->replied = true;
}

static json_t *envelope(const char *type, const char *status, int status_code,
			const char *operation, int error_code, const char *error, json_t *metadata)
{
	json_t *j = json_object();

	json_object_set_new(j, "type", json_string(type));
	json_object_set_new(j, "status", json_string(status));
	json_object_set_new(j, "status_code", json_integer(status_code));
	json_object_set_new(j, "operation", json_string(operation));
	json_object_set_new(j, "error_code", json_integer(error_code));
	json_object_set_new(j, "error", json_string(error));
	json_object_set_new(j, "metadata", metadata ? metadata : json_null());
	return j;
}

void api_reply_add_header(struct api_request *req, const char *name, const char *value)
{
	req->headers = xrealloc(req->headers, (req->n_headers + 1) * sizeof(*req->headers));
	req->headers[req->n_headers].name = xstrdup(name);
	req->headers[req->n_headers].value = xstrdup(value);
	req->n_headers++;
}

int api_reply_sync(struct api_request *req, json_t *metadata)
{
	reply_set_json(req, 200, envelope("sync", "Success", 200, "", 0, "", metadata));
	return 0;
}

char *api_etag(const json_t *etag_source)
{
	autofree char *s = json_to_string(etag_source);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1)
		abort();
	return hex_encode(md, len);
}

int api_reply_sync_etag(struct api_request *req, json_t *metadata, const json_t *etag_source)
{
	autofree char *etag = api_etag(etag_source);
	autofree char *quoted = str_printf("\"%s\"", etag);

	api_reply_add_header(req, "ETag", quoted);
	return api_reply_sync(req, metadata);
}

int api_request_check_etag(struct api_request *req, const json_t *etag_source)
{
	autofree char *etag = NULL;
	const char *want = req->if_match;
	size_t len;

	if (str_is_empty(want))
		return 0;
	etag = api_etag(etag_source);
	len = strlen(want);
	if (len >= 2 && want[0] == '"' && want[len - 1] == '"' && len - 2 == strlen(etag) &&
	    strncmp(want + 1, etag, len - 2) == 0)
		return 0;
	if (streq(want, etag))
		return 0;
	(void)api_reply_errorf(req, -EAGAIN, "ETag doesn't match: %s vs %s", want, etag);
	return -EAGAIN;
}

int api_reply_created(struct api_request *req, const char *location)
{
	reply_set_json(req, 201, envelope("sync", "Success", 200, "", 0, "", NULL));
	api_reply_add_header(req, "Location", location);
	return 0;
}

int api_reply_async(struct api_request *req, struct operation *op)
{
	autofree char *url = str_printf("/1.0/operations/%s", op->id);

	reply_set_json(
		req, 202,
		envelope("async", "Operation created", 100, url, 0, "", operation_to_json(op)));
	api_reply_add_header(req, "Location", url);
	return 0;
}

int api_reply_error(struct api_request *req, const struct error *err)
{
	int code = err && err->code ? err->code : -EIO;
	int status = api_error_status(code);
	const char *msg = error_message(err);

	if (status >= 500)
		log_error("%s %s: %s", http_method_names[req->method], req->path, msg);
	else
		log_debug("%s %s: %d %s", http_method_names[req->method], req->path, status, msg);
	reply_set_json(req, status, envelope("error", "", 0, "", status, msg, NULL));
	return code;
}

int api_reply_errorf(struct api_request *req, int code, const char *fmt, ...)
{
	struct error err = ERROR_INIT;
	va_list ap;

	va_start(ap, fmt);
	err.code = code;
	err.msg = str_vprintf(fmt, ap);
	va_end(ap);
	(void)api_reply_error(req, &err);
	error_clear(&err);
	return code;
}

int api_reply_raw(struct api_request *req, int status, const char *content_type, const void *data,
		  size_t len)
{
	req->status = status;
	free(req->reply_content_type);
	req->reply_content_type = xstrdup(content_type);
	strbuf_reset(&req->reply_body);
	strbuf_add(&req->reply_body, data, len);
	req->replied = true;
	return 0;
}

int api_reply_fd(struct api_request *req, int status, const char *content_type, int fd,
		 uint64_t len)
{
	req->status = status;
	free(req->reply_content_type);
	req->reply_content_type = xstrdup(content_type);
	closep(&req->reply_fd);
	req->reply_fd = fd;
	req->reply_fd_len = len;
	req->replied = true;
	return 0;
}

int api_reply_later(struct api_request *req)
{
	req->later = true;
	return 0;
}

int api_request_json(struct api_request *req, json_t **ret)
{
	struct error err = ERROR_INIT;
	int r;

	r = json_parse(strbuf_str(&req->body), req->body.len, false, ret, &err);
	if (r < 0) {
		(void)api_reply_error(req, &err);
		error_clear(&err);
	}
	return r;
}

struct worker_reply {
	struct api_request *req;
	int (*work)(void *data, struct error *err);
	int (*reply)(struct api_request *req, void *data);
	void (*free_data)(void *data);
	void *data;
	int r;
	struct error err;
};

static void worker_reply_run(void *data)
{
	struct worker_reply *w = data;

	w->r = w->work(w->data, &w->err);
}

static void worker_reply_done(void *data)
{
	struct worker_reply *w = data;

	if (w->r < 0)
		(void)api_reply_error(w->req, &w->err);
	else
		(void)w->reply(w->req, w->data);
	api_request_finish(w->req);
	if (w->free_data)
		w->free_data(w->data);
	error_clear(&w->err);
	free(w);
}

int api_reply_from_worker(struct api_request *req, int (*work)(void *data, struct error *err),
			  int (*reply)(struct api_request *req, void *data),
			  void (*free_data)(void *data), void *data)
{
	struct worker_reply *w = xcalloc(1, sizeof(*w));
	int r;

	w->req = req;
	w->work = work;
	w->reply = reply;
	w->free_data = free_data;
	w->data = data;
	r = daemon_queue_work(req->d, worker_reply_run, worker_reply_done, w);
	if (r < 0) {
		if (free_data)
			free_data(data);
		free(w);
		return api_reply_errorf(req, r, "Failed to queue the request");
	}
	return api_reply_later(req);
}
