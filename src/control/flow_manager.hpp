// Keeps the running flows in step with the flow files: the initial deploy, hot reloads when a file
// changes (an invalid edit leaves the running version alone), the API's writes and deletes, and
// the revision history. Every change goes through here, one at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "flow/loader.hpp"
#include "registry/registry.hpp"
#include "runtime/engine.hpp"
#include "sdk/diagnostic.hpp"

namespace weir::store {
class Store;
}

namespace weir::control {

struct FlowFile {
  std::string file;           // path of the flow file
  std::string flow;           // the flow it defines (empty when it never parsed)
  std::string text_hash;      // of the content last read
  std::string deployed_hash;  // of the content running now (empty: none)
  sdk::Diagnostics errors;    // of the content last read, when it is invalid
  std::int64_t changed_at_ms = 0;
};

struct ReloadEvent {
  std::int64_t at_ms = 0;  // unix ms
  std::string flow;
  std::string file;
  std::string source;  // "file" | "api"
  bool ok = true;
  std::string message;  // what was redeployed, or why it was refused
};

// The outcome of a write through the API.
struct WriteResult {
  unsigned status = 200;  // 200 updated, 201 created, 422 invalid, 409 conflict, 500 write failed
  sdk::Diagnostics diagnostics;
  std::string message;
};

class FlowManager {
 public:
  FlowManager(std::filesystem::path flows_dir, runtime::Engine& engine, store::Store* store,
              const registry::Registry& registry, flow::Getenv getenv, std::chrono::milliseconds drain);

  // Reads every flow file and brings the engine in step. The first call is the initial deploy
  // (not counted as a reload).
  void scan();

  WriteResult put(const std::string& name, const std::string& text);
  // False when no file defines the flow.
  bool remove(const std::string& name, std::string* error);
  bool restart(const std::string& name);
  // Checks a flow text as a deploy would, without deploying. `file` labels the diagnostics.
  flow::LoadResult validate(std::string_view text, const std::string& file) const;

  std::vector<FlowFile> files() const;
  std::optional<FlowFile> file_of(const std::string& flow) const;
  // The text of a flow's file as deployed (empty when unknown).
  std::string deployed_text(const std::string& flow) const;
  std::vector<ReloadEvent> recent_events() const;  // newest last, at most 100

  std::uint64_t reloads_ok() const { return reloads_ok_.load(); }
  std::uint64_t reloads_failed() const { return reloads_failed_.load(); }
  const std::filesystem::path& flows_dir() const { return flows_dir_; }
  // Why the API cannot write flows_dir (a read-only mount, as in the container image's compose
  // file, or no permission), or nullopt when it can.
  std::optional<std::string> unwritable() const;

 private:
  void apply_file(FlowFile& st, flow::LoadResult&& r, const std::string& text, const std::string& source);
  void event(ReloadEvent e);
  std::string file_for(const std::string& flow) const;  // existing file, or <flows_dir>/<flow>.json

  std::filesystem::path flows_dir_;
  runtime::Engine& engine_;
  store::Store* store_;
  const registry::Registry& registry_;
  flow::Getenv getenv_;
  std::chrono::milliseconds drain_;
  mutable std::mutex mu_;
  bool initial_ = true;
  std::map<std::string, FlowFile> files_;     // by file path
  std::map<std::string, std::string> texts_;  // flow name -> deployed text
  std::deque<ReloadEvent> events_;
  std::atomic<std::uint64_t> reloads_ok_{0}, reloads_failed_{0};
};

}  // namespace weir::control
