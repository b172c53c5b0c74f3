/* daemon/api-resources.c: GET /1.0/resources (what `lxc info --resources` shows). */
#include "daemon/api.h"
#include "daemon/router.h"

#include "lib/banned.h"

const struct route api_resources_routes[] = {
	{ NULL },
};
