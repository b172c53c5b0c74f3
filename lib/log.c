#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "str.h"

#include "banned.h"

const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_max_level = LOG_LEVEL_WARN;
static int log_file_fd = -1;
static void (*log_hook)(enum log_level, const char *, void *);
static void *log_hook_data;

void log_set_level(enum log_level level)
{
	log_max_level = level;
}

enum log_level log_get_level(void)
{
	return log_max_level;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&log_lock);
	if (log_file_fd >= 0)
		(void)close(log_file_fd);
	log_file_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_close_file(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_file_fd >= 0)
		(void)close(log_file_fd);
	log_file_fd = -1;
	pthread_mutex_unlock(&log_lock);
}

void log_set_hook(void (*hook)(enum log_level level, const char *msg, void *data), void *data)
{
	pthread_mutex_lock(&log_lock);
	log_hook = hook;
	log_hook_data = data;
	pthread_mutex_unlock(&log_lock);
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

void log_msg(enum log_level level, int r, const char *fmt, ...)
{
	struct strbuf line = STRBUF_INIT;
	autofree char *msg = NULL;
	int saved_errno = errno;
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > log_max_level && !log_hook)
		return;

	va_start(ap, fmt);
	msg = str_vprintf(fmt, ap);
	va_end(ap);
	if (r != 0) {
		char *full = str_printf("%s: %s", msg, strerror(r < 0 ? -r : r));

		free(msg);
		msg = full;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strbuf_addf(&line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-7s %s\n", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    ts.tv_nsec / 1000000, log_level_names[level], msg);

	pthread_mutex_lock(&log_lock);
	if (level <= log_max_level) {
		write_all(STDERR_FILENO, line.buf, line.len);
		if (log_file_fd >= 0)
			write_all(log_file_fd, line.buf, line.len);
	}
	if (log_hook)
		log_hook(level, msg, log_hook_data);
	pthread_mutex_unlock(&log_lock);

	strbuf_release(&line);
	errno = saved_errno;
}
