/* test/unit/unit.h: what every Check suite shares.
 *
 * Each test program defines `Suite *unit_suite(void)`; unit.c provides main(). Fixtures
 * give each test a fresh temporary directory (unit_tmpdir) that is removed afterwards.
 */
#pragma once

#include <check.h>

extern char unit_tmpdir[];

void tmpdir_setup(void);
void tmpdir_teardown(void);

Suite *unit_suite(void);
