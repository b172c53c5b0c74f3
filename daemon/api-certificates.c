/* daemon/api-certificates.c: /1.0/certificates, the trust store, and LXD's ways of joining
 * it (lxd/certificates.go in LXD 5.0 is the reference for every answer here):
 *
 * - a trusted client adds a certificate (base64 DER in "certificate") or asks for a token
 *   ("token": true -> a token operation, its metadata what `lxc config trust add` encodes);
 * - an untrusted client sends "password": a certificate add token (the whole base64 token,
 *   as `lxc remote add NAME TOKEN` does) or core.trust_password, and its own TLS
 *   certificate is trusted with the name, type and projects the token was made for.
 */
#include <errno.h>
#include <libwebsockets.h>
#include <net/if.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "daemon/api.h"
#include "daemon/auth.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/operations.h"
#include "daemon/router.h"
#include "daemon/server-config.h"
#include "daemon/server.h"
#include "db/db-certificates.h"
#include "db/db-config.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/tls-cert.h"

#include "lib/banned.h"

#define CERT_NAME_MAX 255

/* A POST /1.0/certificates being handled; the trust password check runs on a worker. */
struct cert_add {
	json_t *body;
	char *password;
	char *peer_pem;	       /* the TLS client's certificate, NULL on the unix socket */
	char *peer_address;    /* its IP, the name of last resort */
	char *stored_hash;     /* core.trust_password as stored */
	struct auth *checking; /* holds a password check slot (auth_password_check_begin) */
};

static void cert_add_free(void *data)
{
	struct cert_add *job = data;

	if (!job)
		return;
	if (job->checking)
		auth_password_check_end(job->checking);
	json_decref(job->body);
	free(job->password);
	free(job->peer_pem);
	free(job->peer_address);
	free(job->stored_hash);
	free(job);
}

/* --- certificates ----------------------------------------------------------------------------- */

static char *x509_to_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *pem = NULL;
	long n;

	if (bio && PEM_write_bio_X509(bio, x)) {
		n = BIO_get_mem_data(bio, &data);
		pem = xstrndup(data, (size_t)n);
	}
	BIO_free(bio);
	return pem;
}

/* The PEM of base64 DER (the API's "certificate"); pylxd's has newlines, PEM armour is
 * accepted too. -EINVAL with a sentence for anything else. */
static int certificate_from_api(const char *b64, char **ret, struct error *err)
{
	autofree unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x;

	if (str_has_prefix(b64, "-----BEGIN CERTIFICATE-----")) {
		autofree char *fp = NULL;

		if (tls_cert_fingerprint(b64, &fp, NULL) < 0)
			return error_set(err, -EINVAL, "Invalid certificate material");
		*ret = xstrdup(b64);
		return 0;
	}
	der = base64_decode(b64, &len);
	if (!der || len == 0)
		return error_set(err, -EINVAL, "Certificate is not valid base64");
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len) {
		X509_free(x);
		return error_set(err, -EINVAL, "Invalid certificate material");
	}
	*ret = x509_to_pem(x);
	X509_free(x);
	return *ret ? 0 : error_set(err, -ENOMEM, "Out of memory");
}

/* Refuses expired or not yet valid certificates (LXD's certificateValidate) and fills
 * the fingerprint and the subject's common name (or ""). */
static int certificate_check(const char *pem, char **ret_fp, char **ret_cn, struct error *err)
{
	struct tls_cert_info info;
	long long now = (long long)time(NULL);
	int r;

	r = tls_cert_info(pem, &info, NULL);
	if (r < 0)
		return error_set(err, -EINVAL, "Invalid certificate material");
	if (info.not_after <= now)
		return error_set(err, -EINVAL, "The provided certificate is expired");
	if (info.not_before > now)
		return error_set(err, -EINVAL, "The provided certificate isn't valid yet");
	r = tls_cert_fingerprint(pem, ret_fp, err);
	if (r < 0)
		return r;
	*ret_cn = xstrdup(info.common_name);
	return 0;
}

/* The PEM of the TLS client's certificate on wsi's connection, or NULL. */
static char *peer_certificate(struct lws *wsi)
{
	SSL *ssl = wsi ? lws_get_ssl(lws_get_network_wsi(wsi)) : NULL;
	X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;

	return x ? x509_to_pem(x) : NULL;
}

/* Checks the fields clients may set: name, type, restricted, projects. An empty type is
 * "client" (as LXD reads it). */
static int certificate_put_validate(json_t *body, struct error *err)
{
	const char *type, *name;
	json_t *projects, *p;
	size_t i;
	int r;

	r = json_check_type(body, "name", JSON_STRING, err);
	if (r == 0)
		r = json_check_type(body, "type", JSON_STRING, err);
	if (r == 0)
		r = json_check_type(body, "certificate", JSON_STRING, err);
	if (r == 0)
		r = json_check_type(body, "password", JSON_STRING, err);
	if (r < 0)
		return r;
	name = json_get_str(body, "name");
	if (name && (strlen(name) > CERT_NAME_MAX || !str_is_single_line(name)))
		return error_set(err, -EINVAL, "Invalid certificate name");
	type = json_get_str(body, "type");
	if (str_is_empty(type))
		json_object_set_new(body, "type", json_string("client"));
	else if (!streq(type, "client") && !streq(type, "metrics"))
		return error_set(err, -EINVAL, "Unknown certificate type '%s'", type);

	p = json_object_get(body, "restricted");
	if (p && !json_is_boolean(p) && !json_is_null(p))
		return error_set(err, -EINVAL, "Field 'restricted' must be a boolean");
	json_object_set_new(body, "restricted", json_boolean(json_is_true(p)));

	projects = json_object_get(body, "projects");
	if (!projects || json_is_null(projects)) {
		json_object_set_new(body, "projects", json_array());
		return 0;
	}
	if (!json_is_array(projects))
		return error_set(err, -EINVAL, "Field 'projects' must be a list of project names");
	json_array_foreach(projects, i, p)
	{
		if (!object_name_is_valid(json_string_value(p)))
			return error_set(err, -EINVAL, "Invalid project name '%s'",
					 json_string_value(p) ? json_string_value(p) : "");
	}
	return 0;
}

/* --- GET ----------------------------------------------------------------------------------------
 */

/* GET /1.0/certificates */
static int api_certificates_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *list = NULL;
	json_t *out, *c;
	size_t i;
	int r;

	r = db_certificate_list(req->d->db, &list, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (req->recursion > 0)
		return api_reply_sync(req, take_ptr(list));
	out = json_array();
	json_array_foreach(list, i, c) json_array_append_new(
		out, json_sprintf("/1.0/certificates/%s", json_get_str(c, "fingerprint")));
	return api_reply_sync(req, out);
}

static json_t *certificate_etag_source(const json_t *c)
{
	return json_pack("{s:O, s:O, s:O, s:O, s:O}", "name", json_object_get(c, "name"), "type",
			 json_object_get(c, "type"), "restricted", json_object_get(c, "restricted"),
			 "projects", json_object_get(c, "projects"), "certificate",
			 json_object_get(c, "certificate"));
}

/* GET /1.0/certificates/{fingerprint} (a prefix is enough, as with LXD) */
static int api_certificate_get(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *etag = NULL;
	json_t *c = NULL;
	int r;

	r = db_certificate_get(req->d->db, api_param(req, "fingerprint"), &c, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = certificate_etag_source(c);
	return api_reply_sync_etag(req, c, etag);
}

/* --- POST ---------------------------------------------------------------------------------------
 */

/* POST /1.0/certificates with "token": true */
static int cert_token_create(struct api_request *req, json_t *body)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autofree char *expiry = NULL;
	long long expires = 0;
	struct operation *op;
	json_t *request;
	int r;

	if (!streq(json_get_str(body, "type"), "client"))
		return api_reply_errorf(req, -EINVAL,
					"Tokens can only be issued for client certificates");
	if (!req->d->https_address)
		return api_reply_errorf(req, -EINVAL,
					"Can't issue token when server isn't listening on network");

	r = db_config_get(req->d->db, "core.remote_token_expiry", &expiry, &err);
	if (r < 0 && r != -ENOENT)
		return api_reply_error(req, &err);
	if (!str_is_empty(expiry) && auth_expiry_parse(expiry, (long long)time(NULL), &expires) < 0)
		return api_reply_errorf(req, -EINVAL, "Invalid core.remote_token_expiry '%s'",
					expiry);

	/* What the token's redeemer gets: the caller's choices, never a password. */
	request = json_pack("{s:s, s:s, s:O, s:O, s:s, s:s, s:b}", "name",
			    json_get_str(body, "name") ?: "", "type", "client", "restricted",
			    json_object_get(body, "restricted"), "projects",
			    json_object_get(body, "projects"), "certificate", "", "password", "",
			    "token", true);
	r = auth_token_new(req->d->auth, request, server_listen_addresses(req->d->https_address),
			   expires, &op, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	return api_reply_async(req, op);
}

/* Adds the certificate (the body's, else the TLS client's) with the body's fields. */
static int cert_add_finish(struct api_request *req, void *data)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct cert_add *job = data;
	autofree char *pem = NULL, *fp = NULL, *cn = NULL, *location = NULL;
	autojson json_t *cert = NULL;
	const char *b64 = json_get_str(job->body, "certificate");
	const char *name = json_get_str(job->body, "name");
	int r;

	if (!str_is_empty(b64)) {
		r = certificate_from_api(b64, &pem, &err);
		if (r < 0)
			return api_reply_error(req, &err);
	} else if (job->peer_pem) {
		pem = xstrdup(job->peer_pem);
	} else if (streq(req->identity.protocol, "tls")) {
		return api_reply_errorf(req, -EINVAL, "No client certificate provided");
	} else {
		return api_reply_errorf(req, -EINVAL, "Can't use TLS data on non-TLS link");
	}

	r = certificate_check(pem, &fp, &cn, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	if (str_is_empty(name))
		name = !str_is_empty(cn) ? cn : job->peer_address ? job->peer_address : "";

	cert = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "fingerprint", fp, "type",
			 json_get_str(job->body, "type"), "name", name, "certificate", pem,
			 "restricted", json_object_get(job->body, "restricted"), "projects",
			 json_object_get(job->body, "projects"));
	r = db_certificate_create(req->d->db, cert, &err);
	if (r == 0)
		r = auth_reload(req->d->auth, &err);
	if (r < 0)
		return api_reply_error(req, &err);

	location = str_printf("/1.0/certificates/%s", fp);
	events_lifecycle(req->d->events, "default", "certificate-created", location, NULL,
			 &req->identity);
	return api_reply_created(req, location);
}

/* Worker: core.trust_password costs tens of milliseconds of scrypt. */
static int cert_password_check(void *data, struct error *err)
{
	struct cert_add *job = data;

	if (!server_config_password_matches(job->stored_hash, job->password))
		return error_set(err, -EACCES, "not authorized");
	return 0;
}

/* An untrusted client's POST: a token or the trust password, then its own certificate. */
static int cert_add_untrusted(struct api_request *req, struct cert_add *job)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *token_req = NULL;
	int r;

	if (json_is_true(json_object_get(job->body, "token")) || str_is_empty(job->password)) {
		cert_add_free(job);
		return api_reply_errorf(req, -EACCES, "not authorized");
	}

	r = auth_token_redeem(req->d->auth, job->password, &token_req, &err);
	if (r == 0) {
		/* The token decides everything; the client overrides nothing. */
		json_decref(job->body);
		job->body = json_pack("{s:O, s:O, s:O, s:O}", "name",
				      json_object_get(token_req, "name"), "type",
				      json_object_get(token_req, "type"), "restricted",
				      json_object_get(token_req, "restricted"), "projects",
				      json_object_get(token_req, "projects"));
		r = cert_add_finish(req, job);
		cert_add_free(job);
		return r;
	}
	if (r != -EINVAL) {
		log_warn("Refused a certificate add token from %s: %s", req->identity.address,
			 error_message(&err));
		cert_add_free(job);
		return api_reply_error(req, &err);
	}

	r = db_config_get(req->d->db, "core.trust_password", &job->stored_hash, NULL);
	if (r < 0 && r != -ENOENT) {
		cert_add_free(job);
		return api_reply_errorf(req, -EIO, "Failed to read the trust password");
	}
	if (!job->stored_hash) {
		cert_add_free(job);
		return api_reply_errorf(req, -EACCES, "not authorized");
	}
	if (!auth_password_check_begin(req->d->auth)) {
		cert_add_free(job);
		return api_reply_errorf(
			req, -EUNATCH, "Too many trust password attempts at once, try again later");
	}
	job->checking = req->d->auth;
	return api_reply_from_worker(req, cert_password_check, cert_add_finish, cert_add_free, job);
}

/* POST /1.0/certificates (untrusted clients too: ROUTE_UNTRUSTED_POST) */
static int api_certificates_post(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	struct cert_add *job;
	json_t *body = NULL;
	bool token;
	int r;

	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	job = xcalloc(1, sizeof(*job));
	job->body = body;
	r = certificate_put_validate(body, &err);
	if (r == 0 && json_object_get(body, "token") &&
	    !json_is_boolean(json_object_get(body, "token")))
		r = error_set(&err, -EINVAL, "Field 'token' must be a boolean");
	if (r < 0) {
		cert_add_free(job);
		return api_reply_error(req, &err);
	}
	token = json_is_true(json_object_get(body, "token"));
	job->password = xstrdup(json_get_str(body, "password") ?: "");
	job->peer_pem = peer_certificate(req->wsi);
	if (streq(req->identity.protocol, "tls"))
		job->peer_address = xstrdup(req->identity.address);

	if (token && !str_is_empty(json_get_str(body, "certificate"))) {
		cert_add_free(job);
		return api_reply_errorf(req, -EINVAL,
					"Can't use certificate if token is requested");
	}
	if (!req->identity.trusted)
		return cert_add_untrusted(req, job);
	if (req->identity.restricted) {
		cert_add_free(job);
		return api_reply_errorf(req, -EACCES, "Certificate is restricted");
	}
	if (token) {
		r = cert_token_create(req, body);
		cert_add_free(job);
		return r;
	}
	if (str_is_empty(json_get_str(body, "certificate"))) {
		cert_add_free(job);
		return api_reply_errorf(req, -EINVAL, "Client is already trusted");
	}
	r = cert_add_finish(req, job);
	cert_add_free(job);
	return r;
}

/* --- PUT, PATCH, DELETE -------------------------------------------------------------------------
 */

/* PUT and PATCH /1.0/certificates/{fingerprint} */
static int api_certificate_update(struct api_request *req, bool patch)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *current = NULL, *etag = NULL, *body = NULL;
	const char *fp, *pem;
	int r;

	r = db_certificate_get(req->d->db, api_param(req, "fingerprint"), &current, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	etag = certificate_etag_source(current);
	r = api_request_check_etag(req, etag);
	if (r < 0)
		return r;
	r = api_request_json(req, &body);
	if (r < 0)
		return r;
	if (patch) {
		json_t *merged = json_deep_copy(current);

		json_object_update(merged, body);
		json_decref(body);
		body = merged;
	}
	r = certificate_put_validate(body, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	fp = json_get_str(current, "fingerprint");
	pem = json_get_str(body, "certificate");
	if (!str_is_empty(pem) && !streq(pem, json_get_str(current, "certificate"))) {
		autofree char *given = NULL, *given_fp = NULL;

		/* The same certificate, however encoded, is fine; another is not. */
		if (certificate_from_api(pem, &given, NULL) < 0 ||
		    tls_cert_fingerprint(given, &given_fp, NULL) < 0 || !streq(given_fp, fp))
			return api_reply_errorf(req, -EINVAL,
						"Changing the certificate itself is not supported");
	}
	if (str_is_empty(json_get_str(body, "name")))
		json_object_set(body, "name", json_object_get(current, "name"));

	r = db_certificate_update(req->d->db, fp, body, &err);
	if (r == 0)
		r = auth_reload(req->d->auth, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	events_lifecycle(req->d->events, "default", "certificate-updated", req->path, NULL,
			 &req->identity);
	return api_reply_sync(req, NULL);
}

static int api_certificate_put(struct api_request *req)
{
	return api_certificate_update(req, false);
}

static int api_certificate_patch(struct api_request *req)
{
	return api_certificate_update(req, true);
}

/* DELETE /1.0/certificates/{fingerprint}: revocation takes effect on the next request,
 * also on connections already open. */
static int api_certificate_delete(struct api_request *req)
{
	autoclean(error_clear) struct error err = ERROR_INIT;
	autojson json_t *current = NULL;
	autofree char *location = NULL;
	const char *fp;
	int r;

	r = db_certificate_get(req->d->db, api_param(req, "fingerprint"), &current, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	fp = json_get_str(current, "fingerprint");
	r = db_certificate_delete(req->d->db, fp, &err);
	if (r == 0)
		r = auth_reload(req->d->auth, &err);
	if (r < 0)
		return api_reply_error(req, &err);
	location = str_printf("/1.0/certificates/%s", fp);
	events_lifecycle(req->d->events, "default", "certificate-deleted", location, NULL,
			 &req->identity);
	return api_reply_sync(req, NULL);
}

const struct route api_certificates_routes[] = {
	{ .path = "/1.0/certificates",
	  .handlers = { [HTTP_GET] = api_certificates_get, [HTTP_POST] = api_certificates_post },
	  .flags = ROUTE_UNTRUSTED_POST },
	{ .path = "/1.0/certificates/{fingerprint}",
	  .handlers = { [HTTP_GET] = api_certificate_get,
			[HTTP_PUT] = api_certificate_put,
			[HTTP_PATCH] = api_certificate_patch,
			[HTTP_DELETE] = api_certificate_delete } },
	{},
};
