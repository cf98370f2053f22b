// The set of running flows. Each flow has its own runner; one that fails to start is retried in
// the background and never holds up the others. Changes (apply, remove, restart, the retries)
// happen one at a time; status() never waits for one to drain.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/component_nats.hpp"
#include "runtime/flow_runner.hpp"

namespace weir::runtime {

// What Engine::apply() did with a flow.
enum class ApplyResult {
  unchanged,   // it runs as given already (or it is disabled and was not running)
  deployed,    // it was not deployed: now it runs
  updated,     // only the stages whose components changed were redeployed
  redeployed,  // its stages, consumers or settings changed: stopped and started anew
  removed,     // disabled: stopped and undeployed
  failed,      // it did not start (retried in the background), or the engine is stopping
};
const char* to_string(ApplyResult r);

// A deployed flow as it runs, for a caller that compares flow files with it.
struct DeployedFlow {
  std::string name;
  std::string file;
  std::string fingerprint;  // flow::Flow::fingerprint() of what runs
  FlowState state = FlowState::stopped;
};

// What a tap listens to: resolved by Engine::tap_target() when the client asks.
struct TapTarget {
  std::string flow;
  std::string component;
  std::string port;  // resolved: "out", "error", "in", ...
  std::string describe() const { return flow + "/" + component + "." + port; }
};

// The subscriptions of one tap (a tap on an output's `in` listens to each port it reads).
struct TapHandle {
  std::vector<std::unique_ptr<TapHub::Subscription>> subscriptions;
};

class Engine {
 public:
  // `components_conn`: what components reach NATS with (default: `conn`). The engine's own
  // traffic (batches, acks, pull requests) goes on `conn`, best opened with send_asap; external
  // subjects carry a message per record, for which a buffered connection costs far fewer writes.
  Engine(bus::Connection& conn, std::filesystem::path data_dir,
         std::chrono::milliseconds retry_every = std::chrono::seconds(5),
         bus::Connection* components_conn = nullptr);
  ~Engine();

  // Applies every flow (see apply()). Returns how many flows are running now.
  std::size_t deploy(std::vector<flow::Flow> flows);
  // Brings one flow in step with `f` (by name): deploys it when it is not deployed; does
  // nothing when it runs with the same fingerprint; redeploys only the stages whose components
  // changed when its stages, consumers and settings stay (FlowRunner::update); otherwise stops
  // it (draining up to `drain`) and starts it anew. A disabled flow is removed if deployed.
  // Durable consumers keep their positions throughout, so nothing is lost. `what` tells what was
  // done, for the reload log line.
  ApplyResult apply(flow::Flow f, std::string* what = nullptr,
                    std::chrono::milliseconds drain = std::chrono::seconds(10));
  // Undeploys a flow: its stages drain (up to `drain`) and stop. Its stream and durable consumers
  // stay, holding what was not handled yet, so deploying it again resumes where it stopped
  // (deleting them is a separate, deliberate act). False when it is not deployed.
  bool remove(const std::string& name, std::chrono::milliseconds drain);
  // Stops a deployed flow (draining up to `drain`) and starts it again. False when it is not
  // deployed or does not start (then it is retried in the background).
  bool restart(const std::string& name, std::chrono::milliseconds drain);
  // Stops every flow; the engine takes no changes afterwards.
  void stop(std::chrono::milliseconds drain);
  std::vector<FlowStatus> status() const;
  std::optional<FlowStatus> status(const std::string& name) const;
  std::vector<DeployedFlow> deployed() const;

  // Checks that a tap can be opened; nullopt with *error when the flow, component or port is
  // unknown or the flow is not running.
  std::optional<TapTarget> tap_target(const std::string& flow, const std::string& component,
                                      const std::string& port, std::string* error) const;
  // Subscribes `sink` to a port's records (sampled, never blocking the flow); `on_end` runs when
  // the flow is redeployed whole or removed, which ends the tap. Null with *error on failure.
  std::unique_ptr<TapHandle> tap(const TapTarget& target, const TapHub::Sink& sink,
                                 const std::function<void()>& on_end, std::string* error);
  // Every running flow's consumer lag, asked from JetStream now (one request per consumer).
  std::vector<ConsumerLag> consumer_lag() const;

 private:
  void retry_loop();
  bool stopping() const;
  // With change_mu_ held.
  void add_runner(std::unique_ptr<FlowRunner> runner);
  std::unique_ptr<FlowRunner> take_runner(const std::string& name);

  bus::Connection& conn_;
  // What components reach NATS with: over components_conn, else conn. Declared before
  // runners_, so that it outlives every component.
  std::unique_ptr<ComponentNats> components_nats_;
  std::filesystem::path data_dir_;
  std::chrono::milliseconds retry_every_;
  // Held for the whole of a change (which may drain for seconds), so changes never interleave.
  // Whoever holds it may read runners_ without mu_: only changes modify the map.
  std::mutex change_mu_;
  // Guards runners_ (the map, not the runners) and stopping_; held only briefly.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<FlowRunner>> runners_;  // by flow name
  std::thread retry_thread_;
};

}  // namespace weir::runtime
