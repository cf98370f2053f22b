// Retention done by weir: a flow's stream keeps messages (limits retention) and the janitor
// purges, per port subject, what every consumer of that subject has acknowledged (below the
// lowest ack floor). JetStream's own interest retention would do this in the server, but
// nats-server 2.9 acknowledges and then drops messages that arrive while it shuts down (its
// consumers stop before the stream): a graceful broker restart lost acknowledged batches in our
// tests. A purge below an ack floor can never remove a message a consumer still needs.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/flow_shared.hpp"

namespace weir::runtime {

class Janitor {
 public:
  Janitor(FlowShared& shared, std::chrono::milliseconds every);
  ~Janitor();
  void start();
  void stop();
  // One pass: purges every subject up to its consumers' lowest ack floor. Returns messages purged.
  std::uint64_t sweep(jsCtx* js);

 private:
  void run();

  FlowShared& shared_;
  std::chrono::milliseconds every_;
  std::map<std::string, std::vector<std::string>> readers_;  // subject -> durables reading it
  std::map<std::string, std::uint64_t> purged_below_;        // subject -> last purge sequence
  std::uint64_t seen_reconnects_ = 0;
  std::chrono::steady_clock::time_point quiet_until_{};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// Removes everything of one subject from a stream (a port nobody reads any more).
bus::Status purge_subject(jsCtx* js, const std::string& stream, const std::string& subject,
                          std::uint64_t below_seq = 0);

}  // namespace weir::runtime
