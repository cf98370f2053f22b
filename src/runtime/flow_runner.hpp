// Deploys and runs one flow: its stream and dead-letter stream, one durable consumer per edge
// (created idempotently, stale ones removed), the component instances, and the stages. A flow
// that fails to deploy reports why and never touches the other flows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/flow_shared.hpp"

namespace weir::runtime {

class InputStage;
class ConsumerStage;
class Janitor;

enum class FlowState { stopped, deploying, running, failed };
const char* to_string(FlowState s);

struct ComponentStatus {
  std::string id;
  std::string type;
  std::uint64_t records_in = 0, records_out = 0, errors = 0, dead_letters = 0, retries = 0;
  std::vector<sdk::Metric> metrics;  // the component's own figures (a bridge's link state, ...)
};

struct FlowStatus {
  std::string name;
  FlowState state = FlowState::stopped;
  std::string error;
  std::vector<ComponentStatus> components;
};

class FlowRunner {
 public:
  FlowRunner(flow::Flow flow, bus::Connection& conn, std::filesystem::path data_dir);
  ~FlowRunner();

  // Creates the topology and the components, then starts the stages. On failure the flow is
  // left stopped with the reason in status().
  bool start();
  // Inputs stop taking records, in-flight work drains until `drain` has passed, then threads end.
  void stop(std::chrono::milliseconds drain);
  FlowStatus status() const;
  const flow::Flow& flow() const { return shared_.flow; }

 private:
  bool deploy_topology();
  bool create_components();

  FlowShared shared_;
  std::filesystem::path data_dir_;
  FlowState state_ = FlowState::stopped;
  std::string error_;
  std::vector<std::unique_ptr<InputStage>> inputs_;
  std::vector<std::unique_ptr<ConsumerStage>> consumers_;
  std::unique_ptr<Janitor> janitor_;
};

}  // namespace weir::runtime
