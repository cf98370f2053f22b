// The set of running flows. Each flow has its own runner; one that fails to start is retried in
// the background and never holds up the others.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/flow_runner.hpp"

namespace weir::runtime {

class Engine {
 public:
  Engine(bus::Connection& conn, std::filesystem::path data_dir,
         std::chrono::milliseconds retry_every = std::chrono::seconds(5));
  ~Engine();

  // Starts every enabled flow. Returns how many are running now.
  std::size_t deploy(std::vector<flow::Flow> flows);
  void stop(std::chrono::milliseconds drain);
  std::vector<FlowStatus> status() const;

 private:
  void retry_loop();

  bus::Connection& conn_;
  std::filesystem::path data_dir_;
  std::chrono::milliseconds retry_every_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<FlowRunner>> runners_;
  std::thread retry_thread_;
};

}  // namespace weir::runtime
