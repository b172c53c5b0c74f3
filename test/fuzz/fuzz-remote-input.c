/* test/fuzz/fuzz-remote-input.c: what remote clients and users hand the trust code: base64
 * (certificates, tokens), https:// addresses and token expiry expressions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/auth.h"
#include "lib/http-tls.h"
#include "lib/macro.h"
#include "lib/str.h"

#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	autofree char *s = xstrndup((const char *)data, size);
	autofree unsigned char *raw = NULL;
	struct http_url u = HTTP_URL_INIT;
	long long when = 0;
	size_t len = 0;

	raw = base64_decode(s, &len);
	if (raw) {
		autofree char *again = base64_encode(raw, len);
		autofree unsigned char *back = NULL;
		size_t len2 = 0;

		/* Decoding never grows data, and what it decodes encodes back to the same bytes. */
		if (len > strlen(s) / 4 * 3 + 3)
			__builtin_trap();
		back = base64_decode(again, &len2);
		if (!back || len2 != len || memcmp(back, raw, len) != 0)
			__builtin_trap();
	}
	if (http_url_parse(s, &u, NULL) == 0) {
		autofree char *url = http_url_to_string(&u);
		struct http_url u2 = HTTP_URL_INIT;

		/* A parsed address prints as one that parses to the same host and port. */
		if (http_url_parse(url, &u2, NULL) < 0 || strcmp(u.host, u2.host) != 0 ||
		    strcmp(u.port, u2.port) != 0)
			__builtin_trap();
		http_url_release(&u2);
		http_url_release(&u);
	}
	(void)auth_expiry_parse(s, 1700000000, &when);
	return 0;
}
