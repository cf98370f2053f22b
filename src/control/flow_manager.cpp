#include "control/flow_manager.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "core/hash.hpp"
#include "log/flow_levels.hpp"
#include "sdk/base/quote.hpp"
#include "store/atomic_file.hpp"
#include "store/store.hpp"

namespace weir::control {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Lines of a flow follow its own level, or the engine's.
void set_log_level(const std::string& flow, flow::FlowLogLevel level) {
  using L = config::LogLevel;
  std::optional<L> to;
  switch (level) {
    case flow::FlowLogLevel::engine:
      break;
    case flow::FlowLogLevel::trace:
      to = L::trace;
      break;
    case flow::FlowLogLevel::debug:
      to = L::debug;
      break;
    case flow::FlowLogLevel::info:
      to = L::info;
      break;
    case flow::FlowLogLevel::warn:
      to = L::warn;
      break;
    case flow::FlowLogLevel::error:
      to = L::error;
      break;
    case flow::FlowLogLevel::off:
      to = L::off;
      break;
  }
  log::set_flow_level(flow, to);
}

std::string text_hash(std::string_view text) {
  return core::hex64(core::fnv1a64(text));
}

}  // namespace

FlowManager::FlowManager(std::filesystem::path flows_dir, runtime::Engine& engine, store::Store* store,
                         const registry::Registry& registry, flow::Getenv getenv,
                         std::chrono::milliseconds drain)
    : flows_dir_(std::move(flows_dir)),
      engine_(engine),
      store_(store),
      registry_(registry),
      getenv_(std::move(getenv)),
      drain_(drain) {}

void FlowManager::event(ReloadEvent e) {
  if (!initial_) (e.ok ? reloads_ok_ : reloads_failed_)++;
  events_.push_back(std::move(e));
  while (events_.size() > 100) events_.pop_front();
}

void FlowManager::apply_file(FlowFile& st, flow::LoadResult&& r, const std::string& text,
                             const std::string& source) {
  const auto hash = text_hash(text);
  st.text_hash = hash;
  st.changed_at_ms = now_ms();
  if (!r.flow) {
    st.errors = std::move(r.diagnostics);
    for (const auto& d : st.errors.items()) spdlog::error("{}", sdk::format(d));
    const auto keeps = st.deployed_hash.empty()
                           ? std::string("nothing deployed from it")
                           : "flow " + sdk::quote(st.flow) + " keeps running its previous version";
    spdlog::error("{}: invalid, {} error(s); {}", st.file, st.errors.size(), keeps);
    event({st.changed_at_ms, st.flow, st.file, source, false,
           std::to_string(st.errors.size()) + " error(s): " +
               (st.errors.items().empty() ? std::string() : sdk::format(st.errors.items().front()))});
    return;
  }
  st.errors = {};
  for (const auto& d : r.diagnostics.items()) spdlog::warn("{}", sdk::format(d));
  const auto name = r.flow->name;
  if (!st.flow.empty() && st.flow != name) {
    // The file now defines another flow: the old one goes.
    engine_.remove(st.flow, drain_);
    texts_.erase(st.flow);
    spdlog::info("[{}] undeployed: {} now defines flow \"{}\"", st.flow, st.file, name);
  }
  st.flow = name;
  std::string what;
  const bool enabled = r.flow->enabled;
  set_log_level(name, r.flow->log_level);
  engine_.apply(std::move(*r.flow), &what, drain_);
  st.deployed_hash = hash;
  texts_[name] = text;
  int rev = 0;
  std::string unrecorded;  // the history failed (a full disk, say): the deploy stands, and says so
  if (store_) {
    auto rec = store_->record(name, hash, source, std::filesystem::path(st.file).filename().string(), text);
    if (rec)
      rev = rec->revision.rev;
    else
      unrecorded = "; revision not recorded in the history: " + rec.error();
  }
  if (what.empty()) what = enabled ? "deployed" : "disabled";
  what += unrecorded;
  if (!unrecorded.empty())
    spdlog::warn("[{}] {} from {} ({}): {}", name, initial_ ? "loaded" : "reloaded", st.file, source, what);
  else if (!initial_)
    spdlog::info("[{}] reloaded from {} ({}): {}{}", name, st.file, source, what,
                 rev ? ", revision " + std::to_string(rev) : std::string());
  event({st.changed_at_ms, name, st.file, source, true, what});
}

void FlowManager::scan() {
  std::lock_guard lock(mu_);
  auto results = flow::load_flow_dir(flows_dir_, registry_, getenv_);
  std::set<std::string> seen;
  for (auto& r : results) {
    seen.insert(r.file);
    // The text the loader read, read once: a file that cannot be read (a symlink loop, too large)
    // has none, and is told apart by its diagnostic, so that a different problem is reported again.
    std::string text = std::move(r.text);
    if (text.empty() && !r.diagnostics.empty()) text = "\n" + sdk::format(r.diagnostics.items().front());
    auto& st = files_[r.file];
    st.file = r.file;
    if (st.text_hash == text_hash(text)) continue;
    apply_file(st, std::move(r), text, "file");
  }
  for (auto it = files_.begin(); it != files_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    if (!it->second.flow.empty() && !it->second.deployed_hash.empty()) {
      engine_.remove(it->second.flow, drain_);
      log::set_flow_level(it->second.flow, std::nullopt);
      texts_.erase(it->second.flow);
      spdlog::info("[{}] undeployed: {} was removed", it->second.flow, it->first);
      event({now_ms(), it->second.flow, it->first, "file", true, "undeployed (file removed)"});
    }
    it = files_.erase(it);
  }
  if (results.empty() && initial_) spdlog::warn("no flow files in {}", flows_dir_.string());
  initial_ = false;
}

std::string FlowManager::file_for(const std::string& flow) const {
  for (const auto& [path, st] : files_)
    if (st.flow == flow) return path;
  return (flows_dir_ / (flow + ".json")).string();
}

std::optional<std::string> FlowManager::unwritable() const {
  if (::access(flows_dir_.c_str(), W_OK) == 0 || (errno != EROFS && errno != EACCES)) return std::nullopt;
  return "flows_dir " + flows_dir_.string() + " is not writable (" + std::strerror(errno) +
         "): change the flow files where they come from, or make flows_dir writable to manage flows "
         "through the API";
}

WriteResult FlowManager::put(const std::string& name, const std::string& text) {
  std::lock_guard lock(mu_);
  const auto file = file_for(name);
  auto r = flow::load_flow_text(text, file, registry_, getenv_);
  WriteResult out;
  if (!r.flow) {
    out.status = 422;
    out.diagnostics = std::move(r.diagnostics);
    out.message = "the flow is invalid; nothing was changed";
    return out;
  }
  if (r.flow->name != name) {
    out.status = 422;
    out.message = "the body defines flow " + sdk::quote(r.flow->name) + ", not \"" + name + "\"";
    sdk::Diagnostic d;
    d.code = "name_mismatch";
    d.pointer = "/name";
    d.message = out.message;
    out.diagnostics.add(std::move(d));
    return out;
  }
  auto it = files_.find(file);
  const bool created = it == files_.end() || it->second.deployed_hash.empty();
  if (it != files_.end() && it->second.flow != name && !it->second.flow.empty()) {
    out.status = 409;
    out.message = file + " defines flow " + sdk::quote(it->second.flow);
    return out;
  }
  std::string error;
  if (!store::write_file_atomically(file, text, &error)) {
    out.status = 500;
    out.message = "cannot write " + file + ": " + error;
    return out;
  }
  auto& st = files_[file];
  st.file = file;
  apply_file(st, std::move(r), text, "api");
  out.status = created ? 201 : 200;
  out.diagnostics = {};
  out.message = events_.empty() ? std::string() : events_.back().message;
  return out;
}

bool FlowManager::remove(const std::string& name, std::string* error) {
  std::lock_guard lock(mu_);
  for (auto it = files_.begin(); it != files_.end(); ++it) {
    if (it->second.flow != name) continue;
    std::error_code ec;
    std::filesystem::remove(it->first, ec);
    if (ec) {
      if (error) *error = "cannot remove " + it->first + ": " + ec.message();
      return false;
    }
    engine_.remove(name, drain_);
    log::set_flow_level(name, std::nullopt);
    texts_.erase(name);
    spdlog::info("[{}] undeployed and {} removed (api)", name, it->first);
    event({now_ms(), name, it->first, "api", true, "undeployed (deleted)"});
    files_.erase(it);
    return true;
  }
  if (error) *error = "no flow named " + sdk::quote(name);
  return false;
}

bool FlowManager::restart(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!texts_.count(name)) return false;
  const bool ok = engine_.restart(name, drain_);
  event({now_ms(), name, file_for(name), "api", ok, ok ? "restarted" : "restart failed"});
  return ok;
}

flow::LoadResult FlowManager::validate(std::string_view text, const std::string& file) const {
  return flow::load_flow_text(text, file, registry_, getenv_);
}

std::vector<FlowFile> FlowManager::files() const {
  std::lock_guard lock(mu_);
  std::vector<FlowFile> out;
  for (const auto& [path, st] : files_) out.push_back(st);
  return out;
}

std::optional<FlowFile> FlowManager::file_of(const std::string& flow) const {
  std::lock_guard lock(mu_);
  for (const auto& [path, st] : files_)
    if (st.flow == flow) return st;
  return std::nullopt;
}

std::string FlowManager::deployed_text(const std::string& flow) const {
  std::lock_guard lock(mu_);
  auto it = texts_.find(flow);
  return it == texts_.end() ? std::string() : it->second;
}

std::vector<ReloadEvent> FlowManager::recent_events() const {
  std::lock_guard lock(mu_);
  return {events_.begin(), events_.end()};
}

}  // namespace weir::control
