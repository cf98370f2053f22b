#include "runtime/engine.hpp"

#include <spdlog/spdlog.h>

namespace weir::runtime {

Engine::Engine(bus::Connection& conn, std::filesystem::path data_dir, std::chrono::milliseconds retry_every)
    : conn_(conn), data_dir_(std::move(data_dir)), retry_every_(retry_every) {
  retry_thread_ = std::thread([this] { retry_loop(); });
}

Engine::~Engine() {
  stop(std::chrono::milliseconds(0));
}

std::size_t Engine::deploy(std::vector<flow::Flow> flows) {
  std::size_t running = 0;
  for (auto& f : flows) {
    if (!f.enabled) {
      spdlog::info("[{}] flow disabled", f.name);
      continue;
    }
    auto runner = std::make_unique<FlowRunner>(std::move(f), conn_, data_dir_);
    if (runner->start()) ++running;
    std::lock_guard lock(mu_);
    runners_.push_back(std::move(runner));
  }
  return running;
}

void Engine::retry_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, retry_every_, [this] { return stopping_; });
    if (stopping_) break;
    for (auto& r : runners_)
      if (r->status().state == FlowState::failed) {
        spdlog::info("[{}] retrying the flow's start", r->flow().name);
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
  std::lock_guard lock(mu_);
  for (auto& r : runners_) r->stop(drain);
}

std::vector<FlowStatus> Engine::status() const {
  std::lock_guard lock(mu_);
  std::vector<FlowStatus> out;
  for (const auto& r : runners_) out.push_back(r->status());
  return out;
}

}  // namespace weir::runtime
