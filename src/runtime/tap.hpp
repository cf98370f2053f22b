// Live taps on component ports: what a stage emits on a port can be copied to subscribers (the
// HTTP API's tap WebSocket) without ever slowing the flow. The stage pays one relaxed atomic load
// per record while nobody taps; a tapped port is sampled to at most `max_per_second` records per
// subscriber, and a subscriber's sink must not block (it drops and counts instead).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sdk/record.hpp"

namespace weir::runtime {

class TapHub : public std::enable_shared_from_this<TapHub> {
 public:
  // Takes one serialized record ({"id":...,"value":...}); false when the subscriber dropped it.
  using Sink = std::function<bool(std::string)>;

  struct Stats {
    std::uint64_t offered = 0;      // records seen on the port while subscribed
    std::uint64_t sent = 0;         // handed to the sink and taken
    std::uint64_t sampled_out = 0;  // skipped by the rate limit or refused by the sink
  };

  // A subscription lasts as long as this handle, or until the hub goes (the flow is redeployed
  // or removed), which calls `on_end` once.
  class Subscription {
   public:
    virtual ~Subscription() = default;
    virtual Stats stats() const = 0;
  };

  explicit TapHub(std::size_t components);
  ~TapHub();

  // `port` indexes the component's outputs (error last), as graph::Member::ports does.
  // Hubs live in a shared_ptr (FlowShared::taps).
  std::unique_ptr<Subscription> subscribe(std::size_t component, std::size_t port, Sink sink,
                                          std::function<void()> on_end, std::uint32_t max_per_second = 200);

  bool active(std::size_t component) const { return active_[component].load(std::memory_order_relaxed) != 0; }
  // Called by stages for every record emitted; cheap unless the component is tapped.
  void offer(std::size_t component, std::size_t port, const sdk::Record& rec) {
    if (active(component)) deliver(component, port, rec);
  }

 private:
  struct Sub;
  class Handle;
  void deliver(std::size_t component, std::size_t port, const sdk::Record& rec);
  void remove(Sub* sub);

  std::unique_ptr<std::atomic<std::uint32_t>[]> active_;  // subscriptions per component
  std::size_t components_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Sub>> subs_;
};

}  // namespace weir::runtime
