// cpu_kernel_bench: times the CPU GEMV kernels against a streaming read of the same bytes and
// the FP32 BLAS GEMV of the same shape (cpu_gemv_bench.h), side by side in one process, and
// writes a Markdown table and JSON lines (bench/results/cpu-kernels.md is made with it).
//
// Usage: cpu_kernel_bench [--formats int4_asym,nvfp4,razer_fp4,int8_asym,e2m1]
//                         [--shapes 8192x28672,...] [--batches 1,8] [--modes fp32,int8]
//                         [--isa avx512_vnni] [--threads 2] [--reps 30]
//                         [--prefetch 0,1024,...] [--rotation-kb KB] [--markdown FILE] [--json FILE]
// --rotation-kb: operand copies total at least this (default 2x the last-level cache, so that
// weights come from DRAM; a small value times weights held in cache).
// Exit status: 0 ran (targets may be missed: see the table); 1 an output check failed;
// 3 usage or runtime error.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "evaluators/kernels/cpu_gemv_bench.h"

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

int Usage(const std::string& why) {
  std::fprintf(stderr, "cpu_kernel_bench: %s\n", why.c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> formats = {"int4_asym", "nvfp4", "razer_fp4", "int8_asym", "e2m1"};
  std::vector<std::string> shapes = {"8192x28672"};
  std::vector<std::string> batches = {"1", "8"};
  std::vector<std::string> modes = {"fp32", "int8"};
  std::vector<std::string> prefetches = {std::to_string(kDefaultCpuGemvPrefetchBytes)};
  std::string markdown_path, json_path;
  CpuBenchOptions options;
  options.isa = BestCpuIsa();
  options.threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--formats") formats = Split(value, ',');
    else if (flag == "--shapes") shapes = Split(value, ',');
    else if (flag == "--batches") batches = Split(value, ',');
    else if (flag == "--modes") modes = Split(value, ',');
    else if (flag == "--prefetch") prefetches = Split(value, ',');
    else if (flag == "--rotation-kb") options.rotation_bytes = std::atoll(value.c_str()) << 10;
    else if (flag == "--threads") options.threads = std::atoi(value.c_str());
    else if (flag == "--reps") options.repetitions = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--markdown") markdown_path = value;
    else if (flag == "--json") json_path = value;
    else if (flag == "--isa") {
      const auto isa = ParseCpuIsa(value);
      if (!isa) return Usage("unknown --isa " + value + " (portable, avx2, avx512, avx512_vnni)");
      options.isa = *isa;
    } else {
      return Usage("unknown flag " + flag);
    }
  }
  std::ostringstream md, jsonl;
  md << "| format | N x K | batch | activations | kernel us | GB/s | read GB/s | % of read | FP32 BLAS us | x BLAS | max_rel_err | weight err | act. err |\n"
     << "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  bool check_failed = false;
  for (const std::string& shape : shapes) {
    const size_t x = shape.find('x');
    if (x == std::string::npos) return Usage("shape must be NxK, got " + shape);
    const int64_t n = std::atoll(shape.substr(0, x).c_str()), k = std::atoll(shape.substr(x + 1).c_str());
    for (const std::string& batch_text : batches) {
      const int m = std::atoi(batch_text.c_str());
      for (const std::string& format_name : formats) {
        const auto format = ParseCpuGemvFormat(format_name);
        if (!format) return Usage("unknown format " + format_name);
        for (const std::string& mode_name : modes)
        for (const std::string& prefetch : prefetches) {
          const auto mode = ParseActivationMode(mode_name);
          if (!mode) return Usage("unknown mode " + mode_name + " (fp32, int8)");
          CpuBenchOptions o = options;
          o.activations = *mode;
          o.prefetch_bytes = std::atoi(prefetch.c_str());
          auto result = RunCpuGemvBenchmark(*format, n, k, m, o);
          if (!result.ok()) return Usage(result.status().ToString());
          const CpuGemvBenchResult& r = *result;
          if (!r.check.ok()) check_failed = true;
          char line[512];
          std::snprintf(line, sizeof(line),
                        "| %s | %lldx%lld | %d | %s%s | %.1f | %.1f | %.1f | %.0f%% | %.1f | %.2f | %.2g | %.3g | %.3g |\n",
                        format_name.c_str(), static_cast<long long>(n), static_cast<long long>(k), m,
                        mode_name.c_str(), prefetches.size() > 1 ? (" pf" + prefetch).c_str() : "",
                        r.kernel.median_us, r.effective_gbps, r.read_bw_gbps,
                        r.pct_of_read_bw(), r.blas.median_us, r.speedup_vs_blas(), r.check.max_rel_err,
                        r.weight_rel_err, r.activation_rel_err);
          md << line;
          std::fputs(line, stdout);
          std::fflush(stdout);
          std::snprintf(line, sizeof(line),
                        "{\"format\":\"%s\",\"n\":%lld,\"k\":%lld,\"batch\":%d,\"activations\":\"%s\","
                        "\"isa\":\"%s\",\"threads\":%d,\"prefetch_bytes\":%d,\"median_us\":%.3f,\"p10_us\":%.3f,\"p90_us\":%.3f,"
                        "\"effective_gbps\":%.3f,\"read_bw_gbps\":%.3f,\"pct_of_read_bw\":%.2f,"
                        "\"fp32_blas_median_us\":%.3f,\"speedup_vs_fp32_blas\":%.3f,\"max_rel_err\":%.3g,"
                        "\"weight_rel_err\":%.4g,\"activation_rel_err\":%.4g,\"calls_per_sample\":%d}\n",
                        format_name.c_str(), static_cast<long long>(n), static_cast<long long>(k), m,
                        mode_name.c_str(), CpuIsaName(r.isa), r.threads, o.prefetch_bytes, r.kernel.median_us,
                        r.kernel.p10_us, r.kernel.p90_us, r.effective_gbps, r.read_bw_gbps,
                        r.pct_of_read_bw(), r.blas.median_us, r.speedup_vs_blas(), r.check.max_rel_err,
                        r.weight_rel_err, r.activation_rel_err, r.kernel.calls_per_sample);
          jsonl << line;
        }
      }
    }
  }
  const std::string header = std::string("ISA ") + CpuIsaName(options.isa) + ", BLAS: " + BlasDescription() + "\n\n";
  if (!markdown_path.empty()) std::ofstream(markdown_path) << header << md.str();
  if (!json_path.empty()) std::ofstream(json_path) << jsonl.str();
  std::fputs(header.c_str(), stdout);
  return check_failed ? 1 : 0;
}
