/* libFuzzer target: an HTTP reply, and when it upgrades, websocket frames after it, as
 * lib/http-client.c reads them from a server. The bytes arrive through an in-memory
 * transport in pieces whose sizes the input's first byte chooses. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/error.h"
#include "lib/http-client.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *data;
	size_t len;
	size_t pos;
	size_t piece;
};

static ssize_t mem_read(void *d, void *buf, size_t len)
{
	struct mem *m = d;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	if (n > m->piece)
		n = m->piece;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t mem_write(void *d, const void *buf, size_t len)
{
	return (ssize_t)len;
}

static int mem_get_fd(void *d)
{
	return -1;
}

static void mem_free(void *d)
{
}

static const struct http_transport mem_transport = {
	.name = "memory",
	.read = mem_read,
	.write = mem_write,
	.get_fd = mem_get_fd,
	.free = mem_free,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_request req = {
		.method = "GET",
		.target = "/1.0/events",
		.max_body = 1 << 20,
	};
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct mem m;
	struct http_conn *c;
	struct ws *ws;
	int r;

	if (size < 1)
		return 0;
	m = (struct mem){ .data = data + 1, .len = size - 1, .piece = (size_t)data[0] + 1 };
	c = http_conn_new(&mem_transport, &m);

	r = http_response_read(c, &req, &resp, NULL);
	if (r < 0 || resp.status != 101) {
		http_response_release(&resp);
		http_conn_free(c);
		return 0;
	}
	http_response_release(&resp);

	ws = ws_new(c);
	ws_set_max_message(ws, 1 << 16);
	for (int i = 0; i < 64; i++) {
		struct ws_message msg = WS_MESSAGE_INIT;

		r = ws_recv(ws, &msg, NULL);
		ws_message_release(&msg);
		if (r <= 0)
			break;
	}
	ws_free(ws);
	return 0;
}
