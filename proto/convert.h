// Conversions between qlab.v1 messages and the plain structs evaluators produce
// (common/job_output.h), shared by the worker (which sends them) and the coordinator.
#pragma once

#include "common/device.h"
#include "common/job_output.h"
#include "qlab/v1/common.pb.h"

namespace qlab {

void MetricToProto(const Metric& metric, v1::Metric* out);
Metric MetricFromProto(const v1::Metric& metric);

void DeviceToProto(const DeviceInfo& device, v1::Device* out);
DeviceInfo DeviceFromProto(const v1::Device& device);

}  // namespace qlab
