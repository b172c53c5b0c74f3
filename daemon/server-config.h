/* daemon/server-config.h: the server configuration keys (GET/PUT/PATCH /1.0), with LXD's
 * names, types and defaults.
 *
 * The stored form is a JSON object of key -> string holding only the keys that are set to
 * something other than their default (as LXD's GET /1.0 shows them). core.trust_password
 * is stored as a salted scrypt hash and shown as true. A handler for PUT or PATCH runs,
 * inside one db_transaction():
 *
 *	db_config_load(db, &current, err);
 *	server_config_patch(current, req_config, &next, err);  (or server_config_replace)
 *	db_config_replace(db, next, err);
 *
 * Setting core.trust_password hashes it, which costs tens of milliseconds of CPU: those
 * calls belong on a worker thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "lib/config.h"
#include "lib/error.h"

extern const struct config_schema server_config_schema;

/* Validates a complete server config a client sent (an object of key -> string, bool or
 * number; NULL for none) and builds the one to store, as a new object in *ret: values as
 * strings, unset (null, "") and default-valued keys dropped, the trust password hashed.
 * -EINVAL naming the first bad key. May block (see above). */
int server_config_validate(const json_t *in, json_t **ret, struct error *err);

/* PUT /1.0: in replaces the stored config current as a whole, except that
 * "core.trust_password": true (what GET shows) keeps the current password. *ret is the
 * new config to store. May block. */
int server_config_replace(const json_t *current, const json_t *in, json_t **ret, struct error *err);

/* PATCH /1.0: keys in patch override those in current, null or "" unsets a key, the rest
 * stay; "core.trust_password": true keeps the password. *ret is the new config to store.
 * May block. */
int server_config_patch(const json_t *current, const json_t *patch, json_t **ret,
			struct error *err);

/* The stored config as GET /1.0 shows it, as a new object: the trust password as true. */
json_t *server_config_to_api(const json_t *stored);

/* Hashes password with scrypt and a random salt into a new single-line string the caller
 * frees ("scrypt:N:r:p:<salt hex>:<hash hex>"). Blocks on CPU for tens of milliseconds. */
int server_config_password_hash(const char *password, char **ret, struct error *err);

/* True when password matches stored, a string made by server_config_password_hash(). False
 * for a NULL, empty or malformed stored value. Compares in constant time; blocks on CPU as
 * hashing does. */
bool server_config_password_matches(const char *stored, const char *password);
