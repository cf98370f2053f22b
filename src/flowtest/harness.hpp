// A flow run in-process for `weir test`: its processors are the real ones, made through the
// registry as the engine makes them; its inputs and outputs are doubles (records are injected at
// inputs, outputs record what they are given). No NATS: records travel the flow's edges depth
// first, in the order of its components, and their ids derive as the engine derives them
// (runtime::derive_id), so a case sees the ids a deployed flow would produce.
//
// Time is virtual: stateful processors read it through their sdk::Clock, expressions through
// now() (sdk::expr::ClockOverride), and moving it runs each stateful processor's advance() at
// every multiple of its tick_interval() on the way.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flow/flow.hpp"
#include "sdk/record.hpp"
#include "sdk/state.hpp"

namespace weir::flowtest {

using Millis = std::int64_t;

// One move of the clock runs at most this many advance() calls (all processors together): a
// tick of 1ms over an `advance` of days is a mistake in the case, reported, not hours of work.
inline constexpr std::uint64_t max_ticks_per_move = 10'000'000;

class Harness {
 public:
  explicit Harness(const flow::Flow& flow);
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // Makes and starts every processor (the clock at `start`). False with `error` when one fails.
  bool start(Millis start, std::string& error);
  // Stops every processor (also done by the destructor).
  void stop();

  // A record entering at input component `input` (its out port), at the current virtual time.
  // An empty id becomes "<input>:<n>", n counting that input's records from 0.
  void inject(std::size_t input, std::string id, boost::json::value record);
  // Moves the clock forward to `to`, running advance() at each tick on the way. False with
  // `error` when `to` is in the past or the ticks are too many.
  bool move_to(Millis to, std::string& error);
  // A crash and a restart: every stateful processor save()s, every processor is made anew and
  // started, and the stateful ones load() what they saved.
  bool restart(std::string& error);

  Millis now() const { return now_; }
  // What component `c` emitted on port `p` (index in its spec's outputs, error last), in order.
  const std::vector<sdk::Record>& emitted(std::size_t c, std::size_t p) const { return emitted_[c][p]; }
  // What output component `c` was given, in order.
  const std::vector<sdk::Record>& received(std::size_t c) const { return received_[c]; }
  // Broken promises of the components under test (an emit_at going back in time, a processor
  // that threw): each fails the case.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  class Clock;
  class Emitter;
  friend class Emitter;

  bool make(std::size_t c, std::string& error);
  void deliver(std::size_t c, sdk::Record&& rec);
  void process(std::size_t c, sdk::Record&& rec);
  // Emits on `port` of `c` with the record's id already derived.
  void route(std::size_t c, std::size_t port, sdk::Record&& rec);
  std::string derive(std::size_t c, std::size_t port, const std::string& id, bool counted);
  bool tick_to(Millis to, std::string& error);

  const flow::Flow& flow_;
  std::unique_ptr<Clock> clock_;
  Millis now_ = 0;
  std::function<std::int64_t()> now_ms_;  // what expressions' now() reads while a call runs
  std::vector<std::unique_ptr<sdk::Component>> components_;  // processors; null for inputs/outputs
  std::vector<std::unique_ptr<Emitter>> emitters_;
  std::vector<std::vector<std::vector<std::size_t>>> consumers_;  // [component][port]: readers, in flow order
  std::vector<std::vector<std::vector<sdk::Record>>> emitted_;    // [component][port]
  std::vector<std::vector<sdk::Record>> received_;                // [output component]
  std::vector<std::vector<std::uint32_t>>
      counted_;                          // [component][port]: records emitted from the current input
  std::vector<std::uint64_t> injected_;  // [input component]: records injected
  std::vector<Millis> last_at_;          // [component]: its latest emit_at moment
  std::vector<Millis> next_tick_;        // [component]: its next advance() (stateful ones)
  std::vector<std::string> problems_;
};

}  // namespace weir::flowtest
