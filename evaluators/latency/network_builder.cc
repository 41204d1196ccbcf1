// The latency evaluator's only LibTorch translation unit: NB201/FBNet modules, the Network
// wrapper, thread and device configuration. Every LibTorch exception is caught here and turned
// into a Status; none crosses the module boundary.
#include "evaluators/latency/network_builder.h"

#include <dlfcn.h>
#include <torch/torch.h>
#ifdef QLAB_TORCH_CUDA  // a CUDA LibTorch (docs/libtorch-versions.md lists the APIs used)
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#endif

#include <chrono>
#include <mutex>
#include <thread>

#include "evaluators/latency/device_info.h"
#include "evaluators/latency/torch_modules.h"

namespace qlab::latency {
namespace modules {
namespace {

namespace nn = torch::nn;

nn::Conv2d MakeConv(int64_t c_in, int64_t c_out, int64_t k, int64_t stride, int64_t pad,
                    int64_t groups = 1) {
  return nn::Conv2d(
      nn::Conv2dOptions(c_in, c_out, k).stride(stride).padding(pad).groups(groups).bias(false));
}
// affine = true, track_running_stats = true, eps 1e-5, momentum 0.1: PyTorch's defaults.
nn::BatchNorm2d MakeBn(int64_t c) { return nn::BatchNorm2d(nn::BatchNorm2dOptions(c)); }

// --- NB201 -----------------------------------------------------------------------------------

class ZeroImpl : public UnaryModule {
 public:
  torch::Tensor forward(const torch::Tensor& x) override { return x.mul(0.0); }
};

class IdentityImpl : public UnaryModule {
 public:
  torch::Tensor forward(const torch::Tensor& x) override { return x; }
};

// ReLU (not in place: the input node feeds other edges) -> Conv -> BN.
class ReluConvBnImpl : public UnaryModule {
 public:
  ReluConvBnImpl(int64_t c_in, int64_t c_out, int64_t k, int64_t stride, int64_t pad)
      : conv_(register_module("conv", MakeConv(c_in, c_out, k, stride, pad))),
        bn_(register_module("bn", MakeBn(c_out))) {}
  torch::Tensor forward(const torch::Tensor& x) override {
    return bn_->forward(conv_->forward(torch::relu(x)));
  }

 private:
  nn::Conv2d conv_;
  nn::BatchNorm2d bn_;
};

class AvgPoolImpl : public UnaryModule {
 public:
  AvgPoolImpl()
      : pool_(register_module(
            "pool",
            nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(1).padding(1).count_include_pad(false)))) {
  }
  torch::Tensor forward(const torch::Tensor& x) override { return pool_->forward(x); }

 private:
  nn::AvgPool2d pool_;
};

class Nb201CellImpl : public UnaryModule {
 public:
  Nb201CellImpl(const nas::Nb201Ops& ops, int64_t channels) {
    for (int e = 0; e < nas::kNb201NumEdges; ++e) {
      edges_[e] = register_module("edge" + std::to_string(nas::kNb201EdgeTo[e]) + "_" +
                                      std::to_string(nas::kNb201EdgeFrom[e]),
                                  MakeNb201Op(ops[e], channels));
    }
  }
  // The benchmark sums with Python's sum(), i.e. ((0 + t0) + t1) + ...; the leading scalar
  // "0 +" is an artifact of sum()'s start value and is not reproduced (one cheap element-wise
  // kernel per node).
  torch::Tensor forward(const torch::Tensor& x) override {
    std::array<torch::Tensor, nas::kNb201NumNodes> nodes;
    nodes[0] = x;
    int e = 0;
    for (int node = 1; node < nas::kNb201NumNodes; ++node) {
      torch::Tensor sum;
      for (int in = 0; in < node; ++in, ++e) {
        torch::Tensor t = edges_[e]->forward(nodes[in]);
        sum = in == 0 ? t : sum + t;
      }
      nodes[node] = sum;
    }
    return nodes[nas::kNb201NumNodes - 1];
  }

 private:
  std::array<std::shared_ptr<UnaryModule>, nas::kNb201NumEdges> edges_;
};

class Nb201ReductionImpl : public UnaryModule {
 public:
  Nb201ReductionImpl(int64_t c_in, int64_t c_out)
      : conv_a_(register_module("conv_a", std::make_shared<ReluConvBnImpl>(c_in, c_out, 3, 2, 1))),
        conv_b_(register_module("conv_b", std::make_shared<ReluConvBnImpl>(c_out, c_out, 3, 1, 1))),
        pool_(register_module("down_pool", nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)))),
        down_conv_(register_module("down_conv", MakeConv(c_in, c_out, 1, 1, 0))) {}
  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor residual = conv_b_->forward(conv_a_->forward(x));
    torch::Tensor shortcut = down_conv_->forward(pool_->forward(x));
    return shortcut + residual;
  }

 private:
  std::shared_ptr<ReluConvBnImpl> conv_a_, conv_b_;
  nn::AvgPool2d pool_;
  nn::Conv2d down_conv_;
};

class Nb201NetworkImpl : public UnaryModule {
 public:
  Nb201NetworkImpl(const nas::Nb201Ops& ops, nas::Nb201Dataset dataset) {
    const nas::Nb201Macro m = nas::Nb201MacroOf(dataset);
    int64_t c = m.channels;
    stem_conv_ = register_module("stem_conv", MakeConv(3, c, 3, 1, 1));
    stem_bn_ = register_module("stem_bn", MakeBn(c));  // no ReLU in the stem
    for (int stage = 0; stage < 3; ++stage) {
      if (stage > 0) {
        layers_.push_back(
            register_module("reduce" + std::to_string(stage), MakeNb201Reduction(c, 2 * c)));
        c *= 2;
      }
      for (int i = 0; i < m.cells_per_stage; ++i) {
        layers_.push_back(register_module("cell" + std::to_string(stage) + "_" + std::to_string(i),
                                          MakeNb201Cell(ops, c)));
      }
    }
    last_bn_ = register_module("lastact_bn", MakeBn(c));
    classifier_ = register_module("classifier", nn::Linear(c, m.num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor h = stem_bn_->forward(stem_conv_->forward(x));
    for (auto& layer : layers_) h = layer->forward(h);
    h = last_bn_->forward(h).relu_();  // lastact: BN -> ReLU(inplace=True)
    h = torch::adaptive_avg_pool2d(h, {1, 1});
    return classifier_->forward(h.view({h.size(0), -1}));
  }

 private:
  nn::Conv2d stem_conv_{nullptr};
  nn::BatchNorm2d stem_bn_{nullptr}, last_bn_{nullptr};
  std::vector<std::shared_ptr<UnaryModule>> layers_;
  nn::Linear classifier_{nullptr};
};

// --- FBNet -----------------------------------------------------------------------------------

// Conv -> BN -> ReLU(inplace): HW-NAS-Bench's ConvNorm (stem k3/p1, header k1/p0) and the
// skip block's 1x1 projection (p0) when the shape changes.
class ConvNormImpl : public UnaryModule {
 public:
  ConvNormImpl(int64_t c_in, int64_t c_out, int64_t k, int64_t stride, int64_t pad)
      : conv_(register_module("conv", MakeConv(c_in, c_out, k, stride, pad))),
        bn_(register_module("bn", MakeBn(c_out))) {}
  torch::Tensor forward(const torch::Tensor& x) override {
    return bn_->forward(conv_->forward(x)).relu_();
  }

 private:
  nn::Conv2d conv_;
  nn::BatchNorm2d bn_;
};

int64_t FbnetPadding(int64_t k, int64_t stride) { return (k - stride + 1) / 2; }  // ceil((k-s)/2)

class FbnetConvBlockImpl : public UnaryModule {
 public:
  FbnetConvBlockImpl(const nas::FbnetBlock& b, const nas::FbnetLayer& l)
      : groups_(b.groups), residual_(l.c_in == l.c_out && l.stride == 1) {
    const int64_t mid = static_cast<int64_t>(l.c_in) * b.expansion;
    conv1_ = register_module("conv1", MakeConv(l.c_in, mid, 1, 1, 0, b.groups));
    bn1_ = register_module("bn1", MakeBn(mid));
    conv2_ = register_module(
        "conv2", MakeConv(mid, mid, b.kernel, l.stride, FbnetPadding(b.kernel, l.stride), mid));
    bn2_ = register_module("bn2", MakeBn(mid));
    conv3_ = register_module("conv3", MakeConv(mid, l.c_out, 1, 1, 0, b.groups));
    bn3_ = register_module("bn3", MakeBn(l.c_out));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor h = bn1_->forward(conv1_->forward(x)).relu_();
    if (groups_ > 1) {
      // ChannelShuffle: view(N, g, C/g, H, W) -> permute(0, 2, 1, 3, 4) -> contiguous -> view.
      const auto n = h.size(0), c = h.size(1), hh = h.size(2), ww = h.size(3);
      h = h.view({n, groups_, c / groups_, hh, ww})
              .permute({0, 2, 1, 3, 4})
              .contiguous()
              .view({n, c, hh, ww});
    }
    h = bn2_->forward(conv2_->forward(h)).relu_();
    h = bn3_->forward(conv3_->forward(h));
    if (residual_) h += x;  // linear bottleneck: no ReLU after the add
    return h;
  }

 private:
  int64_t groups_;
  bool residual_;
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
};

class FbnetNetworkImpl : public UnaryModule {
 public:
  FbnetNetworkImpl(const nas::FbnetArch& arch, nas::FbnetDataset dataset) {
    const nas::FbnetMacro m = nas::FbnetMacroOf(dataset);
    const auto layers = nas::FbnetLayers(dataset);
    stem_ = register_module("stem", std::make_shared<ConvNormImpl>(3, 16, 3, m.stem_stride, 1));
    for (int l = 0; l < nas::kFbnetNumLayers; ++l) {
      blocks_.push_back(
          register_module("layer" + std::to_string(l), MakeFbnetBlock(arch[l], layers[l])));
    }
    header_ = register_module(
        "header", std::make_shared<ConvNormImpl>(layers.back().c_out, m.header_channels, 1, 1, 0));
    fc_ = register_module("fc", nn::Linear(m.header_channels, m.num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor h = stem_->forward(x);
    for (auto& b : blocks_) h = b->forward(h);
    h = torch::adaptive_avg_pool2d(header_->forward(h), {1, 1});
    return fc_->forward(h.view({h.size(0), -1}));
  }

 private:
  std::shared_ptr<ConvNormImpl> stem_, header_;
  std::vector<std::shared_ptr<UnaryModule>> blocks_;
  nn::Linear fc_{nullptr};
};

}  // namespace

std::shared_ptr<UnaryModule> MakeNb201Op(nas::Nb201Op op, int64_t channels) {
  switch (op) {
    case nas::Nb201Op::kNone:
      return std::make_shared<ZeroImpl>();
    case nas::Nb201Op::kSkipConnect:
      return std::make_shared<IdentityImpl>();
    case nas::Nb201Op::kNorConv1x1:
      return std::make_shared<ReluConvBnImpl>(channels, channels, 1, 1, 0);
    case nas::Nb201Op::kNorConv3x3:
      return std::make_shared<ReluConvBnImpl>(channels, channels, 3, 1, 1);
    case nas::Nb201Op::kAvgPool3x3:
      return std::make_shared<AvgPoolImpl>();
  }
  return std::make_shared<ZeroImpl>();
}

std::shared_ptr<UnaryModule> MakeNb201Cell(const nas::Nb201Ops& ops, int64_t channels) {
  return std::make_shared<Nb201CellImpl>(ops, channels);
}

std::shared_ptr<UnaryModule> MakeNb201Reduction(int64_t c_in, int64_t c_out) {
  return std::make_shared<Nb201ReductionImpl>(c_in, c_out);
}

std::shared_ptr<UnaryModule> MakeNb201Network(const nas::Nb201Ops& ops, nas::Nb201Dataset dataset) {
  return std::make_shared<Nb201NetworkImpl>(ops, dataset);
}

std::shared_ptr<UnaryModule> MakeFbnetBlock(int code, const nas::FbnetLayer& layer) {
  if (code == nas::kFbnetSkipCode) {
    if (layer.stride == 1 && layer.c_in == layer.c_out) return std::make_shared<IdentityImpl>();
    return std::make_shared<ConvNormImpl>(layer.c_in, layer.c_out, 1, layer.stride, 0);
  }
  return std::make_shared<FbnetConvBlockImpl>(nas::FbnetBlockOf(code), layer);
}

std::shared_ptr<UnaryModule> MakeFbnetNetwork(const nas::FbnetArch& arch,
                                              nas::FbnetDataset dataset) {
  return std::make_shared<FbnetNetworkImpl>(arch, dataset);
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

}  // namespace modules

// --- Network ---------------------------------------------------------------------------------

namespace {

Status FromException(const std::exception& e, const std::string& what) {
  std::string msg = e.what();
  // c10::Error messages carry a C++ backtrace after the first line; keep the first line.
  if (size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  if (msg.size() > 400) msg.resize(400);
  if (msg.find("out of memory") != std::string::npos) {
    return Status::ResourceExhausted(what + ": " + msg);
  }
  return Status::Internal(what + ": " + msg);
}

std::mutex& BuildMutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

struct Network::Impl {
  std::shared_ptr<modules::UnaryModule> net;
  torch::Tensor input;
  torch::Device device{torch::kCPU};
  std::string device_name;
  bool cuda = false;
  int64_t num_parameters = 0;
  std::vector<int64_t> output_shape;
  double output_sum = 0;
};

Network::Network(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Network::~Network() = default;

StatusOr<std::unique_ptr<Network>> Network::Build(const NetworkSpec& spec) {
  if (spec.batch < 1) {
    return Status::InvalidArgument("batch: must be >= 1, got " + std::to_string(spec.batch));
  }
  RETURN_IF_ERROR(CheckTorchDevice(spec.device));
  try {
    auto impl = std::make_unique<Impl>();
    impl->device = torch::Device(spec.device);
    impl->device_name = spec.device;
    impl->cuda = impl->device.is_cuda();
    int64_t hw = 0;
    {
      std::lock_guard<std::mutex> lock(BuildMutex());
      torch::manual_seed(spec.seed);  // also seeds CUDA generators when present
      if (spec.arch.space == Space::kNb201) {
        impl->net = modules::MakeNb201Network(spec.arch.nb201_ops, spec.nb201_dataset);
        hw = nas::Nb201MacroOf(spec.nb201_dataset).input_hw;
      } else {
        impl->net = modules::MakeFbnetNetwork(spec.arch.fbnet, spec.fbnet_dataset);
        hw = nas::FbnetMacroOf(spec.fbnet_dataset).input_hw;
      }
      // HW-NAS-Bench feeds torch.rand inputs; drawn right after the weights from the same seed.
      impl->input = torch::rand({spec.batch, 3, hw, hw});
    }
    impl->net->eval();
    impl->num_parameters = modules::CountParameters(*impl->net);
    if (impl->cuda) {
      impl->net->to(impl->device);
      impl->input = impl->input.to(impl->device);
      torch::cuda::synchronize(impl->device.index());
    }
    return std::unique_ptr<Network>(new Network(std::move(impl)));
  } catch (const std::exception& e) {
    return FromException(e, "building " + spec.arch.Key() + " on " + spec.device);
  }
}

Status Network::Run() {
  try {
    c10::InferenceMode guard;
    torch::Tensor out = impl_->net->forward(impl_->input);
    if (impl_->cuda) torch::cuda::synchronize(impl_->device.index());
    if (impl_->output_shape.empty()) {
      impl_->output_shape = out.sizes().vec();
      impl_->output_sum = out.sum().item<double>();
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromException(e, "running network on " + impl_->device_name);
  }
}

StatusOr<double> Network::TimedRun() {
#ifdef QLAB_TORCH_CUDA
  if (impl_->cuda) {
    try {
      c10::InferenceMode guard;
      c10::cuda::CUDAGuard device_guard(impl_->device.index());
      // Timing events (the default flags); at::cuda::CUDAEvent's own default disables timing.
      at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
      const at::cuda::CUDAStream stream = at::cuda::getCurrentCUDAStream(impl_->device.index());
      start.record(stream);
      torch::Tensor out = impl_->net->forward(impl_->input);
      stop.record(stream);
      stop.synchronize();
      if (impl_->output_shape.empty()) {
        impl_->output_shape = out.sizes().vec();
        impl_->output_sum = out.sum().item<double>();
      }
      return static_cast<double>(start.elapsed_time(stop)) * 1000.0;
    } catch (const std::exception& e) {
      return FromException(e, "running network on " + impl_->device_name);
    }
  }
#endif
  const auto t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(Run());
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

std::string TimerDescription(const std::string& device) {
  if (device == "cpu") return "steady_clock per call";
#ifdef QLAB_TORCH_CUDA
  return "CUDA events on the current stream around each forward, then synchronize";
#else
  return "steady_clock per call around forward + torch::cuda::synchronize";
#endif
}

int64_t Network::NumParameters() const { return impl_->num_parameters; }
std::vector<int64_t> Network::InputShape() const { return impl_->input.sizes().vec(); }
std::vector<int64_t> Network::OutputShape() const { return impl_->output_shape; }
double Network::OutputSum() const { return impl_->output_sum; }
const std::string& Network::device() const { return impl_->device_name; }

// --- Runtime ---------------------------------------------------------------------------------

namespace {

// OpenBLAS's C API, looked up at run time so that other BLAS builds (MKL, reference) work too.
using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();
using GetConfigFn = char* (*)();

template <typename Fn>
Fn LookUp(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

TorchRuntime GetTorchRuntime() {
  TorchRuntime r;
  r.version = TORCH_VERSION;
  r.intra_op_threads = at::get_num_threads();
  r.interop_threads = at::get_num_interop_threads();
  r.mkldnn = at::hasMKLDNN();
  try {
    r.cuda_available = torch::cuda::is_available();
    r.cuda_device_count = r.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  } catch (const std::exception&) {
    r.cuda_available = false;
  }
  if (auto config = LookUp<GetConfigFn>("openblas_get_config"); config != nullptr) {
    r.blas = config();
  }
  if (auto get = LookUp<GetThreadsFn>("openblas_get_num_threads"); get != nullptr) {
    r.blas_threads = get();
  }
  const std::string info = at::get_parallel_info();
  const std::string key = "ATen parallel backend: ";
  if (size_t p = info.find(key); p != std::string::npos) {
    size_t end = info.find('\n', p);
    r.parallel_backend = info.substr(
        p + key.size(), end == std::string::npos ? std::string::npos : end - p - key.size());
  }
  return r;
}

Status ConfigureTorchThreads(int threads, int interop_threads) {
  if (threads < 0 || interop_threads < 0) {
    return Status::InvalidArgument("threads: must be >= 0, got " + std::to_string(threads) +
                                   " / interop " + std::to_string(interop_threads));
  }
  if (threads == 0) {
    threads = ReadHostInfo().allowed_cpus;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  try {
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
    if (auto set = LookUp<SetThreadsFn>("openblas_set_num_threads"); set != nullptr) set(threads);
    if (interop_threads > 0 && at::get_num_interop_threads() != interop_threads) {
      try {
        at::set_num_interop_threads(interop_threads);
      } catch (const std::exception&) {
        // Settable once per process; the value in effect is recorded with every sample set.
      }
    }
  } catch (const std::exception& e) {
    return FromException(e, "setting LibTorch threads");
  }
  return Status::Ok();
}

Status CheckTorchDevice(const std::string& device) {
  if (device == "cpu") return Status::Ok();
  try {
    torch::Device d(device);
    if (!d.is_cuda()) {
      return Status::FailedPrecondition("device " + device + ": only cpu and cuda are supported");
    }
    if (!torch::cuda::is_available()) {
      return Status::FailedPrecondition("device " + device +
                                        ": this LibTorch build has no CUDA or no GPU is visible");
    }
    const int count = static_cast<int>(torch::cuda::device_count());
    if (d.has_index() && d.index() >= count) {
      return Status::FailedPrecondition("device " + device + ": only " + std::to_string(count) +
                                        " CUDA device(s) visible");
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::FailedPrecondition("device " + device + ": " + e.what());
  }
}

}  // namespace qlab::latency
