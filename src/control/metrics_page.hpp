// The /metrics page: the engine's figures in the Prometheus text format. Counters are read from
// the stages' atomics; consumer lag comes from JetStream consumer info, asked at most once per
// `lag_every` however often Prometheus scrapes.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/engine.hpp"

namespace weir::bus {
class Connection;
}

namespace weir::control {

class FlowManager;

class MetricsPage {
 public:
  MetricsPage(runtime::Engine& engine, const bus::Connection& conn, const FlowManager& flows,
              std::string version, std::chrono::milliseconds lag_every = std::chrono::seconds(2));

  std::string render();

 private:
  runtime::Engine& engine_;
  const bus::Connection& conn_;
  const FlowManager& flows_;
  std::string version_;
  std::chrono::milliseconds lag_every_;
  std::mutex mu_;  // one scrape at a time refreshes the lag cache
  std::chrono::steady_clock::time_point lag_at_{};
  std::vector<runtime::ConsumerLag> lag_;
};

}  // namespace weir::control
