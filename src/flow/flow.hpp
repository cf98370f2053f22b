// A validated flow: what the loader produces and the graph planner and runtime consume.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sdk/spec.hpp"

namespace weir::flow {

enum class Discard { new_, old };

// `settings` of a flow file; the disk budget and delivery knobs of its stream.
struct Settings {
  sdk::ByteSize max_bytes{1024ull * 1024 * 1024};
  std::chrono::nanoseconds max_age{0};
  Discard discard = Discard::new_;
  std::chrono::nanoseconds duplicate_window = std::chrono::minutes(2);
  std::chrono::nanoseconds ack_wait = std::chrono::seconds(10);
  int max_deliver = 5;
  bool fuse = true;
  int batch_records = 512;
  sdk::ByteSize batch_bytes{256 * 1024};
  int publish_window = 16;
  int replicas = 1;
  std::chrono::nanoseconds state_interval = std::chrono::seconds(1);

  static sdk::ObjectSpec<Settings> object_spec();
  friend bool operator==(const Settings&, const Settings&) = default;
};

struct InputRef {
  std::string component;  // upstream component id
  std::string port;       // upstream port ("out" when the reference names no port)
  std::string pointer;    // where the reference stands in the file
};

struct ComponentDecl {
  std::string id;
  std::string type;
  std::string description;
  std::vector<InputRef> inputs;
  const sdk::ComponentInfo* info = nullptr;  // from the registry the flow was validated with
  // This instance's own info when its config names ports (a route's cases): `info` points here.
  std::shared_ptr<const sdk::ComponentInfo> own_info;
  std::shared_ptr<const void> config;  // the parsed Config of `info`
  boost::json::value raw_config;       // after ${VAR} substitution
  std::string pointer;                 // "/components/3"
  std::string fingerprint;             // changes whenever type, config or inputs change
};

// A flow's own log level; `engine` follows the engine's. Not part of the fingerprint: changing it
// redeploys nothing.
enum class FlowLogLevel { engine, trace, debug, info, warn, error, off };

struct Flow {
  std::string file;
  std::string name;
  std::string description;
  bool enabled = true;
  FlowLogLevel log_level = FlowLogLevel::engine;
  Settings settings;
  std::vector<ComponentDecl> components;

  const ComponentDecl* find(std::string_view id) const;
  std::size_t index_of(std::string_view id) const;  // npos when absent
  // Changes whenever the settings or any component (its id, type, config or inputs) change, so a
  // reload can tell a flow file that differs from what runs.
  std::string fingerprint() const;
};

}  // namespace weir::flow
