/* db/db-certificates.h: the trust store (/1.0/certificates), one row per certificate.
 *
 * A certificate is the JSON object the API shows: {"fingerprint", "type" ("client" or
 * "metrics"), "name", "certificate" (PEM), "restricted", "projects" (array of names)}.
 * These functions store what they are given: the caller validates first
 * (daemon/api-certificates.c). Each call takes the database lock and blocks on disk I/O.
 */
#pragma once

#include <jansson.h>

#include "db/db.h"
#include "lib/error.h"

/* Every certificate, ordered by fingerprint, as a new array. */
int db_certificate_list(struct db *db, json_t **ret, struct error *err);

/* The certificate whose fingerprint starts with prefix (as LXD accepts). -ENOENT when none,
 * -EINVAL when the prefix matches more than one. */
int db_certificate_get(struct db *db, const char *prefix, json_t **ret, struct error *err);

/* Adds cert; -EEXIST when its fingerprint is already stored. */
int db_certificate_create(struct db *db, const json_t *cert, struct error *err);

/* Replaces name, type, restricted and projects of the certificate fingerprint (a full one). */
int db_certificate_update(struct db *db, const char *fingerprint, const json_t *cert,
			  struct error *err);

/* Removes the certificate fingerprint (a full one); -ENOENT when it is not stored. */
int db_certificate_delete(struct db *db, const char *fingerprint, struct error *err);
