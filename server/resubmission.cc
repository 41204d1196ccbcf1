#include "server/resubmission.h"

#include <string>
#include <unordered_map>

#include "server/comparability.h"

namespace qlab::server {

ResubmissionPlan PlanResubmission(const std::vector<storage::JobRecord>& existing,
                                  std::vector<storage::JobSpec> wanted, bool force) {
  using storage::JobState;
  struct Bucket {
    std::vector<const storage::JobRecord*> done, live, ended;  // each used once
  };
  std::unordered_map<std::string, Bucket> buckets;
  for (const auto& j : existing) {
    Bucket& b = buckets[JobIdentity(j.spec)];
    if (j.state == JobState::kSucceeded) {
      b.done.push_back(&j);
    } else if (j.state == JobState::kFailed || j.state == JobState::kCancelled) {
      b.ended.push_back(&j);
    } else {
      b.live.push_back(&j);
    }
  }
  ResubmissionPlan plan;
  for (auto& spec : wanted) {
    auto it = buckets.find(JobIdentity(spec));
    if (it != buckets.end()) {
      Bucket& b = it->second;
      if (!b.live.empty()) {
        b.live.pop_back();
        ++plan.reused;
        continue;
      }
      if (!force && !b.done.empty()) {
        b.done.pop_back();
        ++plan.reused;
        continue;
      }
      if (!b.ended.empty()) {
        plan.requeue.push_back(b.ended.back()->id);
        b.ended.pop_back();
        continue;
      }
    }
    plan.add.push_back(std::move(spec));
  }
  return plan;
}

}  // namespace qlab::server
