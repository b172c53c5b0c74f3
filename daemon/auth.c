#include "daemon/auth.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/operations.h"
#include "db/db-certificates.h"
#include "lib/json.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/str.h"

#include "lib/banned.h"

/* A trusted certificate, as the trust store holds it. */
struct auth_cert {
	char fingerprint[65];
	bool restricted;
	char projects[512]; /* comma-separated */
};

struct auth {
	struct daemon *d;
	struct auth_cert *certs; /* client certificates only: metrics ones trust nothing here */
	size_t n_certs;
	struct list_head tokens;  /* struct auth_token, pending ones */
	unsigned password_checks; /* running on workers */
};

/* The data of a token operation. */
struct auth_token {
	struct list_head link;
	char *secret;
	json_t *request;
	long long expires_sec; /* 0: never */
	struct operation *op;  /* valid while the token is listed */
};

/* --- the trust store ------------------------------------------------------------------------ */

/* The projects of a certificate as "a,b,c"; names are object names (no commas). */
static void projects_join(const json_t *projects, char *buf, size_t size)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *p;

	json_array_foreach(projects, i, p)
	{
		if (i > 0)
			strbuf_addch(&sb, ',');
		strbuf_adds(&sb, json_string_value(p) ? json_string_value(p) : "");
	}
	/* Too many projects to hold: none, so a restricted client sees less, never more. */
	if (!snprintf_ok(buf, size, "%s", strbuf_str(&sb)))
		buf[0] = '\0';
	strbuf_release(&sb);
}

int auth_reload(struct auth *a, struct error *err)
{
	autojson json_t *list = NULL;
	struct auth_cert *certs;
	size_t i, n = 0;
	json_t *c;
	int r;

	r = db_certificate_list(a->d->db, &list, err);
	if (r < 0)
		return r;
	certs = xcalloc(json_array_size(list) + 1, sizeof(*certs));
	json_array_foreach(list, i, c)
	{
		const char *fp = json_get_str(c, "fingerprint");
		const char *type = json_get_str(c, "type");

		if (!fp || !type || !streq(type, "client"))
			continue;
		(void)snprintf_ok(certs[n].fingerprint, sizeof(certs[n].fingerprint), "%s", fp);
		certs[n].restricted = json_is_true(json_object_get(c, "restricted"));
		projects_join(json_object_get(c, "projects"), certs[n].projects,
			      sizeof(certs[n].projects));
		n++;
	}
	free(a->certs);
	a->certs = certs;
	a->n_certs = n;
	return 0;
}

int auth_new(struct daemon *d, struct auth **ret, struct error *err)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	int r;

	a->d = d;
	list_init(&a->tokens);
	r = auth_reload(a, err);
	if (r < 0) {
		auth_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

void auth_free(struct auth *a)
{
	struct list_head *pos, *tmp;

	if (!a)
		return;
	/* The token operations own their data; only unhook it from this list. */
	list_for_each_safe(pos, tmp, &a->tokens)
		list_del(pos);
	free(a->certs);
	free(a);
}

static const struct auth_cert *auth_find(const struct auth *a, const char *fingerprint)
{
	for (size_t i = 0; i < a->n_certs; i++) {
		if (streq(a->certs[i].fingerprint, fingerprint))
			return &a->certs[i];
	}
	return NULL;
}

/* --- identities ----------------------------------------------------------------------------- */

static void identify_unix(int fd, struct api_identity *id)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *res = NULL;
	char buf[1024];

	id->trusted = true;
	id->protocol = "unix";
	(void)snprintf_ok(id->address, sizeof(id->address), "@");
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		(void)snprintf_ok(id->username, sizeof(id->username), "unknown");
		return;
	}
	if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		(void)snprintf_ok(id->username, sizeof(id->username), "%s", res->pw_name);
	else
		(void)snprintf_ok(id->username, sizeof(id->username), "%u", (unsigned)cred.uid);
}

static void identify_tls(const struct auth *a, struct lws *wsi, struct api_identity *id)
{
	SSL *ssl = lws_get_ssl(lws_get_network_wsi(wsi));
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	autofree char *hex = NULL;
	const struct auth_cert *c;

	id->trusted = false;
	id->protocol = "tls";
	lws_get_peer_simple(wsi, id->address, sizeof(id->address));
	if (!cert || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1)
		return;
	hex = hex_encode(md, mdlen);
	(void)snprintf_ok(id->fingerprint, sizeof(id->fingerprint), "%s", hex);
	c = auth_find(a, hex);
	if (!c)
		return;
	id->trusted = true;
	id->restricted = c->restricted;
	(void)snprintf_ok(id->projects, sizeof(id->projects), "%s", c->projects);
	/* LXD names a TLS identity by its fingerprint. */
	(void)snprintf_ok(id->username, sizeof(id->username), "%s", hex);
}

int auth_identify(struct daemon *d, struct lws *wsi, struct api_identity *ret, struct error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (lws_get_vhost(wsi) == d->unix_vhost)
		identify_unix(lws_get_socket_fd(lws_get_network_wsi(wsi)), ret);
	else
		identify_tls(d->auth, wsi, ret);
	return 0;
}

static bool projects_contain(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, name, n) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Server-wide state a restricted client may read but never change (LXD reserves it for
 * unrestricted clients): the server config, the trust store, pools and networks. */
static bool route_is_server_wide(const char *path)
{
	static const char *const prefixes[] = { "/1.0/certificates", "/1.0/storage-pools",
						"/1.0/networks", "/internal" };

	if (streq(path, "/1.0"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		if (str_has_prefix(path, prefixes[i]))
			return true;
	}
	return false;
}

static int auth_check_restricted(const struct api_request *req, struct error *err)
{
	const char *project = api_query(req, "project");
	const char *all = api_query(req, "all-projects");

	if (route_is_server_wide(req->route->path))
		return req->method == HTTP_GET
			       ? 0
			       : error_set(err, -EACCES, "Certificate is restricted");
	if (all && streq(all, "true"))
		return error_set(err, -EACCES, "Certificate is restricted");
	if (!projects_contain(req->identity.projects, str_is_empty(project) ? "default" : project))
		return error_set(err, -EACCES, "Certificate is restricted");
	return 0;
}

int auth_check(const struct api_request *req, struct error *err)
{
	if (req->identity.trusted)
		return req->identity.restricted ? auth_check_restricted(req, err) : 0;
	if ((req->route->flags & ROUTE_UNTRUSTED) && req->method == HTTP_GET)
		return 0;
	if ((req->route->flags & ROUTE_UNTRUSTED_POST) && req->method == HTTP_POST)
		return 0;
	return error_set(err, -EACCES, "not authorized");
}

static int accept_any_certificate(int preverify_ok, X509_STORE_CTX *ctx)
{
	return 1;
}

int auth_tls_setup(void *ssl_ctx, void *vhost)
{
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, accept_any_certificate);
	/* LXD's clients never resume sessions. A session cache would keep every client's
	 * certificate (up to 20480 sessions: tens of MB that any handshake flood fills),
	 * and TLS 1.3 tickets would cost an encryption and a message per handshake. */
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ssl_ctx, 0);
	return 0;
}

/* --- trust tokens ----------------------------------------------------------------------------- */

static void token_done(struct operation *op)
{
	struct auth_token *t = op->data;

	/* Used, revoked or cancelled: no longer redeemable. */
	list_del(&t->link);
}

static void token_free(void *data)
{
	struct auth_token *t = data;

	if (!t)
		return;
	list_del(&t->link);
	free(t->secret);
	json_decref(t->request);
	free(t);
}

static const struct operation_ops token_ops = {
	.done = token_done,
	.free = token_free,
};

int auth_token_new(struct auth *a, json_t *request, json_t *addresses, long long expires_sec,
		   struct operation **ret, struct error *err)
{
	struct auth_token *t = xcalloc(1, sizeof(*t));
	struct operation *op;
	json_t *meta;
	int r;

	list_init(&t->link);
	t->secret = random_hex(32);
	t->request = request;
	t->expires_sec = expires_sec;

	meta = json_pack("{s:s, s:s, s:o, s:O}", "secret", t->secret, "fingerprint",
			 a->d->server_cert_fingerprint, "addresses", addresses, "request", request);
	if (expires_sec > 0) {
		time_t when = (time_t)expires_sec;
		struct tm tm;
		char buf[64] = "";

		/* RFC 3339, as Go prints a time.Time; `lxc` copies it into the token. */
		if (gmtime_r(&when, &tm))
			(void)strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(meta, "expiresAt", json_string(buf));
	}

	op = operation_new(a->d, OPERATION_TOKEN, "Certificate add token", NULL, &token_ops, t);
	op->may_cancel = true;
	t->op = op;
	operation_set_metadata(op, meta);
	list_add_tail(&t->link, &a->tokens);
	r = operation_start(op);
	if (r < 0)
		return error_errno(err, r, "Failed to start the token operation");
	*ret = op;
	return 0;
}

/* The secret of a certificate add token (base64 of LXD's CertificateAddToken JSON). */
static char *token_secret(const char *password)
{
	autofree unsigned char *raw = NULL;
	autojson json_t *j = NULL;
	const char *secret;
	size_t len = 0;

	raw = base64_decode(password, &len);
	if (!raw || json_parse((const char *)raw, len, false, &j, NULL) < 0 || !json_is_object(j))
		return NULL;
	secret = json_get_str(j, "secret");
	if (str_is_empty(secret) || str_is_empty(json_get_str(j, "client_name")) ||
	    json_array_size(json_object_get(j, "addresses")) == 0 ||
	    str_is_empty(json_get_str(j, "fingerprint")))
		return NULL;
	return xstrdup(secret);
}

int auth_token_redeem(struct auth *a, const char *password, json_t **ret_request, struct error *err)
{
	autofree char *secret = token_secret(password);
	struct auth_token *t = NULL;
	struct operation *op = NULL;
	struct list_head *pos;
	autojson json_t *request = NULL;
	long long expires;

	if (!secret)
		return error_set(err, -EINVAL, "Not a certificate add token");
	list_for_each(pos, &a->tokens) {
		struct auth_token *c = list_entry(pos, struct auth_token, link);

		if (strlen(c->secret) == strlen(secret) &&
		    CRYPTO_memcmp(c->secret, secret, strlen(secret)) == 0) {
			t = c;
			break;
		}
	}
	if (!t)
		return error_set(err, -EACCES, "No matching certificate add operation found");

	/* Single use: the operation ends now, whatever follows (as LXD does). */
	op = t->op;
	request = json_incref(t->request);
	expires = t->expires_sec;
	list_del(&t->link);
	(void)operation_cancel(op, NULL);
	if (expires > 0 && time(NULL) > expires)
		return error_set(err, -EACCES, "Token has expired");
	*ret_request = take_ptr(request);
	return 0;
}

bool auth_password_check_begin(struct auth *a)
{
	if (a->password_checks >= AUTH_PASSWORD_CHECKS)
		return false;
	a->password_checks++;
	return true;
}

void auth_password_check_end(struct auth *a)
{
	a->password_checks--;
}

int auth_expiry_parse(const char *expr, long long now, long long *ret)
{
	static const char units[] = "SMHdwmy";
	long long v[sizeof(units) - 1] = { 0 };
	bool seen[sizeof(units) - 1] = { false };
	time_t t = (time_t)now;
	struct tm tm;

	for (const char *p = expr; *p;) {
		const char *u;
		uint64_t n;
		size_t len = strcspn(p, " ");
		autofree char *num = NULL;

		if (len < 2)
			return -EINVAL;
		u = strchr(units, p[len - 1]);
		num = xstrndup(p, len - 1);
		if (!u || parse_u64(num, &n) < 0 || n > 1000000 || seen[u - units])
			return -EINVAL;
		seen[u - units] = true;
		v[u - units] = (long long)n;
		p += len;
		while (*p == ' ')
			p++;
	}
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	tm.tm_year += (int)v[6];
	tm.tm_mon += (int)v[5];
	tm.tm_mday += (int)(v[3] + 7 * v[4]);
	*ret = (long long)timegm(&tm) + v[2] * 3600 + v[1] * 60 + v[0];
	return 0;
}
