#include "worker/dataset_source.h"

#include <chrono>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "qlab/v1/result_service.grpc.pb.h"
#include "worker/coordinator_channel.h"

namespace qlab::worker {

DatasetSource CoordinatorDatasetSource(const CoordinatorEndpoint& endpoint) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::Channel> channel = OpenCoordinatorChannel(endpoint, args);
  return [channel, endpoint](const std::string& space, const std::vector<std::string>& experiments)
             -> StatusOr<std::vector<predictor::LatencyRow>> {
    auto stub = v1::ResultService::NewStub(channel);
    std::vector<std::string> names = experiments;
    if (names.empty()) names.push_back("");  // every experiment
    std::vector<predictor::LatencyRow> rows;
    for (const auto& experiment : names) {
      v1::ExportDatasetRequest req;
      req.set_space(space);
      req.set_experiment(experiment);
      grpc::ClientContext ctx;
      AddCredentials(endpoint, &ctx);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
      auto reader = stub->ExportDataset(&ctx, req);
      v1::DatasetRow row;
      while (reader->Read(&row)) {
        rows.push_back({row.arch_key(), row.device(), row.batch(), row.median_us()});
      }
      grpc::Status st = reader->Finish();
      if (!st.ok()) {
        const std::string what = "reading the latency dataset" +
                                 (experiment.empty() ? std::string() : " of '" + experiment + "'") +
                                 " from the coordinator: " + st.error_message();
        if (st.error_code() == grpc::StatusCode::NOT_FOUND) return Status::NotFound(what);
        if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return Status::InvalidArgument(what);
        return Status::Unavailable(what);
      }
    }
    return rows;
  };
}

}  // namespace qlab::worker
