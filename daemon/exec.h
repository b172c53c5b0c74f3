/* daemon/exec.h: the exec and console sessions of daemon/api-exec.c, as the operations
 * websocket endpoint sees them. */
#pragma once

#include <stdbool.h>

struct operation;
struct ws_conn;

/* True when op is an exec or console operation. */
bool exec_operation_is(const struct operation *op);

/* Attaches ws as the stream whose secret is secret; the process starts once every stream
 * it needs is connected. -EPERM for an unknown secret, -EBUSY for a stream already taken. */
int exec_websocket_connect(struct operation *op, const char *secret, struct ws_conn *ws);
