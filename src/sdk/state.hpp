// Stateful processors (route is not one; dedupe, throttle, deadband and window are): components
// whose output depends on the records they saw before, and whose state must survive a crash
// without counting a record twice or emitting a result twice.
//
// How the engine keeps that promise (src/runtime/state_keeper.hpp has the details):
// - A stateful processor runs in a stage of its own, on one thread, reading its upstream batches
//   in stream order. Given the same state and the same batches it must produce the same results:
//   it takes time only from Clock (never from the system clock) and never iterates an unordered
//   container where the order shows in its output.
// - The engine asks it for a snapshot (save()) now and then, stores the snapshot together with
//   the input positions it covers, and only then acks those input batches. After a crash it
//   load()s the last snapshot and the batches after it are delivered again; results of those
//   batches that were stored already are recognised by their positions and not stored twice.
// - Results that belong to a moment rather than to one input record (a window's aggregate, closed
//   by a later record or by time passing) go through TimedEmitter::emit_at with that moment as
//   their key: whichever record or tick closes the window in a replay, its results are stored
//   once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "sdk/component.hpp"

namespace weir::sdk {

// Milliseconds since the Unix epoch.
using Millis = std::int64_t;

// Time as a stateful processor sees it. Inside process(): the time the record's batch was stored
// in the flow's stream (a record's "processing time", the same when the batch is delivered again
// after a crash). Inside advance(): the engine's clock. Under `weir test`: the test's virtual
// clock in both.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now() const = 0;
};

// An emitter that also takes results keyed by a moment.
class TimedEmitter : public Emitter {
 public:
  // `at` orders the moments (a window's end, in ms): per component, moments must be emitted in
  // non-decreasing order of `at` (several results may share one). All results with one `at`
  // are published together, apart from the batch being processed, and `rec.id` is kept as the
  // component made it (plus the component and port): make it unique per result, e.g.
  // "<key>@<window start>". A result emitted again with an `at` that was stored before (a replay
  // after a crash) is dropped whole.
  virtual void emit_at(Millis at, Port port, Record&& rec) = 0;
};

// How much state a component holds, for its metrics and its bound.
struct StateSize {
  std::uint64_t keys = 0;
  std::uint64_t bytes = 0;  // an estimate of the memory it takes
};

class StatefulProcessor : public Processor {
 public:
  // The engine sets the clock (before start()); it outlives the component.
  void set_clock(const Clock* clock) { clock_ = clock; }

  // process() is Processor's; its Emitter is a TimedEmitter (static_cast is safe).

  // How often advance() should be called when no record comes (0: never). The engine calls it
  // about that often while nothing waits for the component (never while a backlog is being
  // handled, after a restart say), between batches, never concurrently with process().
  virtual std::chrono::milliseconds tick_interval() const { return std::chrono::milliseconds(0); }
  // Time passed: close what is due by `now` (a window after its lateness, a session after its
  // gap), emitting results with emit_at.
  virtual void advance(Millis now, TimedEmitter& out) {
    (void)now;
    (void)out;
  }

  // The whole state as bytes (JSON text is fine). Called between batches.
  virtual void save(std::string& out) const = 0;
  // Replaces the state by a saved one (from this component type; possibly from an older config
  // of it: a state that no longer fits is an error, and the component then starts empty, with a
  // warning in the log). Called before the first record.
  virtual Status load(std::string_view saved) = 0;
  virtual StateSize state_size() const = 0;

 protected:
  Millis now() const { return clock_ ? clock_->now() : 0; }

 private:
  const Clock* clock_ = nullptr;
};

}  // namespace weir::sdk
