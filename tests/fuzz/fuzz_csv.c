/*
 * fuzz_csv.c — the CSV reader (cj_csv_parse). The first byte chooses the
 * options (separator, comment character, header, numeric); the rest is
 * the text.
 */
#include <stdint.h>
#include <stdlib.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char seps[] = { ',', ';', '\t', ' ', '|', ':', 0, '"' };
  cj_csvopts o;
  cj_csv *t;
  if (size < 1) return 0;
  cj_csv_defaults(&o);
  o.sep = seps[data[0] & 7];
  o.comment = (data[0] & 8) ? '#' : '\0';
  o.header = (data[0] >> 4) & 1;
  o.numeric = (data[0] >> 5) & 1;
  if (cj_csv_parse((const char *)data + 1, size - 1, "fuzz", &o, &t) == CJ_OK) cj_csv_free(t);
  return 0;
}
