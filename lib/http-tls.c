#include "http-tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "str.h"
/* Last, so that no system header follows its macros. */
#include "banned.h"

/* TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3's defaults are all modern. */
#define HTTP_TLS_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

/* --- addresses ----------------------------------------------------------------------------- */

void http_url_release(struct http_url *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->port);
	free(u->path);
	*u = (struct http_url)HTTP_URL_INIT;
}

static bool host_char_is_valid(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

static bool host_is_valid(const char *host, bool bracketed)
{
	struct in6_addr a6;

	if (bracketed)
		return inet_pton(AF_INET6, host, &a6) == 1;
	if (!*host || strlen(host) > 253)
		return false;
	for (const char *p = host; *p; p++) {
		if (!host_char_is_valid(*p))
			return false;
	}
	return host[0] != '-' && host[0] != '.';
}

static bool port_is_valid(const char *port)
{
	uint64_t v;

	return parse_u64(port, &v) == 0 && v >= 1 && v <= 65535;
}

int http_url_parse(const char *url, struct http_url *ret, struct error *err)
{
	autofree char *host = NULL;
	autofree char *port = NULL;
	const char *p = url, *end;
	bool bracketed = false;

	if (!str_is_single_line(url) || strchr(url, ' '))
		return error_set(err, -EINVAL, "Invalid address '%s'", url);
	if (strstr(url, "://")) {
		if (strncasecmp(url, "https://", 8) != 0)
			return error_set(err, -EINVAL, "Address '%s' is not an https:// URL", url);
		p = url + 8;
	}

	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return error_set(err, -EINVAL, "Invalid IPv6 address in '%s'", url);
		host = xstrndup(p + 1, (size_t)(end - p - 1));
		p = end + 1;
		bracketed = true;
	} else {
		end = p + strcspn(p, ":/?#@");
		if (*end == '@')
			return error_set(err, -EINVAL, "Address '%s' must not carry a user name",
					 url);
		host = xstrndup(p, (size_t)(end - p));
		p = end;
	}
	if (!host_is_valid(host, bracketed))
		return error_set(err, -EINVAL, "Invalid host in address '%s'", url);

	if (*p == ':') {
		end = p + 1 + strcspn(p + 1, "/?#");
		port = xstrndup(p + 1, (size_t)(end - p - 1));
		if (!port_is_valid(port))
			return error_set(err, -EINVAL, "Invalid port in address '%s'", url);
		p = end;
	} else {
		port = str_printf("%d", HTTP_TLS_DEFAULT_PORT);
	}
	if (*p && *p != '/')
		return error_set(err, -EINVAL, "Invalid address '%s'", url);
	if (strcspn(p, "?#") != strlen(p))
		return error_set(err, -EINVAL, "Address '%s' must not carry a query", url);

	*ret = (struct http_url){
		.host = take_ptr(host),
		.port = take_ptr(port),
		.path = xstrdup(streq(p, "/") ? "" : p),
	};
	return 0;
}

char *http_url_to_string(const struct http_url *u)
{
	bool v6 = strchr(u->host, ':') != NULL;

	return str_printf("https://%s%s%s:%s", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}

/* --- the transport ----------------------------------------------------------------------- */

struct tls {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

static void tls_free(void *data)
{
	struct tls *t = data;

	if (!t)
		return;
	if (t->ssl) {
		/* One attempt at close_notify; the socket is non-blocking and goes away now. */
		ERR_clear_error();
		(void)SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		(void)close(t->fd);
	free(t);
}

static void tls_freep(struct tls **t)
{
	tls_free(*t);
}

/* One SSL_read_ex() (rbuf) or SSL_write_ex() (wbuf), in the transport's convention. */
static ssize_t tls_io(struct tls *t, void *rbuf, const void *wbuf, size_t len)
{
	size_t n = 0;
	int ok, saved;

	ERR_clear_error();
	errno = 0;
	ok = rbuf ? SSL_read_ex(t->ssl, rbuf, len, &n) : SSL_write_ex(t->ssl, wbuf, len, &n);
	saved = errno;
	if (ok)
		return (ssize_t)n;
	switch (SSL_get_error(t->ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		return saved ? -saved : 0;
	default:
		return -EPROTO;
	}
}

static ssize_t tls_read(void *data, void *buf, size_t len)
{
	return tls_io(data, buf, NULL, len);
}

static ssize_t tls_write(void *data, const void *buf, size_t len)
{
	return tls_io(data, NULL, buf, len);
}

static int tls_get_fd(void *data)
{
	return ((struct tls *)data)->fd;
}

static bool tls_has_pending(void *data)
{
	return SSL_has_pending(((struct tls *)data)->ssl) == 1;
}

static const struct http_transport http_transport_tls = {
	.name = "tls",
	.read = tls_read,
	.write = tls_write,
	.get_fd = tls_get_fd,
	.has_pending = tls_has_pending,
	.free = tls_free,
};

/* --- a socket BIO that never raises SIGPIPE ------------------------------------------------ */

/* OpenSSL's socket BIO writes with write(): a server that hung up would kill the client
 * with SIGPIPE. This one sends with MSG_NOSIGNAL, so the failure is a return value. */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

/* A send() or recv() result for OpenSSL: -1 with the retry flag when it would block. */
static int nosig_result(BIO *b, ssize_t n, bool write)
{
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (write)
			BIO_set_retry_write(b);
		else
			BIO_set_retry_read(b);
	}
	return n < 0 ? -1 : (int)n;
}

static int nosig_write(BIO *b, const char *buf, int len)
{
	return nosig_result(b, send(BIO_get_fd(b, NULL), buf, (size_t)len, MSG_NOSIGNAL), true);
}

static int nosig_read(BIO *b, char *buf, int len)
{
	ssize_t n = recv(BIO_get_fd(b, NULL), buf, (size_t)len, 0);

	/* The socket BIO's ctrl reports this flag as BIO_eof(), which tells OpenSSL that
	 * the peer closed rather than failed. */
	if (n == 0 && len > 0)
		BIO_set_flags(b, BIO_FLAGS_IN_EOF);
	return nosig_result(b, n, false);
}

static void nosig_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m =
		BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
			     "socket without SIGPIPE");

	if (!m)
		return;
	/* Everything but reading and writing (fd control, flush) is the socket BIO's. */
	if (!BIO_meth_set_write(m, nosig_write) || !BIO_meth_set_read(m, nosig_read) ||
	    !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

/* A BIO on fd (not owned) for SSL_set_bio(), or NULL. */
static BIO *nosig_bio_new(int fd)
{
	BIO *b;

	(void)pthread_once(&nosig_once, nosig_init);
	if (!nosig_method)
		return NULL;
	b = BIO_new(nosig_method);
	if (b)
		BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}

/* --- connecting ---------------------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (-1: none). -ETIMEDOUT when it passes. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		int r;

		if (deadline >= 0 && left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		return r == 0 ? -ETIMEDOUT : 0;
	}
}

static int tcp_connect_one(const struct addrinfo *ai, long long deadline)
{
	autoclose int fd = -1;
	int one = 1, soerr = 0;
	socklen_t len = sizeof(soerr);
	int r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* Requests are small and answered at once: no Nagle delay between head and body. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			return -errno;
		if (soerr)
			return -soerr;
	}
	return take_fd(fd);
}

/* Connects to the first address of host:port that answers. Returns the descriptor. */
static int tcp_connect(const char *host, const char *port, long long deadline, struct error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int r, fd = -ENOENT;

	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return error_set(err, -EHOSTUNREACH, "Failed to resolve '%s': %s", host,
				 gai_strerror(r));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = tcp_connect_one(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd == -ETIMEDOUT)
		return error_set(err, -ETIMEDOUT, "Timed out connecting to '%s' port %s", host,
				 port);
	if (fd < 0)
		return error_errno(err, fd, "Failed to connect to '%s' port %s", host, port);
	return fd;
}

static int ssl_error(struct error *err, int code, const char *what)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return error_set(err, code, "%s: %s", what, buf);
}

static int ctx_setup(SSL_CTX *ctx, const struct http_tls_options *opts, struct error *err)
{
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, HTTP_TLS_CIPHERS))
		return ssl_error(err, -EINVAL, "Failed to configure TLS");

	if (opts->cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx, opts->cert_file) != 1)
			return ssl_error(err, -EINVAL, "Failed to load the client certificate");
		if (SSL_CTX_use_PrivateKey_file(ctx,
						opts->key_file ? opts->key_file : opts->cert_file,
						SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			return ssl_error(err, -EINVAL, "Failed to load the client key");
	}

	if (opts->verify != HTTP_TLS_VERIFY_CA) {
		/* Self-signed servers: the fingerprint is checked after the handshake. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (opts->ca_file ? SSL_CTX_load_verify_locations(ctx, opts->ca_file, NULL) != 1
			  : SSL_CTX_set_default_verify_paths(ctx) != 1)
		return ssl_error(err, -EINVAL, "Failed to load CA certificates");
	return 0;
}

static bool host_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int ssl_setup(SSL *ssl, int fd, const char *host, const struct http_tls_options *opts,
		     struct error *err)
{
	bool ip = host_is_ip(host);
	BIO *bio = nosig_bio_new(fd);

	if (!bio)
		return ssl_error(err, -ENOMEM, "Failed to set up TLS");
	SSL_set_bio(ssl, bio, bio);
	if (!ip && !SSL_set_tlsext_host_name(ssl, host))
		return ssl_error(err, -EINVAL, "Failed to set up TLS");
	if (opts->verify != HTTP_TLS_VERIFY_CA)
		return 0;
	if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1
	       : SSL_set1_host(ssl, host) != 1)
		return ssl_error(err, -EINVAL, "Failed to set up TLS");
	return 0;
}

static int handshake(struct tls *t, const char *host, long long deadline, struct error *err)
{
	for (;;) {
		int r, ok;

		ERR_clear_error();
		ok = SSL_connect(t->ssl);
		if (ok == 1)
			return 0;
		switch (SSL_get_error(t->ssl, ok)) {
		case SSL_ERROR_WANT_READ:
			r = wait_fd(t->fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			r = wait_fd(t->fd, POLLOUT, deadline);
			break;
		default:
			if (SSL_get_verify_result(t->ssl) != X509_V_OK)
				return error_set(err, -EPERM,
						 "Failed to verify the certificate of '%s': %s",
						 host,
						 X509_verify_cert_error_string(
							 SSL_get_verify_result(t->ssl)));
			return ssl_error(err, -EPROTO, "TLS handshake failed");
		}
		if (r == -ETIMEDOUT)
			return error_set(err, -ETIMEDOUT,
					 "Timed out in the TLS handshake with '%s'", host);
		if (r < 0)
			return error_errno(err, r, "TLS handshake with '%s' failed", host);
	}
}

void http_tls_peer_release(struct http_tls_peer *p)
{
	if (!p)
		return;
	free(p->fingerprint);
	free(p->pem);
	*p = (struct http_tls_peer)HTTP_TLS_PEER_INIT;
}

static int peer_describe(SSL *ssl, struct http_tls_peer *ret, struct error *err)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	BIO *bio;
	char *data = NULL;
	long n;

	if (!cert)
		return error_set(err, -EPERM, "Server presented no certificate");
	if (X509_digest(cert, EVP_sha256(), md, &len) != 1)
		return ssl_error(err, -EPROTO, "Failed to hash the server certificate");
	bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509(bio, cert)) {
		BIO_free(bio);
		return error_set(err, -ENOMEM, "Out of memory");
	}
	n = BIO_get_mem_data(bio, &data);
	*ret = (struct http_tls_peer){
		.fingerprint = hex_encode(md, len),
		.pem = xstrndup(data, (size_t)n),
	};
	BIO_free(bio);
	return 0;
}

int http_conn_new_tls(const char *host, const char *port, const struct http_tls_options *opts,
		      int timeout_ms, struct http_conn **ret, struct http_tls_peer *ret_peer,
		      struct error *err)
{
	autoclean(tls_freep) struct tls *t = xcalloc(1, sizeof(*t));
	autoclean(http_tls_peer_release) struct http_tls_peer peer = HTTP_TLS_PEER_INIT;
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct http_conn *c;
	int r;

	t->fd = -1;
	if (opts->verify == HTTP_TLS_VERIFY_FINGERPRINT && str_is_empty(opts->fingerprint))
		return error_set(err, -EINVAL, "No certificate fingerprint to verify '%s' with",
				 host);

	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx)
		return ssl_error(err, -ENOMEM, "Failed to set up TLS");
	r = ctx_setup(t->ctx, opts, err);
	if (r < 0)
		return r;
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl)
		return ssl_error(err, -ENOMEM, "Failed to set up TLS");

	r = tcp_connect(host, port, deadline, err);
	if (r < 0)
		return r;
	t->fd = r;
	r = ssl_setup(t->ssl, t->fd, host, opts, err);
	if (r < 0)
		return r;
	r = handshake(t, host, deadline, err);
	if (r < 0)
		return r;

	r = peer_describe(t->ssl, &peer, err);
	if (r < 0)
		return r;
	if (opts->verify == HTTP_TLS_VERIFY_FINGERPRINT &&
	    strcasecmp(peer.fingerprint, opts->fingerprint) != 0)
		return error_set(err, -EPERM, "Certificate of '%s' has fingerprint %s, expected %s",
				 host, peer.fingerprint, opts->fingerprint);

	c = http_conn_new(&http_transport_tls, take_ptr(t));
	http_conn_set_timeout(c, timeout_ms);
	if (ret_peer) {
		*ret_peer = peer;
		peer = (struct http_tls_peer)HTTP_TLS_PEER_INIT;
	}
	*ret = c;
	return 0;
}
