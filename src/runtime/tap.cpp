#include "runtime/tap.hpp"

#include "sdk/base/json_write.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace weir::runtime {

struct TapHub::Sub {
  std::size_t component;
  std::size_t port;
  Sink sink;
  std::function<void()> on_end;
  std::uint32_t max_per_second;
  // Token bucket on the caller's thread (under the hub's mutex): whole seconds are enough.
  std::int64_t window_start_ns = 0;
  std::uint32_t in_window = 0;
  std::atomic<std::uint64_t> offered{0}, sent{0}, sampled_out{0};
};

class TapHub::Handle final : public TapHub::Subscription {
 public:
  Handle(std::weak_ptr<TapHub> hub, std::shared_ptr<Sub> sub) : hub_(std::move(hub)), sub_(std::move(sub)) {}
  ~Handle() override {
    if (auto hub = hub_.lock()) hub->remove(sub_.get());
  }
  TapHub::Stats stats() const override {
    return {sub_->offered.load(), sub_->sent.load(), sub_->sampled_out.load()};
  }

 private:
  std::weak_ptr<TapHub> hub_;
  std::shared_ptr<Sub> sub_;
};

TapHub::TapHub(std::size_t components)
    : active_(std::make_unique<std::atomic<std::uint32_t>[]>(components)), components_(components) {}

TapHub::~TapHub() {
  for (const auto& s : subs_)
    if (s->on_end) s->on_end();
}

std::unique_ptr<TapHub::Subscription> TapHub::subscribe(std::size_t component, std::size_t port, Sink sink,
                                                        std::function<void()> on_end,
                                                        std::uint32_t max_per_second) {
  if (component >= components_) return nullptr;
  auto sub = std::make_shared<Sub>();
  sub->component = component;
  sub->port = port;
  sub->sink = std::move(sink);
  sub->on_end = std::move(on_end);
  sub->max_per_second = std::max<std::uint32_t>(max_per_second, 1);
  {
    std::lock_guard lock(mu_);
    subs_.push_back(sub);
  }
  active_[component].fetch_add(1, std::memory_order_relaxed);
  return std::make_unique<Handle>(weak_from_this(), std::move(sub));
}

void TapHub::remove(Sub* sub) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](const auto& s) { return s.get() == sub; });
  if (it == subs_.end()) return;
  active_[sub->component].fetch_sub(1, std::memory_order_relaxed);
  subs_.erase(it);
}

void TapHub::deliver(std::size_t component, std::size_t port, const sdk::Record& rec) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::lock_guard lock(mu_);
  for (const auto& s : subs_) {
    if (s->component != component || s->port != port) continue;
    s->offered.fetch_add(1, std::memory_order_relaxed);
    if (now - s->window_start_ns >= 1'000'000'000) {
      s->window_start_ns = now;
      s->in_window = 0;
    }
    if (s->in_window >= s->max_per_second) {
      s->sampled_out.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    ++s->in_window;
    boost::json::object o;
    o["id"] = rec.id;
    o["value"] = rec.value;
    if (s->sink(sdk::to_json(o)))
      s->sent.fetch_add(1, std::memory_order_relaxed);
    else
      s->sampled_out.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace weir::runtime
