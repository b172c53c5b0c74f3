/* test/fuzz/replay.c: runs a fuzz target over every file of its corpus (FUZZ_CORPUS), so
 * `make check` replays each input that once crashed, without libFuzzer. Prints TAP. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fs.h"
#include "lib/str.h"

#include "lib/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(void)
{
	DIR *dir = opendir(FUZZ_CORPUS);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!dir) {
		printf("1..0 # SKIP no corpus at %s\n", FUZZ_CORPUS);
		return 0;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof(char *));
		names[n++] = str_printf("%s/%s", FUZZ_CORPUS, de->d_name);
	}
	closedir(dir);
	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char *data = NULL;
		size_t len = 0;

		if (read_file(names[i], 1 << 24, &data, &len, NULL) < 0) {
			printf("not ok %zu - %s (unreadable)\n", i + 1, names[i]);
			continue;
		}
		(void)LLVMFuzzerTestOneInput((const uint8_t *)data, len);
		printf("ok %zu - %s\n", i + 1, names[i]);
		free(data);
		free(names[i]);
	}
	free(names);
	return 0;
}
