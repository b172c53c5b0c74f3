#include "multipart.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fs.h"

#include "banned.h"

/* Delimiter line after "--boundary": "--" closes the body, else optional transport
 * padding and CRLF. Anything longer than this is not a delimiter line. */
#define MULTIPART_MAX_DELIM_LINE 256

/* Reads one parameter value at *p (quoted with backslash escapes, or a token) and
 * advances *p past it. */
static char *param_value(const char **p)
{
	struct strbuf sb = STRBUF_INIT;
	const char *s = *p;

	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			strbuf_addch(&sb, *s);
		}
		if (*s == '"')
			s++;
	} else {
		for (; *s && *s != ';' && *s != ' ' && *s != '\t'; s++)
			strbuf_addch(&sb, *s);
	}
	*p = s;
	return strbuf_detach(&sb);
}

/* The value of parameter name in a "type; a=1; b="2"" header value, NULL if absent. */
static char *header_param(const char *value, const char *name)
{
	const char *p = strchr(value, ';');
	size_t nlen = strlen(name);

	while (p && *p) {
		char *v;

		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			return param_value(&p);
		}
		/* Skip this parameter, honouring quotes. */
		while (*p && *p != ';' && *p != '=')
			p++;
		if (*p != '=')
			continue;
		p++;
		v = param_value(&p);
		free(v);
		p = strchr(p, ';');
	}
	return NULL;
}

bool multipart_is_form_data(const char *content_type)
{
	size_t n = strlen("multipart/form-data");

	if (!content_type)
		return false;
	while (*content_type == ' ')
		content_type++;
	return strncasecmp(content_type, "multipart/form-data", n) == 0 &&
	       (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

int multipart_boundary(const char *content_type, char **ret, struct error *err)
{
	autofree char *b = NULL;

	if (!multipart_is_form_data(content_type))
		return error_set(err, -EINVAL, "Content type is not multipart/form-data");
	b = header_param(content_type, "boundary");
	if (str_is_empty(b))
		return error_set(err, -EINVAL, "Multipart content type has no boundary");
	if (strlen(b) > MULTIPART_MAX_BOUNDARY)
		return error_set(err, -EINVAL, "Multipart boundary is longer than %d characters",
				 MULTIPART_MAX_BOUNDARY);
	for (const char *c = b; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return error_set(err, -EINVAL, "Invalid character in multipart boundary");
	*ret = take_ptr(b);
	return 0;
}

void multipart_init(struct multipart_parser *p, const char *boundary,
		    const struct multipart_ops *ops, void *data)
{
	size_t k = 0;

	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->data = data;
	p->delim = str_printf("\r\n--%s", boundary);
	p->delim_len = strlen(p->delim);
	p->fail = xcalloc(p->delim_len, sizeof(size_t));
	for (size_t i = 1; i < p->delim_len; i++) {
		while (k > 0 && p->delim[i] != p->delim[k])
			k = p->fail[k - 1];
		if (p->delim[i] == p->delim[k])
			k++;
		p->fail[i] = k;
	}
	p->state = MULTIPART_PREAMBLE;
	/* The first delimiter may open the body without a CRLF before it: pretend one. */
	p->matched = 2;
}

void multipart_release(struct multipart_parser *p)
{
	free(p->delim);
	free(p->fail);
	strbuf_release(&p->line);
	p->delim = NULL;
	p->fail = NULL;
}

static int emit(struct multipart_parser *p, const void *buf, size_t len, struct error *err)
{
	if (p->state != MULTIPART_BODY || len == 0)
		return 0;
	return p->ops->part_data(p->data, buf, len, err);
}

/* PREAMBLE and BODY: passes data on until a whole delimiter was matched. Returns the bytes
 * consumed (the state then is AFTER_DELIMITER) or a negative errno. */
static long scan_data(struct multipart_parser *p, const char *buf, size_t len, struct error *err)
{
	size_t i = 0;
	int r;

	while (i < len) {
		char c;

		if (p->matched == 0) {
			/* Fast path: everything before the next CR is data. */
			const char *cr = memchr(buf + i, '\r', len - i);
			size_t end = cr ? (size_t)(cr - buf) : len;

			r = emit(p, buf + i, end - i, err);
			if (r < 0)
				return r;
			i = end;
			if (!cr)
				break;
		}
		c = buf[i];
		while (p->matched > 0 && p->delim[p->matched] != c) {
			size_t keep = p->fail[p->matched - 1];

			/* The bytes falling out of the partial match are a delimiter prefix. */
			r = emit(p, p->delim, p->matched - keep, err);
			if (r < 0)
				return r;
			p->matched = keep;
		}
		i++;
		if (p->delim[p->matched] != c) {
			r = emit(p, &c, 1, err);
			if (r < 0)
				return r;
			continue;
		}
		if (++p->matched < p->delim_len)
			continue;

		p->matched = 0;
		if (p->state == MULTIPART_BODY) {
			r = p->ops->part_end(p->data, err);
			if (r < 0)
				return r;
		}
		p->state = MULTIPART_AFTER_DELIMITER;
		strbuf_reset(&p->line);
		break;
	}
	return (long)i;
}

static int part_headers_parse(struct multipart_parser *p, struct error *err)
{
	autofree char *name = NULL, *filename = NULL;
	char *s = p->line.buf;

	/* s is "Header: value\r\n...\r\n\r\n" or just "\r\n". */
	while (s && *s && !(s[0] == '\r' && s[1] == '\n')) {
		char *eol = strstr(s, "\r\n");

		if (!eol)
			break;
		*eol = '\0';
		if (strncasecmp(s, "content-disposition:", strlen("content-disposition:")) == 0) {
			const char *v = s + strlen("content-disposition:");

			free(name);
			free(filename);
			name = header_param(v, "name");
			filename = header_param(v, "filename");
		}
		s = eol + 2;
	}
	p->n_parts++;
	p->state = MULTIPART_BODY;
	return p->ops->part_begin(p->data, name ? name : "", filename ? filename : "", err);
}

int multipart_feed(struct multipart_parser *p, const void *data, size_t len, struct error *err)
{
	const char *buf = data;
	size_t i = 0;
	int r;

	while (i < len) {
		switch (p->state) {
		case MULTIPART_PREAMBLE:
		case MULTIPART_BODY: {
			long n = scan_data(p, buf + i, len - i, err);

			if (n < 0)
				return (int)n;
			i += (size_t)n;
			break;
		}
		case MULTIPART_AFTER_DELIMITER:
			strbuf_addch(&p->line, buf[i++]);
			if (p->line.len == 2 && streq(p->line.buf, "--")) {
				p->state = MULTIPART_EPILOGUE;
				break;
			}
			if (p->line.len >= 2 && str_has_suffix(p->line.buf, "\r\n")) {
				for (size_t k = 0; k + 2 < p->line.len; k++)
					if (p->line.buf[k] != ' ' && p->line.buf[k] != '\t')
						return error_set(err, -EINVAL,
								 "Malformed multipart delimiter");
				strbuf_reset(&p->line);
				p->state = MULTIPART_HEADERS;
				break;
			}
			if (p->line.len > MULTIPART_MAX_DELIM_LINE)
				return error_set(err, -EINVAL, "Malformed multipart delimiter");
			break;
		case MULTIPART_HEADERS:
			strbuf_addch(&p->line, buf[i++]);
			if (p->line.len > MULTIPART_MAX_HEADERS)
				return error_set(err, -EINVAL,
						 "Multipart part headers are larger than %u bytes",
						 MULTIPART_MAX_HEADERS);
			if (streq(p->line.buf, "\r\n") || str_has_suffix(p->line.buf, "\r\n\r\n")) {
				if (memchr(p->line.buf, '\0', p->line.len))
					return error_set(
						err, -EINVAL,
						"Multipart part headers contain a NUL byte");
				r = part_headers_parse(p, err);
				strbuf_reset(&p->line);
				if (r < 0)
					return r;
			}
			break;
		case MULTIPART_EPILOGUE:
			return 0;
		}
	}
	return 0;
}

int multipart_finish(struct multipart_parser *p, struct error *err)
{
	if (p->state != MULTIPART_EPILOGUE)
		return error_set(err, -EINVAL, "Multipart body ended before its closing boundary");
	return 0;
}

int multipart_parse_fd(int fd, const char *content_type, const struct multipart_ops *ops,
		       void *data, struct error *err)
{
	autofree char *boundary = NULL, *buf = NULL;
	struct multipart_parser p;
	off_t off = 0;
	int r;

	r = multipart_boundary(content_type, &boundary, err);
	if (r < 0)
		return r;
	buf = xmalloc(1u << 18);
	multipart_init(&p, boundary, ops, data);
	for (;;) {
		ssize_t n = pread(fd, buf, 1u << 18, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = error_errno(err, -errno, "Failed to read the multipart body");
			break;
		}
		if (n == 0) {
			r = multipart_finish(&p, err);
			break;
		}
		off += n;
		r = multipart_feed(&p, buf, (size_t)n, err);
		if (r < 0)
			break;
	}
	multipart_release(&p);
	return r;
}

int multipart_write_file(int out, const char *boundary, const char *name, const char *filename,
			 int from)
{
	autofree char *head =
		str_printf("--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
			   "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
			   boundary, name, filename);
	off_t off = 0;
	int r;

	r = write_all_fd(out, head, strlen(head));
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = copy_file_range(from, &off, out, NULL, 1 << 30, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
	}
	return write_all_fd(out, "\r\n", 2);
}

int multipart_write_end(int out, const char *boundary)
{
	autofree char *tail = str_printf("--%s--\r\n", boundary);

	return write_all_fd(out, tail, strlen(tail));
}
