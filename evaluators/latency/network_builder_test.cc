// NB201/FBNet modules against their definitions: op semantics (ReLU before conv, zero op,
// count_include_pad=false), output shapes, parameter counts equal to the analytic counts
// (nas_cost.h, themselves checked against NAS-Bench-201's table), determinism by seed, and the
// torch-free Network wrapper on CPU.
#include "evaluators/latency/network_builder.h"

#include <gtest/gtest.h>

#include "evaluators/latency/nas_cost.h"
#include "evaluators/latency/torch_modules.h"

namespace qlab::latency {
namespace {

using modules::CountParameters;

torch::Tensor Eval(const std::shared_ptr<modules::UnaryModule>& m, const torch::Tensor& x) {
  m->eval();
  torch::NoGradGuard no_grad;
  return m->forward(x);
}

TEST(Nb201ModulesTest, OpsKeepShapeAndHaveExpectedParams) {
  const int64_t c = 16;
  torch::Tensor x = torch::randn({2, c, 8, 8});
  const int64_t expected_params[] = {0, 0, c * c + 2 * c, 9 * c * c + 2 * c, 0};
  for (int code = 0; code < nas::kNb201NumOps; ++code) {
    SCOPED_TRACE(code);
    auto op = modules::MakeNb201Op(static_cast<nas::Nb201Op>(code), c);
    EXPECT_EQ(Eval(op, x).sizes(), x.sizes());
    EXPECT_EQ(CountParameters(*op), expected_params[code]);
  }
}

TEST(Nb201ModulesTest, OpSemantics) {
  const int64_t c = 4;
  // none: an actual multiply by zero.
  torch::Tensor x = torch::randn({1, c, 5, 5});
  EXPECT_EQ(Eval(modules::MakeNb201Op(nas::Nb201Op::kNone, c), x).abs().sum().item<double>(), 0);
  // skip: identity.
  EXPECT_TRUE(Eval(modules::MakeNb201Op(nas::Nb201Op::kSkipConnect, c), x).equal(x));
  // nor_conv: ReLU comes first, so an all-negative input gives conv(0) = 0, and eval-mode BN with
  // fresh statistics maps 0 to 0. With Conv before ReLU this would not vanish.
  torch::Tensor neg = -torch::rand({1, c, 5, 5}) - 0.1;
  for (auto op : {nas::Nb201Op::kNorConv1x1, nas::Nb201Op::kNorConv3x3}) {
    EXPECT_EQ(Eval(modules::MakeNb201Op(op, c), neg).abs().sum().item<double>(), 0);
    EXPECT_GT(Eval(modules::MakeNb201Op(op, c), -neg).abs().sum().item<double>(), 0);
  }
  // avg_pool with count_include_pad=false: a constant image stays constant at the borders
  // (with padding counted the corners would be 4/9).
  torch::Tensor ones = torch::ones({1, c, 5, 5});
  torch::Tensor pooled = Eval(modules::MakeNb201Op(nas::Nb201Op::kAvgPool3x3, c), ones);
  EXPECT_NEAR(pooled.min().item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(pooled.max().item<double>(), 1.0, 1e-6);
}

TEST(Nb201ModulesTest, CellSumsItsEdges) {
  // All-skip cell: n1 = x, n2 = x + n1 = 2x, n3 = x + n1 + n2 = 4x.
  nas::Nb201Ops skip;
  skip.fill(nas::Nb201Op::kSkipConnect);
  torch::Tensor x = torch::randn({1, 8, 6, 6});
  EXPECT_TRUE(torch::allclose(Eval(modules::MakeNb201Cell(skip, 8), x), 4 * x));
  // All-none cell: zeros of the input's shape.
  nas::Nb201Ops none;
  none.fill(nas::Nb201Op::kNone);
  torch::Tensor z = Eval(modules::MakeNb201Cell(none, 8), x);
  EXPECT_EQ(z.sizes(), x.sizes());
  EXPECT_EQ(z.abs().sum().item<double>(), 0);
  // Cell parameters match the analytic count.
  for (int index : {0, 1, 9, 123, 1462, 15624}) {
    const nas::Nb201Ops ops = *nas::Nb201OpsOf(index);
    auto cell = modules::MakeNb201Cell(ops, 32);
    EXPECT_EQ(CountParameters(*cell), nas::Nb201CellCost(ops, 32, 16).params) << index;
    EXPECT_EQ(Eval(cell, torch::randn({1, 32, 16, 16})).sizes(),
              (std::vector<int64_t>{1, 32, 16, 16}));
  }
}

TEST(Nb201ModulesTest, ReductionHalvesResolutionAndDoublesChannels) {
  auto red = modules::MakeNb201Reduction(16, 32);
  EXPECT_EQ(Eval(red, torch::randn({2, 16, 32, 32})).sizes(),
            (std::vector<int64_t>{2, 32, 16, 16}));
  // conv_a 16*32*9 + BN, conv_b 32*32*9 + BN, shortcut 1x1 16*32 without BN.
  EXPECT_EQ(CountParameters(*red), 16 * 32 * 9 + 64 + 32 * 32 * 9 + 64 + 16 * 32);
}

TEST(Nb201ModulesTest, NetworksMatchAnalyticParamsOnEveryDataset) {
  // Anchors plus a spread of indices; the analytic counts equal NAS-Bench-201's own table.
  const int indices[] = {0, 1, 9, 123, 1462, 1651, 1835, 15624, 4000, 8000, 12000};
  for (auto dataset : {nas::Nb201Dataset::kCifar10, nas::Nb201Dataset::kCifar100,
                       nas::Nb201Dataset::kImageNet16_120}) {
    const nas::Nb201Macro m = nas::Nb201MacroOf(dataset);
    for (int index : indices) {
      SCOPED_TRACE(std::to_string(index) + " " + std::string(nas::Nb201DatasetName(dataset)));
      const nas::Nb201Ops ops = *nas::Nb201OpsOf(index);
      auto net = modules::MakeNb201Network(ops, dataset);
      EXPECT_EQ(CountParameters(*net), nas::Nb201Cost(ops, dataset).params);
      if (index == 0 || index == 1462) {
        torch::Tensor out = Eval(net, torch::rand({2, 3, m.input_hw, m.input_hw}));
        EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, m.num_classes}));
      }
    }
  }
  EXPECT_EQ(
      CountParameters(*modules::MakeNb201Network(*nas::Nb201OpsOf(0), nas::Nb201Dataset::kCifar10)),
      129306);
}

TEST(FbnetModulesTest, BlocksMatchAnalyticParamsAndShapes) {
  // Every block on a shape-keeping layer (residual), a widening layer and a stride-2 layer.
  const nas::FbnetLayer layers[] = {{24, 24, 1, 16}, {16, 24, 1, 16}, {24, 32, 2, 16}};
  for (const nas::FbnetLayer& l : layers) {
    for (int code = 0; code < nas::kFbnetNumOps; ++code) {
      SCOPED_TRACE(std::to_string(code) + " cin " + std::to_string(l.c_in));
      auto block = modules::MakeFbnetBlock(code, l);
      EXPECT_EQ(CountParameters(*block), nas::FbnetLayerCost(code, l).params);
      const int64_t h_out = (l.h_in + l.stride - 1) / l.stride;
      EXPECT_EQ(Eval(block, torch::randn({1, l.c_in, l.h_in, l.h_in})).sizes(),
                (std::vector<int64_t>{1, l.c_out, h_out, h_out}));
    }
  }
}

TEST(FbnetModulesTest, GroupedBlockHalvesPointwiseWeights) {
  // k3_e1_g2 on 16 -> 16: both 1x1 convs have groups=2 (16*8 weights each), depthwise 16*9.
  auto g2 = modules::MakeFbnetBlock(1, {16, 16, 1, 8});
  EXPECT_EQ(CountParameters(*g2), 16 * 8 + 16 * 9 + 16 * 8 + 3 * 32);
}

TEST(FbnetModulesTest, NetworksMatchAnalyticParams) {
  const nas::FbnetArch help0 = {7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5};
  nas::FbnetArch zeros{};
  nas::FbnetArch skips;
  skips.fill(nas::kFbnetSkipCode);
  for (const auto& arch : {help0, zeros, skips}) {
    auto net = modules::MakeFbnetNetwork(arch, nas::FbnetDataset::kCifar100);
    EXPECT_EQ(CountParameters(*net), nas::FbnetCost(arch, nas::FbnetDataset::kCifar100).params);
  }
  auto net = modules::MakeFbnetNetwork(help0, nas::FbnetDataset::kCifar100);
  EXPECT_EQ(Eval(net, torch::rand({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 100}));
  auto imagenet = modules::MakeFbnetNetwork(zeros, nas::FbnetDataset::kImageNet);
  EXPECT_EQ(CountParameters(*imagenet), nas::FbnetCost(zeros, nas::FbnetDataset::kImageNet).params);
  EXPECT_EQ(Eval(imagenet, torch::rand({1, 3, 224, 224})).sizes(), (std::vector<int64_t>{1, 1000}));
}

NetworkSpec Nb201Spec(int index, uint64_t seed) {
  NetworkSpec spec;
  spec.arch.space = Space::kNb201;
  spec.arch.nb201_index = index;
  spec.arch.nb201_ops = *nas::Nb201OpsOf(index);
  spec.seed = seed;
  return spec;
}

TEST(NetworkTest, BuildsAndRunsOnCpu) {
  auto net = Network::Build(Nb201Spec(0, 0));
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  EXPECT_EQ((*net)->InputShape(), (std::vector<int64_t>{1, 3, 32, 32}));
  EXPECT_TRUE((*net)->OutputShape().empty());
  ASSERT_TRUE((*net)->Run().ok());
  EXPECT_EQ((*net)->OutputShape(), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ((*net)->NumParameters(), 129306);
  EXPECT_EQ((*net)->device(), "cpu");

  NetworkSpec fb;
  fb.arch.space = Space::kFbnet;
  fb.arch.fbnet.fill(2);
  fb.batch = 2;
  auto fbnet = Network::Build(fb);
  ASSERT_TRUE(fbnet.ok()) << fbnet.status().ToString();
  ASSERT_TRUE((*fbnet)->Run().ok());
  EXPECT_EQ((*fbnet)->OutputShape(), (std::vector<int64_t>{2, 100}));
}

TEST(NetworkTest, SeedFixesWeightsAndInput) {
  auto run = [](uint64_t seed) {
    auto net = Network::Build(Nb201Spec(1462, seed));
    EXPECT_TRUE(net.ok());
    EXPECT_TRUE((*net)->Run().ok());
    return (*net)->OutputSum();
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

TEST(NetworkTest, BadDeviceAndBatch) {
  NetworkSpec spec = Nb201Spec(0, 0);
  spec.batch = 0;
  EXPECT_EQ(Network::Build(spec).status().code(), StatusCode::kInvalidArgument);
  spec = Nb201Spec(0, 0);
  spec.device = "cuda:7";
  if (!GetTorchRuntime().cuda_available || GetTorchRuntime().cuda_device_count <= 7) {
    EXPECT_EQ(Network::Build(spec).status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_TRUE(CheckTorchDevice("cpu").ok());
}

TEST(NetworkTest, ThreadsAreConfigurable) {
  ASSERT_TRUE(ConfigureTorchThreads(1, 1).ok());
  EXPECT_EQ(GetTorchRuntime().intra_op_threads, 1);
  // With OpenBLAS as the BLAS its pool follows (otherwise a "1-thread" run used 2 CPUs).
  if (!GetTorchRuntime().blas.empty()) EXPECT_EQ(GetTorchRuntime().blas_threads, 1);
  ASSERT_TRUE(ConfigureTorchThreads(0, 1).ok());  // all allowed CPUs
  EXPECT_GE(GetTorchRuntime().intra_op_threads, 1);
  EXPECT_FALSE(GetTorchRuntime().version.empty());
  EXPECT_EQ(ConfigureTorchThreads(-1, 1).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::latency
