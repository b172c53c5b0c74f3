/* lib/http-tls.h: a TLS client transport for lib/http-client.h (OpenSSL), and the parser
 * of the "https://host:port" addresses remotes are given by.
 *
 * A TLS connection speaks TLS 1.2 or newer and verifies the server one of three ways:
 * - pinned: the SHA-256 fingerprint of the server's certificate must equal a known one
 *   (how LXD clients trust a self-signed server after `remote add`);
 * - the system CA store (or a CA file) with the host name checked against the certificate;
 * - not at all, only to learn the server's fingerprint before asking the user
 *   (HTTP_TLS_VERIFY_NONE; the caller then shows ret_fingerprint).
 * A client certificate and key can be presented (LXD authenticates clients with them).
 *
 * Connecting blocks (name lookup, TCP connect and handshake, each bounded by the timeout);
 * reads and writes after that are non-blocking under http_conn's poll loop.
 */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "http-client.h"
#include "macro.h"

/* The port LXD listens on when an address names none. */
#define HTTP_TLS_DEFAULT_PORT 8443

struct http_url {
	char *host; /* without brackets: "10.0.0.1", "::1", "lxd.example.org" */
	char *port; /* decimal, "8443" when absent */
	char *path; /* "" or "/..." (no query) */
};

#define HTTP_URL_INIT \
	{             \
		0     \
	}

/* Parses "https://host[:port][/path]" (IPv6 hosts in brackets). A bare "host[:port]" is
 * taken as https too. Anything else (another scheme, userinfo, a bad port, control
 * characters) fails with -EINVAL and a sentence. Pure. */
int http_url_parse(const char *url, struct http_url *ret, struct error *err);
void http_url_release(struct http_url *u);

/* "https://host:port" (IPv6 hosts in brackets) for u. The caller frees. */
char *http_url_to_string(const struct http_url *u);

enum http_tls_verify {
	HTTP_TLS_VERIFY_FINGERPRINT, /* pinned fingerprint (fingerprint) */
	HTTP_TLS_VERIFY_CA,	     /* ca_file, or the system store when NULL; host name checked */
	HTTP_TLS_VERIFY_NONE,	     /* accept any certificate: only to learn its fingerprint */
};

struct http_tls_options {
	enum http_tls_verify verify;
	const char *fingerprint; /* lower-case hex SHA-256 of the server certificate's DER */
	const char *ca_file;	 /* PEM bundle for HTTP_TLS_VERIFY_CA, NULL: system store */
	const char *cert_file;	 /* client certificate (PEM), NULL: none */
	const char *key_file;	 /* its key (PEM) */
};

/* Connects to host:port (name lookup, every address in turn until one answers), shakes
 * hands and verifies the server as opts says. timeout_ms bounds the connect and the
 * handshake and becomes the connection's timeout. On success *ret is a connection whose
 * transport is TLS, and *ret_peer (when not NULL) describes the server's certificate
 * (released by the caller). A certificate that fails verification gives -EPERM. Blocks. */
struct http_tls_peer {
	char *fingerprint; /* lower-case hex SHA-256 of the DER */
	char *pem;	   /* the certificate, to store it as `lxc` keeps servercerts/<name>.crt */
};

#define HTTP_TLS_PEER_INIT \
	{                  \
		0          \
	}

void http_tls_peer_release(struct http_tls_peer *p);

int http_conn_new_tls(const char *host, const char *port, const struct http_tls_options *opts,
		      int timeout_ms, struct http_conn **ret, struct http_tls_peer *ret_peer,
		      struct error *err);
