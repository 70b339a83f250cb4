/*
 * npy.h — NumPy's .npy file format for cajal arrays: whole-array save and
 * load, and a streaming writer for long runs.
 *
 * Files are written as format version 1.0 (2.0 if a header ever needed more
 * than 64 KiB), little-endian, C order, with the dtypes cajal has:
 * '<f8' float64, '<f4' float32, '<i4' int32, '|u1' uint8. Reading accepts
 * versions 1.0, 2.0 and 3.0, big-endian data (swapped on load) and Fortran
 * order (reordered on load). Anything else — another dtype, a structured
 * dtype, a malformed or truncated header, a data size that does not match
 * the shape — fails with CJ_EFORMAT and a message that starts with the path:
 * "run.npy: unsupported dtype '<i8' (cajal reads <f8, <f4, <i4, |u1)".
 * Files that cannot be opened, read or written give CJ_EIO and the system's
 * message. Nothing here aborts on bad input.
 */
#ifndef CJ_NPY_H
#define CJ_NPY_H

#include "array.h"

/* What a .npy header says. */
typedef struct cj_npyinfo {
  cj_dtype dtype;
  int swap;                   /* stored in the other byte order */
  int fortran;                /* stored in Fortran (column-major) order */
  int ndim;
  int64_t shape[CJ_MAXDIM];
  int major, minor;           /* format version */
  int64_t offset;             /* byte offset of the data in the file */
} cj_npyinfo;

/* Parse a header held in memory: buf[0..n) is the start of a file. Used by
 * the reader below and by fuzz tests. what names the file in messages. */
int cj_npy_parseheader(const char *buf, size_t n, const char *what, cj_npyinfo *info);

/* Reading in two steps, so the caller can allocate the destination (in Lua:
 * inside a userdata) between them:
 *   cj_npy_reader *r; cj_npyinfo info;
 *   cj_npy_open(&r, path, &info);          header read, file size checked
 *   ... allocate a contiguous array of info.dtype and info.shape ...
 *   cj_npy_read(r, &dst);                  fills it: C order, native bytes
 *   cj_npy_close(r);                       always, also after a failure
 * cj_npy_open leaves *r NULL on failure; cj_npy_close(NULL) does nothing. */
typedef struct cj_npy_reader cj_npy_reader;
int cj_npy_open(cj_npy_reader **r, const char *path, cj_npyinfo *info);
int cj_npy_read(cj_npy_reader *r, cj_array *dst);
void cj_npy_close(cj_npy_reader *r);

/* Load a whole file into storage made by cj_array_alloc (release it with
 * cj_array_release). */
int cj_npy_load(const char *path, cj_array *out);

/* Save a (any strides, any dtype of cajal) in C order. On failure the
 * partial file is removed. */
int cj_npy_save(const char *path, const cj_array *a);

/*
 * Streaming writer: a file that grows by rows, for monitors of long runs.
 *
 *   cj_npy_writer *w;
 *   int64_t row[1] = {3};                       each row holds 3 values
 *   cj_npy_writer_open(&w, "v.npy", CJ_F64, 1, row);
 *   cj_npy_writer_append(w, data, nrows);      contiguous rows of that dtype
 *   cj_npy_writer_append_array(w, &a);         a row, or n rows, any dtype/strides
 *   cj_npy_writer_close(w);                    final header; frees w
 *
 * The file's shape is (rows, rowshape...); with rowndim 0 each row is one
 * value and the file is 1-D. The header is written at open with 0 rows and
 * padded to a fixed size, so cj_npy_writer_flush() and close can rewrite it
 * in place with the current row count: after a flush the file on disk is
 * a complete .npy of the rows appended so far, so a run that dies later
 * still leaves readable data. A failed append leaves the writer usable and
 * the rows before it intact. cj_npy_writer_close always frees the writer,
 * and reports a failure to finish the file.
 */
typedef struct cj_npy_writer cj_npy_writer;
int cj_npy_writer_open(cj_npy_writer **w, const char *path, cj_dtype t,
                       int rowndim, const int64_t *rowshape);
/* As cj_npy_writer_open, for a file a model names (`record ... to "x.npy"`,
 * untrusted): the path must end in ".npy", and an existing file is replaced
 * only if it is a .npy file of float64 data in C order (what monitors
 * write); any other file, a directory, a device or a FIFO is refused
 * (CJ_EIO, the file untouched). The check and the truncation are made on
 * one descriptor, so the file checked is the file written. */
int cj_npy_writer_open_own(cj_npy_writer **w, const char *path, cj_dtype t,
                           int rowndim, const int64_t *rowshape);
int cj_npy_writer_append(cj_npy_writer *w, const void *rows, int64_t nrows);
int cj_npy_writer_append_array(cj_npy_writer *w, const cj_array *a);
int cj_npy_writer_flush(cj_npy_writer *w);
int64_t cj_npy_writer_rows(const cj_npy_writer *w);
int64_t cj_npy_writer_rowsize(const cj_npy_writer *w);   /* values per row */
cj_dtype cj_npy_writer_dtype(const cj_npy_writer *w);
int cj_npy_writer_close(cj_npy_writer *w);

#endif
