/*
 * Fuzzes the orchestrator's JSON position index (orchestrator/jsonpos.c)
 * with arbitrary text: it must never read out of bounds, loop or leak,
 * and every place it gives must lie inside the text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pointers[] = {"",
					       "/a",
					       "/a/0",
					       "/0",
					       "/stateful/0/host",
					       "/a~1b/1/c~0",
					       "/experiment/rate/final"};
	struct jsonpos *jp = NULL;
	int lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (jsonpos_index(&jp, (const char *)data, size))
		return 0;
	for (size_t i = 0; i < sizeof(pointers) / sizeof(pointers[0]); i++) {
		int line, col;

		jsonpos_find(jp, pointers[i], i & 1, &line, &col);
		if (line < 1 || line > lines || col < 1 ||
		    (size_t)col > size + 1)
			abort();
	}
	/* A pointer made from the input itself. */
	if (size > 0 && size < 512) {
		char probe[520];
		int line, col;

		probe[0] = '/';
		memcpy(probe + 1, data, size);
		probe[size + 1] = '\0';
		jsonpos_find(jp, probe, false, &line, &col);
	}
	jsonpos_free(jp);
	return 0;
}
