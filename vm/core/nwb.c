/*
 * nwb.c — NWB 2 files through the HDF5 C library (see nwb.h for the layout).
 *
 * HDF5's own error printing is turned off while we write; every failing
 * call becomes one cj_fail naming the object being written. Handles are
 * closed on every path; the temporary file is removed on failure.
 */
#include "nwb.h"
#include "prov.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct cj_nwb {
  hid_t file;
  char *path, *tmp;
  int units;                         /* /units written */
  H5E_auto2_t efunc;                 /* HDF5's error printer, restored at the end */
  void *edata;
};

/* ---- small things ------------------------------------------------------------ */

static void uuid(char out[37])
{
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got < sizeof b) {                     /* no getrandom: the address and the clock */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (size_t i = 0; i < sizeof b; i++)
      b[i] = (unsigned char)((uintptr_t)out >> (i % 8) ^ (uint64_t)ts.tv_nsec >> (i % 4 * 8) ^ i * 37);
  }
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
}

/* Local time as ISO 8601 with its UTC offset ("2024-05-01T12:00:00.000000+02:00"). */
static void isonow(char out[40])
{
  struct timespec ts;
  struct tm tm;
  char date[32], zone[8];
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  strftime(zone, sizeof zone, "%z", &tm);            /* "+0200" */
  snprintf(out, 40, "%.19s.%06d%.3s:%.2s", date, (int)(ts.tv_nsec / 1000) % 1000000, zone, zone + 3);
}

static hid_t strtype(void)
{
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

/* ---- attributes and datasets --------------------------------------------------- */

static int attr(hid_t loc, const char *name, hid_t type, hid_t space, const void *v)
{
  hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  int bad = a < 0 || H5Awrite(a, type, v) < 0;
  if (a >= 0) H5Aclose(a);
  return bad ? cj_fail(CJ_EIO, "attribute '%s'", name) : CJ_OK;
}

static int attrstr(hid_t loc, const char *name, const char *value)
{
  hid_t t = strtype(), s = H5Screate(H5S_SCALAR);
  int st = attr(loc, name, t, s, &value);
  H5Sclose(s);
  H5Tclose(t);
  return st;
}

static int attrstrs(hid_t loc, const char *name, int n, const char *const *values)
{
  hsize_t dim = (hsize_t)n;
  hid_t t = strtype(), s = H5Screate_simple(1, &dim, NULL);
  int st = attr(loc, name, t, s, values);
  H5Sclose(s);
  H5Tclose(t);
  return st;
}

static int attrnum(hid_t loc, const char *name, hid_t type, const void *v)
{
  hid_t s = H5Screate(H5S_SCALAR);
  int st = attr(loc, name, type, s, v);
  H5Sclose(s);
  return st;
}

static int attrf32(hid_t loc, const char *name, float v) { return attrnum(loc, name, H5T_NATIVE_FLOAT, &v); }
static int attrf64(hid_t loc, const char *name, double v) { return attrnum(loc, name, H5T_NATIVE_DOUBLE, &v); }

/* neurodata_type, namespace, object_id */
static int typed(hid_t loc, const char *type, const char *ns)
{
  char id[37];
  uuid(id);
  if (attrstr(loc, "neurodata_type", type) || attrstr(loc, "namespace", ns) ||
      attrstr(loc, "object_id", id))
    return cj_fail(CJ_EIO, "%s attributes", type);
  return CJ_OK;
}

/* A dataset of ndim (0: scalar) with data of memory type mtype, stored as
 * ftype. Returns the open dataset (caller closes) or -1. */
static hid_t dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int ndim,
                     const hsize_t *dims, const void *data)
{
  hid_t s = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t d = s < 0 ? -1 : H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int empty = 0;
  for (int i = 0; i < ndim; i++) empty |= dims[i] == 0;
  if (d >= 0 && !empty && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    H5Dclose(d);
    d = -1;
  }
  if (s >= 0) H5Sclose(s);
  if (d < 0) cj_fail(CJ_EIO, "dataset '%s'", name);
  return d;
}

static int done(hid_t d) { return d < 0 ? CJ_EIO : (H5Dclose(d), CJ_OK); }

static int textset(hid_t loc, const char *name, const char *value)
{
  hid_t t = strtype();
  int st = done(dataset(loc, name, t, t, 0, NULL, &value));
  H5Tclose(t);
  return st;
}

static int group(hid_t loc, const char *name, hid_t *out)
{
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return cj_fail(CJ_EIO, "group '%s'", name);
  if (out) *out = g;
  else H5Gclose(g);
  return CJ_OK;
}

/* ---- the file ------------------------------------------------------------------ */

static int header(cj_nwb *f, const cj_nwb_meta *m)
{
  char id[37], now[40], start[40];
  const char *created = now;
  hid_t root = f->file, t, g = -1;
  hsize_t one = 1;
  int st;
  uuid(id);
  isonow(now);
  snprintf(start, sizeof start, "%s", m->session_start_time ? m->session_start_time : now);
  if (typed(root, "NWBFile", "core") || attrstr(root, "nwb_version", CJ_NWB_VERSION) ||
      textset(root, "identifier", m->identifier ? m->identifier : id) ||
      textset(root, "session_description", m->session_description) ||
      textset(root, "session_start_time", start) ||
      textset(root, "timestamps_reference_time", start))
    return CJ_EIO;
  t = strtype();
  st = done(dataset(root, "file_create_date", t, t, 1, &one, &created));
  H5Tclose(t);
  if (st || group(root, "acquisition", NULL) || group(root, "analysis", NULL) ||
      group(root, "processing", NULL) || group(root, "stimulus", &g))
    return CJ_EIO;
  st = group(g, "presentation", NULL) || group(g, "templates", NULL);
  H5Gclose(g);
  if (st || group(root, "general", &g)) return CJ_EIO;
  if (m->experimenter) {                       /* a list of names in NWB */
    t = strtype();
    st = done(dataset(g, "experimenter", t, t, 1, &one, &m->experimenter));
    H5Tclose(t);
  }
  st = st || (m->provenance && attrstr(root, "cajal_provenance", m->provenance));
  st = st || (m->institution && textset(g, "institution", m->institution)) ||
       (m->lab && textset(g, "lab", m->lab)) || (m->notes && textset(g, "notes", m->notes));
  H5Gclose(g);
  return st ? CJ_EIO : CJ_OK;
}

cj_nwb *cj_nwb_create(const char *path, const cj_nwb_meta *meta)
{
  cj_nwb *f = cj_calloc(1, sizeof *f);
  size_t n = strlen(path) + 32;
  if (!f || !(f->path = cj_malloc(strlen(path) + 1)) || !(f->tmp = cj_malloc(n))) {
    if (f) { cj_free(f->path); cj_free(f); }
    cj_fail(CJ_ENOMEM, "save_nwb: out of memory");
    return NULL;
  }
  strcpy(f->path, path);
  snprintf(f->tmp, n, "%s.tmp%ld", path, (long)getpid());
  H5Eget_auto2(H5E_DEFAULT, &f->efunc, &f->edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  f->file = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f->file < 0) {
    cj_fail(CJ_EIO, "save_nwb: cannot write '%s': %s", f->tmp, errno ? strerror(errno) : "HDF5 error");
    f->file = -1;
    cj_nwb_abort(f);
    return NULL;
  }
  if (!meta->session_description || header(f, meta)) {
    if (!meta->session_description) cj_fail(CJ_EINVAL, "save_nwb: a session description is required");
    else cj_errprefix("save_nwb: '%s'", path);
    cj_nwb_abort(f);
    return NULL;
  }
  return f;
}

static void finish(cj_nwb *f, int keep)
{
  if (f->file >= 0) H5Fclose(f->file);
  if (!keep) remove(f->tmp);
  H5Eset_auto2(H5E_DEFAULT, f->efunc, f->edata);
  cj_free(f->path);
  cj_free(f->tmp);
  cj_free(f);
}

void cj_nwb_abort(cj_nwb *f)
{
  if (f) finish(f, 0);
}

int cj_nwb_close(cj_nwb *f)
{
  int st = CJ_OK;
  if (H5Fclose(f->file) < 0) st = cj_fail(CJ_EIO, "save_nwb: cannot finish '%s'", f->tmp);
  f->file = -1;
  if (!st && rename(f->tmp, f->path) != 0)
    st = cj_fail(CJ_EIO, "save_nwb: cannot rename '%s' to '%s': %s", f->tmp, f->path, strerror(errno));
  finish(f, st == CJ_OK);
  return st;
}

/* ---- units ------------------------------------------------------------------------ */

static int column(hid_t g, const char *name, const char *description, hid_t ftype, hid_t mtype,
                  int ndim, const hsize_t *dims, const void *data, const char *type)
{
  hid_t d = dataset(g, name, ftype, mtype, ndim, dims, data);
  int st;
  if (d < 0) return CJ_EIO;
  st = typed(d, type, "hdmf-common") || attrstr(d, "description", description);
  H5Dclose(d);
  return st ? CJ_EIO : CJ_OK;
}

static int vindex(hid_t g, const char *name, const char *target, int64_t n, const uint64_t *ends)
{
  hsize_t dim = (hsize_t)n;
  hobj_ref_t ref;
  hid_t d = dataset(g, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, &dim, ends), s;
  int st;
  if (d < 0) return CJ_EIO;
  st = typed(d, "VectorIndex", "hdmf-common") ||
       attrstr(d, "description", "Index for VectorData; row k ends at element ends[k] (exclusive)") ||
       H5Rcreate(&ref, g, target, H5R_OBJECT, -1) < 0;
  if (!st) {
    s = H5Screate(H5S_SCALAR);
    st = attr(d, "target", H5T_STD_REF_OBJ, s, &ref);
    H5Sclose(s);
  }
  H5Dclose(d);
  return st ? cj_fail(CJ_EIO, "dataset '%s'", name) : CJ_OK;
}

typedef struct unitcols {
  double *times, *obs;
  uint64_t *ends, *obsends;
  int64_t *ids, *neuron;
  const char **pop;
} unitcols;

static void freecols(unitcols *c)
{
  cj_free(c->times); cj_free(c->obs); cj_free(c->ends); cj_free(c->obsends);
  cj_free(c->ids); cj_free(c->neuron); cj_free((void *)c->pop);
}

/* Spike trains grouped by unit with a stable counting sort (time order
 * within a unit is kept). */
static int group_spikes(const cj_nwb_spikes *g, int ng, int64_t nu, int64_t ns, double t_end,
                        unitcols *c)
{
  int64_t u0 = 0, s0 = 0;
  memset(c, 0, sizeof *c);
  c->times = cj_malloc((size_t)(ns ? ns : 1) * sizeof *c->times);
  c->ends = cj_calloc((size_t)(nu ? nu : 1), sizeof *c->ends);
  c->obs = cj_malloc((size_t)(2 * (nu ? nu : 1)) * sizeof *c->obs);
  c->obsends = cj_malloc((size_t)(nu ? nu : 1) * sizeof *c->obsends);
  c->ids = cj_malloc((size_t)(nu ? nu : 1) * sizeof *c->ids);
  c->neuron = cj_malloc((size_t)(nu ? nu : 1) * sizeof *c->neuron);
  c->pop = cj_malloc((size_t)(nu ? nu : 1) * sizeof *c->pop);
  if (!c->times || !c->ends || !c->obs || !c->obsends || !c->ids || !c->neuron || !c->pop)
    return cj_fail(CJ_ENOMEM, "save_nwb: out of memory for %lld units", (long long)nu);
  for (int k = 0; k < ng; k++) {
    const cj_nwb_spikes *p = &g[k];
    uint64_t *cnt = c->ends + u0;               /* counts first, then running ends */
    for (int64_t s = 0; s < p->nspikes; s++) {
      int64_t i = (int64_t)p->neuron[s] - p->first;
      if (i < 0 || i >= p->count)
        return cj_fail(CJ_EINVAL, "save_nwb: spike %lld of %s is from neuron %d, outside %lld..%lld",
                       (long long)s + 1, p->population, p->neuron[s], (long long)p->first,
                       (long long)(p->first + p->count - 1));
      cnt[i]++;
    }
    for (int64_t i = 0, run = s0; i < p->count; i++) {
      run += (int64_t)cnt[i];
      cnt[i] = (uint64_t)run;                   /* end of unit i */
    }
    for (int64_t s = p->nspikes - 1; s >= 0; s--)   /* backwards: stable */
      c->times[--cnt[p->neuron[s] - p->first]] = p->times[s];
    for (int64_t i = 0; i < p->count; i++) {    /* cnt[i] is now unit i's start */
      int64_t u = u0 + i;
      c->ends[u] = i + 1 < p->count ? cnt[i + 1] : (uint64_t)(s0 + p->nspikes);
      c->ids[u] = u;
      c->neuron[u] = p->first + i;
      c->pop[u] = p->population;
      c->obs[2 * u] = 0;
      c->obs[2 * u + 1] = t_end;
      c->obsends[u] = (uint64_t)u + 1;
    }
    u0 += p->count;
    s0 += p->nspikes;
  }
  return CJ_OK;
}

static int writeunits(hid_t g, const unitcols *c, int64_t nu, int64_t ns, double resolution)
{
  static const char *const cols[] = { "spike_times", "obs_intervals", "population", "neuron" };
  hsize_t dn = (hsize_t)nu, ds = (hsize_t)ns, d2[2] = { (hsize_t)nu, 2 };
  hid_t t = strtype(), d;
  int st;
  st = typed(g, "Units", "core") ||
       attrstr(g, "description", "spike trains of the simulated neurons, one unit per recorded neuron") ||
       attrstrs(g, "colnames", 4, cols);
  if (!st) {
    d = dataset(g, "id", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dn, c->ids);
    st = d < 0 || typed(d, "ElementIdentifiers", "hdmf-common");
    if (d >= 0) H5Dclose(d);
  }
  st = st || column(g, "spike_times", "the spike times of each unit, in seconds", H5T_IEEE_F64LE,
                    H5T_NATIVE_DOUBLE, 1, &ds, c->times, "VectorData");
  if (!st) {
    hid_t dd = H5Dopen2(g, "spike_times", H5P_DEFAULT);
    st = dd < 0 || attrf64(dd, "resolution", resolution);
    if (dd >= 0) H5Dclose(dd);
  }
  st = st || vindex(g, "spike_times_index", "spike_times", nu, c->ends) ||
       column(g, "obs_intervals", "the observation interval of each unit: [start, stop] in seconds",
              H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, c->obs, "VectorData") ||
       vindex(g, "obs_intervals_index", "obs_intervals", nu, c->obsends) ||
       column(g, "population", "the population of the neuron (model name)", t, t, 1, &dn, c->pop,
              "VectorData") ||
       column(g, "neuron", "the neuron's index in its population, from 0 as in the model file "
              "(Lua's net.E.v[k] is neuron k - 1)", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dn,
              c->neuron, "VectorData");
  H5Tclose(t);
  return st ? CJ_EIO : CJ_OK;
}

int cj_nwb_units(cj_nwb *f, const cj_nwb_spikes *g, int ng, double t_end, double resolution)
{
  int64_t nu = 0, ns = 0;
  unitcols c;
  hid_t grp = -1;
  int st;
  if (f->units) return cj_fail(CJ_EINVAL, "save_nwb: the units table is already written");
  for (int k = 0; k < ng; k++) {
    if (g[k].count < 0 || g[k].nspikes < 0 || !g[k].population)
      return cj_fail(CJ_EINVAL, "save_nwb: bad spike group %d", k + 1);
    nu += g[k].count;
    ns += g[k].nspikes;
  }
  st = group_spikes(g, ng, nu, ns, t_end, &c);
  if (!st && !(st = group(f->file, "units", &grp))) {
    st = writeunits(grp, &c, nu, ns, resolution);
    H5Gclose(grp);
  }
  freecols(&c);
  if (st == CJ_EIO) cj_errprefix("save_nwb: '%s': units", f->path);
  f->units = 1;
  return st;
}

/* ---- time series ------------------------------------------------------------------ */

int cj_nwb_timeseries(cj_nwb *f, const cj_nwb_series *s)
{
  hid_t acq, g = -1, d;
  hsize_t dims[2] = { (hsize_t)s->ntimes, (hsize_t)s->ncols }, nt = (hsize_t)s->ntimes;
  int st;
  if (s->ntimes < 0 || s->ncols < 0 || (s->dtype != CJ_F64 && s->dtype != CJ_F32) || !s->name ||
      (s->ndim != 1 && s->ndim != 2) || (s->ndim == 1 && s->ncols != 1) ||
      !*s->name || strchr(s->name, '/') || strcmp(s->name, ".") == 0)
    return cj_fail(CJ_EINVAL, "save_nwb: bad time series '%s'", s->name ? s->name : "?");
  acq = H5Gopen2(f->file, "acquisition", H5P_DEFAULT);
  if (acq < 0) return cj_fail(CJ_EIO, "save_nwb: no acquisition group");
  if (H5Lexists(acq, s->name, H5P_DEFAULT) > 0) {
    H5Gclose(acq);
    return cj_fail(CJ_EINVAL, "save_nwb: two time series named '%s'", s->name);
  }
  st = group(acq, s->name, &g) || typed(g, "TimeSeries", "core") ||
       attrstr(g, "description", s->description ? s->description : "no description") ||
       attrstr(g, "comments", s->comments ? s->comments : "no comments");
  if (!st) {
    int f32 = s->dtype == CJ_F32;
    d = dataset(g, "data", f32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, f32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE,
                s->ndim, dims, s->data);
    st = d < 0 || attrstr(d, "unit", s->unit ? s->unit : "dimensionless") || attrf32(d, "conversion", 1.0f) ||
         attrf32(d, "offset", 0.0f) || attrf32(d, "resolution", -1.0f) || attrstr(d, "continuity", "continuous");
    if (d >= 0) H5Dclose(d);
  }
  if (!st) {
    int one = 1;
    d = dataset(g, "timestamps", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nt, s->timestamps);
    st = d < 0 || attrnum(d, "interval", H5T_NATIVE_INT, &one) || attrstr(d, "unit", "seconds");
    if (d >= 0) H5Dclose(d);
  }
  if (g >= 0) H5Gclose(g);
  H5Gclose(acq);
  if (st) cj_errprefix("save_nwb: '%s': acquisition/%s", f->path, s->name);
  return st ? CJ_EIO : CJ_OK;
}

/* ---- reading the provenance back ------------------------------------------------ */

static int readattr(hid_t file, const char *path, char **json, size_t *n)
{
  hid_t a, t = -1, s = -1, mt = -1;
  char *v = NULL;
  int st = CJ_OK;
  if (H5Aexists(file, "cajal_provenance") <= 0)
    return cj_fail(CJ_EFORMAT, "%s: this HDF5 file has no cajal provenance (no attribute "
                   "'cajal_provenance' on its root group)", path);
  if ((a = H5Aopen(file, "cajal_provenance", H5P_DEFAULT)) < 0)
    return cj_fail(CJ_EFORMAT, "%s: cannot open its provenance attribute", path);
  t = H5Aget_type(a);
  s = H5Aget_space(a);
  if (t < 0 || s < 0 || H5Tget_class(t) != H5T_STRING || !H5Tis_variable_str(t) ||
      H5Sget_simple_extent_type(s) != H5S_SCALAR || (mt = strtype()) < 0 ||
      H5Aread(a, mt, &v) < 0 || !v)
    st = cj_fail(CJ_EFORMAT, "%s: its provenance attribute is not one variable-length string", path);
  else if (strlen(v) > CJ_PROV_MAX)
    st = cj_fail(CJ_EFORMAT, "%s: its provenance attribute is longer than %u bytes", path, CJ_PROV_MAX);
  else if (!(*json = cj_malloc(strlen(v) + 1)))
    st = cj_fail(CJ_ENOMEM, "%s: out of memory", path);
  else {
    *n = strlen(v);
    memcpy(*json, v, *n + 1);
  }
  if (v) H5free_memory(v);
  if (mt >= 0) H5Tclose(mt);
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  H5Aclose(a);
  return st;
}

int cj_nwb_provenance(const char *path, char **json, size_t *n)
{
  H5E_auto2_t efunc;
  void *edata;
  hid_t file;
  int st;
  H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) st = cj_fail(CJ_EFORMAT, "%s: not a readable HDF5 file", path);
  else {
    st = readattr(file, path, json, n);
    H5Fclose(file);
  }
  H5Eset_auto2(H5E_DEFAULT, efunc, edata);
  return st;
}
