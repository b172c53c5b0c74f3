/* test/fuzz/fuzz-json.c: request bodies through json_parse() and the server config
 * validation every PUT/PATCH /1.0 runs. */
#include <stdint.h>

#include "lib/json.h"

#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = ERROR_INIT;
	json_t *j = NULL;

	if (json_parse((const char *)data, size, false, &j, &err) == 0) {
		char *s = json_to_string(j);

		free(s);
		json_decref(j);
	}
	error_clear(&err);
	return 0;
}
