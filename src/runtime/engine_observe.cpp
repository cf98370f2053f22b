// The engine's read-side for operators: taps and consumer lag (engine.cpp holds the changes).
#include "runtime/engine.hpp"
#include "sdk/base/quote.hpp"

namespace weir::runtime {

std::optional<TapTarget> Engine::tap_target(const std::string& flow, const std::string& component,
                                            const std::string& port, std::string* error) const {
  std::lock_guard lock(mu_);
  auto it = runners_.find(flow);
  if (it == runners_.end()) {
    if (error) *error = "no flow named " + sdk::quote(flow) + " is deployed";
    return std::nullopt;
  }
  std::vector<std::pair<std::size_t, std::size_t>> points;
  TapTarget t{flow, component, {}};
  if (!it->second->tap_points(component, port, points, t.port, error)) return std::nullopt;
  return t;
}

std::unique_ptr<TapHandle> Engine::tap(const TapTarget& target, const TapHub::Sink& sink,
                                       const std::function<void()>& on_end, std::string* error) {
  std::lock_guard lock(mu_);
  auto it = runners_.find(target.flow);
  if (it == runners_.end()) {
    if (error) *error = "flow " + sdk::quote(target.flow) + " is no longer deployed";
    return nullptr;
  }
  std::vector<std::pair<std::size_t, std::size_t>> points;
  std::string port;
  if (!it->second->tap_points(target.component, target.port, points, port, error)) return nullptr;
  auto handle = std::make_unique<TapHandle>();
  for (const auto& [component, p] : points) {
    auto sub = it->second->taps()->subscribe(component, p, sink, on_end);
    if (sub) handle->subscriptions.push_back(std::move(sub));
  }
  return handle;
}

std::vector<ConsumerLag> Engine::consumer_lag() const {
  std::vector<ConsumerLag> out;
  // Each answer takes a request to the server: with none, do not wait for timeouts while
  // holding the lock that status() needs.
  if (!conn_.connected()) return out;
  std::lock_guard lock(mu_);
  for (const auto& [name, runner] : runners_) {
    auto lag = runner->consumer_lag();
    out.insert(out.end(), lag.begin(), lag.end());
  }
  return out;
}

}  // namespace weir::runtime
