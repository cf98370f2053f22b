#include "runtime/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace weir::runtime {

const char* to_string(ApplyResult r) {
  switch (r) {
    case ApplyResult::unchanged:
      return "unchanged";
    case ApplyResult::deployed:
      return "deployed";
    case ApplyResult::updated:
      return "updated";
    case ApplyResult::redeployed:
      return "redeployed";
    case ApplyResult::removed:
      return "removed";
    case ApplyResult::failed:
      return "failed";
  }
  return "unknown";
}

Engine::Engine(bus::Connection& conn, std::filesystem::path data_dir, std::chrono::milliseconds retry_every,
               bus::Connection* components_conn)
    : conn_(conn),
      components_nats_(std::make_unique<ComponentNats>(components_conn ? *components_conn : conn)),
      data_dir_(std::move(data_dir)),
      retry_every_(retry_every) {
  retry_thread_ = std::thread([this] { retry_loop(); });
}

Engine::~Engine() {
  stop(std::chrono::milliseconds(0));
}

std::size_t Engine::deploy(std::vector<flow::Flow> flows) {
  for (auto& f : flows) {
    if (!f.enabled) spdlog::info("[{}] flow disabled", f.name);
    apply(std::move(f));
  }
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(runners_.begin(), runners_.end(), [](const auto& r) {
    return r.second->state() == FlowState::running;
  }));
}

ApplyResult Engine::apply(flow::Flow f, std::string* what, std::chrono::milliseconds drain) {
  std::string told;
  auto done = [&](ApplyResult r) {
    if (what) *what = std::move(told);
    return r;
  };
  std::lock_guard change(change_mu_);
  if (stopping()) {
    told = "not applied: the engine is stopping";
    return done(ApplyResult::failed);
  }
  const std::string name = f.name;
  auto it = runners_.find(name);
  if (!f.enabled) {
    if (it == runners_.end()) {
      told = "disabled";
      return done(ApplyResult::unchanged);
    }
    it->second->stop(drain);
    take_runner(name);
    told = "disabled: undeployed";
    return done(ApplyResult::removed);
  }
  if (it == runners_.end()) {
    add_runner(std::make_unique<FlowRunner>(std::move(f), conn_, data_dir_, *components_nats_));
    if (runners_.at(name)->start()) {
      told = "deployed";
      return done(ApplyResult::deployed);
    }
    told = "failed to start (retried): " + runners_.at(name)->status().error;
    return done(ApplyResult::failed);
  }
  auto& runner = *it->second;
  if (runner.fingerprint() == f.fingerprint()) {
    // Only the file's name or description may differ.
    if (runner.state() == FlowState::running) runner.update(std::move(f), drain);
    told = "unchanged";
    return done(ApplyResult::unchanged);
  }
  if (runner.update(f, drain, &told)) {
    if (runner.state() == FlowState::failed) {
      told += " failed (retried): " + runner.status().error;
      return done(ApplyResult::failed);
    }
    return done(ApplyResult::updated);
  }
  // Its stages, consumers or settings changed (or it was not running): anew, on the durable
  // consumers the new plan keeps.
  runner.stop(drain);
  take_runner(name);
  add_runner(std::make_unique<FlowRunner>(std::move(f), conn_, data_dir_, *components_nats_));
  if (!runners_.at(name)->start()) {
    told = "redeploy failed to start (retried): " + runners_.at(name)->status().error;
    return done(ApplyResult::failed);
  }
  told = "redeployed whole (its stages, consumers or settings changed)";
  return done(ApplyResult::redeployed);
}

bool Engine::remove(const std::string& name, std::chrono::milliseconds drain) {
  std::lock_guard change(change_mu_);
  auto it = runners_.find(name);
  if (it == runners_.end()) return false;
  it->second->stop(drain);
  take_runner(name);
  spdlog::info("[{}] flow undeployed; its stream and consumers stay, so a redeploy resumes", name);
  return true;
}

bool Engine::restart(const std::string& name, std::chrono::milliseconds drain) {
  std::lock_guard change(change_mu_);
  auto it = runners_.find(name);
  if (it == runners_.end() || stopping()) return false;
  it->second->stop(drain);
  return it->second->start();
}

void Engine::add_runner(std::unique_ptr<FlowRunner> runner) {
  std::lock_guard lock(mu_);
  const auto& name = runner->name();
  runners_[name] = std::move(runner);
}

std::unique_ptr<FlowRunner> Engine::take_runner(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = runners_.find(name);
  if (it == runners_.end()) return nullptr;
  auto runner = std::move(it->second);
  runners_.erase(it);
  return runner;  // destroyed by the caller, outside mu_
}

bool Engine::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Engine::retry_loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, retry_every_, [this] { return stopping_; });
      if (stopping_) return;
    }
    std::lock_guard change(change_mu_);
    for (auto& [name, r] : runners_) {
      if (stopping()) return;
      if (r->state() != FlowState::failed) continue;
      spdlog::info("[{}] retrying the flow's start", name);
      r->start();
    }
  }
}

void Engine::stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
  std::lock_guard change(change_mu_);
  for (auto& [name, r] : runners_) r->stop(drain);
}

std::vector<FlowStatus> Engine::status() const {
  std::lock_guard lock(mu_);
  std::vector<FlowStatus> out;
  for (const auto& [name, r] : runners_) out.push_back(r->status());
  return out;
}

std::optional<FlowStatus> Engine::status(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = runners_.find(name);
  if (it == runners_.end()) return std::nullopt;
  return it->second->status();
}

std::vector<DeployedFlow> Engine::deployed() const {
  std::lock_guard lock(mu_);
  std::vector<DeployedFlow> out;
  for (const auto& [name, r] : runners_) out.push_back({name, r->file(), r->fingerprint(), r->state()});
  return out;
}

}  // namespace weir::runtime
