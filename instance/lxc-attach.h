/* instance/lxc-attach.h: running processes in LXC containers from a single-threaded helper.
 *
 * liblxc's attach forks the calling process and goes on running liblxc code (malloc,
 * stdio) in the child. lodged is multithreaded: a fork taken while another thread holds an
 * allocator lock leaves the child spinning on it forever (the sanitizers' allocator does
 * this; glibc's only survives by its atfork handlers). So lodged never attaches itself: it
 * spawns `lodged __lxc-attach-helper` once (posix_spawn, safe from threads), a process that
 * never starts a thread, and sends it each request over a SOCK_SEQPACKET socket with the
 * process's standard descriptors (SCM_RIGHTS). The helper attaches, answers with the pid,
 * and, being the process's parent, reaps it and writes its wait status to a pipe whose
 * read end the caller polls. The helper exits when lodged closes its end; a helper that
 * died is spawned again by the next request.
 */
#pragma once

#include <stdint.h>

#include "lib/error.h"

struct lxc_attach_request {
	const char *lxcpath;
	const char *name; /* liblxc's name of the container */
	char **argv;	  /* NULL-terminated */
	char **envp;	  /* NULL-terminated "K=V"; the process gets exactly these */
	const char *cwd;  /* the initial working directory */
	uint32_t uid, gid;
	int stdin_fd, stdout_fd, stderr_fd; /* not closed */
};

/* Runs req->argv in the container. Returns 0 with the process's host pid in *ret_pid and,
 * in *ret_status_fd, a descriptor (the caller's to close) that becomes readable when the
 * process ended and then holds its wait status as an int (end of file: the helper died and
 * the status is lost). -ESRCH, with err not set, when liblxc could not attach: its log says why.
 * Thread-safe: requests are sent one at a time. */
int lxc_attach_run(const struct lxc_attach_request *req, int *ret_pid, int *ret_status_fd,
		   struct error *err);

/* The helper is the calling program itself (/proc/self/exe) run with one argument,
 * LXC_ATTACH_HELPER_ARG, and its socket on fd 3: a constructor in lxc-attach.c catches
 * that before main(), so every program that can attach (lodged, the unit tests) can also
 * be its own helper. */
#define LXC_ATTACH_HELPER_ARG "__lxc-attach-helper"
