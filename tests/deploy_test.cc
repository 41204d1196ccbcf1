// The deployment files: the compose file validates, the Kubernetes manifests parse and point at
// the right images, ports, volumes and GPU resources, the Slurm script is sound shell.
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

const std::string kRoot = QLAB_SOURCE_DIR;

TEST(DeployTest, ComposeFileValidates) {
  std::string out;
  if (access("/usr/bin/docker-compose", X_OK) != 0) GTEST_SKIP() << "docker-compose is not installed";
  EXPECT_EQ(RunCommand({"/usr/bin/docker-compose", "-f", kRoot + "/docker-compose.yml", "config", "-q"}, &out), 0)
      << out;
  YAML::Node compose = YAML::LoadFile(kRoot + "/docker-compose.yml");
  EXPECT_EQ(compose["services"]["qlab-server"]["ports"][0].as<std::string>(), "7070:7070");
  EXPECT_EQ(compose["services"]["qlab-server"]["volumes"][0].as<std::string>(), "qlab-data:/var/lib/qlab");
  EXPECT_EQ(compose["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"]
                .as<std::string>(), "nvidia");
  EXPECT_TRUE(compose["services"]["prometheus"]);
}

std::vector<YAML::Node> LoadAll(const std::string& path) { return YAML::LoadAllFromFile(path); }

TEST(DeployTest, KubernetesManifestsReferenceImagesPortsAndVolumes) {
  auto coordinator = LoadAll(kRoot + "/deploy/k8s/coordinator.yaml");
  ASSERT_EQ(coordinator.size(), 2u);
  const YAML::Node& sts = coordinator[0];
  EXPECT_EQ(sts["kind"].as<std::string>(), "StatefulSet");
  EXPECT_EQ(sts["spec"]["replicas"].as<int>(), 1);
  const YAML::Node& container = sts["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["image"].as<std::string>(), "qlab/server:latest");
  EXPECT_EQ(container["ports"][0]["containerPort"].as<int>(), 7070);
  EXPECT_EQ(container["ports"][1]["containerPort"].as<int>(), 7080);
  EXPECT_EQ(container["volumeMounts"][0]["name"].as<std::string>(),
            sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as<std::string>());
  const YAML::Node& svc = coordinator[1];
  EXPECT_EQ(svc["kind"].as<std::string>(), "Service");
  EXPECT_EQ(svc["spec"]["selector"]["app"].as<std::string>(),
            sts["spec"]["template"]["metadata"]["labels"]["app"].as<std::string>());

  auto workers = LoadAll(kRoot + "/deploy/k8s/workers.yaml");
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0]["kind"].as<std::string>(), "DaemonSet");
  const YAML::Node& gpu = workers[0]["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(gpu["image"].as<std::string>(), "qlab/worker:latest");
  EXPECT_EQ(gpu["resources"]["limits"]["nvidia.com/gpu"].as<int>(), 1);
  bool points_at_service = false;
  for (const auto& env : gpu["env"]) {
    if (env["name"].as<std::string>() == "QLAB_COORDINATOR") {
      points_at_service = env["value"].as<std::string>() ==
                          svc["metadata"]["name"].as<std::string>() + ":7070";
    }
  }
  EXPECT_TRUE(points_at_service);
  EXPECT_EQ(workers[1]["kind"].as<std::string>(), "Deployment");
  // Every worker confines its jobs' files to data roots (the image's shipped models at least).
  for (const auto& worker : workers) {
    std::string roots;
    for (const auto& env : worker["spec"]["template"]["spec"]["containers"][0]["env"]) {
      if (env["name"].as<std::string>() == "QLAB_DATA_ROOTS") roots = env["value"].as<std::string>();
    }
    EXPECT_EQ(roots, "/usr/share/qlab/models");
  }
}

TEST(DeployTest, ComposeWorkersHaveDataRoots) {
  YAML::Node compose = YAML::LoadFile(kRoot + "/docker-compose.yml");
  for (const char* worker : {"cpu-worker", "gpu-worker"}) {
    EXPECT_EQ(compose["services"][worker]["environment"]["QLAB_DATA_ROOTS"].as<std::string>(""),
              "/usr/share/qlab/models") << worker;
  }
}

// The coordinator listens beyond loopback in every deployment, so each carries tokens from
// secrets: the server its auth file, the workers and Prometheus their tokens.
TEST(DeployTest, EveryDeploymentCarriesTokensFromSecrets) {
  YAML::Node compose = YAML::LoadFile(kRoot + "/docker-compose.yml");
  const YAML::Node& services = compose["services"];
  EXPECT_EQ(services["qlab-server"]["environment"]["QLAB_AUTH_FILE"].as<std::string>(""), "/run/secrets/qlab-auth");
  EXPECT_EQ(services["qlab-server"]["secrets"][0].as<std::string>(""), "qlab-auth");
  for (const char* worker : {"cpu-worker", "gpu-worker"}) {
    EXPECT_EQ(services[worker]["command"][1].as<std::string>(""), "/run/secrets/qlab-worker-token") << worker;
    EXPECT_EQ(services[worker]["secrets"][0].as<std::string>(""), "qlab-worker-token") << worker;
  }
  EXPECT_EQ(compose["secrets"]["qlab-auth"]["file"].as<std::string>(""), "./deploy/secrets/auth");
  YAML::Node prometheus = YAML::LoadFile(kRoot + "/deploy/prometheus.yml");
  EXPECT_EQ(prometheus["scrape_configs"][0]["authorization"]["credentials_file"].as<std::string>(""),
            "/run/secrets/qlab-prometheus-token");

  auto coordinator = LoadAll(kRoot + "/deploy/k8s/coordinator.yaml");
  std::string auth_file;
  for (const auto& env : coordinator[0]["spec"]["template"]["spec"]["containers"][0]["env"]) {
    if (env["name"].as<std::string>() == "QLAB_AUTH_FILE") auth_file = env["value"].as<std::string>();
  }
  EXPECT_EQ(auth_file, "/etc/qlab/auth/auth");
  EXPECT_EQ(coordinator[0]["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"].as<std::string>(""),
            "qlab-auth");
  for (const auto& worker : LoadAll(kRoot + "/deploy/k8s/workers.yaml")) {
    std::string secret;
    for (const auto& env : worker["spec"]["template"]["spec"]["containers"][0]["env"]) {
      if (env["name"].as<std::string>() == "QLAB_TOKEN") {
        secret = env["valueFrom"]["secretKeyRef"]["name"].as<std::string>();
      }
    }
    EXPECT_EQ(secret, "qlab-worker-token");
  }
  std::string out;
  EXPECT_EQ(RunCommand({"/bin/bash", "-n", kRoot + "/deploy/make-secrets.sh"}, &out), 0) << out;
}

TEST(DeployTest, SlurmScriptIsValidShellAndNeedsTheCoordinator) {
  std::string out;
  EXPECT_EQ(RunCommand({"/bin/bash", "-n", kRoot + "/deploy/slurm/qlab-workers.sbatch"}, &out), 0) << out;
  EXPECT_NE(RunCommand({"/usr/bin/env", "-u", "QLAB_COORDINATOR", "/bin/bash",
                        kRoot + "/deploy/slurm/qlab-workers.sbatch"}, &out), 0);
  EXPECT_NE(out.find("QLAB_COORDINATOR"), std::string::npos) << out;
}

}  // namespace
}  // namespace qlab::testing
