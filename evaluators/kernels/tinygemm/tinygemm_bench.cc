// tinygemm_bench: times LibTorch's int4 tinygemm kernel (at::_weight_int4pack_mm: BF16
// activations, INT4 weights packed by at::_convert_weight_to_int4pack with 8 inner k-tiles,
// BF16 scale-and-zero per group of 128) as a peer of the fused GEMV kernels, with the same
// protocol as kernel_bench: warm-up, weights rotated through >= 2x L2 of copies, CUDA events
// around each launch, median of the timed launches. Prints one JSON line per (shape, batch),
// the format kernel_bench --peer-json reads. Weights are random: only the time is of interest.
//
// Usage: tinygemm_bench [--shapes 4096x4096,...] [--batches 1,4,8] [--reps 100] [--warmup 20]
//                       [--json FILE]
// Exit status: 0 ran; 2 no CUDA device; 3 usage error.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif
#if !defined(TORCH_VERSION)
#define TORCH_VERSION "unknown"
#endif

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Json(const char* name, double v) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "\"%s\": %.6g", name, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> shapes = {"4096x4096", "11008x4096", "4096x11008",
                                     "8192x8192", "28672x8192", "8192x28672"};
  std::vector<std::string> batches = {"1", "4", "8"};
  int reps = 100, warmup = 20;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tinygemm_bench: %s needs a value\n", arg.c_str());
      return 3;
    }
    if (arg == "--shapes") {
      shapes = Split(argv[++i], ',');
    } else if (arg == "--batches") {
      batches = Split(argv[++i], ',');
    } else if (arg == "--reps") {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--warmup") {
      warmup = std::max(0, std::atoi(argv[++i]));
    } else if (arg == "--json") {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "tinygemm_bench: unknown argument %s\n", arg.c_str());
      return 3;
    }
  }
  if (!at::cuda::is_available()) {
    std::printf("no GPU: LibTorch sees no CUDA device\n");
    return 2;
  }
  int device = 0, l2_bytes = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device);
  const std::string device_name = at::cuda::getCurrentDeviceProperties()->name;
  std::ofstream json;
  if (!json_path.empty()) json.open(json_path);
  const auto cuda = at::TensorOptions().device(at::kCUDA);

  for (const std::string& shape : shapes) {
    const auto nk = Split(shape, 'x');
    if (nk.size() != 2) continue;
    const int64_t n = std::atoll(nk[0].c_str()), k = std::atoll(nk[1].c_str());
    for (const std::string& b : batches) {
      const int64_t m = std::atoll(b.c_str());
      std::string line =
          "{\"kernel\": \"tinygemm_int4\", \"variant\": "
          "\"at::_weight_int4pack_mm g128 innerKTiles=8 bf16\", \"device\": \"" +
          device_name + "\", \"torch\": \"" + TORCH_VERSION + "\", \"n\": " + std::to_string(n) +
          ", \"k\": " + std::to_string(k) + ", \"batch\": " + std::to_string(m);
      try {
        const int64_t weight_bytes = n * k / 2 + (k / 128) * n * 2 * 2;
        const int64_t bytes_moved = weight_bytes + m * k * 2 + m * n * 2;
        const int copies = static_cast<int>(
            std::clamp<int64_t>((2 * int64_t{l2_bytes} + weight_bytes - 1) / weight_bytes, 1, 64));
        const at::Tensor w_u8 = at::randint(0, 256, {n, k / 2}, cuda.dtype(at::kByte));
        std::vector<at::Tensor> packed;
        for (int c = 0; c < copies; ++c) packed.push_back(at::_convert_weight_to_int4pack(w_u8, 8));
        const at::Tensor scale_zeros = at::rand({k / 128, n, 2}, cuda.dtype(at::kBFloat16)) * 0.01;
        const at::Tensor x = at::randn({m, k}, cuda.dtype(at::kBFloat16));
        cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
        for (int i = 0; i < warmup; ++i) {
          at::_weight_int4pack_mm(x, packed[i % copies], 128, scale_zeros);
        }
        std::vector<cudaEvent_t> start(reps), stop(reps);
        for (int r = 0; r < reps; ++r) {
          cudaEventCreate(&start[r]);
          cudaEventCreate(&stop[r]);
        }
        for (int r = 0; r < reps; ++r) {
          cudaEventRecord(start[r], stream);
          at::_weight_int4pack_mm(x, packed[(warmup + r) % copies], 128, scale_zeros);
          cudaEventRecord(stop[r], stream);
        }
        cudaStreamSynchronize(stream);
        std::vector<float> us(reps);
        for (int r = 0; r < reps; ++r) {
          float ms = 0;
          cudaEventElapsedTime(&ms, start[r], stop[r]);
          us[r] = ms * 1000.f;
          cudaEventDestroy(start[r]);
          cudaEventDestroy(stop[r]);
        }
        const cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) throw std::runtime_error(cudaGetErrorString(err));
        std::sort(us.begin(), us.end());
        const double median =
            reps % 2 ? us[reps / 2] : 0.5 * (static_cast<double>(us[reps / 2 - 1]) + us[reps / 2]);
        line += ", " + Json("median_us", median) + ", " +
                Json("p10_us", us[static_cast<size_t>(0.1 * (reps - 1))]) + ", " +
                Json("p90_us", us[static_cast<size_t>(0.9 * (reps - 1))]) + ", " +
                Json("bytes_moved", static_cast<double>(bytes_moved)) + ", " +
                Json("effective_gbps", static_cast<double>(bytes_moved) / (median * 1e3)) + ", " +
                Json("rotation_copies", copies) + ", " + Json("repetitions", reps) + "}";
      } catch (const std::exception& e) {
        std::string what = e.what();
        what = what.substr(0, what.find('\n'));
        std::replace(what.begin(), what.end(), '"', '\'');
        line += ", \"median_us\": null, \"error\": \"" + what + "\"}";
      }
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      if (json.is_open()) json << line << "\n";
    }
  }
  return 0;
}
