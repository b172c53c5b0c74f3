/* test/fuzz/fuzz-chunked.c: the chunked request-body decoder, fed in two pieces split at
 * a position taken from the input. */
#include <stdint.h>
#include <string.h>

#include "lib/chunked.h"

#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(const char *d, size_t n, void *ctx)
{
	size_t *total = ctx;

	*total += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunked_decoder c;
	size_t total = 0, split;
	long r;

	if (size < 1)
		return 0;
	split = data[0] % size;
	data++;
	size--;
	if (split > size)
		split = size;
	chunked_init(&c);
	r = chunked_feed(&c, (const char *)data, split, sink, &total);
	if (r >= 0 && !chunked_done(&c))
		(void)chunked_feed(&c, (const char *)data + split, size - split, sink, &total);
	if (total > size)
		__builtin_trap(); /* more payload out than bytes in */
	return 0;
}
