/* lodge config trust list|add|remove|list-tokens|revoke-token: the server's trust store,
 * like `lxc config trust` (lxc/config_trust.go in LXD 5.0). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/tls-cert.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* "Jan 2, 2006 at 3:04pm (MST)", Go's layout lxc prints dates with, in UTC. */
static void format_date(long long sec, char *buf, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char ampm[8] = "";

	if (!gmtime_r(&t, &tm) || !strftime(ampm, sizeof(ampm), "%p", &tm)) {
		buf[0] = '\0';
		return;
	}
	ampm[0] = (char)(ampm[0] | 0x20);
	ampm[1] = (char)(ampm[1] | 0x20);
	(void)snprintf_ok(buf, size, "%s %d, %d at %d:%02d%s (UTC)",
			  (const char *[]){ "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec" }[tm.tm_mon],
			  tm.tm_mday, tm.tm_year + 1900, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12,
			  tm.tm_min, ampm);
}

/* "[<remote>:]": the server, never an instance. */
static int trust_server(struct cli *cli, size_t arg, struct lxd_client **ret, struct error *err)
{
	const char *name = NULL;
	int r;

	r = cli_target(cli, cli->n_args > arg ? cli->args[arg] : "", ret, &name, err);
	if (r < 0)
		return r;
	if (!str_is_empty(name))
		return error_set(err, -EINVAL, "Invalid remote '%s': expected \"<remote>:\"",
				 cli->args[arg]);
	return 0;
}

static int trust_list_run(struct cli *cli, struct error *err)
{
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *certs = NULL;
	struct lxd_client *lxd;
	size_t i;
	json_t *c;
	int r;

	r = trust_server(cli, 0, &lxd, err);
	if (r == 0)
		r = lxd_get(lxd, "/1.0/certificates?recursion=1", &certs, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "TYPE", "NAME", "COMMON NAME", "FINGERPRINT", "ISSUE DATE",
					"EXPIRY DATE", NULL });
	json_array_foreach(certs, i, c)
	{
		const char *fp = json_get_str(c, "fingerprint") ?: "";
		struct tls_cert_info info = { .common_name = "" };
		char issued[64] = "", expires[64] = "";
		autofree char *short_fp = xstrndup(fp, 12);

		r = tls_cert_info(json_get_str(c, "certificate") ?: "", &info, err);
		if (r < 0)
			return error_prefix(err, "Certificate '%s'", fp);
		format_date(info.not_before, issued, sizeof(issued));
		format_date(info.not_after, expires, sizeof(expires));
		table_add_row(t, (const char *[]){ json_get_str(c, "type"), json_get_str(c, "name"),
						   info.common_name, short_fp, issued, expires });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, certs, err);
}

/* LXD's CertificateAddToken from a token operation, base64 as `lxc` prints it. */
static char *token_encode(const json_t *op)
{
	const json_t *meta = json_object_get(op, "metadata");
	const char *expires = json_get_str(meta, "expiresAt");
	autojson json_t *token =
		json_pack("{s:s, s:s, s:O, s:s, s:s}", "client_name",
			  json_get_str(json_object_get(meta, "request"), "name") ?: "",
			  "fingerprint", json_get_str(meta, "fingerprint") ?: "", "addresses",
			  json_object_get(meta, "addresses") ?: json_array(), "secret",
			  json_get_str(meta, "secret") ?: "", "expires_at",
			  expires ? expires : "0001-01-01T00:00:00Z");
	autofree char *text = token ? json_to_string(token) : NULL;

	return text ? base64_encode(text, strlen(text)) : NULL;
}

/* The body of POST /1.0/certificates: a certificate file's DER, or a token request. */
static int trust_add_body(struct cli *cli, const char *file, json_t **ret, struct error *err)
{
	const char *name = cli_flag_string(cli, "name");
	const char *projects = cli_flag_string(cli, "projects");
	const char *type = cli_flag_string(cli, "type") ?: "client";
	autojson json_t *body = NULL;
	autofree char *pem = NULL;
	json_t *list = json_array();
	int r;

	if (!streq(type, "client") && !streq(type, "metrics"))
		return error_set(err, -EINVAL, "Unknown certificate type \"%s\"", type);
	for (const char *p = projects; p && *p;) {
		size_t n = strcspn(p, ",");

		json_array_append_new(list, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	body = json_pack("{s:s, s:b, s:o}", "type", type, "restricted",
			 cli_flag_bool(cli, "restricted"), "projects", list);
	if (!file) {
		if (str_is_empty(name))
			return error_set(err, -EINVAL, "A token needs a client name (--name)");
		if (streq(type, "metrics"))
			return error_set(err, -EINVAL,
					 "Cannot use metrics type certificate when using a token");
		json_object_set_new(body, "name", json_string(name));
		json_object_set_new(body, "token", json_true());
	} else {
		const char *base = strrchr(file, '/');
		const char *begin, *end;
		autofree char *fp = NULL;
		struct strbuf der = STRBUF_INIT;

		r = read_file(streq(file, "-") ? "/dev/stdin" : file, 1 << 20, &pem, NULL, err);
		if (r == 0)
			r = tls_cert_fingerprint(pem, &fp, err);
		if (r < 0)
			return error_prefix(err, "Certificate '%s'", file);
		/* The API wants base64 DER: the body of the PEM block, without line breaks. */
		begin = strstr(pem, "-----BEGIN CERTIFICATE-----");
		begin = begin ? strchr(begin, '\n') : NULL;
		end = begin ? strstr(begin, "-----END CERTIFICATE-----") : NULL;
		if (!end)
			return error_set(err, -EINVAL, "Certificate '%s' is not PEM", file);
		for (const char *p = begin; p < end; p++) {
			if (*p != '\n' && *p != '\r')
				strbuf_addch(&der, *p);
		}
		json_object_set_new(body, "certificate", json_string(strbuf_str(&der)));
		strbuf_release(&der);
		json_object_set_new(body, "name",
				    json_string(name   ? name
						: base ? base + 1
						       : file));
	}
	*ret = take_ptr(body);
	return 0;
}

static int trust_add_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *body = NULL, *op = NULL;
	autofree char *token = NULL;
	const char *file = NULL;
	struct lxd_client *lxd;
	int r;

	/* lxc: "[<remote>:] [<cert>]": a last argument without ':' is the file. */
	if (cli->n_args == 2 || (cli->n_args == 1 && !strchr(cli->args[0], ':')))
		file = cli->args[cli->n_args - 1];
	r = trust_server(cli, 0, &lxd, err);
	if (r < 0 && file && cli->n_args == 1) {
		error_clear(err);
		r = trust_server(cli, 1, &lxd, err);
	}
	if (r == 0)
		r = trust_add_body(cli, file, &body, err);
	if (r < 0)
		return r;
	if (file)
		return lxd_query(lxd, "POST", "/1.0/certificates", body, NULL, &resp, err);

	r = lxd_query(lxd, "POST", "/1.0/certificates", body, NULL, &resp, err);
	if (r < 0)
		return r;
	op = json_incref(resp.metadata);
	token = token_encode(op);
	if (!token)
		return error_set(err, -EIO, "Server sent an invalid token operation");
	if (!cli->quiet)
		printf("Client %s certificate add token:\n", json_get_str(body, "name"));
	printf("%s\n", token);
	return 0;
}

static int trust_remove_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *path = NULL, *escaped = NULL;
	struct lxd_client *lxd;
	int r;

	r = trust_server(cli, 1, &lxd, err);
	if (r < 0)
		return r;
	escaped = cli_path_escape(cli->args[0]);
	path = str_printf("/1.0/certificates/%s", escaped);
	return lxd_query(lxd, "DELETE", path, NULL, NULL, &resp, err);
}

/* The pending token operations, as GET /1.0/operations?recursion=1 lists them. */
static int trust_tokens(struct lxd_client *lxd, json_t **ret, struct error *err)
{
	autojson json_t *by_status = NULL;
	json_t *out = json_array();
	json_t *ops, *op;
	size_t i;
	int r;

	r = lxd_get(lxd, "/1.0/operations?recursion=1", &by_status, err);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	ops = json_object_get(by_status, "running");
	json_array_foreach(ops, i, op)
	{
		if (streq(json_get_str(op, "class") ?: "", "token") &&
		    json_is_object(json_object_get(json_object_get(op, "metadata"), "request")))
			json_array_append(out, op);
	}
	*ret = out;
	return 0;
}

static int trust_list_tokens_run(struct cli *cli, struct error *err)
{
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *tokens = NULL;
	struct lxd_client *lxd;
	size_t i;
	json_t *op;
	int r;

	r = trust_server(cli, 0, &lxd, err);
	if (r == 0)
		r = trust_tokens(lxd, &tokens, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "NAME", "TOKEN", "EXPIRES AT", NULL });
	json_array_foreach(tokens, i, op)
	{
		const json_t *meta = json_object_get(op, "metadata");
		autofree char *token = token_encode(op);
		autofree char *expires = cli_time_short(json_get_str(meta, "expiresAt") ?: "");

		table_add_row(
			t, (const char *[]){ json_get_str(json_object_get(meta, "request"), "name"),
					     token ?: "", expires });
	}
	table_sort(t, 0);
	return cli_print_table(cli, t, tokens, err);
}

static int trust_revoke_token_run(struct cli *cli, struct error *err)
{
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autojson json_t *tokens = NULL;
	struct lxd_client *lxd;
	size_t i;
	json_t *op;
	int r;

	r = trust_server(cli, 1, &lxd, err);
	if (r == 0)
		r = trust_tokens(lxd, &tokens, err);
	if (r < 0)
		return r;
	json_array_foreach(tokens, i, op)
	{
		const char *name = json_get_str(
			json_object_get(json_object_get(op, "metadata"), "request"), "name");
		autofree char *path = NULL;

		if (!name || !streq(name, cli->args[0]) ||
		    !object_name_is_valid(json_get_str(op, "id")))
			continue;
		path = str_printf("/1.0/operations/%s", json_get_str(op, "id"));
		return lxd_query(lxd, "DELETE", path, NULL, NULL, &resp, err);
	}
	return error_set(err, -ENOENT, "No certificate add token for member %s on remote",
			 cli->args[0]);
}

static const struct command trust_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.args = "[<remote>:]",
	.summary = "List trusted clients",
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.max_args = 1,
	.run = trust_list_run,
};

static const struct command trust_add = {
	.name = "add",
	.args = "[<remote>:] [<cert>]",
	.summary = "Add new trusted client",
	.description = "Without a certificate, prints a token for `lodge remote add NAME TOKEN` "
		       "(or lxc's): it works once, for the client that uses it first.",
	.flags =
		(const struct cli_flag[]){
			{ "name", 0, CLI_FLAG_STRING, "NAME", "Alternative certificate name" },
			{ "type", 0, CLI_FLAG_STRING, "TYPE",
			  "Type of certificate (client or metrics)" },
			{ "restricted", 0, CLI_FLAG_BOOL, NULL,
			  "Restrict the certificate to one or more projects" },
			{ "projects", 0, CLI_FLAG_STRING, "PROJECTS",
			  "List of projects to restrict the certificate to" },
			{ NULL, 0, CLI_FLAG_BOOL, NULL, NULL },
		},
	.max_args = 2,
	.run = trust_add_run,
};

static const struct command trust_remove = {
	.name = "remove",
	.aliases = (const char *const[]){ "rm", NULL },
	.args = "<fingerprint> [<remote>:]",
	.summary = "Remove trusted client",
	.min_args = 1,
	.max_args = 2,
	.run = trust_remove_run,
};

static const struct command trust_list_tokens = {
	.name = "list-tokens",
	.args = "[<remote>:]",
	.summary = "List all active certificate add tokens",
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.max_args = 1,
	.run = trust_list_tokens_run,
};

static const struct command trust_revoke_token = {
	.name = "revoke-token",
	.args = "<name> [<remote>:]",
	.summary = "Revoke certificate add token",
	.min_args = 1,
	.max_args = 2,
	.run = trust_revoke_token_run,
};

const struct command command_config_trust = {
	.name = "trust",
	.summary = "Manage trusted clients",
	.subcommands = (const struct command *const[]){ &trust_add, &trust_list, &trust_list_tokens,
							&trust_remove, &trust_revoke_token, NULL },
};
