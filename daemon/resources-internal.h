/* daemon/resources-internal.h: what the resources-*.c files share; not for other modules.
 *
 * Each section getter builds one member of GET /1.0/resources. The res_put_*() setters mirror how
 * Go encodes LXD's structs: the plain ones always write the key, the _nonempty/_nonzero ones
 * implement `omitempty`.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/utsname.h>

#include "lib/error.h"

#define SYS_BUS_PCI "/sys/bus/pci/devices"

struct resources_ctx {
	struct utsname uts; /* release: the driver version of built-in drivers */
	char *pci_db;	    /* pci.ids text, NULL when not installed */
	char *usb_db;	    /* usb.ids text, NULL when not installed */
};

int resources_network_get(const struct resources_ctx *ctx, json_t **ret, struct error *err);
int resources_storage_get(const struct resources_ctx *ctx, json_t **ret, struct error *err);
int resources_gpu_get(const struct resources_ctx *ctx, json_t **ret, struct error *err);
int resources_pci_get(const struct resources_ctx *ctx, json_t **ret, struct error *err);
int resources_usb_get(const struct resources_ctx *ctx, json_t **ret, struct error *err);

/* sysfs_list() for a section: a missing directory is an empty list (no such bus on this
 * host), any other failure fills err. */
int resources_list(const char *dir, char ***ret, struct error *err);

/* JSON strings must be UTF-8; firmware strings may not be. Invalid bytes become '?'. NULL
 * is written as "". */
void res_put_str(json_t *obj, const char *key, const char *value);
void res_put_str_nonempty(json_t *obj, const char *key, const char *value);
void res_put_u64(json_t *obj, const char *key, uint64_t value);
void res_put_u64_nonzero(json_t *obj, const char *key, uint64_t value);
void res_put_bool(json_t *obj, const char *key, bool value);
/* Takes the reference to value; a NULL value leaves the key out. */
void res_put_new(json_t *obj, const char *key, json_t *value);
/* Takes the reference to array, leaving the key out when it is empty (omitempty). */
void res_put_array_nonempty(json_t *obj, const char *key, json_t *array);

/* What LXD reads from every PCI/USB-backed device directory. */
struct device_info {
	char *driver;	      /* NULL without a bound driver */
	char *driver_version; /* the module's version, else the kernel release */
	char *vendor_id;      /* "1af4": sysfs "vendor" without 0x */
	char *product_id;     /* "1000": sysfs "device" without 0x */
	char *vendor;	      /* from pci.ids, NULL when unknown */
	char *product;
	uint64_t numa_node; /* 0 when the device has none (sysfs says -1) */
	bool sriov;	    /* the device can have SR-IOV virtual functions */
	uint64_t sriov_current;
	uint64_t sriov_maximum;
};

/* Fills info from the device directory path; what is missing stays NULL or 0. */
void resources_device_read(const struct resources_ctx *ctx, const char *path, bool ids,
			   struct device_info *info);
void resources_device_release(struct device_info *info);

/* The PCI address ("0000:00:03.0") of the device at path, looking through a virtio device
 * to the PCI function under it as LXD does; NULL when the device is not on PCI. */
char *resources_pci_address(const char *path);

/* The "bus:device" address of the USB device at or above path, or NULL. */
char *resources_usb_address(const char *path);

/* The SR-IOV object LXD writes for a physical function: current_vfs, maximum_vfs (vfs is
 * added once all devices are known). */
json_t *resources_sriov_json(const struct device_info *info);

/* Moves each virtual function card in vfs ({"parent": address, "card": {...}}) into the
 * sriov.vfs list of the card in cards whose pci_address is its parent's, and returns the
 * total LXD reports: the cards plus their virtual functions. */
uint64_t resources_cards_attach_vfs(json_t *cards, json_t *vfs);
