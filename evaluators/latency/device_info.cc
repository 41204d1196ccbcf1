// Host facts from /proc and /sys. Each read is best-effort: a missing file is a missing fact,
// not an error, because containers and VMs hide different parts of /sys.
#include "evaluators/latency/device_info.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace qlab::latency {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in && std::getline(in, line)) return Trim(line);
  return "";
}

// Value of the first "key : value" line in `path` whose key equals `key`.
std::string ReadKeyValue(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (in && std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (Trim(line.substr(0, colon)) == key) return Trim(line.substr(colon + 1));
  }
  return "";
}

}  // namespace

HostInfo ReadHostInfo() {
  HostInfo info;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) info.hostname = host;
  info.cpu_model = ReadKeyValue("/proc/cpuinfo", "model name");
  if (info.cpu_model.empty()) info.cpu_model = "unknown";
  const std::string mhz = ReadKeyValue("/proc/cpuinfo", "cpu MHz");
  if (!mhz.empty()) info.cpu_mhz = std::atof(mhz.c_str());
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  info.logical_cpus = n > 0 ? static_cast<int>(n) : 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) info.allowed_cpus = CPU_COUNT(&set);
  info.governor = ReadFirstLine("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  struct utsname u;
  if (uname(&u) == 0) info.kernel = u.release;
  return info;
}

std::string ReadNvidiaGpuModel(int ordinal) {
  std::error_code ec;
  const std::filesystem::path root("/proc/driver/nvidia/gpus");
  if (!std::filesystem::is_directory(root, ec)) return "";
  std::vector<std::string> buses;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    buses.push_back(entry.path().filename().string());
  }
  std::sort(buses.begin(), buses.end());  // CUDA's default order is by PCI bus id
  if (ordinal < 0 || ordinal >= static_cast<int>(buses.size())) return "";
  return ReadKeyValue((root / buses[ordinal] / "information").string(), "Model");
}

NvidiaGpuState ReadNvidiaGpuState(int ordinal) {
  NvidiaGpuState state;
  if (ordinal < 0) return state;
  const std::string command =
      "timeout 5 nvidia-smi -i " + std::to_string(ordinal) +
      " --query-gpu=driver_version,clocks.sm,clocks.mem,clocks.max.sm --format=csv,noheader,nounits"
      " 2>/dev/null";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return state;
  char line[512] = {};
  const bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  ::pclose(pipe);
  if (!got) return state;
  std::vector<std::string> fields;
  std::stringstream parts(line);
  for (std::string field; std::getline(parts, field, ',');) {
    const auto first = field.find_first_not_of(" \t\n");
    const auto last = field.find_last_not_of(" \t\n");
    fields.push_back(first == std::string::npos ? "" : field.substr(first, last - first + 1));
  }
  if (fields.size() != 4) return state;
  state.driver = fields[0];
  state.sm_clock_mhz = std::atoi(fields[1].c_str());
  state.mem_clock_mhz = std::atoi(fields[2].c_str());
  state.max_sm_clock_mhz = std::atoi(fields[3].c_str());
  return state;
}

nlohmann::json ToJson(const HostInfo& info) {
  nlohmann::json j = {{"hostname", info.hostname},
                      {"cpu_model", info.cpu_model},
                      {"logical_cpus", info.logical_cpus},
                      {"allowed_cpus", info.allowed_cpus},
                      {"kernel", info.kernel}};
  j["governor"] = info.governor.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.governor);
  j["cpu_mhz"] = info.cpu_mhz > 0 ? nlohmann::json(info.cpu_mhz) : nlohmann::json(nullptr);
  return j;
}

HostLoadMeter::Ticks HostLoadMeter::Now() {
  Ticks t;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu") {
    return t;
  }
  t.busy = user + nice + system + irq + softirq;
  t.steal = steal;
  // /proc/self/stat: fields 14 and 15 are utime and stime (all threads); the command name
  // (field 2) may contain spaces, so count fields after its closing parenthesis.
  std::ifstream self("/proc/self/stat");
  std::string line;
  if (!std::getline(self, line)) return t;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return t;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  t.self = utime + stime;
  t.ok = true;
  return t;
}

HostLoadMeter::HostLoadMeter() : start_(Now()) {
  start_s_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

HostLoadMeter::Reading HostLoadMeter::Read() const {
  Reading r;
  const Ticks end = Now();
  r.interval_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count() -
      start_s_;
  if (!start_.ok || !end.ok || r.interval_s <= 0) return r;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  const long long other = std::max(0LL, (end.busy - start_.busy) - (end.self - start_.self));
  r.other_busy_cpus = static_cast<double>(other) / hz / r.interval_s;
  r.steal_cpus = static_cast<double>(end.steal - start_.steal) / hz / r.interval_s;
  r.valid = true;
  return r;
}

std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

ScopedCpuPin::ScopedCpuPin(const std::vector<int>& cpus) {
  if (cpus.empty()) return;
  previous_ = AllowedCpus();
  if (previous_.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  applied_ = sched_setaffinity(0, sizeof(set), &set) == 0;
}

ScopedCpuPin::~ScopedCpuPin() {
  if (!applied_) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : previous_) CPU_SET(c, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

std::string UtcTimestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace qlab::latency
