#include "proto/convert.h"

namespace qlab {

void MetricToProto(const Metric& metric, v1::Metric* out) {
  out->set_name(metric.name);
  out->set_value(metric.value);
  out->set_unit(metric.unit);
  out->set_stderr(metric.stderr_value);
  out->set_higher_is_better(metric.higher_is_better);
}

Metric MetricFromProto(const v1::Metric& metric) {
  return {metric.name(), metric.value(), metric.unit(), metric.stderr(), metric.higher_is_better()};
}

void DeviceToProto(const DeviceInfo& d, v1::Device* out) {
  out->set_device_class(static_cast<v1::DeviceClass>(d.device_class));
  out->set_name(d.name);
  out->set_model(d.model);
  out->set_memory_bytes(d.memory_bytes);
  out->set_cores(d.cores);
  out->set_driver(d.driver);
  out->set_compute_capability(d.compute_capability);
  out->set_clock_mhz(d.clock_mhz);
  for (const auto& k : d.kinds) out->add_kinds(k);
  for (const auto& [name, level] : d.formats) (*out->mutable_formats())[name] = level;
}

DeviceInfo DeviceFromProto(const v1::Device& d) {
  DeviceInfo out{static_cast<int>(d.device_class()), d.name(), d.model(), d.memory_bytes(),
                 d.cores(), d.driver(), d.compute_capability(), d.clock_mhz(), {}};
  out.kinds.assign(d.kinds().begin(), d.kinds().end());
  out.formats.insert(d.formats().begin(), d.formats().end());
  return out;
}

}  // namespace qlab
