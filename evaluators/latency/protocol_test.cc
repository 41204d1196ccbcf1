// The protocol loop on scripted timings: stopping rules, caps, CV gate and re-measurement,
// cancellation, interleaving.
#include "evaluators/latency/protocol.h"

#include <gtest/gtest.h>

#include <map>

#include <set>

namespace qlab::latency {
namespace {

// Durations are multiples of 2^-10 s so that every sum the loop forms is exact in binary
// floating point and the stopping rules are tested without rounding slack.
constexpr double kTick = 1.0 / 1024;
constexpr double kT1 = kTick, kT2 = 2 * kTick, kT5 = 5 * kTick;

// A clock that only moves when the fake network "runs": each call advances it by the next
// scripted duration (cycling).
class ScriptedClock : public Clock {
 public:
  explicit ScriptedClock(std::vector<double> durations_s) : durations_(std::move(durations_s)) {}
  double NowSeconds() override { return now_; }
  Status Run() {
    now_ += durations_[calls_ % durations_.size()];
    ++calls_;
    return Status::Ok();
  }
  int calls() const { return calls_; }

 private:
  std::vector<double> durations_;
  double now_ = 0.0;
  int calls_ = 0;
};

ProtocolSettings Small() {
  ProtocolSettings s;
  s.warmup_runs = 3;
  s.warmup_min_s = 0.0;
  s.min_runs = 5;
  s.min_time_s = 0.0;
  s.max_runs = 100;
  s.max_time_s = 10.0;
  s.cv_gate = 0.05;
  return s;
}

TEST(ProtocolTest, MinRunsBindsForSlowishCalls) {
  ScriptedClock clock({kT1});
  auto m = MeasureLatency(
      Small(), [&] { return clock.Run(); }, clock);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->warmup_runs, 3);
  EXPECT_EQ(m->samples_us.size(), 5u);
  EXPECT_DOUBLE_EQ(m->summary.median, kTick * 1e6);  // microseconds
  EXPECT_FALSE(m->unstable);
  EXPECT_TRUE(m->rejected_blocks_us.empty());
  EXPECT_EQ(clock.calls(), 8);
}

TEST(ProtocolTest, MinTimeBindsForFastCalls) {
  ProtocolSettings s = Small();
  s.warmup_min_s = 10 * kTick;  // 10 warm-up calls, not 3
  s.min_time_s = 20 * kTick;    // 20 samples, not 5
  ScriptedClock clock({kT1});
  auto m = MeasureLatency(
      s, [&] { return clock.Run(); }, clock);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->warmup_runs, 10);
  EXPECT_DOUBLE_EQ(m->warmup_s, 10 * kTick);
  EXPECT_EQ(m->samples_us.size(), 20u);
}

TEST(ProtocolTest, CapsWinOverMinima) {
  ProtocolSettings s = Small();
  s.min_runs = 50;
  s.max_runs = 50;
  s.max_time_s = 1.0;
  ScriptedClock clock({307 * kTick});  // ~0.3 s per call
  auto m = MeasureLatency(
      s, [&] { return clock.Run(); }, clock);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->samples_us.size(), 4u);  // the 4th call passes max_time_s = 1 s
}

TEST(ProtocolTest, NoisyFirstBlockIsRemeasuredAndKept) {
  // Warm-up 3 calls, a noisy block of 5 (one 5 ms outlier), then a clean block of 5.
  ScriptedClock clock({kT1, kT1, kT1, kT1, kT1, kT1, kT1, kT5, kT1, kT1, kT1, kT1, kT1});
  auto m = MeasureLatency(
      Small(), [&] { return clock.Run(); }, clock);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->rejected_blocks_us.size(), 1u);
  EXPECT_EQ(m->rejected_blocks_us[0].size(), 5u);
  EXPECT_DOUBLE_EQ(m->rejected_blocks_us[0][4], kT5 * 1e6);  // the outlier is kept
  EXPECT_EQ(m->samples_us.size(), 5u);
  EXPECT_FALSE(m->unstable);
  EXPECT_NEAR(m->summary.cv, 0.0, 1e-9);
}

TEST(ProtocolTest, PersistentNoiseIsMarkedUnstable) {
  ScriptedClock clock({kT1, kT2});  // CV ~ 0.4 in every block
  auto m = MeasureLatency(
      Small(), [&] { return clock.Run(); }, clock);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->unstable);
  EXPECT_EQ(m->rejected_blocks_us.size(), 1u);
  EXPECT_GT(m->summary.cv, 0.05);
}

TEST(ProtocolTest, NoRemeasureMarksUnstableAtOnce) {
  ProtocolSettings s = Small();
  s.remeasure = false;
  ScriptedClock clock({kT1, kT2});
  auto m = MeasureLatency(
      s, [&] { return clock.Run(); }, clock);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->unstable);
  EXPECT_TRUE(m->rejected_blocks_us.empty());
}

TEST(ProtocolTest, ErrorsAndCancellationStopTheLoop) {
  ScriptedClock clock({kT1});
  int calls = 0;
  auto failing = MeasureLatency(
      Small(), [&] { return ++calls == 4 ? Status::Internal("kernel failed") : clock.Run(); },
      clock);
  EXPECT_EQ(failing.status().code(), StatusCode::kInternal);
  auto cancelled = MeasureLatency(
      Small(), [&] { return clock.Run(); }, clock, [&] { return clock.calls() >= 6; });
  EXPECT_EQ(cancelled.status().code(), StatusCode::kCancelled);
}

TEST(ProtocolTest, SettingsValidateAndSerialise) {
  EXPECT_TRUE(ProtocolSettings().Validate().ok());
  EXPECT_TRUE(ProtocolSettings::Reference().Validate().ok());
  EXPECT_EQ(ProtocolSettings::Reference().min_runs, 50);
  ProtocolSettings s;
  s.min_runs = 0;
  EXPECT_EQ(s.Validate().message().rfind("min_runs:", 0), 0u);
  s = ProtocolSettings();
  s.max_runs = s.min_runs - 1;
  EXPECT_EQ(s.Validate().message().rfind("max_runs:", 0), 0u);
  s = ProtocolSettings();
  s.cv_gate = 0;
  EXPECT_EQ(s.Validate().message().rfind("cv_gate:", 0), 0u);
  nlohmann::json j = ProtocolSettings().ToJson();
  EXPECT_EQ(j["version"], ProtocolSettings::kVersion);
  EXPECT_EQ(j["name"], "qlab.latency.protocol");
  EXPECT_EQ(j["min_runs"], ProtocolSettings().min_runs);
}

TEST(ProtocolTest, InterleavedScheduleAlternatesVariants) {
  auto order = InterleavedSchedule(4, 2, 1);
  std::vector<std::pair<int, int>> expected = {{0, 0}, {0, 1}, {1, 1}, {1, 0},
                                               {2, 0}, {2, 1}, {3, 1}, {3, 0}};
  EXPECT_EQ(order, expected);
  auto blocks = InterleavedSchedule(5, 2, 2);
  ASSERT_EQ(blocks.size(), 10u);
  EXPECT_EQ(blocks[0], std::make_pair(0, 0));
  EXPECT_EQ(blocks[2], std::make_pair(0, 1));
  EXPECT_EQ(blocks[4], std::make_pair(2, 1));  // block 1 starts with variant B
  std::set<std::pair<int, int>> unique(blocks.begin(), blocks.end());
  EXPECT_EQ(unique.size(), 10u);
  // Across the whole schedule each variant goes first equally often (drift is balanced), and
  // with three variants each takes each position of a block equally often.
  for (int variants : {2, 3}) {
    const int block = 3, blocks_count = 2 * variants * 5;
    auto schedule = InterleavedSchedule(block * blocks_count, variants, block);
    ASSERT_EQ(schedule.size(), static_cast<size_t>(block * blocks_count * variants));
    std::map<std::pair<int, int>, int> position_count;  // (position in block, variant) -> blocks
    for (int b = 0; b < blocks_count; ++b) {
      for (int p = 0; p < variants; ++p) {
        // The variants of block b come as runs of `block` items, one run per variant.
        position_count[std::make_pair(p, schedule[static_cast<size_t>((b * variants + p) * block)].second)]++;
      }
    }
    for (int p = 0; p < variants; ++p) {
      for (int v = 0; v < variants; ++v) {
        if (variants == 2) {
          EXPECT_EQ(position_count[std::make_pair(p, v)], blocks_count / 2) << "position " << p << " variant " << v;
        } else if (p == 1) {
          EXPECT_EQ(position_count[std::make_pair(p, 1)], blocks_count) << "the middle variant stays in the middle";
        } else if (v != 1) {
          EXPECT_EQ(position_count[std::make_pair(p, v)], blocks_count / 2) << "position " << p << " variant " << v;
        }
      }
    }
  }
  EXPECT_TRUE(InterleavedSchedule(0, 2, 3).empty());
}

}  // namespace
}  // namespace qlab::latency
