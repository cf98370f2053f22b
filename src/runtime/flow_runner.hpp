// Deploys and runs one flow: its stream and dead-letter stream, one durable consumer per edge
// (created idempotently, stale ones removed), the component instances, and the stages. A flow
// that fails to deploy reports why and never touches the other flows.
#pragma once

#include <memory>
#include <mutex>
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
  std::uint64_t records_in = 0, records_out = 0, errors = 0, dead_letters = 0, retries = 0, replays = 0;
  std::vector<std::pair<std::string, std::uint64_t>> ports_out;  // per output port, error excluded
  std::vector<sdk::Metric> metrics;  // the component's own figures (a bridge's link state, ...)
  bool failing = false;              // its writes fail and are being retried
  std::string last_error;
  metrics::HistogramSnapshot processing;
};

struct ConsumerLag {
  std::string flow;
  std::string component;  // the stage root reading
  std::string upstream;   // "component.port" it reads
  std::uint64_t pending = 0;
  std::int64_t ack_pending = 0;
};

struct FlowStatus {
  std::string name;
  FlowState state = FlowState::stopped;
  std::string error;
  std::vector<ComponentStatus> components;
};

class FlowRunner {
 public:
  // `components_nats` (what components reach NATS with) outlives the runner.
  FlowRunner(flow::Flow flow, bus::Connection& conn, std::filesystem::path data_dir,
             sdk::Nats& components_nats);
  ~FlowRunner();

  // Creates the topology and the components, then starts the stages. On failure the flow is
  // left failed with the reason in status(). A stopped or failed flow may be started again.
  bool start();
  // Inputs stop taking records, in-flight work drains until `drain` has passed, then threads end.
  void stop(std::chrono::milliseconds drain);
  // Applies `next` (this flow, edited) to the running flow when both have the same plan (stages,
  // members, routes, consumers) and settings: only the stages with a component whose fingerprint
  // changed stop taking work and drain (up to `drain`; what is left unacked is redelivered), their
  // components are stopped, made anew from `next` and started, and the stages start again on the
  // same durable consumers, so nothing is lost or handled twice. The other stages run on
  // untouched. `what` tells what was redeployed ("stage keep (components keep, shape)"), empty
  // when nothing changed. Returns false, having changed nothing, when the flow is not running or
  // its plan or settings differ: the caller then stops and starts the flow anew. A component
  // that fails to start again stops the whole flow as failed (true; status() has the reason).
  bool update(flow::Flow next, std::chrono::milliseconds drain, std::string* what = nullptr);
  FlowStatus status() const;
  FlowState state() const;
  // Copies of what runs, for a caller that compares flow files with it.
  const std::string& name() const { return shared_.flow.name; }  // never changes
  std::string file() const;
  std::string fingerprint() const;  // flow::Flow::fingerprint() of what runs

  // Where a tap on `component`'s `port` listens: the (component, port) pairs whose records it
  // sees. `port` empty means `out`, or for a component without one (an output) `in`: the
  // ports it reads. False with *error when there is no such component or port.
  bool tap_points(const std::string& component, const std::string& port,
                  std::vector<std::pair<std::size_t, std::size_t>>& points, std::string& resolved_port,
                  std::string* error) const;
  const std::shared_ptr<TapHub>& taps() const { return shared_.taps; }
  // Per durable consumer of the flow: the reading component, the port it reads, and how many
  // batches wait for it (asked from JetStream now).
  std::vector<ConsumerLag> consumer_lag() const;

 private:
  // Republishes what waits on `from_subject` from `from_seq` on onto `to_subject`.
  bus::Result<std::size_t> move_backlog(jsCtx* js, const std::string& from_subject, std::uint64_t from_seq,
                                        const std::string& to_subject);
  bool deploy_topology(std::string& error);
  bool create_components(std::string& error);
  // Makes and starts component i from its declaration; null (with `error`) when it fails.
  std::unique_ptr<sdk::Component> start_component(std::size_t i, std::string& error);
  void set_state(FlowState state, std::string error);

  FlowShared shared_;
  std::filesystem::path data_dir_;
  // Held by status() and by whoever replaces what it reads while stages run: state_, error_, a
  // redeployed stage's declarations (shared_.flow.components[i]) and instances
  // (shared_.components[i]). Only the thread that starts, stops and updates the runner writes
  // them, so it reads them without the lock.
  mutable std::mutex mu_;
  FlowState state_ = FlowState::stopped;
  std::string error_;
  std::vector<std::unique_ptr<InputStage>> inputs_;
  std::vector<std::unique_ptr<ConsumerStage>> consumers_;
  std::unique_ptr<Janitor> janitor_;
};

}  // namespace weir::runtime
