/*
 * nwb.h — Neurodata Without Borders (NWB 2) files through HDF5: the spike
 * trains of a simulation as the `units` table and its recorded state as
 * TimeSeries in `acquisition`, with the file-level groups, datasets and
 * attributes an NWB 2 reader requires (cj.io.save_nwb is its Lua face).
 *
 * Layout written (NWB schema 2.6.0, hdmf-common 1.5):
 *   /                     neurodata_type NWBFile, namespace core, nwb_version, object_id
 *   /identifier, /session_description, /session_start_time,
 *   /timestamps_reference_time, /file_create_date[1]      (text; ISO 8601 dates)
 *   /acquisition/NAME     TimeSeries: data (time x columns, with unit,
 *                         conversion 1, offset 0, resolution -1), timestamps (s)
 *   /analysis, /processing, /stimulus/{presentation,templates}, /general
 *   /units                Units (a DynamicTable): id, spike_times (+ _index,
 *                         resolution = dt), obs_intervals (+ _index),
 *                         population (text), neuron (0-based index)
 * Every typed object carries neurodata_type, namespace and a UUID object_id.
 * Text is variable-length UTF-8, as h5py and pynwb write it.
 *
 * The file is written under a temporary name next to path and renamed by
 * cj_nwb_close, so a failure never leaves a half-written file at path.
 * Identifiers and object_ids are random UUIDs (getrandom), not from the
 * simulation's RNG: two exports of one run are two NWB files.
 */
#ifndef CJ_NWB_H
#define CJ_NWB_H

#include "array.h"

#define CJ_NWB_VERSION "2.6.0"

typedef struct cj_nwb cj_nwb;

typedef struct cj_nwb_meta {
  const char *identifier;            /* NULL: a random UUID */
  const char *session_description;   /* required */
  const char *session_start_time;    /* ISO 8601; NULL: now (local time with offset) */
  const char *experimenter;          /* NULL: not written */
  const char *institution;           /* NULL: not written */
  const char *lab;                   /* NULL: not written */
  const char *notes;                 /* general/notes; NULL: not written */
  const char *provenance;            /* cajal's provenance record (JSON): the text
                                        attribute "cajal_provenance" of the root group;
                                        NULL: not written */
} cj_nwb_meta;

/* Start the file for path. NULL on failure (cj_errmsg names the path). */
cj_nwb *cj_nwb_create(const char *path, const cj_nwb_meta *meta);

/* The spikes of one population slice: neurons first .. first+count-1
 * (0-based in the population) each become a unit, with or without spikes.
 * times (s) in the order they happened; neuron[k] the 0-based neuron of
 * spike k, which must lie in the slice. */
typedef struct cj_nwb_spikes {
  const char *population;
  int64_t first, count;
  int64_t nspikes;
  const double *times;
  const int32_t *neuron;
} cj_nwb_spikes;

/* Write /units from ng slices (units in the order of the slices, then of
 * the neurons); each unit's spike train keeps time order. Every unit is
 * observed over [0, t_end]; resolution is the time step (s). At most once
 * per file. CJ_EINVAL for a spike outside its slice. */
int cj_nwb_units(cj_nwb *f, const cj_nwb_spikes *g, int ng, double t_end, double resolution);

/* One TimeSeries in /acquisition: ntimes rows of ncols values (row-major,
 * float64 or float32) in unit, at timestamps (s); ndim 1 writes a vector
 * (ncols must be 1). name must be a valid, unused HDF5 link name. */
typedef struct cj_nwb_series {
  const char *name, *description, *comments, *unit;
  int ndim;                          /* 1 or 2 */
  int64_t ntimes, ncols;
  cj_dtype dtype;                    /* CJ_F64 or CJ_F32 */
  const void *data;
  const double *timestamps;
} cj_nwb_series;
int cj_nwb_timeseries(cj_nwb *f, const cj_nwb_series *s);

/* Finish the file and move it to its path; f is freed whatever happens. */
int cj_nwb_close(cj_nwb *f);
/* Give up: remove the temporary file and free f. */
void cj_nwb_abort(cj_nwb *f);

/* The text attribute "cajal_provenance" of the root group of the HDF5 file
 * at path: *json (cj_malloc'd, NUL-terminated; caller frees) and *n.
 * CJ_EFORMAT when the file cannot be opened as HDF5, has no such attribute,
 * or the attribute is not one string of at most CJ_PROV_MAX bytes. */
int cj_nwb_provenance(const char *path, char **json, size_t *n);

#endif
