// qlab: the command-line client. Talks to qlab-server over gRPC only (it never opens the
// database) and links neither LibTorch nor CUDA, so it starts instantly. Exit codes: see
// cli/client.h.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/credentials.h"

int main(int argc, char** argv) {
  using namespace qlab::cli;
  CLI::App app{"qlab: submit and inspect low-bit datatype and hardware-aware NN experiments"};
  app.require_subcommand(1);
  ClientOptions client_options;
  app.add_option("--server", client_options.server, "coordinator gRPC address HOST:PORT")
      ->envname("QLAB_SERVER")->capture_default_str();
  std::string token_file;
  app.add_option("--token-file", token_file, "file holding the bearer token (default: env QLAB_TOKEN)");
  app.add_option("--tls-ca", client_options.tls_ca, "PEM CA certificate: talk TLS to the server")
      ->envname("QLAB_TLS_CA");

  std::string file, name, experiment, state, kind, sort_by, filter, x, y, x_dir = "auto", y_dir = "auto",
                                                                   page_token, space = "nb201", arch;
  bool wait = false, dry_run = false, quiet = false, as_json = false, as_csv = false, all = false;
  int limit = 50;
  int64_t job_id = 0, index = 0;

  auto* submit = app.add_subcommand("submit", "submit a sweep file (YAML or JSON)");
  submit->add_option("file", file, "sweep file")->required();
  submit->add_option("--name", name, "experiment name (overrides the file's)");
  submit->add_flag("--wait", wait, "wait until every job finished; exit 0 if all succeeded, 1 otherwise");
  submit->add_flag("--dry-run", dry_run, "validate and count the jobs; store nothing");
  submit->add_flag("--quiet", quiet, "no progress lines while waiting");
  bool force = false;
  submit->add_flag("--force", force,
                   "resubmitting an existing experiment: run every job again, not only those "
                   "without a result");

  auto* jobs = app.add_subcommand("jobs", "list jobs, newest first");
  jobs->add_option("--experiment", experiment);
  jobs->add_option("--state", state, "pending|leased|running|succeeded|failed|cancelled");
  jobs->add_option("--kind", kind);
  jobs->add_option("--limit", limit, "rows per page (1..1000)")->check(CLI::Range(1, 1000));
  jobs->add_option("--page-token", page_token);

  auto* show = app.add_subcommand("show", "one job with its attempts and metrics");
  show->add_option("job_id", job_id)->required();
  show->add_flag("--json", as_json);

  auto* watch = app.add_subcommand("watch", "follow a job until it finishes");
  watch->add_option("job_id", job_id)->required();

  int attempt = 0;
  bool follow = false;
  auto* logs = app.add_subcommand("logs", "what a job's evaluator printed (the last 1 MiB per attempt)");
  logs->add_option("job_id", job_id)->required();
  logs->add_option("--attempt", attempt, "1-based; default: the latest")
      ->check(CLI::Range(1, 1'000'000));
  logs->add_flag("-f,--follow", follow, "keep printing until the job ends");

  auto* cancel = app.add_subcommand("cancel", "cancel a job or a whole experiment");
  cancel->add_option("job_id", job_id);
  cancel->add_option("--experiment", experiment);

  auto* results = app.add_subcommand("results", "results of an experiment");
  results->add_option("--experiment", experiment)->required();
  auto* fmt = results->add_option_group("format");
  fmt->add_flag("--json", as_json, "JSON array, one object per job");
  fmt->add_flag("--csv", as_csv, "CSV with params.* and metrics.* columns");
  fmt->require_option(0, 1);
  results->add_option("--sort", sort_by, "sort rows by this metric, ascending");
  std::vector<std::string> only_metrics;
  results->add_option("--metrics", only_metrics, "table columns: these metrics only, in this order")
      ->delimiter(',');
  results->add_option("--filter", filter,
                      "only jobs matching, e.g. \"datatype in (e2m1, nf4) and mse < 0.01\"");
  // Joins (DESIGN §10): the same two flags on results and pareto.
  std::string join;
  std::vector<std::string> on;
  auto add_join = [&](CLI::App* cmd) {
    cmd->add_option("--join", join,
                    "pair each row with the rows of this experiment whose --on params are equal");
    cmd->add_option("--on", on, "params the join compares, e.g. datatype,group_size")
        ->delimiter(',');
  };
  add_join(results);
  std::string keys;
  bool include_fallbacks = false;
  results->add_option("--keys", keys,
                      "a join whose side mixes environments: group (tag pairs with their keys) "
                      "or mix; refused otherwise");

  auto* pareto = app.add_subcommand("pareto", "Pareto frontier over two metrics of an experiment");
  pareto->add_option("--experiment", experiment)->required();
  pareto->add_option("--x", x, "x metric")->default_val("bits_per_weight");
  pareto->add_option("--y", y, "y metric")->default_val("mse");
  pareto->add_option("--x-dir", x_dir, "min|max|auto (auto: the metric's own direction)");
  pareto->add_option("--y-dir", y_dir, "min|max|auto");
  pareto->add_flag("--all", all, "also print dominated points");
  pareto->add_option("--filter", filter, "only jobs matching, e.g. \"distribution = student_t\"");
  pareto->add_flag("--json", as_json);
  add_join(pareto);
  pareto->add_option("--keys", keys,
                     "points from several environments: group (one front each; the default) or "
                     "mix (one front, with a warning)");
  pareto->add_flag("--include-fallbacks", include_fallbacks,
                   "keep points a fallback kernel produced (left out by default)");

  auto* compare = app.add_subcommand(
      "compare", "regressions: metrics of jobs with equal params that moved beyond their noise "
                 "between two experiments, and what differs in their environments");
  std::string compare_a, compare_b;
  double threshold_sigma = 3;
  compare->add_option("a", compare_a, "the baseline experiment")->required();
  compare->add_option("b", compare_b, "the experiment compared with it")->required();
  compare->add_option("--threshold", threshold_sigma, "sigmas a move must exceed")
      ->capture_default_str();
  compare->add_flag("--all", all, "also list metrics within their noise");
  compare->add_flag("--json", as_json);

  auto* artifacts = app.add_subcommand(
      "artifacts", "files a job stored (a predictor's predictor.json): list, or --get one");
  std::string artifact_name, artifact_output;
  artifacts->add_option("job_id", job_id)->required();
  artifacts->add_option("--get", artifact_name, "write this artifact's bytes");
  artifacts->add_option("-o,--output", artifact_output, "to this file (default: stdout)");

  auto* workers = app.add_subcommand("workers", "workers, their devices and running jobs");
  bool formats = false;
  workers->add_flag("--formats", formats,
                    "each device's capability matrix: which datatypes run native or emulated");
  std::string drain_worker;
  bool undrain = false;
  auto* drain = workers->add_subcommand(
      "drain", "let a worker finish its running jobs and give it no more (admin)");
  drain->add_option("worker", drain_worker, "worker id as `qlab workers` lists it")->required();
  drain->add_flag("--undo", undrain, "put the worker back to work");
  app.add_subcommand("experiments", "experiments with job counts");
  auto* study = app.add_subcommand("study", "a study's progress, front and hypervolume");
  study->add_option("name", experiment, "the study (its experiment name)")->required();
  study->add_flag("--json", as_json, "the whole report as JSON (every trial)");

  auto* dataset = app.add_subcommand("dataset", "latency datasets");
  auto* dataset_export = dataset->add_subcommand(
      "export", "one row per measured architecture: index, string, device, batch, median, p10, "
                "p90, CV, n");
  std::string export_space = "nb201", export_device, format = "csv";
  int export_batch = 0;
  bool export_samples = false;
  dataset_export->add_option("--space", export_space, "nb201|fbnet")->capture_default_str();
  dataset_export->add_option("--device", export_device,
                             "device as stored, a glob (\"cuda:*H100*\") or a class (cpu, cuda)");
  dataset_export->add_option("--batch", export_batch, "only this batch size (0: all)");
  dataset_export->add_option("--experiment", experiment, "only this experiment");
  dataset_export->add_option("--format", format, "csv|json")->capture_default_str();
  dataset_export->add_flag("--samples", export_samples, "include the raw samples");
  dataset->require_subcommand(1);

  auto* nas = app.add_subcommand("nas", "NAS search-space tools (no server needed)");
  auto* nas_arch = nas->add_subcommand("arch", "NB201 index <-> architecture string");
  nas_arch->add_option("--space", space)->capture_default_str();
  auto* index_opt = nas_arch->add_option("--index", index, "benchmark index 0..15624");
  nas_arch->add_option("--arch", arch, "architecture string |op~0|+|op~0|op~1|+|...|");
  nas->require_subcommand(1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (nas->parsed()) return CmdNasArch(space, index, arch, index_opt->count() > 0);
  for (auto& k : on) {  // "--on 'datatype, group_size'" means the same as without the space
    k.erase(0, k.find_first_not_of(" \t"));
    k.erase(k.find_last_not_of(" \t") + 1);
  }

  auto token = qlab::ReadBearerToken(token_file);
  if (!token.ok()) return Fail(token.status(), "");
  client_options.token = *token;
  auto connected = Client::Connect(client_options);
  if (!connected.ok()) return Fail(connected.status(), "");
  Client& client = **connected;
  if (submit->parsed()) return CmdSubmit(client, file, name, wait, dry_run, quiet, force);
  if (jobs->parsed()) return CmdJobs(client, experiment, state, kind, limit, page_token);
  if (show->parsed()) return CmdShow(client, job_id, as_json);
  if (watch->parsed()) return CmdWatch(client, job_id);
  if (logs->parsed()) return CmdLogs(client, job_id, attempt, follow);
  if (cancel->parsed()) {
    if ((job_id > 0) == !experiment.empty()) {
      std::fprintf(stderr, "qlab cancel: give a job id or --experiment NAME, not both\n");
      return 2;
    }
    return CmdCancel(client, job_id, experiment);
  }
  if (results->parsed()) {
    return CmdResults(client, experiment, filter, as_json, as_csv, sort_by, only_metrics, join, on,
                      keys);
  }
  if (study->parsed()) return CmdStudy(client, experiment, as_json);
  if (pareto->parsed()) {
    return CmdPareto(client, experiment, filter, x, y, x_dir, y_dir, as_json, all, join, on, keys,
                     include_fallbacks);
  }
  if (compare->parsed()) return CmdCompare(client, compare_a, compare_b, threshold_sigma, all, as_json);
  if (drain->parsed()) return CmdDrainWorker(client, drain_worker, undrain);
  if (workers->parsed()) return CmdWorkers(client, formats);
  if (artifacts->parsed()) return CmdArtifacts(client, job_id, artifact_name, artifact_output);
  if (dataset_export->parsed()) {
    return CmdDatasetExport(client, export_space, export_device, export_batch, experiment, format,
                            export_samples);
  }
  if (app.got_subcommand("experiments")) return CmdExperiments(client);
  return 2;
}
