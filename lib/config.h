/* lib/config.h: tables of configuration keys, and validation of the config clients send.
 *
 * The server, instances, profiles, storage pools and networks all keep their config as a
 * flat JSON object of strings ({"limits.cpu": "2"}). Each kind declares its keys once, in
 * a struct config_schema; every path that writes such a config (PUT, PATCH, create, copy,
 * import, ...) goes through config_replace() or config_patch(), so a value is checked the
 * same way whichever way it arrived.
 *
 * Values end up in line-based files (the LXC config, dnsmasq's) and in argument vectors,
 * so no key or value may hold CR, LF, NUL, TAB or any other control character.
 *
 * Every function here is pure (no I/O, logging at debug only) and never blocks, unless a
 * key's setter does (see struct config_key).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

enum config_type {
	CONFIG_TYPE_STRING, /* any single line */
	CONFIG_TYPE_BOOL,   /* parse_bool(); stored as "true" or "false" */
	CONFIG_TYPE_INT,    /* parse_i64() */
	CONFIG_TYPE_SIZE,   /* parse_size(): "512", "10GiB", "1.5GB" */
};

enum config_key_flags {
	/* The name ends with '.' and the key stands for every "<name><suffix>" with a non-empty
	 * suffix: a namespace such as "user." or "volatile.". */
	CONFIG_KEY_PREFIX = 1 << 0,
	/* A secret: config_to_api() shows it as JSON true, and a client that sends true back
	 * keeps the current value (LXD's behaviour for core.trust_password). */
	CONFIG_KEY_HIDDEN = 1 << 1,
};

/* Initialise with designated initializers: the field order follows the padding. */
struct config_key {
	const char *name;
	enum config_type type;
	unsigned flags;		   /* enum config_key_flags */
	const char *default_value; /* NULL: no default */
	/* Optional, called after the type check on a single-line value. Fills err with a
	 * fragment that completes "Invalid value for 'key': " ("expected a port number"). */
	int (*validate)(const char *value, struct error *err);
	/* Optional: turns a value a client has just sent into the value to store (hashes a
	 * password); *ret is a new string. Not called on a value kept from the current config.
	 * May block on CPU for as long as it needs. */
	int (*setter)(const char *value, char **ret, struct error *err);
};

struct config_schema {
	const char *what;	       /* "server", "instance": names the config in messages */
	const struct config_key *keys; /* ends with an entry whose name is NULL */
};

/* The key called name: an exact entry, else the longest CONFIG_KEY_PREFIX entry name
 * starts with. NULL when the schema has none, or name is not a valid key name (1..255
 * characters of [A-Za-z0-9._:-], a prefix key needs a non-empty suffix). */
const struct config_key *config_key_find(const struct config_schema *schema, const char *name);

/* True when value can go into a line-based file: no byte below 0x20 and no DEL. */
bool config_value_is_safe(const char *value);

/* Checks one key and its value (a non-empty string). -EINVAL with "Unknown configuration
 * key 'x'" for a key the schema lacks, "Invalid value for 'k': ..." for a value with a
 * control character, of the wrong type or refused by the key's validator. */
int config_validate(const struct config_schema *schema, const char *name, const char *value,
		    struct error *err);

/* Converts a JSON value as clients send them into the string stored: a string as is, true
 * and false as "true" and "false", a number in decimal ("30" for 30 and 30.0). null and ""
 * give *ret = NULL: the key is to be unset. -EINVAL naming name for arrays and objects.
 * The caller frees *ret. Does not validate. */
int config_value_from_json(const char *name, const json_t *value, char **ret, struct error *err);

/* Validates a whole config a client sent (an object, or NULL for none) and builds the one to
 * store: a new object of key -> string, without unset keys (null, ""), with booleans
 * normalized and setters applied. Fails on the first bad key, naming it; *ret is then left
 * alone. */
int config_normalize(const struct config_schema *schema, const json_t *in, json_t **ret,
		     struct error *err);

/* As config_normalize() for a PUT: in replaces current (the stored config, or NULL) as a
 * whole, except that a CONFIG_KEY_HIDDEN key sent as true keeps its current value. */
int config_replace(const struct config_schema *schema, const json_t *current, const json_t *in,
		   json_t **ret, struct error *err);

/* As config_replace() for a PATCH: keys in patch override those in current, null or ""
 * unsets a key, and keys patch does not mention keep their current value. */
int config_patch(const struct config_schema *schema, const json_t *current, const json_t *patch,
		 json_t **ret, struct error *err);

/* The value of name in values (a stored config), else the key's default, else NULL. The
 * string belongs to values or to the schema. */
const char *config_get(const struct config_schema *schema, const json_t *values, const char *name);

/* Typed forms of config_get(): a missing or unparsable value gives the default's value,
 * and a key with neither gives false / 0. */
bool config_get_bool(const struct config_schema *schema, const json_t *values, const char *name);
int64_t config_get_int(const struct config_schema *schema, const json_t *values, const char *name);
uint64_t config_get_size(const struct config_schema *schema, const json_t *values,
			 const char *name);

/* values as the API shows them: a new object with every CONFIG_KEY_HIDDEN key as true. */
json_t *config_to_api(const struct config_schema *schema, const json_t *values);

/* Validators for struct config_key.validate; each returns 0 or -EINVAL. */
int config_validate_bool(const char *value, struct error *err);
/* A non-negative decimal integer. */
int config_validate_uint(const char *value, struct error *err);
int config_validate_size(const char *value, struct error *err);
/* A listen address: "host:port", "[v6addr]:port", ":port", or a host or "[v6addr]" alone. */
int config_validate_address(const char *value, struct error *err);
/* An absolute, normalized path: starts with '/', no "." or ".." component, no "//". */
int config_validate_abspath(const char *value, struct error *err);
/* value is one of allowed (NULL-terminated). Use CONFIG_VALIDATE_ONE_OF to make a
 * validator of it. */
int config_validate_one_of(const char *value, const char *const *allowed, struct error *err);

/* Defines `static int fn(const char *value, struct error *err)` accepting only the listed
 * strings: CONFIG_VALIDATE_ONE_OF(validate_compression, "none", "gzip", "xz") */
#define CONFIG_VALIDATE_ONE_OF(fn, ...)                                                          \
	static int fn(const char *value, struct error *err)                                      \
	{                                                                                        \
		return config_validate_one_of(value, (const char *const[]){ __VA_ARGS__, NULL }, \
					      err);                                              \
	}

/* Splits a listen address as config_validate_address() accepts it. *ret_host is a new
 * string without brackets ("" for ":port", meaning every address); *ret_port is 0 when the
 * address names none, so the caller applies its default (8443). */
int config_address_parse(const char *value, char **ret_host, unsigned *ret_port, struct error *err);
