/* daemon/auth.h: who is asking, and may they. Authorization is decided here only, once
 * per request, before routing hands the request to a handler.
 *
 * The unix socket is trusted (its 0660 mode and group decide who may connect, as with
 * LXD). Over TLS a client is trusted when the SHA-256 fingerprint of its certificate is in
 * the trust store (/1.0/certificates, kept in memory here and reloaded after each change);
 * a restricted certificate reaches only the projects listed with it and no server-wide
 * setting. Untrusted clients may use the routes marked ROUTE_UNTRUSTED (GET) and
 * ROUTE_UNTRUSTED_POST (POST) and get 403 for everything else.
 *
 * Trust tokens (LXD's certificate add tokens) are token operations registered here: a
 * client redeems one by sending the whole token as "password" to POST /1.0/certificates;
 * a token works once and, when core.remote_token_expiry was set at its creation, until it
 * expires.
 *
 * Loop thread only.
 */
#pragma once

#include <jansson.h>

#include "daemon/api.h"

struct daemon;
struct lws;
struct auth;

/* Loads the trust store. */
int auth_new(struct daemon *d, struct auth **ret, struct error *err);
void auth_free(struct auth *a);

/* Reads the trust store again after a change. Blocks on the database (a quick read). */
int auth_reload(struct auth *a, struct error *err);

/* Fills identity from the connection (peer credentials or client certificate). */
int auth_identify(struct daemon *d, struct lws *wsi, struct api_identity *ret, struct error *err);

/* -EACCES (403) when identity may not use req->route with req->method. */
int auth_check(const struct api_request *req, struct error *err);

/* lws hook for TLS vhosts: request but don't require client certificates, accepting any
 * (self-signed) one; trust is decided by fingerprint. ssl_ctx is an SSL_CTX *. */
int auth_tls_setup(void *ssl_ctx, void *vhost);

/* Starts a token operation for request (the POST body: name, type, restricted, projects;
 * taken) whose metadata holds secret, fingerprint, addresses (taken), request and, when
 * expires_sec (UTC seconds) is not 0, expiresAt. *ret is borrowed, for the reply. */
int auth_token_new(struct auth *a, json_t *request, json_t *addresses, long long expires_sec,
		   struct operation **ret, struct error *err);

/* Redeems the token encoded in password (base64 JSON with a "secret"): ends its
 * operation (status Cancelled, as LXD does) and returns the request it was created for
 * (new reference). -EINVAL when password is not a token (the caller then tries it as the
 * trust password), -EACCES when no pending token matches or it expired. */
int auth_token_redeem(struct auth *a, const char *password, json_t **ret_request,
		      struct error *err);

/* At most AUTH_PASSWORD_CHECKS trust password checks (scrypt, tens of milliseconds of CPU
 * each on a worker) run at once: untrusted clients guessing cannot occupy the workers that
 * run container operations. auth_password_check_begin() is false when the limit is
 * reached; every true one is paired with auth_password_check_end(). */
#define AUTH_PASSWORD_CHECKS 2
bool auth_password_check_begin(struct auth *a);
void auth_password_check_end(struct auth *a);

/* Parses LXD's expiry expression ("1d 2H", units S M H d w m y, each once) and returns
 * now + it in UTC seconds. -EINVAL when malformed. Pure. */
int auth_expiry_parse(const char *expr, long long now, long long *ret);
