/* daemon/resources.h: the host's hardware, as LXD's GET /1.0/resources reports it.
 *
 * The answer follows LXD's resources_v2 format (api extensions resources, resources_v2,
 * resources_cpu_socket, resources_gpu, resources_numa, resources_system, ...): the objects
 * `cpu`, `memory`, `gpu`, `network`, `storage`, `usb`, `pci` and `system`, with LXD's field
 * names, types and omissions (a Go `omitempty` field is left out when empty or zero).
 * Information the host does not expose comes back empty or zero, never as an error.
 */
#pragma once

#include <jansson.h>

#include "lib/error.h"

/* Inspects /proc and /sys (and /dev/disk, /run/udev/data, the pci.ids and usb.ids databases
 * when present) and returns a new JSON object the caller owns. Blocks on many small file
 * reads and a few ethtool ioctls, typically for some milliseconds: call it from a worker
 * thread or cache the answer. Fails only when a core source (/sys/devices/system/cpu,
 * /proc/meminfo) cannot be read. */
int resources_get(json_t **ret, struct error *err);
