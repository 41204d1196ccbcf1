// /metrics of a real coordinator and a real worker: valid for promtool, and scraped by a real
// Prometheus process (everything on loopback, bounded in time).
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

std::string HttpGet(const std::string& host_port, const std::string& path) {
  auto colon = host_port.rfind(':');
  httplib::Client client(host_port.substr(0, colon), std::stoi(host_port.substr(colon + 1)));
  client.set_read_timeout(10, 0);
  auto res = client.Get(path.c_str());
  return res && res->status == 200 ? res->body : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// Runs a small sweep so that every metric family has samples.
void RunSomeJobs(Cluster& c) {
  std::string file = c.dir().File("sweep.yaml");
  std::ofstream(file) << "name: m\nkind: noop\nparams: {duration_ms: 5}\naxes: {seq: [1, 2, 3, 4]}\n";
  std::string out;
  ASSERT_EQ(c.Cli({"submit", file, "--wait", "--quiet"}, &out), 0) << out;
}

std::string WorkerMetricsAddress(Cluster& c, size_t worker) {
  std::string address;
  WaitFor([&] {
    std::smatch m;
    std::string log = ReadFile(c.dir().File("worker-" + std::to_string(worker) + ".log"));
    if (std::regex_search(log, m, std::regex("metrics on http://([0-9.:]+)/metrics"))) address = m[1];
    return !address.empty();
  }, 20s);
  return address;
}

TEST(MetricsTest, PromtoolAcceptsServerAndWorkerMetrics) {
  Cluster c;
  c.StartServer();
  c.StartWorker({"--metrics-listen", "127.0.0.1:0"});
  RunSomeJobs(c);
  std::string worker_address = WorkerMetricsAddress(c, 0);
  ASSERT_FALSE(worker_address.empty());

  std::string server_text = HttpGet(c.http_address(), "/metrics");
  std::string worker_text = HttpGet(worker_address, "/metrics");
  for (const char* name : {"qlab_jobs{", "qlab_queue_depth", "qlab_lease_expiries_total",
                           "qlab_job_retries_total", "qlab_job_duration_seconds_bucket",
                           "qlab_workers_live{", "qlab_sqlite_write_seconds_bucket",
                           "qlab_rpc_requests_total{", "qlab_rpc_duration_seconds_bucket"}) {
    EXPECT_NE(server_text.find(name), std::string::npos) << name;
  }
  EXPECT_NE(server_text.find("qlab_jobs{kind=\"noop\",state=\"SUCCEEDED\"} 4"), std::string::npos)
      << server_text;
  // Every state of every kind is there, zeros included: alert rules need no absent().
  for (const char* kind : {"noop", "quantize", "kernel_bench", "latency", "accuracy", "predictor"}) {
    for (const char* state : {"PENDING", "LEASED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}) {
      const std::string series = std::string("qlab_jobs{kind=\"") + kind + "\",state=\"" + state + "\"} ";
      EXPECT_NE(server_text.find(series), std::string::npos) << series;
    }
  }
  EXPECT_NE(server_text.find("qlab_jobs{kind=\"latency\",state=\"FAILED\"} 0"), std::string::npos);
  EXPECT_NE(worker_text.find("qlab_worker_jobs_total{kind=\"noop\",outcome=\"succeeded\"} 4"),
            std::string::npos) << worker_text;

  for (const auto& [name, text] : {std::pair{"server", server_text}, std::pair{"worker", worker_text}}) {
    std::string path = c.dir().File(std::string(name) + ".prom");
    std::ofstream(path) << text;
    std::string out;
    EXPECT_EQ(RunCommand({"/bin/sh", "-c", "promtool check metrics < " + path}, &out), 0)
        << name << ": " << out;
  }

  // Every series the Grafana dashboard plots exists in one of the two outputs.
  auto dashboard = nlohmann::json::parse(ReadFile(QLAB_SOURCE_DIR "/deploy/grafana/qlab-dashboard.json"));
  std::regex metric_name("qlab_[a-z_]+");
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      std::string expr = target["expr"];
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric_name), end; it != end; ++it) {
        std::string series = it->str();
        EXPECT_TRUE(server_text.find(series) != std::string::npos ||
                    worker_text.find(series) != std::string::npos)
            << series << " in panel " << panel["title"];
      }
    }
  }
}

TEST(MetricsTest, RealPrometheusScrapesTheServer) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  RunSomeJobs(c);
  std::string config = c.dir().File("prometheus.yml");
  std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        << "  - job_name: qlab\n    static_configs:\n      - targets: ['"
                        << c.http_address() << "']\n";
  const int port = FreePort();
  Process prometheus({"/usr/bin/prometheus", "--config.file=" + config,
                      "--storage.tsdb.path=" + c.dir().File("tsdb"),
                      "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                     c.dir().File("prometheus.log"));
  std::string prom = "127.0.0.1:" + std::to_string(port);
  std::string body;
  bool scraped = WaitFor([&] {
    body = HttpGet(prom, "/api/v1/query?query=qlab_jobs%7Bstate%3D%22SUCCEEDED%22%7D");
    return body.find("\"noop\"") != std::string::npos;
  }, 60s);
  EXPECT_TRUE(scraped) << body << "\n" << ReadFile(c.dir().File("prometheus.log")).substr(0, 3000);
  auto up = nlohmann::json::parse(HttpGet(prom, "/api/v1/query?query=up"), nullptr, false);
  ASSERT_FALSE(up.is_discarded());
  EXPECT_EQ(up["data"]["result"][0]["value"][1], "1");
}

}  // namespace
}  // namespace qlab::testing
