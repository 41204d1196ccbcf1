// kernel_bench: times the fused-dequantization GEMV kernels and the cuBLAS FP16 baseline on a
// sweep of shapes and batch sizes (gemv_bench.h), in one process on one GPU, and writes a
// Markdown table and JSON lines. Optionally merges the timings of the LibTorch tinygemm peer
// (tinygemm_bench --json) measured on the same machine.
//
// Usage: kernel_bench [--kernels razer_w4,int4_asym,nvfp4,fp16_cublas]
//                     [--shapes 4096x4096,...]   (N x K: output features x reduction)
//                     [--batches 1,4,8] [--reps 100] [--warmup-ms 50] [--min-sample-us 200]
//                     [--device 0] [--verify-rows 256] [--no-read-reference]
//                     [--json FILE] [--markdown FILE] [--peer-json FILE]
// --reps is the number of timed samples; each sample times enough back-to-back launches for
// --min-sample-us of GPU time (gemv_bench.h).
// Exit status: 0 ran (targets may be missed: see the table); 1 an output check failed; 2 no GPU;
// 3 usage or runtime error.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "evaluators/kernels/gemv_bench.h"

namespace {

using namespace qlab::kernels;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Value of "key": in a flat one-line JSON object; nullopt when absent.
std::optional<std::string> RawField(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  size_t pos = line.find(needle);
  if (pos == std::string::npos) return std::nullopt;
  pos += needle.size();
  while (pos < line.size() && line[pos] == ' ') ++pos;
  if (pos < line.size() && line[pos] == '"') {
    const size_t end = line.find('"', pos + 1);
    if (end == std::string::npos) return std::nullopt;
    return line.substr(pos + 1, end - pos - 1);
  }
  const size_t end = line.find_first_of(",}", pos);
  return line.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

struct PeerTiming {
  std::string kernel;
  double median_us = 0;
  double effective_gbps = 0;
};
using ShapeKey = std::tuple<int64_t, int64_t, int>;  // n, k, batch

std::map<ShapeKey, PeerTiming> ReadPeerJson(const std::string& path) {
  std::map<ShapeKey, PeerTiming> peers;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto kernel = RawField(line, "kernel");
    const auto n = RawField(line, "n"), k = RawField(line, "k"), b = RawField(line, "batch");
    const auto median = RawField(line, "median_us");
    if (!kernel || !n || !k || !b || !median || *median == "null") continue;
    PeerTiming p;
    p.kernel = *kernel;
    p.median_us = std::atof(median->c_str());
    if (const auto gbps = RawField(line, "effective_gbps"))
      p.effective_gbps = std::atof(gbps->c_str());
    peers[{std::atoll(n->c_str()), std::atoll(k->c_str()), std::atoi(b->c_str())}] = p;
  }
  return peers;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

struct Row {
  GemvTiming t;
  double cublas_us = 0;
  double peer_us = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> kernel_names = {"fp16_cublas", "razer_w4", "int4_asym", "nvfp4"};
  std::vector<std::string> shape_names = {"4096x4096", "11008x4096", "4096x11008",
                                          "8192x8192", "28672x8192", "8192x28672"};
  std::vector<std::string> batch_names = {"1", "4", "8"};
  GemvBenchOptions options;
  int device = 0;
  std::string json_path, markdown_path, peer_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--kernels" && has_value) {
      kernel_names = Split(argv[++i], ',');
    } else if (arg == "--shapes" && has_value) {
      shape_names = Split(argv[++i], ',');
    } else if (arg == "--batches" && has_value) {
      batch_names = Split(argv[++i], ',');
    } else if (arg == "--reps" && has_value) {
      options.repetitions = std::atoi(argv[++i]);
    } else if (arg == "--warmup-ms" && has_value) {
      options.warmup_ms = std::atof(argv[++i]);
    } else if (arg == "--min-sample-us" && has_value) {
      options.min_sample_us = std::atof(argv[++i]);
    } else if (arg == "--no-read-reference") {
      options.read_reference = false;
    } else if (arg == "--device" && has_value) {
      device = std::atoi(argv[++i]);
    } else if (arg == "--verify-rows" && has_value) {
      options.verify_rows = std::atoi(argv[++i]);
    } else if (arg == "--json" && has_value) {
      json_path = argv[++i];
    } else if (arg == "--markdown" && has_value) {
      markdown_path = argv[++i];
    } else if (arg == "--peer-json" && has_value) {
      peer_path = argv[++i];
    } else {
      std::fprintf(stderr, "kernel_bench: bad argument %s (see the file comment)\n", arg.c_str());
      return 3;
    }
  }
  std::vector<GemvKernel> kernels;
  bool with_cublas = false;
  for (const std::string& name : kernel_names) {
    const auto k = ParseGemvKernel(name);
    if (!k) {
      std::fprintf(stderr, "kernel_bench: unknown kernel %s\n", name.c_str());
      return 3;
    }
    if (*k == GemvKernel::kFp16Cublas) {
      with_cublas = true;
    } else {
      kernels.push_back(*k);
    }
  }
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (const std::string& s : shape_names) {
    const auto nk = Split(s, 'x');
    if (nk.size() != 2) {
      std::fprintf(stderr, "kernel_bench: shape %s is not NxK\n", s.c_str());
      return 3;
    }
    shapes.emplace_back(std::atoll(nk[0].c_str()), std::atoll(nk[1].c_str()));
  }

  auto bench_or = GemvBenchmark::Create(device, options);
  if (!bench_or.ok()) {
    const bool no_gpu = bench_or.status().code() == qlab::StatusCode::kUnavailable;
    std::printf("%s\n", bench_or.status().message().c_str());
    return no_gpu ? 2 : 3;
  }
  GemvBenchmark& bench = **bench_or;
  const auto copy_or = bench.CopyBandwidthGbps();
  if (!copy_or.ok()) {
    std::fprintf(stderr, "kernel_bench: %s\n", copy_or.status().ToString().c_str());
    return 3;
  }
  const double copy_gbps = *copy_or;
  std::printf("device: %s\ncopy bandwidth (D2D, read+write): %.0f GB/s\n",
              bench.device().ToString().c_str(), copy_gbps);
  const std::map<ShapeKey, PeerTiming> peers =
      peer_path.empty() ? std::map<ShapeKey, PeerTiming>{} : ReadPeerJson(peer_path);

  std::ofstream json;
  if (!json_path.empty()) json.open(json_path);
  std::vector<Row> rows;
  int check_failures = 0, errors = 0;
  for (const auto& [n, k] : shapes) {
    for (const std::string& b : batch_names) {
      const GemvShape shape{n, k, std::atoi(b.c_str())};
      double cublas_us = 0;
      std::vector<GemvKernel> order = kernels;
      order.insert(order.begin(), GemvKernel::kFp16Cublas);  // the baseline is always timed
      for (GemvKernel kernel : order) {
        const auto t = bench.Run(kernel, shape);
        if (!t.ok()) {
          std::printf("%s n=%lld k=%lld batch=%d: %s\n", GemvKernelName(kernel),
                      static_cast<long long>(n), static_cast<long long>(k), shape.m,
                      t.status().ToString().c_str());
          ++errors;
          continue;
        }
        if (kernel == GemvKernel::kFp16Cublas) cublas_us = t->median_us;
        if (t->rows_checked > 0 && !t->check.ok()) ++check_failures;
        const std::string line = GemvTimingToJson(*t, bench.device(), copy_gbps, cublas_us);
        if (json.is_open()) json << line << "\n";
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        if (kernel == GemvKernel::kFp16Cublas && !with_cublas) continue;
        Row r{*t, cublas_us, 0};
        const auto peer = peers.find({n, k, shape.m});
        if (peer != peers.end()) r.peer_us = peer->second.median_us;
        rows.push_back(r);
      }
      // The peer's own row, so its figures sit next to ours.
      const auto peer = peers.find({n, k, shape.m});
      if (peer != peers.end() && cublas_us > 0) {
        Row r;
        r.t.shape = shape;
        r.t.median_us = peer->second.median_us;
        r.t.effective_gbps = peer->second.effective_gbps;
        r.t.variant = peer->second.kernel + " (LibTorch peer, separate process)";
        r.cublas_us = cublas_us;
        r.t.kernel = GemvKernel::kFp16Cublas;
        r.t.repetitions = -1;  // marks a peer row
        rows.push_back(r);
      }
    }
  }

  std::ostringstream md;
  md << "# Fused-dequantization GEMV kernels vs cuBLAS FP16\n\n";
  md << "Device: " << bench.device().ToString() << "  \n";
  md << "Device-to-device copy (read+write bytes / median time): " << Fmt("%.0f", copy_gbps)
     << " GB/s  \n";
  md << "Per-launch median over " << options.repetitions
     << " samples; a sample is one event pair around `launches` back-to-back launches (chosen "
        "so that a sample is >= "
     << Fmt("%.0f", options.min_sample_us)
     << " us of GPU time), queued behind a hold kernel so that the host's launch cost is not "
        "counted; >= "
     << Fmt("%.0f", options.warmup_ms)
     << " ms of GPU time of warm-up launches first. Weights rotated through >= 2x L2 of copies; "
        "GB/s counts every byte of W, x and y once. % of read: of a read-only streaming kernel "
        "over the same bytes of W and x, measured in the same run. Max rel err: vs the CPU "
        "reference on up to "
     << options.verify_rows << " sampled rows (bound " << kGemvRelErrBound << ").\n\n";
  md << "| N x K | batch | kernel | median us | p10-p90 us | launches | GB/s | % of read | "
        "% of copy | x cuBLAS | x tinygemm | max rel err | launch |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    const bool peer_row = r.t.repetitions < 0;
    md << "| " << r.t.shape.n << " x " << r.t.shape.k << " | " << r.t.shape.m << " | "
       << (peer_row ? r.t.variant : std::string(GemvKernelName(r.t.kernel))) << " | "
       << Fmt("%.1f", r.t.median_us) << " | "
       << (peer_row ? "-" : Fmt("%.1f", r.t.p10_us) + "-" + Fmt("%.1f", r.t.p90_us)) << " | "
       << (peer_row ? "-" : std::to_string(r.t.launches_per_sample)) << " | "
       << Fmt("%.0f", r.t.effective_gbps) << " | "
       << (r.t.read.read_bw_gbps > 0 ? Fmt("%.1f", r.t.pct_of_read_bw()) : "-") << " | "
       << Fmt("%.1f", 100.0 * r.t.effective_gbps / copy_gbps) << " | "
       << (r.cublas_us > 0 ? Fmt("%.2f", r.cublas_us / r.t.median_us) : "-") << " | "
       << (r.peer_us > 0 ? Fmt("%.2f", r.peer_us / r.t.median_us) : "-") << " | "
       << (r.t.rows_checked > 0
               ? Fmt("%.2g", r.t.check.max_rel_err) + (r.t.check.ok() ? "" : " FAIL")
               : "-")
       << " | " << (r.t.launch ? r.t.launch->ToString() : "-") << " |\n";
  }

  // The targets, stated against this run.
  md << "\n## Targets (this run)\n\n";
  for (GemvKernel kernel : {GemvKernel::kRazerW4, GemvKernel::kInt4Asym}) {
    for (const Row& r : rows) {
      if (r.t.repetitions < 0 || r.t.kernel != kernel || r.t.shape.n != 8192 ||
          r.t.shape.k != 8192 || r.cublas_us <= 0) {
        continue;
      }
      const double speedup = r.cublas_us / r.t.median_us;
      const double pct = 100.0 * r.t.effective_gbps / copy_gbps;
      if (r.t.shape.m == 1) {
        md << "- " << GemvKernelName(kernel) << " 8192x8192 batch 1: " << Fmt("%.2f", speedup)
           << "x cuBLAS (target >= 3.3: " << (speedup >= 3.3 ? "met" : "NOT met") << "), "
           << Fmt("%.1f", pct)
           << "% of copy bandwidth (target >= 85: " << (pct >= 85 ? "met" : "NOT met") << ")"
           << (r.t.read.read_bw_gbps > 0
                   ? ", " + Fmt("%.1f", r.t.pct_of_read_bw()) + "% of read bandwidth"
                   : std::string())
           << "\n";
      } else if (r.t.shape.m == 8) {
        md << "- " << GemvKernelName(kernel) << " 8192x8192 batch 8: " << Fmt("%.2f", speedup)
           << "x cuBLAS (target >= 2.5: " << (speedup >= 2.5 ? "met" : "NOT met") << ")\n";
      }
    }
    int faster = 0, compared = 0;
    for (const Row& r : rows) {
      if (r.t.repetitions < 0 || r.t.kernel != kernel || r.t.shape.m != 1 || r.peer_us <= 0) {
        continue;
      }
      ++compared;
      if (r.t.median_us < r.peer_us) ++faster;
    }
    if (compared > 0) {
      md << "- " << GemvKernelName(kernel) << " faster than tinygemm at batch 1 on " << faster
         << " of " << compared << " shapes (target >= 4 of 6: " << (faster >= 4 ? "met" : "NOT met")
         << ")\n";
    }
  }
  if (check_failures > 0) md << "\n**" << check_failures << " output checks FAILED.**\n";
  if (errors > 0) md << "\n**" << errors << " runs could not be timed (see the log).**\n";

  std::printf("\n%s", md.str().c_str());
  if (!markdown_path.empty()) std::ofstream(markdown_path) << md.str();
  if (check_failures > 0) return 1;
  return errors > 0 ? 3 : 0;
}
