// ResultService: results of finished jobs, joins of two experiments' results, Pareto fronts
// and latency datasets.
#include <string>

#include "evaluators/latency/nb201.h"
#include "proto/convert.h"
#include "server/grpc_common.h"
#include "server/grpc_services.h"
#include "server/results_export.h"
#include "server/join_query.h"
#include "server/compare_query.h"
#include "server/pareto_query.h"

namespace qlab::server {
namespace {

std::vector<std::string> JoinKeys(const google::protobuf::RepeatedPtrField<std::string>& on) {
  // Past the bound the list is refused anyway: copying a hostile request's million keys first
  // would only cost memory.
  std::vector<std::string> out;
  for (int i = 0; i < on.size() && out.size() <= kMaxJoinKeys; ++i) out.push_back(on[i]);
  return out;
}

void UnmatchedToProto(const UnmatchedRow& r, v1::UnmatchedRow* out) {
  out->set_job_id(r.job_id);
  out->set_state(static_cast<v1::JobState>(r.state));
  out->set_on_json(r.on_json);
}

grpc::Status JoinedResults(storage::JobStore& store, const v1::QueryResultsRequest& req,
                           v1::QueryResultsResponse* resp) {
  if (!req.page_token().empty() || req.page_size() != 0) {
    return ToGrpcStatus(Status::InvalidArgument(
        "page_size, page_token: a join is answered whole in one response; leave them unset"));
  }
  auto join = RunJoinQuery(store, {req.experiment(), req.join(), JoinKeys(req.on()), req.filter(),
                                   /*succeeded_only=*/false, req.keys()});
  if (!join.ok()) return ToGrpcStatus(join.status());
  for (const auto& r : join->rows) {
    auto* p = resp->add_joined_rows();
    p->set_on_json(r.on_json);
    p->set_job_id_a(r.job_id_a);
    p->set_job_id_b(r.job_id_b);
    p->set_state_a(static_cast<v1::JobState>(r.state_a));
    p->set_state_b(static_cast<v1::JobState>(r.state_b));
    for (const auto& m : r.metrics) MetricToProto(m, p->add_metrics());
    p->set_environment_key_a(r.environment_key_a);
    p->set_environment_key_b(r.environment_key_b);
  }
  for (const auto& r : join->unmatched_a) UnmatchedToProto(r, resp->add_unmatched_a());
  for (const auto& r : join->unmatched_b) UnmatchedToProto(r, resp->add_unmatched_b());
  for (const auto& n : join->metric_names) resp->add_joined_metric_names(n);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ResultServiceImpl::QueryResults(grpc::ServerContext* ctx,
                                             const v1::QueryResultsRequest* req,
                                             v1::QueryResultsResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "QueryResults");
  if (req->experiment().empty()) {
    return ToGrpcStatus(Status::InvalidArgument("experiment is required"));
  }
  if (!req->join().empty() || req->on_size() > 0) return JoinedResults(*store_, *req, resp);
  auto e = store_->GetExperiment(req->experiment(), 0);
  if (!e.ok()) return ToGrpcStatus(e.status());
  int page_size = req->page_size() == 0 ? 10000 : req->page_size();
  if (page_size < 1 || page_size > 100000) {
    return ToGrpcStatus(Status::InvalidArgument("page_size must be in [1, 100000]"));
  }
  auto after = ParsePageToken(req->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  auto rows = store_->QueryResults(e->id, *after, page_size + 1, req->filter());
  if (!rows.ok()) return ToGrpcStatus(rows.status());
  for (int i = 0; i < static_cast<int>(rows->size()) && i < page_size; ++i) {
    const auto& r = (*rows)[i];
    auto* p = resp->add_rows();
    p->set_job_id(r.job_id);
    p->set_experiment(r.experiment);
    p->set_kind(r.kind);
    p->set_state(static_cast<v1::JobState>(r.state));
    p->set_params_json(r.params_json);
    p->set_last_error(r.last_error);
    for (const auto& m : r.metrics) MetricToProto(m, p->add_metrics());
    p->set_comparability_key(r.comparability_key);
    p->set_environment_key(r.environment_key);
    p->set_backend(r.backend);
    p->set_flag(r.flag);
  }
  if (static_cast<int>(rows->size()) > page_size) {
    resp->set_next_page_token(std::to_string((*rows)[page_size - 1].job_id));
  }
  return grpc::Status::OK;
}

grpc::Status ResultServiceImpl::Pareto(grpc::ServerContext* ctx, const v1::ParetoRequest* req,
                                       v1::ParetoResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "Pareto");
  auto direction = [](v1::ParetoRequest::Direction d) {
    return d == v1::ParetoRequest::DIRECTION_MAXIMIZE   ? ParetoDirection::kMaximize
           : d == v1::ParetoRequest::DIRECTION_MINIMIZE ? ParetoDirection::kMinimize
                                                        : ParetoDirection::kAuto;
  };
  ParetoQuery query{req->experiment(), req->x_metric(), req->y_metric(),
                    direction(req->x_direction()), direction(req->y_direction()), req->filter()};
  query.join = req->join();
  query.on = JoinKeys(req->on());
  query.keys = req->keys();
  query.include_fallbacks = req->include_fallbacks();
  auto result = RunParetoQuery(*store_, query);
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const auto& p : result->points) {
    auto* out = resp->add_points();
    out->set_job_id(p.job_id);
    out->set_x(p.x);
    out->set_y(p.y);
    out->set_on_frontier(p.on_frontier);
    out->set_params_json(p.params_json);
    out->set_job_id_b(p.job_id_b);
    out->set_key(p.key);
  }
  for (const auto& g : result->key_groups) {
    auto* out = resp->add_key_groups();
    out->set_key(g.key);
    out->set_points(g.points);
    out->set_summary(g.summary);
  }
  resp->set_warning(result->warning);
  resp->set_excluded_fallbacks(result->excluded_fallbacks);
  resp->set_x_maximized(result->x_maximized);
  resp->set_y_maximized(result->y_maximized);
  for (const auto& r : result->unmatched_a) UnmatchedToProto(r, resp->add_unmatched_a());
  for (const auto& r : result->unmatched_b) UnmatchedToProto(r, resp->add_unmatched_b());
  return grpc::Status::OK;
}

grpc::Status ResultServiceImpl::Compare(grpc::ServerContext* ctx, const v1::CompareRequest* req,
                                        v1::CompareResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "Compare");
  auto result = RunCompareQuery(*store_, {req->a(), req->b(), req->threshold_sigma(),
                                          req->include_unmoved()});
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_compare_json(result->dump());
  return grpc::Status::OK;
}

grpc::Status ResultServiceImpl::GetArtifacts(grpc::ServerContext* ctx,
                                             const v1::GetArtifactsRequest* req,
                                             v1::GetArtifactsResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kReadOrWork, "GetArtifacts");
  auto job = store_->GetJob(req->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  auto artifacts = store_->GetArtifacts(req->job_id(), req->name(), req->include_content());
  if (!artifacts.ok()) return ToGrpcStatus(artifacts.status());
  if (!req->name().empty() && artifacts->empty()) {
    return ToGrpcStatus(Status::NotFound("name: job " + std::to_string(req->job_id()) +
                                         " has no artifact '" + req->name() + "'"));
  }
  for (auto& a : *artifacts) {
    v1::StoredArtifact* out = resp->add_artifacts();
    out->set_name(a.artifact.name);
    out->set_media_type(a.artifact.media_type);
    out->set_size_bytes(a.size_bytes);
    if (req->include_content()) out->set_content(std::move(a.artifact.bytes));
  }
  return grpc::Status::OK;
}

grpc::Status ResultServiceImpl::ExportDataset(grpc::ServerContext* ctx,
                                              const v1::ExportDatasetRequest* req,
                                              grpc::ServerWriter<v1::DatasetRow>* writer) {
  QLAB_AUTHORIZE(ctx, Access::kReadOrWork, "ExportDataset");
  if (!req->space().empty() && req->space() != "nb201" && req->space() != "fbnet") {
    return ToGrpcStatus(Status::InvalidArgument("space must be nb201 or fbnet, got '" +
                                                req->space() + "'"));
  }
  if (req->batch() < 0) return ToGrpcStatus(Status::InvalidArgument("batch must be >= 0"));
  const std::string prefix = req->space().empty() ? "" : req->space() + ":";
  int64_t after = 0;
  for (;;) {
    int64_t last = 0;
    auto page = store_->ListLatency(req->device(), prefix, req->experiment(), after, 5000, &last,
                                    req->include_samples());
    if (!page.ok()) return ToGrpcStatus(page.status());
    if (page->empty()) return grpc::Status::OK;
    after = last;
    for (const auto& l : *page) {
      if (req->batch() > 0 && l.batch != req->batch()) continue;
      v1::DatasetRow row;
      row.set_job_id(l.job_id);
      row.set_arch_key(l.arch_key);
      row.set_arch_index(-1);
      const auto colon = l.arch_key.find(':');
      const std::string space = l.arch_key.substr(0, colon);
      const std::string rest = colon == std::string::npos ? "" : l.arch_key.substr(colon + 1);
      row.set_arch(rest);
      if (space == "nb201") {
        try {
          int index = std::stoi(rest);
          auto arch = nas::Nb201ArchString(index);
          if (arch.ok()) {
            row.set_arch_index(index);
            row.set_arch(*arch);
          }
        } catch (...) {
        }
      }
      row.set_device(l.device);
      row.set_batch(l.batch);
      row.set_median_us(l.median_us);
      row.set_mean_us(l.mean_us);
      row.set_p10_us(l.p10_us);
      row.set_p90_us(l.p90_us);
      row.set_min_us(l.min_us);
      row.set_cv(l.cv);
      row.set_n(static_cast<int32_t>(l.samples));
      row.set_unstable(l.unstable);
      for (double v : l.samples_us) row.add_samples_us(v);
      if (!writer->Write(row)) return grpc::Status::OK;  // client went away
    }
    if (ctx->IsCancelled()) return grpc::Status(grpc::CANCELLED, "export cancelled");
  }
}

grpc::Status ResultServiceImpl::ExportResults(grpc::ServerContext* ctx,
                                              const v1::ExportResultsRequest* req,
                                              grpc::ServerWriter<v1::ExportResultsChunk>* writer) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "ExportResults");
  if (req->experiment().empty()) {
    return ToGrpcStatus(Status::InvalidArgument("experiment is required"));
  }
  if (!v1::ExportResultsRequest::Format_IsValid(req->format())) {
    return ToGrpcStatus(Status::InvalidArgument("format must be FORMAT_CSV or FORMAT_JSON"));
  }
  auto exporter = ResultsExport::Start(*store_, req->experiment(), req->filter(),
                                       req->format() == v1::ExportResultsRequest::FORMAT_JSON
                                           ? ResultsExport::Format::kJson
                                           : ResultsExport::Format::kCsv);
  if (!exporter.ok()) return ToGrpcStatus(exporter.status());
  v1::ExportResultsChunk chunk;
  for (bool more = true; more;) {
    std::string* data = chunk.mutable_data();
    data->clear();
    while (data->size() < (256 << 10)) {
      auto next = (*exporter)->Next(data);
      if (!next.ok()) return ToGrpcStatus(next.status());
      if (!*next) {
        more = false;
        break;
      }
    }
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled");
    if (!data->empty() && !writer->Write(chunk)) return grpc::Status::OK;  // the client left
  }
  return grpc::Status::OK;
}

}  // namespace qlab::server
