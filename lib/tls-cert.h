/* lib/tls-cert.h: the X.509 certificates LXD-style peers expect: self-signed ECDSA P-384,
 * valid ten years, with a DNS SAN (the `lxc` client verifies the server name against the
 * certificate's first DNS SAN) and the right extended key usage.
 *
 * Generating a key blocks for a few milliseconds; done once at first start.
 */
#pragma once

#include <stdbool.h>

#include "error.h"

/* Creates cert_path/key_path (key 0600) if either is missing. server selects serverAuth
 * (daemon) or clientAuth (client certificate) usage. */
int tls_cert_ensure(const char *cert_path, const char *key_path, bool server, struct error *err);

/* SHA-256 of the DER encoding of the first certificate in pem, as lower-case hex: the
 * fingerprint LXD shows and clients pin. */
int tls_cert_fingerprint(const char *pem, char **ret, struct error *err);

struct tls_cert_info {
	char common_name[256]; /* "" when the subject has none */
	long long not_before;  /* UTC seconds */
	long long not_after;
};

/* The subject's common name and validity of the first certificate in pem. */
int tls_cert_info(const char *pem, struct tls_cert_info *ret, struct error *err);
