// Drives one component without an engine or a server: parse a config the way a flow file does,
// create the component, and feed it records. Shared by every components/<type>/<type>_test.cpp.
#pragma once

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "registry/registry.hpp"
#include "sdk/spec.hpp"

namespace weir::testing {

struct Parsed {
  sdk::Diagnostics diags;
  std::shared_ptr<const void> config;
  const sdk::ComponentInfo* info = nullptr;  // the instance's: with the ports its config names
  std::shared_ptr<const sdk::ComponentInfo> own_info;
};

// Parses `config_json` for `type` at pointer /components/0/config, as the flow loader does.
inline Parsed parse_config(const std::string& type, const std::string& config_json) {
  Parsed p;
  p.info = registry::builtins().find(type);
  REQUIRE_MESSAGE(p.info != nullptr, "component type not registered: " << type);
  auto v = boost::json::parse(config_json);
  p.config = p.info->parse(&v, p.diags, "/components/0/config");
  p.own_info = p.info->for_config(p.config.get());  // as the flow loader does
  if (p.own_info) p.info = p.own_info.get();
  return p;
}

// True when diags hold `code` at `pointer`.
inline bool has_diag(const sdk::Diagnostics& d, const std::string& code, const std::string& pointer) {
  for (const auto& item : d.items())
    if (item.code == code && item.pointer == pointer) return true;
  return false;
}

inline std::string dump(const sdk::Diagnostics& d) {
  std::string out;
  for (const auto& item : d.items()) out += sdk::format(item) + "\n";
  return out;
}

inline sdk::Context test_context(const std::string& id = "c") {
  return sdk::Context{"test", id, sdk::Log("test", id), nullptr, {}};
}

template <class T>
std::unique_ptr<T> create(const Parsed& p, const sdk::Context& ctx = test_context()) {
  REQUIRE_MESSAGE(p.config != nullptr, dump(p.diags));
  auto c = p.info->create(p.config.get(), ctx);
  auto* typed = dynamic_cast<T*>(c.get());
  REQUIRE(typed != nullptr);
  c.release();
  return std::unique_ptr<T>(typed);
}

// Creates a component from `config` (see parse_config) and starts it; fails the test when start()
// does.
template <class T>
std::unique_ptr<T> started(const std::string& type, const std::string& config,
                           const sdk::Context& ctx = test_context()) {
  auto c = create<T>(parse_config(type, config), ctx);
  auto st = c->start();
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  return c;
}

// Writes `records` to an output; fails the test on an error or a rejected record.
inline void write_ok(sdk::Output& out, const std::vector<sdk::Record>& records) {
  sdk::Rejects rejects;
  auto st = out.write(records, rejects);
  REQUIRE_MESSAGE(st.is_ok(), st.error());
  CHECK(rejects.items.empty());
}

// The value of a component's metric `name` (fails the test when it has none).
inline double metric(const sdk::Component& c, const std::string& name) {
  std::vector<sdk::Metric> m;
  c.metrics(m);
  for (const auto& x : m)
    if (x.name == name) return x.value;
  FAIL("no metric " << name);
  return -1;
}

// Collects what a processor emits.
struct CollectingEmitter : sdk::Emitter {
  std::vector<std::pair<std::size_t, sdk::Record>> emitted;
  std::vector<std::pair<sdk::Record, std::string>> failed;
  void emit(sdk::Port port, sdk::Record&& rec) override {
    emitted.emplace_back(port.index(), std::move(rec));
  }
  void fail(sdk::Record&& rec, std::string_view reason) override {
    failed.emplace_back(std::move(rec), std::string(reason));
  }
};

// An input sink that keeps the records; stops after `limit` pushes.
struct CollectingSink : sdk::InputSink {
  std::vector<sdk::Record> pushed;
  std::vector<std::pair<sdk::Record, std::string>> failed;
  std::size_t limit = static_cast<std::size_t>(-1);
  std::size_t flushes = 0;
  std::size_t callbacks = 0;
  bool push(sdk::Record&& rec, std::function<void()> on_durable) override {
    if (pushed.size() >= limit) return false;
    pushed.push_back(std::move(rec));
    if (on_durable) {
      on_durable();
      ++callbacks;
    }
    return true;
  }
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) override {
    failed.emplace_back(std::move(rec), std::string(reason));
    if (on_durable) {
      on_durable();
      ++callbacks;
    }
    return true;
  }
  std::vector<sdk::Batch> batches;
  bool push_batch(sdk::Batch&& batch, std::function<void()> on_durable) override {
    batches.push_back(std::move(batch));
    if (on_durable) {
      on_durable();
      ++callbacks;
    }
    return true;
  }
  void flush() override { ++flushes; }
  bool stopping() const override { return pushed.size() >= limit; }
  bool sleep_for(std::chrono::nanoseconds) override { return !stopping(); }
};

// An input sink for inputs whose run() is on a thread of its own while the test reads what
// arrived: everything under a lock; on_durable runs at once (as after an instant PubAck).
struct ThreadSafeSink : sdk::InputSink {
  mutable std::mutex mu;
  std::vector<sdk::Record> pushed;
  std::vector<std::pair<sdk::Record, std::string>> failed;
  std::vector<sdk::Batch> batches;
  std::atomic<bool> stop{false};
  std::atomic<int> durability{-1};  // what the input asked set_durability() for; -1: nothing
  bool can_sync = true;             // whether set_durability(synced) succeeds
  sdk::Status set_durability(sdk::Durability d) override {
    durability = static_cast<int>(d);
    return can_sync || d == sdk::Durability::stored ? sdk::Status::ok()
                                                    : sdk::Status::error("cannot sync here");
  }
  bool push(sdk::Record&& rec, std::function<void()> on_durable) override {
    {
      std::lock_guard l(mu);
      pushed.push_back(std::move(rec));
    }
    if (on_durable) on_durable();
    return !stop;
  }
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) override {
    {
      std::lock_guard l(mu);
      failed.emplace_back(std::move(rec), std::string(reason));
    }
    if (on_durable) on_durable();
    return !stop;
  }
  bool push_batch(sdk::Batch&& batch, std::function<void()> on_durable) override {
    {
      std::lock_guard l(mu);
      batches.push_back(std::move(batch));
    }
    if (on_durable) on_durable();
    return !stop;
  }
  void flush() override {}
  bool stopping() const override { return stop; }
  bool sleep_for(std::chrono::nanoseconds) override { return !stop; }
  template <class F>
  auto locked(F&& f) const {
    std::lock_guard l(mu);
    return f();
  }
};

inline sdk::Record rec(const std::string& json, const std::string& id = "r1") {
  return {id, boost::json::parse(json)};
}

}  // namespace weir::testing
