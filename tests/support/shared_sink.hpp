// An input sink that an input's run() pushes to on its thread while a test or a bench reads what
// it got (under `mu`); stopping once `stop` is set. Without doctest: benches use it too.
#pragma once

#include <boost/json/value.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sdk/component.hpp"

namespace weir::testing {

struct SharedSink : sdk::InputSink {
  std::mutex mu;
  std::vector<boost::json::value> pushed;
  std::vector<std::pair<boost::json::value, std::string>> failed;
  std::atomic<bool> stop{false};
  bool push(sdk::Record&& rec, std::function<void()> done) override {
    std::lock_guard lock(mu);
    pushed.push_back(std::move(rec.value));
    if (done) done();
    return !stop;
  }
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> done) override {
    std::lock_guard lock(mu);
    failed.emplace_back(std::move(rec.value), std::string(reason));
    if (done) done();
    return !stop;
  }
  bool push_batch(sdk::Batch&&, std::function<void()>) override { return false; }
  void flush() override {}
  bool stopping() const override { return stop; }
  bool sleep_for(std::chrono::nanoseconds d) override {
    std::this_thread::sleep_for(d);
    return !stop;
  }
};

}  // namespace weir::testing
