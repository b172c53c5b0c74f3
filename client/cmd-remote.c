/* lodge remote add|list|remove|rename|switch|get-default: the servers the CLI talks to,
 * like `lxc remote` (lxc/remote.go in LXD 5.0 is the reference).
 *
 * `remote add NAME URL` fetches the server's certificate, asks the user to accept its
 * fingerprint (unless --accept-certificate), then, if the server does not trust the
 * client certificate yet, sends the trust password. `remote add NAME TOKEN` needs no
 * question: the token names the server's addresses and fingerprint, and is the password. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/remote.h"
#include "lib/fs.h"
#include "lib/http-tls.h"
#include "lib/json.h"
#include "lib/str.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define REMOTE_CONNECT_TIMEOUT_MS (10 * 1000)

/* A line from stdin without its newline, or NULL at the end. The caller frees. */
static char *ask(const char *question)
{
	char buf[1024];
	size_t len;

	fputs(question, stdout);
	fflush(stdout);
	if (!fgets(buf, sizeof(buf), stdin))
		return NULL;
	len = strcspn(buf, "\r\n");
	return xstrndup(buf, len);
}

/* The server's certificate at url, verified as opts says. */
static int fetch_server_cert(const char *url, const struct http_tls_options *opts,
			     struct http_tls_peer *ret, struct error *err)
{
	autoclean(http_url_release) struct http_url u = HTTP_URL_INIT;
	autoclean(http_conn_freep) struct http_conn *conn = NULL;
	int r;

	r = http_url_parse(url, &u, err);
	if (r < 0)
		return r;
	return http_conn_new_tls(u.host, u.port, opts, REMOTE_CONNECT_TIMEOUT_MS, &conn, ret, err);
}

/* The decoded certificate add token in s, or NULL when s is not one. */
static json_t *token_decode(const char *s)
{
	autofree unsigned char *raw = NULL;
	json_t *j = NULL;
	size_t len = 0;

	if (strstr(s, "://") || strchr(s, '.') || strchr(s, ':'))
		return NULL;
	raw = base64_decode(s, &len);
	if (!raw || json_parse((const char *)raw, len, false, &j, NULL) < 0)
		return NULL;
	if (!json_is_object(j) || str_is_empty(json_get_str(j, "secret")) ||
	    str_is_empty(json_get_str(j, "fingerprint")) ||
	    !json_is_array(json_object_get(j, "addresses"))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Stores the server certificate and the remote, once the server trusts us. */
static int remote_save(struct remote_config *c, const char *name, const char *url, const char *pem,
		       const char *project, struct error *err)
{
	autofree char *dir = remote_config_path(c, "servercerts");
	autofree char *path = remote_server_cert_path(c, name);
	int r;

	r = mkdir_p(dir, 0700, err);
	if (r == 0)
		r = write_file_atomic(path, pem, strlen(pem), 0644, err);
	if (r == 0)
		r = remote_config_add(c,
				      &(struct remote){ .name = (char *)name,
							.addr = (char *)url,
							.protocol = (char *)"lxd",
							.auth_type = (char *)"tls",
							.project = (char *)project },
				      err);
	if (r < 0)
		return r;
	return remote_config_save(c, err);
}

/* GET /1.0 and its "auth". */
static int server_is_trusted(struct lxd_client *lxd, bool *ret, struct error *err)
{
	autojson json_t *server = NULL;
	const char *auth;
	int r;

	r = lxd_get(lxd, "/1.0", &server, err);
	if (r < 0)
		return r;
	auth = json_get_str(server, "auth");
	*ret = auth && streq(auth, "trusted");
	return 0;
}

/* Connects to url pinned to fingerprint and, unless trusted already, sends password. */
static int remote_authenticate(struct remote_config *c, const char *url, const char *fingerprint,
			       const char *name, const char *password, struct error *err)
{
	autoclean(lxd_client_freep) struct lxd_client *lxd = NULL;
	autoclean(lxd_response_release) struct lxd_response resp = LXD_RESPONSE_INIT;
	autofree char *crt = remote_config_path(c, "client.crt");
	autofree char *key = remote_config_path(c, "client.key");
	autofree char *asked = NULL;
	autojson json_t *body = NULL;
	bool trusted = false;
	int r;

	r = lxd_client_new_https(url,
				 &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
							     .fingerprint = fingerprint,
							     .cert_file = crt,
							     .key_file = key },
				 &lxd, err);
	if (r < 0)
		return r;
	r = server_is_trusted(lxd, &trusted, err);
	if (r < 0 || trusted)
		return r;
	if (!password) {
		autofree char *q = str_printf("Admin password (or token) for %s: ", name);

		password = asked = ask(q);
		if (!password)
			return error_set(err, -EINVAL, "No trust password given");
	}
	body = json_pack("{s:s, s:s}", "type", "client", "password", password);
	r = lxd_query(lxd, "POST", "/1.0/certificates", body, NULL, &resp, err);
	if (r < 0)
		return r;
	r = server_is_trusted(lxd, &trusted, err);
	if (r < 0)
		return r;
	if (!trusted)
		return error_set(err, -EPERM, "Server doesn't trust us after authentication");
	return 0;
}

static int remote_add_token(struct cli *cli, struct remote_config *c, const char *name,
			    const json_t *token, const char *raw, struct error *err)
{
	const char *fp = json_get_str(token, "fingerprint");
	json_t *addresses = json_object_get(token, "addresses");
	autoclean(error_clear) struct error last = ERROR_INIT;
	size_t i;
	json_t *a;
	int r;

	/* As lxc does: the first address that answers with the token's certificate. */
	json_array_foreach(addresses, i, a)
	{
		autoclean(http_tls_peer_release) struct http_tls_peer peer = HTTP_TLS_PEER_INIT;
		autofree char *url = str_printf("https://%s", json_string_value(a) ?: "");

		error_clear(&last);
		r = fetch_server_cert(
			url,
			&(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						    .fingerprint = fp },
			&peer, &last);
		if (r == -EPERM)
			return error_set(err, r, "%s", error_message(&last));
		if (r < 0)
			continue;
		r = remote_authenticate(c, url, fp, name, raw, err);
		if (r < 0)
			return r;
		return remote_save(c, name, url, peer.pem, cli_flag_string(cli, "project"), err);
	}
	if (last.msg)
		return error_set(err, -EHOSTUNREACH, "%s", error_message(&last));
	return error_set(err, -EINVAL, "The token names no server address");
}

static int remote_add_url(struct cli *cli, struct remote_config *c, const char *name,
			  const char *arg, struct error *err)
{
	autoclean(http_url_release) struct http_url u = HTTP_URL_INIT;
	autoclean(http_tls_peer_release) struct http_tls_peer peer = HTTP_TLS_PEER_INIT;
	autofree char *url = NULL;
	int r;

	r = http_url_parse(arg, &u, err);
	if (r < 0)
		return r;
	url = http_url_to_string(&u);
	r = fetch_server_cert(url, &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_NONE },
			      &peer, err);
	if (r < 0)
		return r;
	if (!cli_flag_bool(cli, "accept-certificate")) {
		autofree char *answer = NULL;

		printf("Certificate fingerprint: %s\n", peer.fingerprint);
		answer = ask("ok (y/n/[fingerprint])? ");
		if (!answer || !(streq(answer, "y") || streq(answer, "yes") ||
				 streq(answer, peer.fingerprint)))
			return error_set(err, -EPERM, "Server certificate NACKed by user");
	}
	r = remote_authenticate(c, url, peer.fingerprint, name, cli_flag_string(cli, "password"),
				err);
	if (r < 0)
		return r;
	return remote_save(c, name, url, peer.pem, cli_flag_string(cli, "project"), err);
}

static int remote_add_run(struct cli *cli, struct error *err)
{
	autoclean(remote_config_release) struct remote_config c = REMOTE_CONFIG_INIT;
	const char *name = cli->args[0];
	const char *arg = cli->n_args > 1 ? cli->args[1] : cli->args[0];
	autojson json_t *token = NULL;
	int r;

	if (!remote_name_is_valid(name))
		return error_set(err, -EINVAL, "Invalid remote name '%s'", name);
	r = remote_config_load(&c, err);
	if (r < 0)
		return r;
	if (remote_config_find(&c, name))
		return error_set(err, -EEXIST, "Remote %s exists as <%s>", name,
				 remote_config_find(&c, name)->addr);
	r = remote_client_cert_ensure(&c, err);
	if (r < 0)
		return r;

	token = token_decode(arg);
	if (token)
		r = remote_add_token(cli, &c, name, token, arg, err);
	else
		r = remote_add_url(cli, &c, name, arg, err);
	if (r < 0)
		return r;
	if (!cli->quiet)
		printf("Client certificate now trusted by server: %s\n", name);
	return 0;
}

static int remote_list_run(struct cli *cli, struct error *err)
{
	autoclean(remote_config_release) struct remote_config c = REMOTE_CONFIG_INIT;
	autoclean(table_freep) struct table *t = NULL;
	autojson json_t *raw = json_object();
	int r;

	r = remote_config_load(&c, err);
	if (r < 0)
		return r;
	t = table_new((const char *[]){ "NAME", "URL", "PROTOCOL", "AUTH TYPE", "PUBLIC", "STATIC",
					"GLOBAL", NULL });
	for (size_t i = 0; i < c.n_remotes; i++) {
		const struct remote *rm = &c.remotes[i];
		autofree char *label = streq(rm->name, c.default_remote)
					       ? str_printf("%s (current)", rm->name)
					       : xstrdup(rm->name);
		bool local = streq(rm->name, "local");

		table_add_row(t, (const char *[]){ label, rm->addr, rm->protocol,
						   local ? "file access" : rm->auth_type ?: "",
						   rm->is_public ? "YES" : "NO", local ? "YES" : "NO",
						   "NO" });
		json_object_set_new(raw, rm->name,
				    json_pack("{s:s, s:s, s:s, s:b}", "Addr", rm->addr, "Protocol",
					      rm->protocol, "AuthType", rm->auth_type ?: "",
					      "Public", rm->is_public));
	}
	return cli_print_table(cli, t, raw, err);
}

/* Loads the config, lets change() edit it, saves it. */
static int remote_config_edit(struct cli *cli,
			      int (*change)(struct cli *cli, struct remote_config *c,
					    struct error *err),
			      struct error *err)
{
	autoclean(remote_config_release) struct remote_config c = REMOTE_CONFIG_INIT;
	int r;

	r = remote_config_load(&c, err);
	if (r == 0)
		r = change(cli, &c, err);
	if (r < 0)
		return r;
	return remote_config_save(&c, err);
}

static int remote_check_changeable(const struct remote_config *c, const char *name,
				   struct error *err)
{
	if (!remote_config_find(c, name))
		return error_set(err, -ENOENT, "The remote \"%s\" doesn't exist", name);
	if (streq(name, "local"))
		return error_set(err, -EPERM, "Remote %s is static and cannot be modified", name);
	return 0;
}

static int remote_remove(struct cli *cli, struct remote_config *c, struct error *err)
{
	const char *name = cli->args[0];
	autofree char *cert = remote_server_cert_path(c, name);
	int r;

	r = remote_check_changeable(c, name, err);
	if (r < 0)
		return r;
	if (streq(name, c->default_remote))
		return error_set(err, -EPERM, "Can't remove the default remote");
	(void)unlink(cert);
	return remote_config_remove(c, name, err);
}

static int remote_rename(struct cli *cli, struct remote_config *c, struct error *err)
{
	const char *old = cli->args[0], *new = cli->args[1];
	autofree char *old_cert = remote_server_cert_path(c, old);
	autofree char *new_cert = remote_server_cert_path(c, new);
	struct remote *rm;
	int r;

	r = remote_check_changeable(c, old, err);
	if (r < 0)
		return r;
	if (!remote_name_is_valid(new))
		return error_set(err, -EINVAL, "Invalid remote name '%s'", new);
	if (remote_config_find(c, new))
		return error_set(err, -EEXIST, "Remote %s already exists", new);
	if (access(old_cert, F_OK) == 0 && rename(old_cert, new_cert) < 0)
		return error_errno(err, -errno, "Failed to rename '%s'", old_cert);
	rm = remote_config_find(c, old);
	free(rm->name);
	rm->name = xstrdup(new);
	if (streq(c->default_remote, old)) {
		free(c->default_remote);
		c->default_remote = xstrdup(new);
	}
	return 0;
}

static int remote_switch(struct cli *cli, struct remote_config *c, struct error *err)
{
	const char *name = cli->args[0];

	if (!remote_config_find(c, name))
		return error_set(err, -ENOENT, "The remote \"%s\" doesn't exist", name);
	free(c->default_remote);
	c->default_remote = xstrdup(name);
	return 0;
}

static int remote_remove_run(struct cli *cli, struct error *err)
{
	return remote_config_edit(cli, remote_remove, err);
}

static int remote_rename_run(struct cli *cli, struct error *err)
{
	return remote_config_edit(cli, remote_rename, err);
}

static int remote_switch_run(struct cli *cli, struct error *err)
{
	return remote_config_edit(cli, remote_switch, err);
}

static int remote_get_default_run(struct cli *cli, struct error *err)
{
	autoclean(remote_config_release) struct remote_config c = REMOTE_CONFIG_INIT;
	int r;

	r = remote_config_load(&c, err);
	if (r < 0)
		return r;
	printf("%s\n", c.default_remote);
	return 0;
}

static const struct cli_flag remote_add_flags[] = {
	{ .name = "accept-certificate", .type = CLI_FLAG_BOOL, .help = "Accept certificate" },
	{ .name = "password",
	  .type = CLI_FLAG_STRING,
	  .value_name = "PASSWORD",
	  .help = "Remote admin password" },
	{ .name = "project",
	  .type = CLI_FLAG_STRING,
	  .value_name = "PROJECT",
	  .help = "Project to use for the remote" },
	{ .name = NULL },
};

static const struct command command_remote_add = {
	.name = "add",
	.args = "[<remote>] <IP|FQDN|URL|token>",
	.summary = "Add new remote servers",
	.description =
		"URL for remote resources must be of https:// type; a token from `lxc config "
		"trust add` (or POST /1.0/certificates with token) needs no password.",
	.flags = remote_add_flags,
	.min_args = 2,
	.max_args = 2,
	.run = remote_add_run,
};

static const struct command command_remote_list = {
	.name = "list",
	.aliases = (const char *const[]){ "ls", NULL },
	.summary = "List the available remotes",
	.formats = CLI_FORMATS_LIST,
	.default_format = CLI_FORMAT_TABLE,
	.run = remote_list_run,
};

static const struct command command_remote_remove = {
	.name = "remove",
	.aliases = (const char *const[]){ "rm", NULL },
	.args = "<remote>",
	.summary = "Remove remotes",
	.min_args = 1,
	.max_args = 1,
	.run = remote_remove_run,
};

static const struct command command_remote_rename = {
	.name = "rename",
	.aliases = (const char *const[]){ "mv", NULL },
	.args = "<remote> <new-name>",
	.summary = "Rename remotes",
	.min_args = 2,
	.max_args = 2,
	.run = remote_rename_run,
};

static const struct command command_remote_switch = {
	.name = "switch",
	.args = "<remote>",
	.summary = "Set the default remote",
	.min_args = 1,
	.max_args = 1,
	.run = remote_switch_run,
};

static const struct command command_remote_get_default = {
	.name = "get-default",
	.summary = "Show the default remote",
	.run = remote_get_default_run,
};

const struct command command_remote = {
	.name = "remote",
	.summary = "Manage the list of remote servers",
	.subcommands =
		(const struct command *const[]){ &command_remote_add, &command_remote_get_default,
						 &command_remote_list, &command_remote_remove,
						 &command_remote_rename, &command_remote_switch,
						 NULL },
};
