#include "tests/support/fake_workers.h"

#include <atomic>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tests/support/cluster.h"

namespace qlab::testing {

void CompleteJobsWithFakeWorkers(const FakeWorkerOptions& options, int jobs) {
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < options.workers; ++w) {
    threads.emplace_back([&, w] {
      grpc::ChannelArguments args;
      args.SetInt("qlab.bench.channel", w);  // distinct args: a distinct connection per worker
      args.SetMaxReceiveMessageSize(64 << 20);
      auto channel =
          grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
      auto stub = v1::WorkerService::NewStub(channel);
      v1::RegisterRequest reg;
      reg.set_worker_id(options.id_prefix + "-w" + std::to_string(w));
      reg.set_host("bench-host-" + std::to_string(w));
      reg.add_kinds("noop");
      reg.set_slots(options.batch);
      auto* d = reg.add_devices();
      d->set_device_class(v1::DEVICE_CLASS_CPU);
      d->set_name("cpu");
      d->set_model("bench CPU");
      v1::RegisterResponse reg_resp;
      if (!stub->Register(Deadline().get(), reg, &reg_resp).ok()) std::exit(1);
      while (done.load() < jobs) {
        v1::AcquireLeaseRequest acquire;
        acquire.set_worker_id(reg_resp.worker_id());
        acquire.set_max_jobs(options.batch);
        acquire.set_wait_ms(200);
        v1::AcquireLeaseResponse leases;
        grpc::Status acquired =
            stub->AcquireLease(Deadline(std::chrono::seconds(30)).get(), acquire, &leases);
        if (acquired.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          // A refused request would be refused forever: stop instead of spinning.
          std::fprintf(stderr, "AcquireLease refused: %s\n", acquired.error_message().c_str());
          std::exit(1);
        }
        if (!acquired.ok()) continue;
        if (leases.leases_size() == 0) continue;
        v1::CompleteRequest complete;
        complete.set_worker_id(reg_resp.worker_id());
        for (const auto& l : leases.leases()) {
          auto* c = complete.add_completions();
          c->set_job_id(l.job_id());
          c->set_fencing_token(l.fencing_token());
          c->set_outcome(v1::Completion::OUTCOME_SUCCEEDED);
          options.fill(l, c);
        }
        v1::CompleteResponse acks;
        if (!stub->Complete(Deadline(std::chrono::seconds(60)).get(), complete, &acks).ok()) {
          continue;
        }
        int accepted = 0;
        for (const auto& a : acks.acks()) accepted += a.accepted();
        const int now_done = done += accepted;
        if (w == 0 && options.on_progress) options.on_progress(now_done);
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace qlab::testing
