/* daemon/router.h: maps method + path to a handler through the route tables that each
 * daemon/api-*.c file exports. To add an endpoint: add a line to that file's table; to add
 * a resource: a new api-<resource>.c with its table, listed in router.c. */
#pragma once

#include "daemon/api.h"

/* Route tables, each ended by an entry with a NULL path. */
extern const struct route api_server_routes[];
extern const struct route api_operations_routes[];
extern const struct route api_events_routes[];
extern const struct route api_certificates_routes[];
extern const struct route api_resources_routes[];
extern const struct route api_images_routes[];
extern const struct route api_storage_routes[];
extern const struct route api_testing_routes[];
extern const struct route api_profiles_routes[];
extern const struct route api_instances_routes[];
extern const struct route api_exec_routes[];
extern const struct route api_files_routes[];
extern const struct route api_networks_routes[];

/* Finds the route for req->path and fills req->route and the path parameters. -ENOENT
 * (404) when no path matches, -ENOSYS (405) when the path exists but not the method. */
int router_match(struct api_request *req, struct error *err);
