/* lodge: the command line client. It speaks the LXD REST API to lodged (or LXD) over the
 * unix socket $LODGE_DIR/unix.socket. */
#include <stdio.h>
#include <stdlib.h>

#include "client/client.h"
#include "lib/log.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

/* Every top-level command, in the order help lists them. A new command adds its
 * client/cmd-<name>.c to lodge_SOURCES, its declaration to client.h and its line here. */
static const struct command *const commands[] = {
	&command_config,   &command_console,   &command_copy,
	&command_delete,   &command_exec,      &command_file,
	&command_image,	   &command_info,      &command_init,
	&command_launch,   &command_list,      &command_monitor,
	&command_move,	   &command_operation, &command_pause,
	&command_profile,  &command_rename,    &command_remote,
	&command_restart,  &command_restore,   &command_resume,
	&command_snapshot, &command_start,     &command_storage,
	&command_stop,	   &command_version,   NULL,
};

int main(int argc, char **argv)
{
	autoclean(cli_release) struct cli cli = { 0 };
	struct error err = ERROR_INIT;
	int r;

	log_set_level(LOG_LEVEL_WARN);

	r = cli_parse(&cli, commands, argc, argv, &err);
	if (r > 0)
		r = cli.cmd->run(&cli, &err);

	if (fflush(stdout) != 0 && r >= 0)
		r = error_errno(&err, -EIO, "Failed to write the output");
	if (r < 0) {
		fprintf(stderr, "Error: %s\n", error_message(&err));
		error_clear(&err);
		return EXIT_FAILURE;
	}
	return cli.exit_code;
}
