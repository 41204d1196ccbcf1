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

}  // namespace qlab
