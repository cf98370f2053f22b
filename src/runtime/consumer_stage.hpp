// Runs a stage that reads durable consumers: a fused chain of processors, or an output. One
// thread per upstream port; each round fetches a few batches, runs them through the stage,
// publishes what came out, and acks the inputs only after every PubAck (or, for an output,
// after write() returned ok). A failed round is not acked: the batches are redelivered and
// republished with the same derived ids, which JetStream's duplicate window drops.
#pragma once

#include <mutex>
#include <thread>
#include <vector>

#include "runtime/flow_shared.hpp"
#include "runtime/state_keeper.hpp"

namespace weir::runtime {

class ConsumerStage {
 public:
  ConsumerStage(FlowShared& shared, const graph::Stage& stage);
  ~ConsumerStage();

  void start();
  // This stage alone stops taking work; what is in flight drains until `drain` has passed (then
  // it stays unacked and is redelivered). join() waits for the end.
  void request_stop(std::chrono::milliseconds drain) { stop_.request(drain); }
  void join();
  const graph::Stage& stage() const { return stage_; }

 private:
  struct Reader;
  void run(std::size_t upstream);
  // A stage whose root is a stateful processor: one thread reads every upstream.
  void run_stateful(sdk::StatefulProcessor& proc);
  // Binds the reader's consumer (and the publisher), waits for its redeliveries and learns its
  // source. False when the stage stopped first.
  bool connect(std::unique_ptr<bus::AsyncPublisher>& pub, Reader& r);
  bool recover(PositionLog& log, jsCtx* js);
  bool open_log(Reader& r);
  void close_log(PositionLog* log, bus::AsyncPublisher* pub);
  // One fetch; true when messages are ready to handle, in order.
  bool fetch(Reader& r, std::chrono::milliseconds wait, std::vector<bus::Msg>& msgs,
             std::vector<bus::Msg>& ready);

  FlowShared& shared_;
  const graph::Stage& stage_;
  StageStop stop_;
  std::string prefix_;
  // Serializes calls into components that are not stateless (outputs, stateful processors)
  // when the stage reads several upstreams.
  std::mutex serial_;
  std::vector<std::thread> threads_;
  StageClock clock_;  // a stateful root's (sdk::Clock); outlives its thread
};

}  // namespace weir::runtime
