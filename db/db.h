/* TEMPORARY placeholder, replaced by the db branch. */
#pragma once
#include "lib/error.h"
struct db;
int db_open(const char *path, struct db **ret, struct error *err);
void db_close(struct db *db);
