/* test/fuzz/fuzz-simplestreams.c: a simplestreams products document (images.json) from an
 * image server through image_simplestreams_choose(), as every simplestreams pull runs it,
 * by alias and by fingerprint prefix, for containers and VMs. */
#include <jansson.h>
#include <stdint.h>

#include "images/images.h"

#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "bb", "debian/12", "0", "e3d3a406" };
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct image_ss_choice c;

	if (!doc)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (int vm = 0; vm < 2; vm++) {
			image_simplestreams_choose(json_object_get(doc, "products"), names[i], vm,
						   "x86_64", &c);
			if (c.version && !image_fingerprint_is_valid(c.fingerprint))
				__builtin_trap();
		}
	}
	json_decref(doc);
	return 0;
}
