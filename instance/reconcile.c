/* instance/reconcile.c: sweeping what a crash left beside the database.
 *
 * Creating an instance writes its database row last and deleting one removes the row first
 * (instance/lifecycle.c), so after a SIGKILL at any moment the database holds only whole
 * instances. What may remain is storage and driver state that belongs to no row: a volume
 * cloned for a create that never committed, or one whose delete never finished. Run at
 * start-up, before the API serves, so no create in progress can be mistaken for debris.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "db/db-instances.h"
#include "db/db-storage.h"
#include "instance/instance.h"
#include "instance/lifecycle.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/str.h"
#include "storage/storage.h"

#include "lib/banned.h"

static bool name_in(const json_t *rows, const char *name)
{
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row)
	{
		if (streq(json_get_str(row, "name") ?: "", name))
			return true;
	}
	return false;
}

/* Container volumes of every pool that no instance row claims. */
static void reconcile_volumes(const struct instance_env *env, const json_t *rows)
{
	autojson json_t *pools = NULL;
	struct error err = ERROR_INIT;
	size_t i;
	json_t *p;

	if (db_storage_pool_names(env->db, &pools, &err) < 0)
		goto out;
	json_array_foreach(pools, i, p)
	{
		autoclean(storage_pool_freep) struct storage_pool *pool = NULL;
		struct db_storage_volume_list list = { 0 };

		if (storage_pool_load(env->db, env->dir, json_string_value(p), &pool, &err) < 0 ||
		    db_storage_volume_list(env->db, pool->id, "container", NULL, &list, &err) < 0) {
			log_warn("Failed to check storage pool '%s' for leftovers: %s, ignoring",
				 json_string_value(p), error_message(&err));
			error_clear(&err);
			continue;
		}
		for (size_t v = 0; v < list.n; v++) {
			const char *name = list.items[v]->name;

			if (name_in(rows, name))
				continue;
			log_warn(
				"Removing volume '%s' of pool '%s': no instance owns it (an interrupted create or delete)",
				name, pool->name);
			if (storage_instance_delete(pool, name, &err) < 0) {
				log_warn("Failed to remove volume '%s': %s, ignoring", name,
					 error_message(&err));
				error_clear(&err);
			}
		}
		db_storage_volume_list_release(&list);
	}
out:
	if (error_is_set(&err))
		log_warn("Failed to list storage pools for leftovers: %s, ignoring",
			 error_message(&err));
	error_clear(&err);
}

/* Driver state ($LODGE_DIR/containers/<name>) that no instance row claims. */
static void reconcile_driver_state(const struct instance_env *env, const json_t *rows)
{
	autofree char *path = str_printf("%s/containers", env->dir);
	DIR *dir = opendir(path);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct instance inst = { 0 };
		struct error err = ERROR_INIT;

		if (de->d_name[0] == '.' || !instance_name_is_valid(de->d_name) ||
		    name_in(rows, de->d_name))
			continue;
		inst.name = de->d_name;
		inst.project = (char *)"default";
		inst.type = INSTANCE_CONTAINER;
		inst.driver = instance_driver_for(INSTANCE_CONTAINER);
		if (inst.driver->status(env, &inst) != INSTANCE_STOPPED) {
			log_warn("Container '%s' runs but no instance owns it, leaving it alone",
				 de->d_name);
			continue;
		}
		log_warn("Removing the state of container '%s': no instance owns it", de->d_name);
		if (inst.driver->delete (env, &inst, &err) < 0)
			log_warn("Failed to remove it: %s, ignoring", error_message(&err));
		error_clear(&err);
	}
	closedir(dir);
}

void instances_reconcile(const struct instance_env *env)
{
	autojson json_t *rows = NULL;
	struct error err = ERROR_INIT;

	if (db_instance_list(env->db, &rows, &err) < 0) {
		log_warn("Failed to list instances for reconciliation: %s, ignoring",
			 error_message(&err));
		error_clear(&err);
		return;
	}
	reconcile_volumes(env, rows);
	reconcile_driver_state(env, rows);
}
