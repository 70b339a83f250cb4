/*
 * fuzz_npy.c — the .npy reader: the header parser on the bytes, and the
 * whole file loaded (cj_npy_load) from a memory file. A valid file loaded
 * is saved again and must load to the same bytes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int fd = -1;
  static char path[64];
  cj_npyinfo info;
  cj_array a, b;
  (void)cj_npy_parseheader((const char *)data, size, "fuzz", &info);
  if (fd < 0) {
    if ((fd = memfd_create("fuzz.npy", 0)) < 0) abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
  if (cj_npy_load(path, &a) != CJ_OK) return 0;
  if (ftruncate(fd, 0) != 0 || cj_npy_save(path, &a) != CJ_OK || cj_npy_load(path, &b) != CJ_OK) abort();
  size_t n = cj_array_numel(&a) * cj_dtype_size(a.dtype);
  if (a.dtype != b.dtype || a.ndim != b.ndim || memcmp(a.data, b.data, n) != 0) abort();
  cj_array_release(&a);
  cj_array_release(&b);
  return 0;
}
