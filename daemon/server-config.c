#include "daemon/server-config.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

#include "daemon/auth.h"
#include "lib/str.h"

/* Last: makes the unsafe libc functions compile errors. */
#include "lib/banned.h"

/* scrypt cost as LXD uses it: 16 MiB and about 50 ms per hash. */
#define SCRYPT_N	16384
#define SCRYPT_R	8
#define SCRYPT_P	1
#define SCRYPT_SALT_LEN 32
#define SCRYPT_HASH_LEN 64

/* Limits on what a stored hash may ask for, so a damaged database cannot make us allocate
 * gigabytes: 128 * N * r bytes must stay within SCRYPT_MAXMEM. */
#define SCRYPT_N_MAX   (1 << 20)
#define SCRYPT_R_MAX   32
#define SCRYPT_P_MAX   16
#define SCRYPT_MAXMEM  (256ULL << 20)
#define SCRYPT_BUF_MAX 128

CONFIG_VALIDATE_ONE_OF(validate_compression_algorithm, "none", "gzip", "bzip2", "xz", "lzma",
		       "zstd")

static int validate_token_expiry(const char *value, struct error *err)
{
	long long when;

	if (auth_expiry_parse(value, 0, &when) < 0)
		return error_set(err, -EINVAL, "Invalid expiry expression '%s'", value);
	return 0;
}

static const struct config_key server_config_keys[] = {
	{ .name = "core.https_address",
	  .type = CONFIG_TYPE_STRING,
	  .validate = config_validate_address },
	{ .name = "core.proxy_http", .type = CONFIG_TYPE_STRING },
	{ .name = "core.proxy_https", .type = CONFIG_TYPE_STRING },
	{ .name = "core.proxy_ignore_hosts", .type = CONFIG_TYPE_STRING },
	/* Minutes to wait for instances to stop when the daemon shuts down. */
	{ .name = "core.shutdown_timeout",
	  .type = CONFIG_TYPE_INT,
	  .default_value = "5",
	  .validate = config_validate_uint },
	/* How long a trust token stays valid ("1d 12H"); empty: until used. */
	{ .name = "core.remote_token_expiry",
	  .type = CONFIG_TYPE_STRING,
	  .validate = validate_token_expiry },
	{ .name = "core.trust_password",
	  .type = CONFIG_TYPE_STRING,
	  .flags = CONFIG_KEY_HIDDEN,
	  .setter = server_config_password_hash },
	{ .name = "images.auto_update_cached", .type = CONFIG_TYPE_BOOL, .default_value = "true" },
	/* Hours between image refreshes; 0 disables them. */
	{ .name = "images.auto_update_interval",
	  .type = CONFIG_TYPE_INT,
	  .default_value = "6",
	  .validate = config_validate_uint },
	/* The compressor name reaches a command line: allow-listed, never passed through. */
	{ .name = "images.compression_algorithm",
	  .type = CONFIG_TYPE_STRING,
	  .default_value = "gzip",
	  .validate = validate_compression_algorithm },
	/* Days an unused cached image is kept. */
	{ .name = "images.remote_cache_expiry",
	  .type = CONFIG_TYPE_INT,
	  .default_value = "10",
	  .validate = config_validate_uint },
	{ .name = "user.", .type = CONFIG_TYPE_STRING, .flags = CONFIG_KEY_PREFIX },
	{ .name = NULL },
};

const struct config_schema server_config_schema = {
	.what = "server",
	.keys = server_config_keys,
};

static bool value_is_default(const struct config_key *key, const char *value)
{
	uint64_t a, b;
	int64_t x, y;

	if (!key->default_value || !value)
		return false;

	switch (key->type) {
	case CONFIG_TYPE_INT:
		return parse_i64(value, &x) == 0 && parse_i64(key->default_value, &y) == 0 &&
		       x == y;
	case CONFIG_TYPE_SIZE:
		return parse_size(value, &a) == 0 && parse_size(key->default_value, &b) == 0 &&
		       a == b;
	case CONFIG_TYPE_BOOL: /* stored normalized, as the defaults are written */
	case CONFIG_TYPE_STRING:
		break;
	}
	return streq(value, key->default_value);
}

/* LXD keeps no value equal to its default: GET /1.0 does not show such a key. */
static void drop_defaults(json_t *config)
{
	const char *name;
	json_t *value;
	void *tmp;

	json_object_foreach_safe(config, tmp, name, value)
	{
		const struct config_key *key = config_key_find(&server_config_schema, name);

		if (key && value_is_default(key, json_string_value(value)))
			(void)json_object_del(config, name);
	}
}

int server_config_validate(const json_t *in, json_t **ret, struct error *err)
{
	return server_config_replace(NULL, in, ret, err);
}

int server_config_replace(const json_t *current, const json_t *in, json_t **ret, struct error *err)
{
	json_t *next = NULL;
	int r;

	r = config_replace(&server_config_schema, current, in, &next, err);
	if (r < 0)
		return r;

	drop_defaults(next);
	*ret = next;
	return 0;
}

int server_config_patch(const json_t *current, const json_t *patch, json_t **ret, struct error *err)
{
	json_t *next = NULL;
	int r;

	r = config_patch(&server_config_schema, current, patch, &next, err);
	if (r < 0)
		return r;

	drop_defaults(next);
	*ret = next;
	return 0;
}

json_t *server_config_to_api(const json_t *stored)
{
	return config_to_api(&server_config_schema, stored);
}

static int scrypt_derive(const char *password, const unsigned char *salt, size_t salt_len,
			 uint64_t n, uint64_t r, uint64_t p, unsigned char *out, size_t out_len)
{
	if (EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, r, p, SCRYPT_MAXMEM, out,
			   out_len) != 1)
		return -EIO;
	return 0;
}

int server_config_password_hash(const char *password, char **ret, struct error *err)
{
	unsigned char salt[SCRYPT_SALT_LEN];
	unsigned char hash[SCRYPT_HASH_LEN];
	autofree char *salt_hex = NULL;
	autofree char *hash_hex = NULL;
	int r;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return error_set(err, -EIO, "Failed to generate a random salt for the password");

	r = scrypt_derive(password, salt, sizeof(salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, hash,
			  sizeof(hash));
	if (r < 0)
		return error_set(err, r, "Failed to hash the password");

	salt_hex = hex_encode(salt, sizeof(salt));
	hash_hex = hex_encode(hash, sizeof(hash));
	OPENSSL_cleanse(hash, sizeof(hash));

	*ret = str_printf("scrypt:%d:%d:%d:%s:%s", SCRYPT_N, SCRYPT_R, SCRYPT_P, salt_hex,
			  hash_hex);
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes len hex characters at s into out (at most max bytes); the byte count or -1. */
static int hex_decode(const char *s, size_t len, unsigned char *out, size_t max)
{
	if (len == 0 || len % 2 != 0 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_value(s[2 * i]);
		int lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi * 16 + lo);
	}
	return (int)(len / 2);
}

/* The next ':'-separated field of *p as a number, moving *p past it. */
static int next_number(const char **p, uint64_t max, uint64_t *ret)
{
	const char *end = strchr(*p, ':');
	autofree char *field = NULL;

	if (!end)
		return -EINVAL;
	field = xstrndup(*p, (size_t)(end - *p));
	if (parse_u64(field, ret) < 0 || *ret == 0 || *ret > max)
		return -EINVAL;
	*p = end + 1;
	return 0;
}

bool server_config_password_matches(const char *stored, const char *password)
{
	unsigned char salt[SCRYPT_BUF_MAX];
	unsigned char want[SCRYPT_BUF_MAX];
	unsigned char got[SCRYPT_BUF_MAX];
	const char *p = stored;
	const char *colon;
	uint64_t n, r, par;
	int salt_len;
	int hash_len;
	bool ok;

	if (!stored || !password || !str_has_prefix(stored, "scrypt:"))
		return false;
	p += strlen("scrypt:");
	if (next_number(&p, SCRYPT_N_MAX, &n) < 0 || (n & (n - 1)) != 0 ||
	    next_number(&p, SCRYPT_R_MAX, &r) < 0 || next_number(&p, SCRYPT_P_MAX, &par) < 0)
		return false;

	colon = strchr(p, ':');
	if (!colon)
		return false;
	salt_len = hex_decode(p, (size_t)(colon - p), salt, sizeof(salt));
	hash_len = hex_decode(colon + 1, strlen(colon + 1), want, sizeof(want));
	if (salt_len < 16 || hash_len < 16)
		return false;

	if (scrypt_derive(password, salt, (size_t)salt_len, n, r, par, got, (size_t)hash_len) < 0)
		return false;
	ok = CRYPTO_memcmp(got, want, (size_t)hash_len) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}
