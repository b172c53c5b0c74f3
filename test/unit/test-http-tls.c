#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/http-client.h"
#include "lib/http-tls.h"
#include "lib/str.h"
#include "lib/tls-cert.h"
#include "test/unit/unit.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* --- a TLS server in a child process on a loopback port ---------------------------------- */

struct server {
	pid_t pid;
	char port[16];
	char *cert;
	char *key;
};

/* Binds 127.0.0.1 on a free port. */
static int listen_loopback(char *port, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	ck_assert(snprintf_ok(port, size, "%u", ntohs(sa.sin_port)));
	return fd;
}

/* Client certificates are self-signed: the test reads whichever comes. */
static int accept_any(X509_STORE_CTX *ctx, void *arg)
{
	return 1;
}

/* Answers each connection's request with 200 and a body naming the client certificate's
 * fingerprint (or "none"). */
static void serve(int lfd, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		_exit(1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, accept_any, NULL);

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char buf[4096], body[128] = "none";
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		autofree char *hex = NULL;
		autofree char *reply = NULL;
		SSL *ssl;
		X509 *peer;

		if (fd < 0)
			_exit(1);
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1 && SSL_read(ssl, buf, sizeof(buf)) > 0) {
			peer = SSL_get0_peer_certificate(ssl);
			if (peer && X509_digest(peer, EVP_sha256(), md, &mdlen) == 1) {
				hex = hex_encode(md, mdlen);
				(void)snprintf_ok(body, sizeof(body), "%s", hex);
			}
			reply = str_printf("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: "
					   "close\r\n\r\n%s",
					   strlen(body), body);
			(void)SSL_write(ssl, reply, (int)strlen(reply));
			(void)SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
}

static void server_start(struct server *s)
{
	int lfd;

	s->cert = str_printf("%s/server.crt", unit_tmpdir);
	s->key = str_printf("%s/server.key", unit_tmpdir);
	ck_assert_int_eq(tls_cert_ensure(s->cert, s->key, true, NULL), 0);
	lfd = listen_loopback(s->port, sizeof(s->port));
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		/* Clients that refuse the server hang up early. */
		signal(SIGPIPE, SIG_IGN);
		serve(lfd, s->cert, s->key);
	}
	close(lfd);
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	free(s->cert);
	free(s->key);
}

static char *fingerprint_of(const char *path)
{
	autofree char *pem = NULL;
	char *fp = NULL;

	ck_assert_int_eq(read_file(path, 1 << 20, &pem, NULL, NULL), 0);
	ck_assert_int_eq(tls_cert_fingerprint(pem, &fp, NULL), 0);
	return fp;
}

/* GET / over a fresh TLS connection; returns the body, or NULL with *ret_r set. */
static char *tls_get(const struct server *s, const struct http_tls_options *opts, int *ret_r,
		     struct http_tls_peer *peer)
{
	autoclean(http_conn_freep) struct http_conn *c = NULL;
	autoclean(http_response_release) struct http_response resp = HTTP_RESPONSE_INIT;
	autoclean(error_clear) struct error err = ERROR_INIT;

	*ret_r = http_conn_new_tls("127.0.0.1", s->port, opts, 5000, &c, peer, &err);
	if (*ret_r < 0) {
		ck_assert_ptr_nonnull(err.msg);
		return NULL;
	}
	*ret_r = http_do(c, &(struct http_request){ .method = "GET", .target = "/" }, &resp, &err);
	ck_assert_msg(*ret_r == 0, "%s", err.msg);
	ck_assert_int_eq(resp.status, 200);
	return xstrdup(resp.body);
}

/* --- tests ------------------------------------------------------------------------------------ */

START_TEST(test_url_parse)
{
	struct http_url u = HTTP_URL_INIT;
	autofree char *s = NULL;

	ck_assert_int_eq(http_url_parse("https://10.0.0.1:8443", &u, NULL), 0);
	ck_assert_str_eq(u.host, "10.0.0.1");
	ck_assert_str_eq(u.port, "8443");
	ck_assert_str_eq(u.path, "");
	http_url_release(&u);

	ck_assert_int_eq(http_url_parse("https://[fd42::1]:9443/", &u, NULL), 0);
	ck_assert_str_eq(u.host, "fd42::1");
	ck_assert_str_eq(u.port, "9443");
	s = http_url_to_string(&u);
	ck_assert_str_eq(s, "https://[fd42::1]:9443");
	http_url_release(&u);

	ck_assert_int_eq(http_url_parse("lxd.example.org", &u, NULL), 0);
	ck_assert_str_eq(u.host, "lxd.example.org");
	ck_assert_str_eq(u.port, "8443");
	http_url_release(&u);

	ck_assert_int_eq(http_url_parse("http://host:80", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://user@host", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://host:0", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://host:65536", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://host:12x", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://[nothex]:1", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://ho\nst", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://-host", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://", &u, NULL), -EINVAL);
	ck_assert_int_eq(http_url_parse("https://host/?q", &u, NULL), -EINVAL);
}
END_TEST

START_TEST(test_pinned_fingerprint)
{
	struct server s;
	autofree char *fp = NULL;
	autofree char *body = NULL;
	autofree char *ccert = str_printf("%s/client.crt", unit_tmpdir);
	autofree char *ckey = str_printf("%s/client.key", unit_tmpdir);
	autofree char *cfp = NULL;
	autoclean(http_tls_peer_release) struct http_tls_peer peer = HTTP_TLS_PEER_INIT;
	int r;

	server_start(&s);
	fp = fingerprint_of(s.cert);

	/* Learning the fingerprint without verifying. */
	body = tls_get(&s, &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_NONE }, &r, &peer);
	ck_assert_str_eq(body, "none");
	ck_assert_str_eq(peer.fingerprint, fp);
	ck_assert(str_has_prefix(peer.pem, "-----BEGIN CERTIFICATE-----"));
	free(body);

	/* Pinned, no client certificate. */
	body = tls_get(&s,
		       &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						   .fingerprint = fp },
		       &r, NULL);
	ck_assert_str_eq(body, "none");
	free(body);

	/* Pinned, with a client certificate the server sees. */
	ck_assert_int_eq(tls_cert_ensure(ccert, ckey, false, NULL), 0);
	cfp = fingerprint_of(ccert);
	body = tls_get(&s,
		       &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						   .fingerprint = fp,
						   .cert_file = ccert,
						   .key_file = ckey },
		       &r, NULL);
	ck_assert_str_eq(body, cfp);
	free(body);

	/* Another fingerprint: refused. */
	body = tls_get(&s,
		       &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						   .fingerprint = cfp },
		       &r, NULL);
	ck_assert_ptr_null(body);
	ck_assert_int_eq(r, -EPERM);

	/* A self-signed server is not in the system CA store. */
	body = tls_get(&s, &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_CA }, &r, NULL);
	ck_assert_ptr_null(body);
	ck_assert_int_eq(r, -EPERM);

	/* A key that does not match the certificate. */
	body = tls_get(&s,
		       &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						   .fingerprint = fp,
						   .cert_file = ccert,
						   .key_file = s.key },
		       &r, NULL);
	ck_assert_ptr_null(body);
	ck_assert_int_eq(r, -EINVAL);

	server_stop(&s);
}
END_TEST

START_TEST(test_handshake_timeout)
{
	autoclean(http_conn_freep) struct http_conn *c = NULL;
	autoclean(error_clear) struct error err = ERROR_INIT;
	char port[16];
	int lfd = listen_loopback(port, sizeof(port));

	/* The kernel completes the TCP handshake from the backlog; TLS never answers. */
	ck_assert_int_eq(
		http_conn_new_tls("127.0.0.1", port,
				  &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_NONE }, 300,
				  &c, NULL, &err),
		-ETIMEDOUT);
	close(lfd);

	/* Nothing listens there any more. */
	error_clear(&err);
	ck_assert_int_eq(
		http_conn_new_tls("127.0.0.1", port,
				  &(struct http_tls_options){ .verify = HTTP_TLS_VERIFY_NONE }, 300,
				  &c, NULL, &err),
		-ECONNREFUSED);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("http-tls");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_url_parse);
	tcase_add_test(tc, test_pinned_fingerprint);
	tcase_add_test(tc, test_handshake_timeout);
	suite_add_tcase(s, tc);
	return s;
}
