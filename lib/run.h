/* lib/run.h: running tools (ip, nft, dnsmasq, zfs, ...) from an argument vector.
 *
 * Never through a shell: every argument reaches the tool as one argv element, whatever it
 * holds. The child starts with stdin from /dev/null (or the given input), default signal
 * dispositions and an empty signal mask, and inherits no descriptor but 0, 1 and 2 (ours
 * are all O_CLOEXEC). argv[0] is looked up in PATH.
 *
 * These functions block until the tool exits: call them from worker threads.
 */
#pragma once

#include <stddef.h>

#include "error.h"

/* The most of a tool's stderr (and stdout) kept; the rest is dropped. */
#define RUN_OUTPUT_MAX ((size_t)64 * 1024)

/* Runs argv (NULL-terminated) and waits for it. 0 when it exits with status 0; otherwise
 * -EIO (-ENOENT when the program is not installed) with "Failed to run '<argv[0]>':" and
 * what it wrote on stderr, or its exit status when it wrote nothing. Its stdout is
 * discarded. */
int run_command(const char *const argv[], struct error *err);

/* As run_command(), feeding input (NULL: nothing) to its stdin and, when ret_stdout is not
 * NULL, returning what it wrote on stdout (at most RUN_OUTPUT_MAX bytes) as a new string
 * the caller frees; *ret_stdout is written only on success. */
int run_command_full(const char *const argv[], const char *input, char **ret_stdout,
		     struct error *err);
