// The `qlab` commands, one function each; main.cc parses the flags and calls one. Each returns
// the process's exit code (cli/client.h) and prints what the user asked for on stdout and
// errors on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/client.h"

namespace qlab::cli {

// submit_command.cc
// An existing experiment's name resubmits: only the jobs it lacks run (`force`: all again).
int CmdSubmit(Client& c, const std::string& file, const std::string& name, bool wait,
              bool dry_run, bool quiet, bool force);

// study_command.cc. FillStudyGenes lists the tensors (or layers) of params.model for each
// search.space entry with per: tensor|layer and no genes, so the server never opens a model;
// a relative model path not found from here is looked for from `sweep_file`'s folder upwards.
Status FillStudyGenes(nlohmann::ordered_json& sweep, const std::string& sweep_file);
int WaitForStudy(Client& c, const std::string& name, bool quiet);
int CmdStudy(Client& c, const std::string& name, bool as_json);

// results_commands.cc. A `join` or `on` that is not empty pairs the rows with experiment
// `join`'s (join_commands.cc).
int CmdResults(Client& c, const std::string& experiment, const std::string& filter, bool as_json,
               bool as_csv, const std::string& sort_by, const std::vector<std::string>& only_metrics,
               const std::string& join = "", const std::vector<std::string>& on = {},
               const std::string& keys = "");
int CmdPareto(Client& c, const std::string& experiment, const std::string& filter,
              const std::string& x, const std::string& y, const std::string& x_dir,
              const std::string& y_dir, bool as_json, bool all_points,
              const std::string& join = "", const std::vector<std::string>& on = {},
              const std::string& keys = "", bool include_fallbacks = false);
// The environment groups and fallback exclusions of a Pareto answer, on stderr.
void PrintKeyGroups(const v1::ParetoResponse& resp);

// join_commands.cc
int CmdResultsJoined(Client& c, const std::string& experiment, const std::string& join,
                     const std::vector<std::string>& on, const std::string& filter, bool as_json,
                     const std::string& sort_by, const std::vector<std::string>& only_metrics,
                     const std::string& keys);
int PrintJoinedPareto(const std::string& experiment, const std::string& join,
                      const std::vector<std::string>& on, const std::string& x,
                      const std::string& y, const v1::ParetoResponse& resp, bool as_json,
                      bool all_points);
std::string JoinKeysText(const std::vector<std::string>& on);  // "a,b"

// job_commands.cc
int CmdJobs(Client& c, const std::string& experiment, const std::string& state,
            const std::string& kind, int limit, const std::string& page_token);
int CmdShow(Client& c, int64_t id, bool as_json);
int CmdWatch(Client& c, int64_t id);
// Prints what attempt `attempt` (1-based; 0 = the latest) of a job printed; with `follow`,
// keeps printing as it runs (and, for the latest, through retries) until the job ends.
int CmdLogs(Client& c, int64_t id, int attempt, bool follow);
int CmdCancel(Client& c, int64_t id, const std::string& experiment);
// Lists a job's artifacts, or writes one (`name`) to `output` ("" or "-": stdout).
int CmdArtifacts(Client& c, int64_t job_id, const std::string& name, const std::string& output);
// With `formats`, each device's capability matrix (datatype: native / emulated) instead.
int CmdWorkers(Client& c, bool formats);
// Drains a worker (admin): it finishes its jobs and takes no more; `undo` puts it back to work.
int CmdDrainWorker(Client& c, const std::string& worker_id, bool undo);
int CmdExperiments(Client& c);

// compare_command.cc: the regression view of experiments A and B (ResultService.Compare).
int CmdCompare(Client& c, const std::string& a, const std::string& b, double threshold_sigma,
               bool all, bool as_json);

// data_commands.cc
int CmdDatasetExport(Client& c, const std::string& space, const std::string& device, int batch,
                     const std::string& experiment, const std::string& format, bool samples);
int CmdNasArch(const std::string& space, int64_t index, const std::string& arch, bool index_set);

}  // namespace qlab::cli
