// qlab dataset export and qlab nas arch: latency datasets out, NB201 indices and strings.
#include "cli/commands.h"

#include <cstdio>

#include "common/results_csv.h"
#include "common/text_format.h"
#include "evaluators/latency/nb201.h"

namespace qlab::cli {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

int CmdDatasetExport(Client& c, const std::string& space, const std::string& device, int batch,
                     const std::string& experiment, const std::string& format, bool samples) {
  if (format != "csv" && format != "json") {
    return Fail(Status::InvalidArgument("--format must be csv or json"), "dataset export");
  }
  v1::ExportDatasetRequest req;
  req.set_space(space);
  req.set_device(device);
  req.set_batch(batch);
  req.set_experiment(experiment);
  req.set_include_samples(samples);
  auto ctx = c.StreamCtx();
  auto reader = c.results().ExportDataset(ctx.get(), req);
  v1::DatasetRow row;
  const bool csv = format == "csv";
  std::vector<std::string> header = {"arch_index", "arch", "arch_key", "device", "batch",
                                     "median_us", "p10_us", "p90_us", "mean_us", "min_us", "cv",
                                     "n", "unstable", "job_id"};
  if (samples) header.push_back("samples_us");
  if (csv) std::fputs(CsvLine(header).c_str(), stdout);
  bool first = true;
  if (!csv) std::fputs("[", stdout);
  long rows = 0;
  while (reader->Read(&row)) {
    ++rows;
    if (csv) {
      std::vector<std::string> f = {std::to_string(row.arch_index()), row.arch(), row.arch_key(),
                                    row.device(), std::to_string(row.batch()),
                                    FormatNumber(row.median_us()), FormatNumber(row.p10_us()),
                                    FormatNumber(row.p90_us()), FormatNumber(row.mean_us()),
                                    FormatNumber(row.min_us()), FormatNumber(row.cv()),
                                    std::to_string(row.n()), row.unstable() ? "true" : "false",
                                    std::to_string(row.job_id())};
      if (samples) {
        std::string list;
        for (double v : row.samples_us()) list += (list.empty() ? "" : " ") + FormatNumber(v);
        f.push_back(list);
      }
      std::fputs(CsvLine(f).c_str(), stdout);
    } else {
      ojson o = {{"arch_index", row.arch_index()}, {"arch", row.arch()}, {"arch_key", row.arch_key()},
                 {"device", row.device()}, {"batch", row.batch()}, {"median_us", row.median_us()},
                 {"p10_us", row.p10_us()}, {"p90_us", row.p90_us()}, {"mean_us", row.mean_us()},
                 {"min_us", row.min_us()}, {"cv", row.cv()}, {"n", row.n()},
                 {"unstable", row.unstable()}, {"job_id", row.job_id()}};
      if (samples) o["samples_us"] = std::vector<double>(row.samples_us().begin(), row.samples_us().end());
      std::printf("%s\n  %s", first ? "" : ",", o.dump().c_str());
      first = false;
    }
  }
  if (!csv) std::fputs(rows ? "\n]\n" : "]\n", stdout);
  grpc::Status st = reader->Finish();
  if (!st.ok()) return Fail(st, "dataset export");
  std::fflush(stdout);  // the count follows the rows even when both streams share one pipe
  std::fprintf(stderr, "%ld rows\n", rows);
  return 0;
}

int CmdNasArch(const std::string& space, int64_t index, const std::string& arch, bool index_set) {
  if (space != "nb201") {
    return Fail(Status::InvalidArgument("--space '" + space + "' has no index; only nb201"), "nas arch");
  }
  if (index_set == !arch.empty()) {
    return Fail(Status::InvalidArgument("give exactly one of --index and --arch"), "nas arch");
  }
  if (index_set) {
    auto s = nas::Nb201ArchString(static_cast<int>(index));
    if (!s.ok()) return Fail(s.status(), "nas arch");
    std::printf("%s\n", s->c_str());
  } else {
    auto i = nas::Nb201IndexOf(arch);
    if (!i.ok()) return Fail(i.status(), "nas arch");
    std::printf("%d\n", *i);
  }
  return 0;
}

}  // namespace qlab::cli
