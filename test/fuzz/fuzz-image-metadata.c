/* test/fuzz/fuzz-image-metadata.c: metadata.yaml from an uploaded image through
 * image_metadata_parse(), as every import runs it. */
#include <stdint.h>

#include "images/images.h"

#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = ERROR_INIT;
	struct image_metadata *m = NULL;

	if (image_metadata_parse((const char *)data, size, &m, &err) == 0)
		image_metadata_free(m);
	error_clear(&err);
	return 0;
}
