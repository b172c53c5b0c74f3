/* db/db-networks.h: managed networks (/1.0/networks), one row each in table `networks`.
 *
 * These functions store what they are given: network/network.c validates first. config
 * is a JSON object of key -> string. Each call takes the database lock and blocks on disk
 * I/O; inside db_transaction() they join the running transaction.
 */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "db/db.h"
#include "lib/error.h"

struct db_network {
	int64_t id;
	char *name;
	char *type; /* "bridge" */
	char *description;
	char *status; /* "Created" */
	json_t *config;
};

void db_network_free(struct db_network *n);
DEFINE_FREEP(struct db_network, db_network_free)

/* The network called name; -ENOENT with "Network 'x' not found" when there is none. The
 * caller frees *ret. */
int db_network_get(struct db *db, const char *name, struct db_network **ret, struct error *err);

/* Every network, ordered by name: *ret is a new array of *ret_n pointers, each to free
 * with db_network_free(), the array with free(). */
int db_network_list(struct db *db, struct db_network ***ret, size_t *ret_n, struct error *err);

/* Adds a network; -EEXIST with "Network 'x' already exists" when the name is taken. */
int db_network_insert(struct db *db, const char *name, const char *type, const char *description,
		      const json_t *config, struct error *err);

/* Replaces a network's description and config; -ENOENT when it does not exist. */
int db_network_update(struct db *db, const char *name, const char *description,
		      const json_t *config, struct error *err);

/* Renames a network; -ENOENT or -EEXIST as the names say. */
int db_network_rename(struct db *db, const char *name, const char *new_name, struct error *err);

/* Removes a network; -ENOENT when it does not exist. */
int db_network_delete(struct db *db, const char *name, struct error *err);

/* Who might use a network: every profile and every instance (not snapshots) with its
 * devices, as a new JSON array of {"kind": "profile"|"instance", "name": ..., "devices":
 * {...}}, profiles first, each kind ordered by name. An instance's devices are its
 * expanded ones: the devices of its profiles in apply order, then its own, a later device
 * of the same name replacing an earlier one. */
int db_network_device_owners(struct db *db, json_t **ret, struct error *err);

/* The devices of profile name as a new JSON object; -ENOENT when there is no such profile. */
int db_profile_devices_get(struct db *db, const char *name, json_t **ret, struct error *err);

/* Replaces the devices of profile name (an object of objects of strings). */
int db_profile_devices_set(struct db *db, const char *name, const json_t *devices,
			   struct error *err);
