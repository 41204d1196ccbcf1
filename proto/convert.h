// Conversions between qlab.v1 messages and the plain structs evaluators produce
// (common/job_output.h), shared by the worker (which sends them) and the coordinator.
#pragma once

#include "common/job_output.h"
#include "qlab/v1/common.pb.h"

namespace qlab {

void MetricToProto(const Metric& metric, v1::Metric* out);
Metric MetricFromProto(const v1::Metric& metric);

}  // namespace qlab
