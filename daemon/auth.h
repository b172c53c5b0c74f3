/* daemon/auth.h: who is asking, and may they. Authorization is decided here only, once
 * per request, before routing hands the request to a handler.
 *
 * The unix socket is trusted (its 0660 mode and group decide who may connect, as with
 * LXD). Over TLS every client is untrusted until the trust store exists: it may use the
 * routes marked ROUTE_UNTRUSTED and gets 403 for everything else.
 */
#pragma once

#include "daemon/api.h"

struct daemon;
struct lws;

/* Fills identity from the connection (peer credentials or client certificate). */
int auth_identify(struct daemon *d, struct lws *wsi, struct api_identity *ret, struct error *err);

/* -EACCES (403) when identity may not use req->route with req->method. */
int auth_check(const struct api_request *req, struct error *err);

/* lws hook for TLS vhosts: request but don't require client certificates, accepting any
 * (self-signed) one; trust is decided by fingerprint. ssl_ctx is an SSL_CTX *. */
int auth_tls_setup(void *ssl_ctx, void *vhost);
