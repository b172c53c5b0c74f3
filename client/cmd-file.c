/* lodge file push|pull|delete: files in instances through /1.0/instances/NAME/files?path=,
 * as `lxc file` does it: X-LXD-type (file, directory, symlink), X-LXD-uid, X-LXD-gid and
 * X-LXD-mode headers, the file's bytes streamed as the body; a directory's GET answers a
 * JSON list of its entries and -r walks it. Instance paths are "[remote:]NAME/PATH". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define LINK_TARGET_MAX 4096
#define LISTING_MAX	(16u << 20)

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

/* An instance file: its server, instance and absolute path. */
struct remote_file {
	struct lxd_client *lxd;
	char *instance;
	char *path;
};

static void remote_file_release(struct remote_file *f)
{
	free(f->instance);
	free(f->path);
}

/* "[remote:]c1/root/x" into c1 and /root/x. */
static int remote_file_parse(struct cli *cli, const char *arg, struct remote_file *ret,
			     struct error *err)
{
	const char *name, *slash;
	int r;

	r = cli_target(cli, arg, &ret->lxd, &name, err);
	if (r < 0)
		return r;
	slash = strchr(name, '/');
	if (!slash || slash == name || (slash - name == 1 && name[0] == '.') ||
	    (slash - name == 2 && name[0] == '.' && name[1] == '.'))
		return error_set(err, -EINVAL, "Invalid target %s", arg);
	ret->instance = xstrndup(name, (size_t)(slash - name));
	ret->path = xstrdup(slash);
	return 0;
}

static char *files_url(const char *instance, const char *path)
{
	autofree char *enc = url_encode_path(path);
	autofree char *base = cli_instance_path(instance, "/files?path=");

	return str_printf("%s%s", base, enc);
}

static char *path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir);

	return str_printf("%s%s%s", dir, len > 0 && dir[len - 1] == '/' ? "" : "/", name);
}

static char *path_base(const char *path)
{
	autofree char *copy = xstrdup(path);
	size_t len = strlen(copy);

	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	return xstrdup(basename(copy));
}

/* --- push --------------------------------------------------------------------------------- */

struct push_opts {
	int64_t uid, gid; /* -1: the local file's */
	int64_t mode;	  /* -1: the local file's */
};

/* POST one file, directory (no body) or symlink (the target as body). */
static int push_one(struct lxd_client *lxd, const char *instance, const char *path,
		    const char *type, int64_t uid, int64_t gid, int64_t mode, int fd,
		    const char *body, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *url = files_url(instance, path);
	autofree char *h_type = str_printf("X-LXD-type: %s", type);
	autofree char *h_uid = str_printf("X-LXD-uid: %lld", (long long)uid);
	autofree char *h_gid = str_printf("X-LXD-gid: %lld", (long long)gid);
	autofree char *h_mode = str_printf("X-LXD-mode: 0%llo", (unsigned long long)mode);
	const char *headers[] = { "Content-Type: application/octet-stream",
				  h_type,
				  h_uid,
				  h_gid,
				  "X-LXD-write: overwrite",
				  h_mode,
				  NULL };
	struct http_request req = {
		.method = "POST",
		.target = url,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
	};
	struct stat st;
	int r;

	if (mode < 0)
		headers[5] = NULL;
	if (fd >= 0) {
		req.body_from_fd = true;
		req.body_fd = fd;
		req.body_fd_len = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
									     : HTTP_LENGTH_UNKNOWN;
	}
	r = lxd_do(lxd, &req, &resp, err);
	if (r < 0)
		return error_prefix(err, "Failed to push '%s'", path);
	return 0;
}

static int64_t pick(int64_t flag, int64_t local)
{
	return flag >= 0 ? flag : local;
}

/* Pushes local (a file, symlink or, recursively, a directory) to path. */
static int push_tree(struct lxd_client *lxd, const char *instance, const char *local,
		     const char *path, const struct push_opts *o, struct error *err)
{
	autoclean(closedirp) DIR *dir = NULL;
	struct stat st;
	struct dirent *de;
	int r;

	if (lstat(local, &st) < 0)
		return error_errno(err, -errno, "Failed to stat '%s'", local);
	if (S_ISLNK(st.st_mode)) {
		char target[LINK_TARGET_MAX];
		ssize_t n = readlink(local, target, sizeof(target) - 1);

		if (n < 0)
			return error_errno(err, -errno, "Failed to read the link '%s'", local);
		target[n] = '\0';
		return push_one(lxd, instance, path, "symlink", pick(o->uid, st.st_uid),
				pick(o->gid, st.st_gid), -1, -1, target, err);
	}
	if (S_ISREG(st.st_mode)) {
		autoclose int fd = open(local, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return error_errno(err, -errno, "Failed to open '%s'", local);
		return push_one(lxd, instance, path, "file", pick(o->uid, st.st_uid),
				pick(o->gid, st.st_gid), pick(o->mode, st.st_mode & 07777), fd,
				NULL, err);
	}
	if (!S_ISDIR(st.st_mode))
		return error_set(err, -EINVAL, "'%s' is not a file, directory or symlink", local);

	r = push_one(lxd, instance, path, "directory", pick(o->uid, st.st_uid),
		     pick(o->gid, st.st_gid), pick(o->mode, st.st_mode & 07777), -1, NULL, err);
	if (r < 0)
		return r;
	dir = opendir(local);
	if (!dir)
		return error_errno(err, -errno, "Failed to open '%s'", local);
	while ((de = readdir(dir))) {
		autofree char *sub_local = NULL;
		autofree char *sub_path = NULL;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		sub_local = path_join(local, de->d_name);
		sub_path = path_join(path, de->d_name);
		r = push_tree(lxd, instance, sub_local, sub_path, o, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* -p: creates the missing directories above path, as lxc's recursiveMkdir. */
static int push_parents(struct lxd_client *lxd, const char *instance, const char *path,
			const struct push_opts *o, struct error *err)
{
	autofree char *dir = xstrdup(path);
	char *p;
	int r;

	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1;; p++) {
		autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
		autofree char *url = NULL;
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		url = files_url(instance, dir);
		if (lxd_do(lxd, &(struct http_request){ .method = "GET", .target = url }, &resp,
			   NULL) < 0) {
			r = push_one(lxd, instance, dir, "directory", pick(o->uid, 0),
				     pick(o->gid, 0), 0755, -1, NULL, err);
			if (r < 0)
				return r;
		}
		if (last)
			break;
		*p = '/';
	}
	return 0;
}

static int parse_id_flag(struct cli *cli, const char *name, int base, int64_t max, int64_t *ret,
			 struct error *err)
{
	const char *v = cli_flag_string(cli, name);
	char *end = NULL;
	long long n;

	*ret = -1;
	if (!v)
		return 0;
	errno = 0;
	n = strtoll(v, &end, base);
	if (errno != 0 || !end || *end != '\0' || end == v || n < -1 || n > max)
		return error_set(err, -EINVAL, "Invalid value '%s' for flag '--%s'", v, name);
	*ret = n;
	return 0;
}

static int push_run(struct cli *cli, struct error *err)
{
	autoclean(remote_file_release) struct remote_file target = { 0 };
	struct push_opts o;
	bool recursive = cli_flag_bool(cli, "recursive");
	size_t n_src = cli->n_args - 1;
	bool to_dir;
	int r;

	r = parse_id_flag(cli, "uid", 10, UINT32_MAX - 1, &o.uid, err);
	if (r < 0)
		return r;
	r = parse_id_flag(cli, "gid", 10, UINT32_MAX - 1, &o.gid, err);
	if (r < 0)
		return r;
	r = parse_id_flag(cli, "mode", 8, 07777, &o.mode, err);
	if (r < 0)
		return r;
	r = remote_file_parse(cli, cli->args[n_src], &target, err);
	if (r < 0)
		return r;

	to_dir = str_has_suffix(target.path, "/");
	if ((n_src > 1 || recursive) && !to_dir && !recursive)
		return error_set(err, -EINVAL, "Missing target directory");

	for (size_t i = 0; i < n_src; i++) {
		const char *src = cli->args[i];
		autofree char *base = path_base(src);
		autofree char *path = to_dir || (recursive && n_src > 1)
					      ? path_join(target.path, base)
					      : xstrdup(target.path);
		struct stat st;

		if (cli_flag_bool(cli, "create-dirs")) {
			r = push_parents(target.lxd, target.instance, path, &o, err);
			if (r < 0)
				return r;
		}
		if (streq(src, "-")) {
			if (to_dir)
				return error_set(err, -EINVAL,
						 "Pushing stdin needs a file name as target");
			r = push_one(target.lxd, target.instance, path, "file", pick(o.uid, 0),
				     pick(o.gid, 0), pick(o.mode, 0644), STDIN_FILENO, NULL, err);
			if (r < 0)
				return r;
			continue;
		}
		if (stat(src, &st) < 0)
			return error_errno(err, -errno, "Failed to stat '%s'", src);
		if (S_ISDIR(st.st_mode) && !recursive)
			return error_set(err, -EISDIR, "'%s' is a directory, use -r to push it",
					 src);
		r = push_tree(target.lxd, target.instance, src, path, &o, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- pull --------------------------------------------------------------------------------- */

static int header_octal(const struct http_response *resp, const char *name, mode_t def)
{
	const char *v = http_response_header(resp, name);
	char *end = NULL;
	long m;

	if (!v)
		return (int)def;
	m = strtol(v, &end, 0);
	return end && *end == '\0' && m >= 0 && m <= 07777 ? (int)m : (int)def;
}

static int pull_tree(struct lxd_client *lxd, const char *instance, const char *path,
		     const char *local, bool recursive, struct error *err);

/* A directory's entries: the JSON envelope left in fd. */
static int pull_dir(struct lxd_client *lxd, const char *instance, const char *path,
		    const char *local, int fd, mode_t mode, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response lr = LXD_RESPONSE_INIT;
	autofree char *body = NULL;
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	ssize_t n;
	int r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_errno(err, -errno, "Failed to read the listing of '%s'", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		strbuf_add(&sb, buf, (size_t)n);
		if (sb.len > LISTING_MAX) {
			strbuf_release(&sb);
			return error_set(err, -EFBIG,
					 "Server sent a listing of '%s' that is too large", path);
		}
	}
	body = strbuf_detach(&sb);
	r = lxd_response_parse(200, body, strlen(body), &lr, err);
	if (r < 0)
		return r;
	if (mkdir(local, mode) < 0 && errno != EEXIST)
		return error_errno(err, -errno, "Failed to create '%s'", local);
	for (size_t i = 0; i < json_array_size(lr.metadata); i++) {
		const char *entry = json_string_value(json_array_get(lr.metadata, i));
		autofree char *sub_path = NULL;
		autofree char *sub_local = NULL;

		/* Names come from the server: one component each, never a way out of local. */
		if (!entry || !*entry || strchr(entry, '/') || streq(entry, ".") ||
		    streq(entry, ".."))
			return error_set(err, -EPROTO, "Server sent an invalid entry in '%s'",
					 path);
		sub_path = path_join(path, entry);
		sub_local = path_join(local, entry);
		r = pull_tree(lxd, instance, sub_path, sub_local, true, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* GETs path into local: the body lands in a temporary file next to local, renamed into
 * place for a file, read back for a directory's listing or a symlink's target. */
static int pull_tree(struct lxd_client *lxd, const char *instance, const char *path,
		     const char *local, bool recursive, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *url = files_url(instance, path);
	autofree char *tmp = NULL;
	autofree char *dir = NULL;
	autoclose int fd = -1;
	const char *type;
	int r;

	dir = xstrdup(local);
	tmp = str_printf("%s/.lodge-pull-XXXXXX", dirname(dir));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, -errno, "Failed to create a file next to '%s'", local);

	r = lxd_do(lxd,
		   &(struct http_request){
			   .method = "GET",
			   .target = url,
			   .body_to_fd = true,
			   .response_fd = fd,
		   },
		   &resp, err);
	if (r < 0)
		goto undo_tmp;

	type = http_response_header(&resp, "X-LXD-type");
	if (!type || streq(type, "file")) {
		if (fchmod(fd, (mode_t)header_octal(&resp, "X-LXD-mode", 0644)) < 0 ||
		    rename(tmp, local) < 0) {
			r = error_errno(err, -errno, "Failed to write '%s'", local);
			goto undo_tmp;
		}
		return 0;
	}
	if (streq(type, "symlink")) {
		char target[LINK_TARGET_MAX];
		ssize_t n = pread(fd, target, sizeof(target) - 1, 0);

		if (n < 0) {
			r = error_errno(err, -errno, "Failed to read the link '%s'", path);
			goto undo_tmp;
		}
		if ((size_t)n >= sizeof(target) - 1) {
			r = error_set(err, -ENAMETOOLONG,
				      "Server sent too long a link target for '%s'", path);
			goto undo_tmp;
		}
		target[n] = '\0';
		(void)unlink(tmp);
		if (symlink(target, local) < 0)
			return error_errno(err, -errno, "Failed to create the link '%s'", local);
		return 0;
	}
	if (streq(type, "directory")) {
		if (!recursive) {
			r = error_set(err, -EISDIR, "'%s' is a directory, use -r to pull it", path);
			goto undo_tmp;
		}
		r = pull_dir(lxd, instance, path, local, fd,
			     (mode_t)header_octal(&resp, "X-LXD-mode", 0755), err);
		(void)unlink(tmp);
		return r;
	}
	r = error_set(err, -EPROTO, "Server sent an unknown file type '%s'", type);
undo_tmp:
	(void)unlink(tmp);
	return r;
}

static int pull_stdout(const struct remote_file *src, struct error *err)
{
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autofree char *url = files_url(src->instance, src->path);
	int r;

	r = lxd_do(src->lxd,
		   &(struct http_request){
			   .method = "GET",
			   .target = url,
			   .body_to_fd = true,
			   .response_fd = STDOUT_FILENO,
		   },
		   &resp, err);
	if (r < 0)
		return r;
	if (!streq_ptr(http_response_header(&resp, "X-LXD-type"), "file") &&
	    http_response_header(&resp, "X-LXD-type"))
		return error_set(err, -EISDIR, "'%s' is not a file", src->path);
	return 0;
}

static int pull_run(struct cli *cli, struct error *err)
{
	const char *target = cli->args[cli->n_args - 1];
	bool recursive = cli_flag_bool(cli, "recursive");
	size_t n_src = cli->n_args - 1;
	struct stat st;
	bool to_dir;
	int r;

	to_dir = stat(target, &st) == 0 && S_ISDIR(st.st_mode);
	if (!to_dir && (n_src > 1 || recursive) && !streq(target, "-")) {
		if (!recursive || n_src > 1)
			return error_set(err, -EINVAL, "Target path '%s' is not a directory",
					 target);
		if (cli_flag_bool(cli, "create-dirs")) {
			r = mkdir_p(target, 0755, err);
			if (r < 0)
				return r;
			to_dir = true;
		}
	}
	if (!to_dir && cli_flag_bool(cli, "create-dirs") && !streq(target, "-")) {
		autofree char *parent = xstrdup(target);

		r = mkdir_p(dirname(parent), 0755, err);
		if (r < 0)
			return r;
	}

	for (size_t i = 0; i < n_src; i++) {
		autoclean(remote_file_release) struct remote_file src = { 0 };
		autofree char *base = NULL;
		autofree char *local = NULL;

		r = remote_file_parse(cli, cli->args[i], &src, err);
		if (r < 0)
			return r;
		if (streq(target, "-")) {
			r = pull_stdout(&src, err);
		} else {
			base = path_base(src.path);
			local = to_dir ? path_join(target, base) : xstrdup(target);
			r = pull_tree(src.lxd, src.instance, src.path, local, recursive, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- delete ------------------------------------------------------------------------------- */

static int delete_run(struct cli *cli, struct error *err)
{
	int r;

	for (size_t i = 0; i < cli->n_args; i++) {
		autoclean(remote_file_release) struct remote_file f = { 0 };
		autofree char *url = NULL;

		r = remote_file_parse(cli, cli->args[i], &f, err);
		if (r < 0)
			return r;
		url = files_url(f.instance, f.path);
		r = cli_do(f.lxd, "DELETE", url, NULL, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct command command_file_push = {
	.name = "push",
	.args = "<source path>... [<remote>:]<instance>/<path>",
	.summary = "Push files into instances",
	.flags =
		(const struct cli_flag[]){
			{ "recursive", 'r', CLI_FLAG_BOOL, NULL, "Recursively transfer files" },
			{ "create-dirs", 'p', CLI_FLAG_BOOL, NULL,
			  "Create any directories necessary" },
			{ "uid", 0, CLI_FLAG_STRING, "UID", "Set the file's uid on push" },
			{ "gid", 0, CLI_FLAG_STRING, "GID", "Set the file's gid on push" },
			{ "mode", 0, CLI_FLAG_STRING, "MODE",
			  "Set the file's perms on push (octal)" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 2,
	.max_args = -1,
	.run = push_run,
};

static const struct command command_file_pull = {
	.name = "pull",
	.args = "[<remote>:]<instance>/<path>... <target path>",
	.summary = "Pull files from instances",
	.description = "A target of \"-\" writes the file to stdout.",
	.flags =
		(const struct cli_flag[]){
			{ "recursive", 'r', CLI_FLAG_BOOL, NULL, "Recursively transfer files" },
			{ "create-dirs", 'p', CLI_FLAG_BOOL, NULL,
			  "Create any directories necessary" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.min_args = 2,
	.max_args = -1,
	.run = pull_run,
};

static const struct command command_file_delete = {
	.name = "delete",
	.aliases = (const char *const[]){ "rm", NULL },
	.args = "[<remote>:]<instance>/<path>...",
	.summary = "Delete files in instances",
	.min_args = 1,
	.max_args = -1,
	.run = delete_run,
};

const struct command command_file = {
	.name = "file",
	.summary = "Manage files in instances",
	.subcommands = (const struct command *const[]){ &command_file_delete, &command_file_pull,
							&command_file_push, NULL },
};
