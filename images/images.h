/* images/images.h: TEMPORARY stand-in, from branch `storage`, for the images module's real
 * header. It declares only the one function storage needs, with the signature agreed with
 * the images engineer; their images/images.h replaces this file at merge.
 */
#pragma once

#include "lib/error.h"

/* Unpacks image fingerprint (from the image store under lodge_dir) into the empty
 * directory dest_dirfd: metadata.yaml, templates/ and rootfs/, as LXD lays out an unpacked
 * image. Blocks for as long as the unpack takes. */
int image_unpack(const char *lodge_dir, const char *fingerprint, int dest_dirfd, struct error *err);
