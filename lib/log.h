/* lib/log.h: leveled logging to stderr and, once log_open_file() was called, a file.
 *
 * The _errno forms append strerror(-r) and return r, so a caller can log and fail in one
 * line. A hook (log_set_hook) lets the daemon also forward records as `logging` events.
 * Thread-safe: records from worker threads are written whole.
 */
#pragma once

#include "macro.h"

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

extern const char *const log_level_names[];

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Appends to path as well as stderr (created 0600). Returns 0 or a negative errno. */
int log_open_file(const char *path);
void log_close_file(void);
/* Called (under the log lock) for each record written; NULL to remove. */
void log_set_hook(void (*hook)(enum log_level level, const char *msg, void *data), void *data);

void log_msg(enum log_level level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

#define log_full_errno(level, r, ...)            \
	({                                       \
		int _r = (r);                    \
		log_msg(level, _r, __VA_ARGS__); \
		_r;                              \
	})
#define log_error_errno(r, ...) log_full_errno(LOG_LEVEL_ERROR, r, __VA_ARGS__)
#define log_warn_errno(r, ...)	log_full_errno(LOG_LEVEL_WARN, r, __VA_ARGS__)
#define log_info_errno(r, ...)	log_full_errno(LOG_LEVEL_INFO, r, __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_LEVEL_DEBUG, r, __VA_ARGS__)
