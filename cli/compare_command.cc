// qlab compare A B: the regression view (server/compare_query.h).
#include <cstdio>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/text_format.h"

namespace qlab::cli {

using nlohmann::json;

namespace {

std::string Text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return FormatShort(v.get<double>());
  return v.dump();
}

std::string ParamsText(const json& params) {
  std::string out;
  if (!params.is_object()) return out;
  for (const auto& [k, v] : params.items()) out += (out.empty() ? "" : " ") + k + "=" + Text(v);
  return out;
}

}  // namespace

int CmdCompare(Client& c, const std::string& a, const std::string& b, double threshold_sigma,
               bool all, bool as_json) {
  v1::CompareRequest req;
  req.set_a(a);
  req.set_b(b);
  req.set_threshold_sigma(threshold_sigma);
  req.set_include_unmoved(all);
  v1::CompareResponse resp;
  grpc::Status st = c.results().Compare(c.Ctx(300).get(), req, &resp);
  if (!st.ok()) return Fail(st, "compare");
  const json doc = json::parse(resp.compare_json(), nullptr, false);
  if (as_json) {
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  if (!doc.is_object()) return Fail(Status::Internal("the server answered no JSON object"), "compare");
  std::printf("%s vs %s: %lld param sets in both, %lld metrics compared, %lld moved beyond %.3g "
              "sigma, %lld without a noise estimate\n",
              a.c_str(), b.c_str(), (long long)doc.value("pairs", int64_t{0}),
              (long long)doc.value("compared", int64_t{0}),
              (long long)doc.value("moved_count", int64_t{0}),
              doc.value("threshold_sigma", 3.0), (long long)doc.value("no_noise", int64_t{0}));
  auto table = [&](const char* key, const char* title) {
    if (!doc.contains(key) || !doc[key].is_array() || doc[key].empty()) return;
    std::vector<std::vector<std::string>> cells;
    for (const auto& m : doc[key]) {
      cells.push_back({ParamsText(m["params"]), Text(m["metric"]), Text(m["a"]), Text(m["b"]),
                       FormatShort(100 * m.value("relative", 0.0)) + "%",
                       FormatShort(m.value("sigmas", 0.0)), Text(m["noise_source"]),
                       Text(m["direction"])});
    }
    std::printf("%s\n", title);
    std::fputs(FormatTable({"params", "metric", a, b, "change", "sigmas", "noise from", "direction"},
                           cells).c_str(),
               stdout);
  };
  table("moved", "moved beyond their noise:");
  if (all) table("unmoved", "within their noise (or without an estimate):");
  if (doc.contains("context_diff") && doc["context_diff"].is_array() && !doc["context_diff"].empty()) {
    std::vector<std::vector<std::string>> cells;
    for (const auto& d : doc["context_diff"]) cells.push_back({Text(d["field"]), Text(d["a"]), Text(d["b"])});
    std::printf("what differs between the two environments:\n");
    std::fputs(FormatTable({"field", a, b}, cells).c_str(), stdout);
  }
  for (const char* side : {"keys_a", "keys_b"}) {
    if (doc.contains(side) && doc[side].is_array() && doc[side].size() > 1) {
      std::printf("note: %s mixes %zu environments\n", side[5] == 'a' ? a.c_str() : b.c_str(),
                  doc[side].size());
    }
  }
  return 0;
}

}  // namespace qlab::cli
