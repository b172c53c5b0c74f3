/* lodge image list|info|show|import|export|delete|refresh|alias: the image store, like
 * `lxc image`. An image is named by an alias or a fingerprint (prefix), as lxc resolves
 * it: an alias of that name wins. Imports and exports stream files through the raw HTTP
 * client, everything else is JSON through lib/lxd-client.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "lib/fs.h"
#include "lib/http-client.h"
#include "lib/json.h"
#include "lib/multipart.h"
#include "lib/str.h"
#include "lib/yaml-in.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* The fingerprint an alias or fingerprint prefix names. The caller frees. */
static int image_resolve(struct cli *cli, const char *name, char **ret, struct error *err)
{
	autojson json_t *alias = NULL, *img = NULL;
	autofree char *esc = url_encode_path(name);
	autofree char *path = str_printf("/1.0/images/aliases/%s", esc);
	const char *fp;
	int r;

	if (str_is_empty(name) || !str_is_single_line(name))
		return error_set(err, -EINVAL, "Invalid image name");
	if (lxd_get(cli_lxd(cli), path, &alias, NULL) == 0 &&
	    (fp = json_get_str(alias, "target"))) {
		*ret = xstrdup(fp);
		return 0;
	}
	free(path);
	path = str_printf("/1.0/images/%s", esc);
	r = lxd_get(cli_lxd(cli), path, &img, err);
	if (r < 0)
		return r;
	fp = json_get_str(img, "fingerprint");
	if (!fp)
		return error_set(err, -EPROTO, "The server sent an image without fingerprint");
	*ret = xstrdup(fp);
	return 0;
}

/* GET of the image an alias or fingerprint names. */
static int image_get(struct cli *cli, const char *name, json_t **ret, char **ret_fp,
		     struct error *err)
{
	autofree char *fp = NULL, *path = NULL;
	int r;

	r = image_resolve(cli, name, &fp, err);
	if (r < 0)
		return r;
	path = str_printf("/1.0/images/%s", fp);
	r = lxd_get(cli_lxd(cli), path, ret, err);
	if (r == 0 && ret_fp)
		*ret_fp = take_ptr(fp);
	return r;
}

/* --- list, info, show -------------------------------------------------------------------- */

static int image_list_run(struct cli *cli, struct error *err)
{
	autojson json_t *images = NULL;
	autoclean(table_freep) struct table *t = NULL;
	size_t i;
	json_t *img;
	int r;

	r = lxd_get(cli_lxd(cli), "/1.0/images?recursion=1", &images, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "ALIAS", "FINGERPRINT", "PUBLIC", "DESCRIPTION",
					"ARCHITECTURE", "TYPE", "SIZE", "UPLOAD DATE", NULL });
	json_array_foreach(images, i, img)
	{
		const json_t *aliases = json_object_get(img, "aliases");
		const char *fp = json_get_str(img, "fingerprint");
		autofree char *alias = NULL, *size = NULL, *date = NULL, *type = NULL;
		autofree char *short_fp = xstrndup(fp ? fp : "", 12);
		long long bytes = 0;

		if (json_array_size(aliases) > 1)
			alias = str_printf("%s (%zu more)",
					   json_get_str(json_array_get(aliases, 0), "name"),
					   json_array_size(aliases) - 1);
		else
			alias = xstrdup(json_array_size(aliases)
						? json_get_str(json_array_get(aliases, 0), "name")
						: "");
		(void)json_get_int(img, "size", &bytes);
		size = str_printf("%.2fMB", (double)bytes / 1e6);
		date = cli_time_short(json_get_str(img, "uploaded_at"));
		type = xstrdup(streq(json_get_str(img, "type") ?: "", "virtual-machine")
				       ? "VIRTUAL-MACHINE"
				       : "CONTAINER");
		table_add_row(
			t, (const char *[]){
				   alias, short_fp,
				   json_is_true(json_object_get(img, "public")) ? "yes" : "no",
				   json_get_str(json_object_get(img, "properties"), "description")
					   ?: "",
				   json_get_str(img, "architecture"), type, size, date });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, images, err);
}

/* The editable part of an image (ImagePut), as `lxc image show` prints it. */
static json_t *image_put_of(const json_t *img)
{
	return json_pack(
		"{s:O?,s:O?,s:O?,s:O?,s:O?}", "auto_update", json_object_get(img, "auto_update"),
		"properties", json_object_get(img, "properties"), "public",
		json_object_get(img, "public"), "expires_at", json_object_get(img, "expires_at"),
		"profiles", json_object_get(img, "profiles"));
}

static int image_show_run(struct cli *cli, struct error *err)
{
	autojson json_t *img = NULL, *put = NULL;
	int r;

	r = image_get(cli, cli->args[0], &img, NULL, err);
	if (r < 0)
		return r;
	put = image_put_of(img);
	return cli_print_document(cli, put, err);
}

static int image_edit_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *img = NULL, *put = NULL, *doc = NULL;
	autofree char *fp = NULL, *path = NULL, *text = NULL;
	int r;

	r = image_get(cli, cli->args[0], &img, &fp, err);
	if (r < 0)
		return r;
	put = image_put_of(img);
	r = cli_edit_text(put, &text, err);
	if (r == 0)
		r = yaml_in_parse(text ? text : "", text ? strlen(text) : 0, "YAML", &doc, err);
	if (r == 0)
		r = cli_edit_apply(doc, put, err);
	if (r < 0)
		return r;
	path = str_printf("/1.0/images/%s", fp);
	return lxd_query(cli_lxd(cli), "PUT", path, put, NULL, &resp, err);
}

static int image_info_run(struct cli *cli, struct error *err)
{
	autojson json_t *img = NULL;
	const char *key;
	size_t i;
	json_t *v;
	long long size = 0;
	int r;

	r = image_get(cli, cli->args[0], &img, NULL, err);
	if (r < 0)
		return r;
	(void)json_get_int(img, "size", &size);
	printf("Fingerprint: %s\n", json_get_str(img, "fingerprint"));
	printf("Size: %.2fMB\n", (double)size / 1e6);
	printf("Architecture: %s\n", json_get_str(img, "architecture"));
	printf("Type: %s\n", json_get_str(img, "type"));
	printf("Public: %s\n", json_is_true(json_object_get(img, "public")) ? "yes" : "no");
	printf("Timestamps:\n");
	printf("    Created: %s\n", json_get_str(img, "created_at"));
	printf("    Uploaded: %s\n", json_get_str(img, "uploaded_at"));
	printf("    Expires: %s\n", json_get_str(img, "expires_at"));
	printf("    Last used: %s\n", json_get_str(img, "last_used_at"));
	printf("Properties:\n");
	json_object_foreach(json_object_get(img, "properties"), key, v)
	{
		printf("    %s: %s\n", key, json_string_value(v));
	}
	printf("Aliases:\n");
	json_array_foreach(json_object_get(img, "aliases"), i, v)
	{
		printf("    - %s\n", json_get_str(v, "name"));
	}
	printf("Cached: %s\n", json_is_true(json_object_get(img, "cached")) ? "yes" : "no");
	printf("Auto update: %s\n",
	       json_is_true(json_object_get(img, "auto_update")) ? "enabled" : "disabled");
	printf("Profiles:\n");
	json_array_foreach(json_object_get(img, "profiles"), i, v)
	{
		printf("    - %s\n", json_string_value(v));
	}
	return 0;
}

/* --- delete, refresh --------------------------------------------------------------------- */

/* method on /1.0/images/<fp><suffix>, waiting for its operation. */
static int image_op(struct cli *cli, const char *method, const char *name, const char *suffix,
		    json_t **ret_op, char **ret_fp, struct error *err)
{
	autofree char *fp = NULL, *path = NULL;
	int r;

	r = image_resolve(cli, name, &fp, err);
	if (r < 0)
		return r;
	path = str_printf("/1.0/images/%s%s", fp, suffix);
	r = lxd_query_wait(cli_lxd(cli), method, path, NULL, NULL, ret_op, err);
	if (r == 0 && ret_fp)
		*ret_fp = take_ptr(fp);
	return r;
}

static int image_delete_run(struct cli *cli, struct error *err)
{
	for (size_t i = 0; i < cli->n_args; i++) {
		autojson json_t *op = NULL;
		int r;

		r = image_op(cli, "DELETE", cli->args[i], "", &op, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int image_refresh_run(struct cli *cli, struct error *err)
{
	for (size_t i = 0; i < cli->n_args; i++) {
		autojson json_t *op = NULL;
		int r;

		r = image_op(cli, "POST", cli->args[i], "/refresh", &op, NULL, err);
		if (r < 0)
			return r;
		if (!cli->quiet)
			printf("%s\n", json_is_true(json_object_get(json_object_get(op, "metadata"),
								    "refreshed"))
					       ? "Image refreshed successfully!"
					       : "Image already up to date.");
	}
	return 0;
}

/* --- import, export ---------------------------------------------------------------------- */

/* One raw request on the daemon's socket: body from body_fd (-1: none), a 2xx reply's body
 * to out_fd (-1: kept for the envelope). Fills *ret with the envelope when there is one. */
static int raw_query(struct cli *cli, const char *method, const char *path,
		     const char *const *headers, int body_fd, int out_fd,
		     struct http_response *ret_http, struct lxd_response *ret, struct error *err)
{
	autoclean(http_conn_freep) struct http_conn *conn = NULL;
	struct stat st;
	int r;

	r = http_conn_new_unix(lxd_client_get_socket_path(cli_lxd(cli)), -1, &conn, err);
	if (r < 0)
		return r;
	if (body_fd >= 0 && fstat(body_fd, &st) < 0)
		return error_errno(err, -errno, "Failed to inspect the image file");
	r = http_do(conn,
		    &(struct http_request){
			    .method = method,
			    .target = path,
			    .headers = headers,
			    .body_from_fd = body_fd >= 0,
			    .body_fd = body_fd,
			    .body_fd_len = body_fd >= 0 ? (uint64_t)st.st_size : 0,
			    .body_to_fd = out_fd >= 0,
			    .response_fd = out_fd,
		    },
		    ret_http, err);
	if (r < 0)
		return r;
	if (out_fd >= 0 && ret_http->status / 100 == 2)
		return 0;
	return lxd_response_parse(ret_http->status, ret_http->body, ret_http->body_len, ret, err);
}

/* The body of a split import: META and ROOTFS as the multipart/form-data parts LXD takes,
 * in an unnamed temporary file (*ret_fd); *ret_ctype is its Content-Type header line. */
static int split_body_make(const char *meta_path, const char *rootfs_path, int *ret_fd,
			   char **ret_ctype, struct error *err)
{
	autofree char *boundary = random_hex(16);
	const char *tmp = !str_is_empty(getenv("TMPDIR")) ? getenv("TMPDIR") : "/tmp";
	autoclose int meta = -1, rootfs = -1, out = -1;
	int r;

	meta = open(meta_path, O_RDONLY | O_CLOEXEC);
	if (meta < 0)
		return error_errno(err, -errno, "Failed to open '%s'", meta_path);
	rootfs = open(rootfs_path, O_RDONLY | O_CLOEXEC);
	if (rootfs < 0)
		return error_errno(err, -errno, "Failed to open '%s'", rootfs_path);
	out = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return error_errno(err, -errno, "Failed to create a temporary file in '%s'", tmp);
	r = multipart_write_file(out, boundary, "metadata", "metadata", meta);
	if (r == 0)
		r = multipart_write_file(out, boundary, "rootfs", "rootfs", rootfs);
	if (r == 0)
		r = multipart_write_end(out, boundary);
	if (r == 0 && lseek(out, 0, SEEK_SET) < 0)
		r = -errno;
	if (r < 0)
		return error_errno(err, r, "Failed to prepare the upload");
	*ret_fd = take_fd(out);
	*ret_ctype = str_printf("Content-Type: multipart/form-data; boundary=%s", boundary);
	return 0;
}

static int image_import_run(struct cli *cli, struct error *err)
{
	autoclean(http_response_release) struct http_response http = HTTP_RESPONSE_INIT;
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *op = NULL;
	autoclose int fd = -1;
	autofree char *filename = NULL, *ctype = NULL;
	autofree const char **aliases = NULL;
	size_t n_aliases = cli_flag_list(cli, "alias", &aliases);
	const char *headers[5] = { "Content-Type: application/octet-stream" };
	const char *base = strrchr(cli->args[0], '/');
	const char *fp;
	int r;

	if (cli->n_args > 1) {
		r = split_body_make(cli->args[0], cli->args[1], &fd, &ctype, err);
		if (r < 0)
			return r;
		headers[0] = ctype;
	} else {
		fd = open(cli->args[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return error_errno(err, -errno, "Failed to open '%s'", cli->args[0]);
	}
	filename = str_printf("X-LXD-filename: %s", base ? base + 1 : cli->args[0]);
	headers[1] = str_is_single_line(filename) ? filename : "X-LXD-filename: image";
	headers[2] = cli_flag_bool(cli, "public") ? "X-LXD-public: true" : NULL;
	r = raw_query(cli, "POST", "/1.0/images", headers, fd, -1, &http, &resp, err);
	if (r == 0 && !resp.operation)
		r = error_set(err, -EPROTO, "The server did not start an operation");
	if (r == 0)
		r = lxd_operation_wait(cli_lxd(cli), resp.operation, -1, &op, err);
	if (r < 0)
		return r;
	fp = json_get_str(json_object_get(op, "metadata"), "fingerprint");
	for (size_t i = 0; r == 0 && i < n_aliases; i++) {
		autoclean(lxd_response_release) struct lxd_response a = LXD_RESPONSE_INIT;
		autojson json_t *body = json_pack("{s:s,s:s}", "name", aliases[i], "target", fp);

		r = lxd_query(cli_lxd(cli), "POST", "/1.0/images/aliases", body, NULL, &a, err);
	}
	if (r == 0 && !cli->quiet)
		printf("Image imported with fingerprint: %s\n", fp);
	return r;
}

/* Splitting an exported split image's multipart body: "metadata" to one file, the root
 * filesystem to the other, as `lxc image export` writes TARGET and TARGET.root. */
struct export_split {
	int meta, rootfs, cur;
};

static int split_begin(void *data, const char *name, const char *filename, struct error *err)
{
	struct export_split *x = data;

	if (streq(name, "metadata"))
		x->cur = x->meta;
	else if (streq(name, "rootfs") || streq(name, "rootfs.img"))
		x->cur = x->rootfs;
	else
		return error_set(err, -EPROTO, "Unexpected part in the exported image");
	return 0;
}

static int split_data(void *data, const void *buf, size_t len, struct error *err)
{
	struct export_split *x = data;

	if (write_all_fd(x->cur, buf, len) < 0)
		return error_errno(err, -errno, "Failed to write the exported image");
	return 0;
}

static int split_end(void *data, struct error *err)
{
	return 0;
}

static const struct multipart_ops split_ops = {
	.part_begin = split_begin,
	.part_data = split_data,
	.part_end = split_end,
};

/* Splits the multipart body in fd into target and target.root. */
static int export_split(int fd, const char *ctype, const char *target, struct error *err)
{
	autofree char *root = str_printf("%s.root", target);
	autoclose int meta = -1, rootfs = -1;
	struct export_split x;
	int r;

	meta = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rootfs = open(root, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (meta < 0 || rootfs < 0)
		return error_errno(err, -errno, "Failed to create '%s'", meta < 0 ? target : root);
	x = (struct export_split){ .meta = meta, .rootfs = rootfs, .cur = -1 };
	r = multipart_parse_fd(fd, ctype, &split_ops, &x, err);
	if (r < 0) {
		(void)unlink(target);
		(void)unlink(root);
	}
	return r;
}

static int image_export_run(struct cli *cli, struct error *err)
{
	autoclean(http_response_release) struct http_response http = HTTP_RESPONSE_INIT;
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *fp = NULL, *path = NULL, *target = NULL, *tmp = NULL;
	autoclose int out = -1;
	const char *ctype;
	int r;

	r = image_resolve(cli, cli->args[0], &fp, err);
	if (r < 0)
		return r;
	target = cli->n_args > 1 ? xstrdup(cli->args[1]) : str_printf("%s.tar", fp);
	tmp = str_printf("%s.part", target);
	out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return error_errno(err, -errno, "Failed to create '%s'", tmp);
	path = str_printf("/1.0/images/%s/export", fp);
	r = raw_query(cli, "GET", path, NULL, -1, out, &http, &resp, err);
	ctype = http_response_header(&http, "Content-Type");
	if (r == 0 && ctype && multipart_is_form_data(ctype))
		r = export_split(out, ctype, target, err);
	else if (r == 0 && rename(tmp, target) < 0)
		r = error_errno(err, -errno, "Failed to create '%s'", target);
	(void)unlink(tmp);
	if (r == 0 && !cli->quiet)
		printf("Image exported successfully!\n");
	return r;
}

/* --- aliases ----------------------------------------------------------------------------- */

static char *alias_path(const char *name)
{
	autofree char *esc = url_encode_path(name);

	return str_printf("/1.0/images/aliases/%s", esc);
}

static int alias_create_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *body = NULL;
	autofree char *fp = NULL;
	int r;

	r = image_resolve(cli, cli->args[1], &fp, err);
	if (r < 0)
		return r;
	body = json_pack("{s:s,s:s}", "name", cli->args[0], "target", fp);
	return lxd_query(cli_lxd(cli), "POST", "/1.0/images/aliases", body, NULL, &resp, err);
}

static int alias_delete_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *path = alias_path(cli->args[0]);

	return lxd_query(cli_lxd(cli), "DELETE", path, NULL, NULL, &resp, err);
}

static int alias_rename_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *path = alias_path(cli->args[0]);
	autojson json_t *body = json_pack("{s:s}", "name", cli->args[1]);

	return lxd_query(cli_lxd(cli), "POST", path, body, NULL, &resp, err);
}

static int alias_list_run(struct cli *cli, struct error *err)
{
	autojson json_t *aliases = NULL;
	autoclean(table_freep) struct table *t = NULL;
	size_t i;
	json_t *a;
	int r;

	r = lxd_get(cli_lxd(cli), "/1.0/images/aliases?recursion=1", &aliases, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "ALIAS", "FINGERPRINT", "TYPE", "DESCRIPTION", NULL });
	json_array_foreach(aliases, i, a)
	{
		autofree char *fp = xstrndup(json_get_str(a, "target") ?: "", 12);
		autofree char *type = xstrdup(
			streq(json_get_str(a, "type") ?: "", "virtual-machine") ? "VIRTUAL-MACHINE"
										: "CONTAINER");

		table_add_row(t, (const char *[]){ json_get_str(a, "name"), fp, type,
						   json_get_str(a, "description") });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, aliases, err);
}

static const struct command command_image_alias_create = {
	.name = "create",
	.aliases = (const char *const[]){ "add", NULL },
	.args = "<alias> <fingerprint>",
	.summary = "Create aliases for existing images",
	.min_args = 2,
	.max_args = 2,
	.run = alias_create_run,
};

static const struct command command_image_alias_delete = {
	.name = "delete",
	.aliases = (const char *const[]){ "rm", NULL },
	.args = "<alias>",
	.summary = "Delete image aliases",
	.min_args = 1,
	.max_args = 1,
	.run = alias_delete_run,
};

static const struct command command_image_alias_rename = {
	.name = "rename",
	.aliases = (const char *const[]){ "mv", NULL },
	.args = "<alias> <new-name>",
	.summary = "Rename aliases",
	.min_args = 2,
	.max_args = 2,
	.run = alias_rename_run,
};

static const struct command command_image_alias_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.summary = "List image aliases",
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.min_args = 0,
	.max_args = 0,
	.run = alias_list_run,
};

static const struct command command_image_alias = {
	.name = "alias",
	.summary = "Manage image aliases",
	.subcommands = (const struct command *const[]){ &command_image_alias_create,
							&command_image_alias_delete,
							&command_image_alias_list,
							&command_image_alias_rename, NULL },
};

static const struct command command_image_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.summary = "List images",
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.min_args = 0,
	.max_args = 0,
	.run = image_list_run,
};

static const struct command command_image_info = {
	.name = "info",
	.args = "<image>",
	.summary = "Show useful information about images",
	.min_args = 1,
	.max_args = 1,
	.run = image_info_run,
};

static const struct command command_image_show = {
	.name = "show",
	.args = "<image>",
	.summary = "Show image properties",
	.formats = CLI_FORMATS_DOCUMENT,
	.default_format = CLI_FORMAT_YAML,
	.min_args = 1,
	.max_args = 1,
	.run = image_show_run,
};

static const struct command command_image_edit = {
	.name = "edit",
	.args = "<image>",
	.summary = "Edit image properties (YAML on stdin, or in $EDITOR)",
	.min_args = 1,
	.max_args = 1,
	.run = image_edit_run,
};

static const struct command command_image_delete = {
	.name = "delete",
	.aliases = (const char *const[]){ "rm", NULL },
	.args = "<image> [<image>...]",
	.summary = "Delete images",
	.min_args = 1,
	.max_args = -1,
	.run = image_delete_run,
};

static const struct command command_image_refresh = {
	.name = "refresh",
	.args = "<image> [<image>...]",
	.summary = "Refresh images",
	.min_args = 1,
	.max_args = -1,
	.run = image_refresh_run,
};

static const struct command command_image_import = {
	.name = "import",
	.args = "<tarball> [<rootfs>]",
	.summary =
		"Import an image (unified tarball, or metadata tarball and rootfs) into the image store",
	.flags =
		(const struct cli_flag[]){
			{ .name = "alias",
			  .type = CLI_FLAG_LIST,
			  .value_name = "ALIAS",
			  .help = "New aliases to add to the image" },
			{ .name = "public",
			  .type = CLI_FLAG_BOOL,
			  .help = "Make the image public" },
			{},
		},
	.min_args = 1,
	.max_args = 2,
	.run = image_import_run,
};

static const struct command command_image_export = {
	.name = "export",
	.args = "<image> [<target>]",
	.summary = "Export an image's file (a split one as <target> and <target>.root)",
	.min_args = 1,
	.max_args = 2,
	.run = image_export_run,
};

const struct command command_image = {
	.name = "image",
	.summary = "Manage images",
	.subcommands = (const struct command *const[]){ &command_image_alias, &command_image_delete,
							&command_image_edit, &command_image_export,
							&command_image_import, &command_image_info,
							&command_image_list, &command_image_refresh,
							&command_image_show, NULL },
};
