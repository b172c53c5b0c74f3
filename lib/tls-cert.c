#include "tls-cert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "str.h"

#include "banned.h"

static void x509_freep(X509 **x)
{
	X509_free(*x);
}

static void evp_pkey_freep(EVP_PKEY **k)
{
	EVP_PKEY_free(*k);
}

static void bio_freep(BIO **b)
{
	BIO_free(*b);
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static char *bio_to_string(BIO *bio)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);

	return xstrndup(data, (size_t)len);
}

static int cert_generate(bool server, char **ret_cert, char **ret_key)
{
	autoclean(evp_pkey_freep) EVP_PKEY *key = EVP_EC_gen("P-384");
	autoclean(x509_freep) X509 *cert = X509_new();
	autoclean(bio_freep) BIO *cbio = BIO_new(BIO_s_mem());
	autoclean(bio_freep) BIO *kbio = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	char host[256] = "unspecified";
	autofree char *san = NULL;
	autofree char *cn = NULL;
	BIGNUM *bn;
	X509_NAME *name;

	if (!key || !cert || !cbio || !kbio)
		return -ENOMEM;
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0] || !str_is_single_line(host))
		(void)snprintf_ok(host, sizeof(host), "unspecified");

	if (getentropy(serial, sizeof(serial)) < 0)
		return -errno;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
		BN_free(bn);
		return -ENOMEM;
	}
	BN_free(bn);

	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, key);

	cn = str_printf("root@%s", host);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"lodge", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, name);

	san = server ? str_printf("DNS:%s, IP:127.0.0.1, IP:::1", host) : NULL;
	if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(cert, NID_ext_key_usage, server ? "serverAuth" : "clientAuth") < 0 ||
	    (san && add_ext(cert, NID_subject_alt_name, san) < 0))
		return -EINVAL;
	if (!X509_sign(cert, key, EVP_sha384()))
		return -EINVAL;

	if (!PEM_write_bio_X509(cbio, cert) ||
	    !PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL))
		return -EIO;
	*ret_cert = bio_to_string(cbio);
	*ret_key = bio_to_string(kbio);
	return 0;
}

int tls_cert_ensure(const char *cert_path, const char *key_path, bool server, struct error *err)
{
	autofree char *cert = NULL, *key = NULL;
	int r;

	if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
		return 0;
	r = cert_generate(server, &cert, &key);
	if (r < 0)
		return error_errno(err, r, "Failed to generate a certificate");
	r = write_file_atomic(key_path, key, strlen(key), 0600, err);
	if (r < 0)
		return r;
	return write_file_atomic(cert_path, cert, strlen(cert), 0644, err);
}

int tls_cert_fingerprint(const char *pem, char **ret, struct error *err)
{
	autoclean(bio_freep) BIO *bio = BIO_new_mem_buf(pem, -1);
	autoclean(x509_freep) X509 *cert = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!bio)
		return error_set(err, -ENOMEM, "Out of memory");
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!cert)
		return error_set(err, -EINVAL, "Invalid PEM certificate");
	if (X509_digest(cert, EVP_sha256(), md, &len) != 1)
		return error_set(err, -EINVAL, "Failed to hash the certificate");
	*ret = hex_encode(md, len);
	return 0;
}

static long long asn1_time_seconds(const ASN1_TIME *t)
{
	struct tm tm = { 0 };

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

int tls_cert_info(const char *pem, struct tls_cert_info *ret, struct error *err)
{
	autoclean(bio_freep) BIO *bio = BIO_new_mem_buf(pem, -1);
	autoclean(x509_freep) X509 *cert = NULL;
	struct tls_cert_info info = { .common_name = "" };

	if (!bio)
		return error_set(err, -ENOMEM, "Out of memory");
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!cert)
		return error_set(err, -EINVAL, "Invalid PEM certificate");
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, info.common_name,
				      sizeof(info.common_name)) < 0 ||
	    !str_is_single_line(info.common_name))
		info.common_name[0] = '\0';
	info.not_before = asn1_time_seconds(X509_get0_notBefore(cert));
	info.not_after = asn1_time_seconds(X509_get0_notAfter(cert));
	*ret = info;
	return 0;
}
