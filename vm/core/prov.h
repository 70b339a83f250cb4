/*
 * prov.h — provenance records inside the files cajal writes: where the
 * record lives in each kind of file, and SHA-256 (libsodium) to name
 * contents. The record itself is a JSON text built and read by the binding
 * (vm/bind/lprov.c, jansson) and the Lua layer (stdlib/cajal/provenance.lua);
 * this file only moves bytes and checks them.
 *
 * Where the record lives (the format is documented in cajal-api(3),
 * PROVENANCE):
 *   .png   an iTXt chunk with keyword "cajal-provenance" right after IHDR
 *          (uncompressed, no language tag), CRC from zlib;
 *   .svg   <metadata id="cajal-provenance">JSON, XML-escaped</metadata>
 *          right after the opening <svg ...> tag;
 *   .csv   the first line "# cajal-provenance: JSON" (one line);
 *   .npy   a sidecar file "X.npy.prov.json" (the .npy header cannot hold
 *          more than alignment padding that NumPy reads);
 *   .nwb   the text attribute "cajal_provenance" of the root group (nwb.c);
 *   save files of net:save   a field of the save file's header (network.lua).
 * Files are untrusted: every length is checked against the file, records are
 * at most CJ_PROV_MAX bytes, and nothing is parsed here but the container.
 */
#ifndef CJ_PROV_H
#define CJ_PROV_H

#include <stddef.h>

#define CJ_PROV_KEYWORD "cajal-provenance"
#define CJ_PROV_MAX (16u << 20)       /* largest record read back: 16 MiB */

/* SHA-256 of n bytes as 64 lowercase hex digits and a NUL. */
void cj_sha256_hex(const void *data, size_t n, char out[65]);
/* SHA-256 of the file at path, streamed. CJ_EIO naming the path. */
int cj_sha256_file(const char *path, char out[65]);

/* The kinds of file a record can be read from. */
typedef enum { CJ_PROV_UNKNOWN, CJ_PROV_PNG, CJ_PROV_SVG, CJ_PROV_CSV, CJ_PROV_NPY,
               CJ_PROV_NWB, CJ_PROV_SAVE, CJ_PROV_PDF } cj_provkind;
/* The kind of the file at path, from its first bytes (CSV: by elimination,
 * a text file). CJ_EIO if it cannot be read. */
int cj_prov_kind(const char *path, cj_provkind *kind);
const char *cj_prov_kindname(cj_provkind kind);

/* Insert the record json (n bytes, no NUL inside) into the PNG or SVG file
 * at path, replacing a record already there. The file is rewritten under a
 * temporary name in its folder and renamed. CJ_EFORMAT when path is not a
 * well-formed file of its kind. */
int cj_prov_png_put(const char *path, const char *json, size_t n);
int cj_prov_svg_put(const char *path, const char *json, size_t n);

/* The record of the PNG, SVG or CSV file at path: *json (cj_malloc'd,
 * NUL-terminated, caller frees with cj_free) and *n. CJ_EFORMAT with a
 * message saying what was found when there is no record or the container
 * is malformed (a chunk past the end of the file, a bad CRC, an unclosed
 * element). */
int cj_prov_png_get(const char *path, char **json, size_t *n);
int cj_prov_svg_get(const char *path, char **json, size_t *n);
int cj_prov_csv_get(const char *path, char **json, size_t *n);

#endif
