#include "daemon/router.h"

#include <errno.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/str.h"

#include "lib/banned.h"

/* One table per api-*.c file, one line each. */
static const struct route *const route_tables[] = {
	api_server_routes,	 /* daemon/api-server.c */
	api_operations_routes,	 /* daemon/api-operations.c */
	api_events_routes,	 /* daemon/api-events.c */
	api_resources_routes,	 /* daemon/api-resources.c */
	api_testing_routes,	 /* daemon/api-testing.c */
	api_networks_routes,	 /* daemon/api-networks.c */
	api_images_routes,	 /* daemon/api-images.c */
	api_storage_routes,	 /* daemon/api-storage.c */
	api_profiles_routes,	 /* daemon/api-profiles.c */
	api_instances_routes,	 /* daemon/api-instances.c */
	api_exec_routes,	 /* daemon/api-exec.c */
	api_files_routes,	 /* daemon/api-files.c */
	api_certificates_routes, /* daemon/api-certificates.c */
};

/* Matches one pattern against path segment by segment; captures {x} segments. */
static bool route_matches(const char *pattern, const char *path, struct api_request *req)
{
	const char *p = pattern, *s = path;
	size_t n = 0;

	while (*p && *s) {
		const char *pend = strchrnul(p + 1, '/');
		const char *send = strchrnul(s + 1, '/');

		if (*p != '/' || *s != '/')
			return false;
		if (p[1] == '{') {
			if (send == s + 1 || n >= API_MAX_PARAMS)
				return false; /* empty segment */
			req->param_names[n] = xstrndup(p + 2, (size_t)(pend - p - 3));
			req->param_values[n] = xstrndup(s + 1, (size_t)(send - s - 1));
			n++;
		} else if (pend - p != send - s || memcmp(p, s, (size_t)(pend - p)) != 0) {
			goto nomatch;
		}
		p = pend;
		s = send;
	}
	if (*p || *s)
		goto nomatch;
	req->n_params = n;
	return true;

nomatch:
	for (size_t i = 0; i < n; i++) {
		free(req->param_names[i]);
		free(req->param_values[i]);
		req->param_names[i] = req->param_values[i] = NULL;
	}
	return false;
}

int router_match(struct api_request *req, struct error *err)
{
	size_t len = strlen(req->path);
	bool path_found = false;

	/* "/1.0/instances/" is "/1.0/instances", as Go's mux with StrictSlash(false)
	 * treats it for the clients we serve. */
	while (len > 1 && req->path[len - 1] == '/')
		req->path[--len] = '\0';

	for (size_t t = 0; t < ARRAY_SIZE(route_tables); t++) {
		for (const struct route *r = route_tables[t]; r->path; r++) {
			if ((r->flags & ROUTE_TESTING) && !req->d->testing)
				continue;
			if (!route_matches(r->path, req->path, req))
				continue;
			if (r->handlers[req->method] ||
			    (req->method == HTTP_GET && r->websocket && !r->handlers[HTTP_GET]) ||
			    (req->method == HTTP_HEAD && r->handlers[HTTP_GET])) {
				req->route = r;
				if (req->method == HTTP_HEAD && !r->handlers[HTTP_HEAD])
					req->method = HTTP_GET; /* HEAD: a GET without body */
				return 0;
			}
			path_found = true;
			for (size_t i = 0; i < req->n_params; i++) {
				free(req->param_names[i]);
				free(req->param_values[i]);
			}
			req->n_params = 0;
		}
	}
	if (path_found)
		return error_set(err, -ENOSYS, "Method '%s' not allowed on '%s'",
				 http_method_names[req->method], req->path);
	return error_set(err, -ENOENT, "Not found");
}
