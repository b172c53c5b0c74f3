/* daemon/api-files.c: /1.0/instances/{name}/files (GET, HEAD, POST, DELETE), with LXD's
 * X-LXD-* headers (../shared/research/lxd-client-compat.md section 7), and the console log
 * (GET/DELETE /1.0/instances/{name}/console). The file work runs on a worker: it blocks on
 * disk, and a stopped instance's root must be mounted first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/router.h"
#include "instance/files.h"
#include "instance/instance.h"
#include "instance/lifecycle.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"

#include "lib/banned.h"

enum files_action { FILES_GET, FILES_PUT, FILES_DELETE };

struct files_job {
	struct api_request *req;
	enum files_action action;
	char *instance;
	char *path;
	struct instance_file_put put;
	char *target;
	/* results */
	int r;
	struct error err;
	struct instance_file_info info;
	int fd;
	json_t *entries;
};

static void files_job_run(void *data)
{
	struct files_job *job = data;
	struct instance_env env = { .db = job->req->d->db, .dir = job->req->d->dir };
	autoclean(instance_freep) struct instance *inst = NULL;
	struct instance_files_creds creds = { 0 };
	autoclose int rootfd = -1;
	uint32_t shift = 0;

	instance_lock(job->instance);
	job->r = instance_load(env.db, job->instance, &inst, &job->err);
	if (job->r == 0)
		job->r = instance_rootfs_open(&env, inst, &rootfd, &shift, &job->err);
	/* Through the idmapped root, act as the instance's root (see instance/files.h). */
	if (job->r == 0)
		job->r = instance_files_become(shift, &creds, &job->err);
	if (job->r < 0)
		goto out;
	switch (job->action) {
	case FILES_GET:
		job->r = instance_file_get(rootfd, shift, job->path, &job->info, &job->fd,
					   &job->target, &job->entries, &job->err);
		break;
	case FILES_PUT:
		job->r = instance_file_put(rootfd, shift, job->path, &job->put, &job->err);
		break;
	case FILES_DELETE:
		job->r = instance_file_delete(rootfd, job->path, &job->err);
		break;
	}
	instance_files_restore(&creds);
out:
	instance_unlock(job->instance);
}

static void add_info_headers(struct api_request *req, const struct instance_file_info *info)
{
	char buf[64];
	struct tm tm;

	(void)snprintf_ok(buf, sizeof(buf), "%u", (unsigned)info->uid);
	api_reply_add_header(req, "X-LXD-uid", buf);
	(void)snprintf_ok(buf, sizeof(buf), "%u", (unsigned)info->gid);
	api_reply_add_header(req, "X-LXD-gid", buf);
	(void)snprintf_ok(buf, sizeof(buf), "%04o", (unsigned)info->mode);
	api_reply_add_header(req, "X-LXD-mode", buf);
	api_reply_add_header(req, "X-LXD-type", instance_file_type_names[info->type]);
	gmtime_r(&info->mtime, &tm);
	if (strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm) > 0)
		api_reply_add_header(req, "X-LXD-modified", buf);
}

static void files_job_done(void *data)
{
	struct files_job *job = data;
	struct api_request *req = job->req;

	if (job->r < 0) {
		(void)api_reply_error(req, &job->err);
	} else if (job->action != FILES_GET) {
		(void)api_reply_sync(req, json_object());
	} else {
		add_info_headers(req, &job->info);
		if (job->entries) {
			(void)api_reply_sync(req, take_ptr(job->entries));
		} else {
			const char *slash = strrchr(job->path, '/');
			autofree char *disp =
				str_printf("inline;filename=%s", slash ? slash + 1 : job->path);

			api_reply_add_header(req, "Content-Disposition", disp);
			if (job->target)
				(void)api_reply_raw(req, 200, "application/octet-stream",
						    job->target, strlen(job->target));
			else
				(void)api_reply_fd(req, 200, "application/octet-stream",
						   take_fd(job->fd), job->info.size);
		}
	}
	api_request_finish(req);
	closep(&job->fd);
	json_decref(job->entries);
	free(job->target);
	free(job->instance);
	free(job->path);
	error_clear(&job->err);
	free(job);
}

static int files_job_start(struct api_request *req, struct files_job *job)
{
	int r;

	job->req = req;
	job->fd = -1;
	job->instance = xstrdup(api_param(req, "name"));
	r = daemon_queue_work(req->d, files_job_run, files_job_done, job);
	if (r < 0) {
		free(job->instance);
		free(job->path);
		free(job->target);
		free(job);
		return api_reply_errorf(req, r, "Failed to queue the file request");
	}
	return api_reply_later(req);
}

static const char *files_path(struct api_request *req)
{
	const char *path = api_query(req, "path");

	return str_is_empty(path) ? NULL : path;
}

/* GET (and HEAD) /1.0/instances/{name}/files?path= */
static int api_files_get(struct api_request *req)
{
	struct files_job *job;
	const char *path = files_path(req);

	if (!path)
		return api_reply_errorf(req, -EINVAL, "Missing 'path' argument");
	job = xcalloc(1, sizeof(*job));
	job->action = FILES_GET;
	job->path = xstrdup(path);
	return files_job_start(req, job);
}

/* X-LXD-uid/gid/mode: absent means "keep or default" (-1); mode is octal with a leading 0
 * (Go's strconv.ParseInt(v, 0, 0) on the client side). */
static int header_number(struct api_request *req, const char *name, int base, int64_t max,
			 int64_t *ret)
{
	const char *v = api_header(req, name);
	char *end;
	long long n;

	*ret = -1;
	if (str_is_empty(v))
		return 0;
	errno = 0;
	n = strtoll(v, &end, base);
	if (errno || *end || n < -1 || n > max)
		return api_reply_errorf(req, -EINVAL, "Invalid %s header '%s'", name, v);
	*ret = n;
	return 0;
}

/* POST /1.0/instances/{name}/files?path= (the body is the content, streamed to disk) */
static int api_files_post(struct api_request *req)
{
	const char *path = files_path(req);
	const char *type = api_header(req, "X-LXD-type");
	const char *write = api_header(req, "X-LXD-write");
	struct files_job *job;
	int64_t uid, gid, mode;
	int r;

	if (!path)
		return api_reply_errorf(req, -EINVAL, "Missing 'path' argument");
	r = header_number(req, "X-LXD-uid", 10, UINT32_MAX - 1, &uid);
	if (r == 0)
		r = header_number(req, "X-LXD-gid", 10, UINT32_MAX - 1, &gid);
	if (r == 0)
		r = header_number(req, "X-LXD-mode", 0, 07777, &mode);
	if (r < 0)
		return r;
	job = xcalloc(1, sizeof(*job));
	if (instance_file_type_parse(type, &job->put.type) < 0) {
		free(job);
		return api_reply_errorf(req, -EINVAL, "Invalid X-LXD-type '%s'", type);
	}
	if (!str_is_empty(write) && !streq(write, "overwrite") && !streq(write, "append")) {
		free(job);
		return api_reply_errorf(req, -EINVAL, "Invalid X-LXD-write '%s'", write);
	}
	job->action = FILES_PUT;
	job->path = xstrdup(path);
	job->put.uid = uid;
	job->put.gid = gid;
	job->put.mode = (int)mode;
	job->put.append = write && streq(write, "append");
	job->put.content_fd = req->body_fd;
	if (job->put.type == INSTANCE_FILE_SYMLINK) {
		job->target = xstrndup(strbuf_str(&req->body), req->body.len);
		if (req->body_fd >= 0) {
			char buf[4096];
			ssize_t n = read(req->body_fd, buf, sizeof(buf) - 1);

			free(job->target);
			buf[n > 0 ? n : 0] = '\0';
			job->target = xstrdup(buf);
		}
		job->put.target = job->target;
	}
	return files_job_start(req, job);
}

/* DELETE /1.0/instances/{name}/files?path= */
static int api_files_delete(struct api_request *req)
{
	const char *path = files_path(req);
	struct files_job *job;

	if (!path)
		return api_reply_errorf(req, -EINVAL, "Missing 'path' argument");
	job = xcalloc(1, sizeof(*job));
	job->action = FILES_DELETE;
	job->path = xstrdup(path);
	return files_job_start(req, job);
}

/* --- console log --------------------------------------------------------------------------- */

static char *console_log_path(struct api_request *req)
{
	return str_printf("%s/logs/%s/console.log", req->d->dir, api_param(req, "name"));
}

/* GET /1.0/instances/{name}/console: the console log, raw. */
static int api_console_log_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autofree char *path = NULL;
	struct stat st;
	int fd, r;

	r = instance_load(req->d->db, api_param(req, "name"), &inst, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	path = console_log_path(req);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return api_reply_raw(req, 200, "application/octet-stream", "", 0);
	if (fstat(fd, &st) < 0) {
		(void)close(fd);
		return api_reply_errorf(req, -errno, "Failed to read the console log");
	}
	return api_reply_fd(req, 200, "application/octet-stream", fd, (uint64_t)st.st_size);
}

/* DELETE /1.0/instances/{name}/console: clears the console log. */
static int api_console_log_delete(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autofree char *path = NULL;
	int r;

	r = instance_load(req->d->db, api_param(req, "name"), &inst, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	path = console_log_path(req);
	if (truncate(path, 0) < 0 && errno != ENOENT)
		return api_reply_errorf(req, -errno, "Failed to clear the console log");
	return api_reply_sync(req, NULL);
}

/* --- logs ------------------------------------------------------------------------------- */

static char *log_dir_path(struct api_request *req)
{
	return str_printf("%s/logs/%s", req->d->dir, api_param(req, "name"));
}

/* GET /1.0/instances/{name}/logs: the instance's log files (lxc.log, console.log). */
static int api_logs_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autofree char *dir_path = NULL;
	json_t *list;
	struct dirent *de;
	DIR *dir;
	int r;

	r = instance_load(req->d->db, api_param(req, "name"), &inst, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	list = json_array();
	dir_path = log_dir_path(req);
	dir = opendir(dir_path);
	while (dir && (de = readdir(dir)))
		if (de->d_type == DT_REG && object_name_is_valid(de->d_name))
			json_array_append_new(list, json_sprintf("/1.0/instances/%s/logs/%s",
								 inst->name, de->d_name));
	if (dir)
		closedir(dir);
	return api_reply_sync(req, list);
}

/* Opens logs/{name}/{file} without following links; the name is checked first. */
static int log_open(struct api_request *req, int flags, int *ret_fd)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autoclean(instance_freep) struct instance *inst = NULL;
	autofree char *dir_path = NULL;
	autoclose int dirfd = -1;
	const char *file = api_param(req, "file");
	int r, fd;

	r = instance_load(req->d->db, api_param(req, "name"), &inst, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (!object_name_is_valid(file))
		return api_reply_errorf(req, -EINVAL, "Invalid log file name '%s'", file);
	dir_path = log_dir_path(req);
	dirfd = open(dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = dirfd < 0 ? -ENOENT : open_beneath(dirfd, file, flags, 0);
	if (fd < 0)
		return api_reply_errorf(req, -ENOENT, "Log file '%s' not found", file);
	*ret_fd = fd;
	return 0;
}

/* GET /1.0/instances/{name}/logs/{file} */
static int api_log_get(struct api_request *req)
{
	struct stat st;
	int fd = -1, r;

	r = log_open(req, O_RDONLY, &fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return api_reply_errorf(req, -ENOENT, "Log file '%s' not found",
					api_param(req, "file"));
	}
	return api_reply_fd(req, 200, "text/plain", fd, (uint64_t)st.st_size);
}

/* DELETE /1.0/instances/{name}/logs/{file}: LXD lets only exec records go; the driver's own
 * logs stay (they are what `lxc info --show-log` reads). */
static int api_log_delete(struct api_request *req)
{
	const char *file = api_param(req, "file");
	autofree char *path = NULL;
	int fd = -1, r;

	r = log_open(req, O_RDONLY, &fd);
	if (r < 0)
		return r;
	(void)close(fd);
	if (!str_has_prefix(file, "exec_"))
		return api_reply_errorf(req, -EINVAL, "Only exec output logs can be deleted");
	path = str_printf("%s/logs/%s/%s", req->d->dir, api_param(req, "name"), file);
	if (unlink(path) < 0)
		return api_reply_errorf(req, -errno, "Failed to delete the log file '%s'", file);
	return api_reply_sync(req, NULL);
}

#define FILES_ROUTES(base)                                        \
	{                                                         \
		.path = base "/{name}/files",                     \
		.handlers = { [HTTP_GET] = api_files_get,         \
			      [HTTP_POST] = api_files_post,       \
			      [HTTP_DELETE] = api_files_delete }, \
		.flags = ROUTE_STREAM_BODY                        \
	}

#define LOGS_ROUTES(base)                                                           \
	{ .path = base "/{name}/logs", .handlers = { [HTTP_GET] = api_logs_get } }, \
	{                                                                           \
		.path = base "/{name}/logs/{file}", .handlers = {                   \
			[HTTP_GET] = api_log_get,                                   \
			[HTTP_DELETE] = api_log_delete                              \
		}                                                                   \
	}

const struct route api_files_routes[] = {
	FILES_ROUTES("/1.0/instances"),
	FILES_ROUTES("/1.0/containers"),
	LOGS_ROUTES("/1.0/instances"),
	LOGS_ROUTES("/1.0/containers"),
	{ .path = "/1.0/instances/{name}/console",
	  .handlers = { [HTTP_GET] = api_console_log_get,
			[HTTP_DELETE] = api_console_log_delete } },
	{ .path = "/1.0/containers/{name}/console",
	  .handlers = { [HTTP_GET] = api_console_log_get,
			[HTTP_DELETE] = api_console_log_delete } },
	{},
};
