// The `quantize` job (DESIGN.md sections 6 and 10): parses a job's params, builds the tensor
// source, quantises with a registry datatype and returns the metrics as a JobOutput. This is the
// only part of the datatype library that reads JSON; the worker calls it, the server may call
// ValidateQuantizeParams to reject a sweep before expanding it.
//
// Params (keys of the sweep's `params` merged with one point of its axes):
//   datatype      string, required: a registry name (DatatypeNames()).
//   group_size    integer >= 0; 0 = one group per row; default: the datatype's default.
//   scale_search  "none" (default, absmax / [min,max]) or "mse" (clip-ratio grid, see quantizer.h).
//   threads       integer >= 0, CPU threads; default 0 = all cores.
//   sf4_nu        Student-t nu of the sf4 codebook (default 5); `nu` is the synthetic source's.
//   Synthetic source: distribution (gaussian|student_t|laplace), shape [rows, cols], seed
//     (integer >= 0, default 0), nu (Student-t, default 5), outlier_fraction (default 0),
//     outlier_scale (default 10). See synthetic.h for the generator.
//   File source: safetensors (path), tensor (name; a glob is expanded by ExpandTensorNames; a
//     glob matching exactly one tensor is also accepted here). F32/F16/BF16 tensors; leading
//     dimensions are flattened into rows, the last dimension is the row.
// Metrics: mse, sqnr_db (dB), max_abs_err, kl (nats), bits_per_weight (bits), bit_sparsity and
// bit_sparsity_p<i> (fraction of zero bits of element-code bit plane i), hw_cost (relative
// decoder+MAC area, hw_cost.h), num_weights.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/registry.h"

namespace qlab::datatypes {

// The keys every job kind that quantizes weights shares (quantize, accuracy): `datatype`
// (required, a registry name), `group_size` (integer in [0, 2^30]; absent: the datatype's
// default), `scale_search` ("none" | "mse"; default "none") and `sf4_nu` (in (0, 1e6]).
// INVALID_ARGUMENT starting with the field's name. Absent keys leave *options as they are.
Status ReadQuantizerParams(const nlohmann::json& params, Datatype* datatype,
                           QuantizerOptions* options);

// Checks a quantize job's params without running it. OK, or INVALID_ARGUMENT naming the field:
// missing/unknown datatype, group_size < 0 or not dividing a synthetic shape's columns, bad
// shape, unknown distribution, both or neither of distribution/safetensors, a misspelled known
// key (e.g. "grop_size"). Other unknown keys are ignored. Does not open files. Thread-safe.
Status ValidateQuantizeParams(const nlohmann::json& params);

// Runs the job: the validation above, then the source (synthetic or safetensors), the
// quantisation and the metrics. Errors: INVALID_ARGUMENT (params, NaN/Inf weights, shapes),
// NOT_FOUND (file or tensor), DATA_LOSS (corrupt file), CANCELLED (context cancelled),
// RESOURCE_EXHAUSTED (out of memory). Thread-safe; uses up to `threads` cores.
StatusOr<JobOutput> RunQuantizeJob(const nlohmann::json& params, JobContext& context);

// The tensors one sweep point covers: for a safetensors source whose `tensor` is a glob
// (contains * ? or [), the matching tensor names, sorted (NOT_FOUND if none match); for a plain
// name {params["tensor"]}; for a synthetic source {""}. INVALID_ARGUMENT for bad params.
StatusOr<std::vector<std::string>> ExpandTensorNames(const nlohmann::json& params);

}  // namespace qlab::datatypes
