// JobStore: reads of latency sample sets (dataset exports, device lists).
#include "storage/job_store.h"

#include <string>
#include <vector>

#include "storage/job_rows.h"

namespace qlab::storage {
StatusOr<std::vector<LatencySummary>> JobStore::ListLatency(const std::string& device,
                                                           const std::string& arch_prefix,
                                                           const std::string& experiment,
                                                           int64_t after_id, int limit,
                                                           int64_t* last_id, bool with_samples) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(
      Statement * s,
      c.Prepare("SELECT l.id, l.job_id, l.arch_key, l.device, l.batch, l.median_us, l.mean_us, "
                "l.p10_us, l.p90_us, l.cv, l.unstable, length(l.samples_us) / 8, "
                "CASE WHEN :samples THEN l.samples_us END, l.min_us "
                "FROM latency_sample l JOIN job j ON j.id = l.job_id "
                "JOIN experiment e ON e.id = j.experiment_id "
                "WHERE l.id > :after AND (:device = '' OR l.device = :device OR "
                "l.device GLOB :device OR substr(l.device, 1, length(:device) + 1) = :device || ':') "
                "AND (:prefix = '' OR substr(l.arch_key, 1, length(:prefix)) = :prefix) "
                "AND (:exp = '' OR e.name = :exp) ORDER BY l.id LIMIT :limit"));
  s->Bind(s->ParamIndex(":after"), after_id)
      .Bind(s->ParamIndex(":device"), device)
      .Bind(s->ParamIndex(":prefix"), arch_prefix)
      .Bind(s->ParamIndex(":exp"), experiment)
      .Bind(s->ParamIndex(":samples"), with_samples ? 1 : 0)
      .Bind(s->ParamIndex(":limit"), static_cast<int64_t>(limit));
  std::vector<LatencySummary> out;
  *last_id = after_id;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    LatencySummary l;
    *last_id = s->Int(0);
    l.job_id = s->Int(1);
    l.arch_key = s->Text(2);
    l.device = s->Text(3);
    l.batch = static_cast<int>(s->Int(4));
    l.median_us = s->Double(5);
    l.mean_us = s->Double(6);
    l.p10_us = s->Double(7);
    l.p90_us = s->Double(8);
    l.cv = s->Double(9);
    l.unstable = s->Int(10) != 0;
    l.samples = s->Int(11);
    if (with_samples) l.samples_us = SamplesFromBlob(s->Blob(12));
    l.min_us = s->Double(13);
    out.push_back(std::move(l));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<std::pair<std::string, int64_t>>> JobStore::LatencyDevices() {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s, c.Prepare("SELECT device, COUNT(*) FROM latency_sample "
                                            "GROUP BY device ORDER BY device"));
  std::vector<std::pair<std::string, int64_t>> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->Text(0), s->Int(1));
  }
  s->Reset();
  return out;
}

StatusOr<std::vector<LatencySampleSet>> JobStore::GetLatencySamples(int64_t job_id) {
  WITH_READER(c);
  ASSIGN_OR_RETURN(Statement * s,
                   c.Prepare("SELECT arch_key, device, batch, samples_us, median_us, mean_us, "
                             "p10_us, p90_us, min_us, stddev_us, cv, unstable, context_json "
                             "FROM latency_sample WHERE job_id=? ORDER BY id"));
  s->Bind(1, job_id);
  std::vector<LatencySampleSet> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    LatencySampleSet l;
    l.arch_key = s->Text(0);
    l.device = s->Text(1);
    l.batch = static_cast<int>(s->Int(2));
    l.samples_us = SamplesFromBlob(s->Blob(3));
    l.median_us = s->Double(4);
    l.mean_us = s->Double(5);
    l.p10_us = s->Double(6);
    l.p90_us = s->Double(7);
    l.min_us = s->Double(8);
    l.stddev_us = s->Double(9);
    l.cv = s->Double(10);
    l.unstable = s->Int(11) != 0;
    l.context_json = s->Text(12);
    out.push_back(std::move(l));
  }
  s->Reset();
  return out;
}

}  // namespace qlab::storage
