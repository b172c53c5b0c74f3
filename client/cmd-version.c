/* lodge version: the client's and the server's version, like `lxc version`. */
#include <stdio.h>

#include "client/client.h"
#include "lib/json.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

static int version_run(struct cli *cli, struct error *err)
{
	const json_t *server = NULL;
	const char *version = NULL;

	printf("Client version: %s\n", LODGE_VERSION);
	/* As lxc does, an unreachable server is worth a line, not an error. */
	if (cli_server(cli, &server, NULL) == 0)
		version = json_get_str(json_object_get(server, "environment"), "server_version");
	printf("Server version: %s\n", version ? version : "unreachable");
	return 0;
}

const struct command command_version = {
	.name = "version",
	.summary = "Show local and remote versions",
	.min_args = 0,
	.max_args = 0,
	.run = version_run,
};
