#include "test/unit/unit.h"

#include "lib/banned.h"

Suite *unit_suite(void)
{
	Suite *s = suite_create("network");

	return s;
}
