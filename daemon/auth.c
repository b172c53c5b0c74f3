#include "daemon/auth.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/daemon.h"
#include "lib/str.h"

#include "lib/banned.h"

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

static void identify_tls(struct lws *wsi, struct api_identity *id)
{
	SSL *ssl = lws_get_ssl(lws_get_network_wsi(wsi));
	X509 *cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	id->trusted = false;
	id->protocol = "tls";
	lws_get_peer_simple(wsi, id->address, sizeof(id->address));
	if (cert && X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
		autofree char *hex = hex_encode(md, mdlen);

		(void)snprintf_ok(id->fingerprint, sizeof(id->fingerprint), "%s", hex);
	}
	X509_free(cert);
}

int auth_identify(struct daemon *d, struct lws *wsi, struct api_identity *ret, struct error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (lws_get_vhost(wsi) == d->unix_vhost)
		identify_unix(lws_get_socket_fd(lws_get_network_wsi(wsi)), ret);
	else
		identify_tls(wsi, ret);
	return 0;
}

int auth_check(const struct api_request *req, struct error *err)
{
	if (req->identity.trusted)
		return 0;
	if ((req->route->flags & ROUTE_UNTRUSTED) && req->method == HTTP_GET)
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
	return 0;
}
