/* db/db-images.h: the images and image_aliases tables.
 *
 * These functions store what they are given: images/ validates first. Lookups of an image
 * take a full fingerprint or a unique prefix of one (as LXD resolves them). Each call takes
 * the database lock and blocks on disk I/O; inside db_transaction() they join the running
 * transaction.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/error.h"

struct db_image {
	int64_t id;
	char *fingerprint;
	char *type; /* "container" or "virtual-machine" */
	char *filename;
	uint64_t size;
	bool public;
	bool cached;
	bool auto_update;
	char *architecture;
	json_t *properties;    /* object of strings */
	json_t *profiles;      /* array of names */
	json_t *update_source; /* object; {} when none */
	int64_t created_at;    /* unix seconds */
	int64_t uploaded_at;
	int64_t expires_at; /* 0: never */
	int64_t last_used_at;
};

void db_image_free(struct db_image *img);
DEFINE_FREEP(struct db_image, db_image_free)

struct db_image_alias {
	char *name;
	char *target; /* the image's full fingerprint */
	char *type;
	char *description;
};

void db_image_alias_free(struct db_image_alias *alias);
DEFINE_FREEP(struct db_image_alias, db_image_alias_free)

/* Frees an array of n images or aliases and the array itself. NULL-safe. */
void db_images_free(struct db_image **v, size_t n);
void db_image_aliases_free(struct db_image_alias **v, size_t n);

/* Inserts img (its id is ignored) and sets *ret_id (may be NULL). -EEXIST when the
 * fingerprint is already stored, -EINVAL naming a profile that does not exist. */
int db_image_insert(struct db *db, const struct db_image *img, int64_t *ret_id, struct error *err);

/* The image whose fingerprint is fp or starts with it. -ENOENT "Image 'fp' not found";
 * -EINVAL when the prefix matches several. The caller frees *ret. */
int db_image_get(struct db *db, const char *fp, struct db_image **ret, struct error *err);

/* Every image, oldest first. The caller frees with db_images_free(). */
int db_image_list(struct db *db, struct db_image ***ret, size_t *ret_n, struct error *err);

/* Deletes the image with this full fingerprint and, by cascade, its aliases. -ENOENT when
 * there is none. */
int db_image_delete(struct db *db, const char *fingerprint, struct error *err);

/* Writes the user-editable fields of img (public, auto_update, properties, profiles,
 * expires_at) to the row of img->fingerprint. -ENOENT when there is none; -EINVAL naming
 * a profile that does not exist. */
int db_image_update(struct db *db, const struct db_image *img, struct error *err);

/* Records that an instance was created from the image now. */
int db_image_set_last_used(struct db *db, const char *fingerprint, int64_t when, struct error *err);

/* Creates alias name -> image fingerprint (full). -EEXIST "Alias 'x' already exists",
 * -ENOENT when the image does not exist. */
int db_image_alias_create(struct db *db, const char *name, const char *fingerprint,
			  const char *type, const char *description, struct error *err);

/* -ENOENT "Image alias 'x' not found". The caller frees *ret. */
int db_image_alias_get(struct db *db, const char *name, struct db_image_alias **ret,
		       struct error *err);

/* Every alias (fingerprint NULL) or those of one image (full fingerprint), by name. */
int db_image_alias_list(struct db *db, const char *fingerprint, struct db_image_alias ***ret,
			size_t *ret_n, struct error *err);

/* Points alias name at fingerprint (full) with description. -ENOENT for an unknown alias
 * or image. */
int db_image_alias_update(struct db *db, const char *name, const char *fingerprint,
			  const char *description, struct error *err);

/* -ENOENT for an unknown alias, -EEXIST when new_name is taken. */
int db_image_alias_rename(struct db *db, const char *name, const char *new_name, struct error *err);

int db_image_alias_delete(struct db *db, const char *name, struct error *err);
