/*
 * fingerprint.h - the identity of a dataset, checkpoint or model: a
 * fingerprint of its content (docs/LINEAGE.md is the normative text).
 *
 *   sha256:<64 hex>   a regular file: SHA-256 of its bytes.
 *                     a folder: SHA-256 of its manifest, the line
 *                     "dnnprov manifest 1\n" and then one entry per file
 *                     or symbolic link under it, in byte order of their
 *                     paths relative to the folder:
 *                         <path> NUL f NUL <size> NUL <sha256 hex> '\n'
 *                         <path> NUL l NUL <size> NUL <link target> '\n'
 *                     (sub-folders are walked, links never followed;
 *                     other files, FIFOs and devices, are never opened:
 *                     <path> NUL o NUL 0 NUL '\n').  The order the
 *                     filesystem lists names in does not matter.
 *   quick:<64 hex>    the cheap mode for datasets too large to read:
 *                     for a file, SHA-256 of "dnnprov quick 1\n", its
 *                     size and modification time (ns) and 16 blocks of
 *                     64 KiB spread over it (all of it below 1 MiB); for
 *                     a folder, of a manifest whose entries hold the
 *                     size and modification time instead of a hash, so
 *                     nothing is read.  It never equals a sha256 one,
 *                     and a copy with another modification time gets
 *                     another.
 *
 * Hashing is OpenSSL's libcrypto (EVP, SHA-256 with the CPU's SHA
 * extensions when it has them).
 */
#ifndef DNNPROV_FINGERPRINT_H
#define DNNPROV_FINGERPRINT_H

#include <stdbool.h>
#include <stdint.h>

#include "dnnprov.h"
#include "util/util.h"

/* What was fingerprinted. */
typedef struct dp_fingerprint {
	char text[DNNPROV_FINGERPRINT_MAX]; /* "sha256:..." or "quick:..." */
	uint64_t size;                      /* bytes: the file's, or the sum of a folder's files */
	uint64_t files;                     /* entries of a folder's manifest; 1 for a file */
	bool directory;
} dp_fingerprint;

/* Fingerprints the file or folder at path (followed if it is a link).
 * DNNPROV_EIO naming the path for what cannot be read, DNNPROV_EINVAL for
 * what is neither a regular file nor a folder (a FIFO, a device), which
 * is never opened. */
DP_INTERNAL int dp_fingerprint_path(const char *path, unsigned flags, dp_fingerprint *out);

/* "sha256:" and the SHA-256 of p[0..n) in hex; "" when no digest could
 * be started (out of memory). */
DP_INTERNAL void dp_sha256_text(const void *p, size_t n, char out[DNNPROV_FINGERPRINT_MAX]);

/* Whether s is a fingerprint as written: "sha256:" or "quick:" and 64
 * lower-case hex digits. */
DP_INTERNAL bool dp_fingerprint_valid(const char *s, size_t n);

#endif
