#include "app/flows_cmd.hpp"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "app/docs.hpp"
#include "config/engine_config.hpp"
#include "store/atomic_file.hpp"
#include "store/store.hpp"

namespace weir::app {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t short_hash = 12;

// The engine config exactly as `weir run` builds it: file, WEIR_* variables, then flags.
std::optional<config::EngineConfig> load_config(const FlowsOptions& options) {
  auto loaded = config::load_engine_config_with_flags(
      options.config_file,
      {{"flows_dir", "--flows", &options.flows_dir}, {"data_dir", "--data-dir", &options.data_dir}});
  for (const auto& d : loaded.diagnostics.items()) std::fprintf(stderr, "%s\n", sdk::format(d).c_str());
  if (loaded.diagnostics.has_errors()) return std::nullopt;
  return std::move(loaded.config);
}

// Opens data_dir/weir.db, which must already exist: a wrong --data-dir should say so rather than
// leave a new empty database behind.
std::optional<store::Store> open_store(const config::EngineConfig& cfg) {
  const fs::path file = cfg.data_dir / "weir.db";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    std::fprintf(stderr,
                 "weir: no database at %s: no flow has been deployed with this data dir "
                 "(see -c/--config, --data-dir)\n",
                 file.c_str());
    return std::nullopt;
  }
  auto opened = store::Store::open(file);
  if (!opened) {
    std::fprintf(stderr, "weir: %s\n", opened.error().c_str());
    return std::nullopt;
  }
  return std::move(opened).value();
}

std::string utc_iso8601(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void no_revisions(const std::string& flow, const store::Store& db) {
  std::fprintf(stderr, "weir: no revisions of flow \"%s\" in %s\n", flow.c_str(), db.file().c_str());
}

void print_table(const std::vector<store::Revision>& revisions) {
  std::vector<std::array<std::string, 5>> rows{{"REV", "DEPLOYED", "SOURCE", "HASH", "FILE"}};
  for (const auto& r : revisions)
    rows.push_back({std::to_string(r.rev), utc_iso8601(r.deployed_at_ms), r.source,
                    r.hash.substr(0, short_hash), r.file});
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (std::size_t n = 0; n < rows.size(); ++n) {
    std::string line;
    for (std::size_t i = 0; i < rows[n].size(); ++i) {
      line += rows[n][i];
      if (i + 1 < rows[n].size()) line += std::string(width[i] - rows[n][i].size() + 2, ' ');
    }
    if (n == 1) line += "  (latest)";  // rows[1] is the newest revision
    std::printf("%s\n", line.c_str());
  }
}

boost::json::value revisions_json(const std::vector<store::Revision>& revisions) {
  boost::json::array out;
  for (const auto& r : revisions) {
    out.push_back(boost::json::object{{"flow", r.flow},
                                      {"rev", r.rev},
                                      {"deployed_at", utc_iso8601(r.deployed_at_ms)},
                                      {"deployed_at_ms", r.deployed_at_ms},
                                      {"source", r.source},
                                      {"hash", r.hash},
                                      {"file", r.file},
                                      {"latest", out.empty()}});
  }
  return out;
}

// A file name from the database is written to only if it stays inside flows_dir.
bool inside_flows_dir(const fs::path& file) {
  if (file.empty() || file.is_absolute()) return false;
  for (const auto& part : file)
    if (part == "..") return false;
  return true;
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

}  // namespace

int flows_history(const FlowsOptions& options, const std::string& flow, bool as_json) {
  const auto cfg = load_config(options);
  if (!cfg) return 1;
  const auto db = open_store(*cfg);
  if (!db) return 1;
  const auto revisions = db->history(flow);
  if (!revisions) {
    std::fprintf(stderr, "weir: %s\n", revisions.error().c_str());
    return 1;
  }
  if (revisions->empty()) {
    no_revisions(flow, *db);
    return 1;
  }
  if (as_json)
    std::cout << pretty_json(revisions_json(*revisions));
  else
    print_table(*revisions);
  return 0;
}

int flows_rollback(const FlowsOptions& options, const std::string& flow, int rev) {
  const auto cfg = load_config(options);
  if (!cfg) return 1;
  const auto db = open_store(*cfg);
  if (!db) return 1;
  const auto found = db->revision(flow, rev);
  const auto latest = db->latest(flow);
  if (!found || !latest) {
    std::fprintf(stderr, "weir: %s\n", (!found ? found.error() : latest.error()).c_str());
    return 1;
  }
  if (!*latest) {
    no_revisions(flow, *db);
    return 1;
  }
  if (!*found) {
    std::fprintf(stderr,
                 "weir: flow \"%s\" has no revision %d (latest is %d); `weir flows history %s` lists them\n",
                 flow.c_str(), rev, (*latest)->rev, flow.c_str());
    return 1;
  }
  const store::Revision& r = **found;
  // The flow's current file: writing the old one back after a rename would leave two files
  // defining the same flow, and the loader would refuse the second.
  const std::string& name = (*latest)->file;
  if (!inside_flows_dir(name)) {
    std::fprintf(stderr,
                 "weir: revision %d of \"%s\" names the file \"%s\", which is outside the flows dir\n",
                 (*latest)->rev, flow.c_str(), name.c_str());
    return 1;
  }
  const fs::path target = cfg->flows_dir / name;
  if (read_file(target) == r.text) {
    std::printf("%s already holds revision %d of flow \"%s\"; nothing written\n", target.c_str(), rev,
                flow.c_str());
    return 0;
  }
  std::string error;
  if (!store::write_file_atomically(target, r.text, &error)) {
    std::fprintf(stderr, "weir: %s\n", error.c_str());
    return 1;
  }
  std::printf("wrote revision %d of flow \"%s\" (hash %s, deployed %s) to %s\n", rev, flow.c_str(),
              r.hash.substr(0, short_hash).c_str(), utc_iso8601(r.deployed_at_ms).c_str(), target.c_str());
  if (r.file != name)
    std::printf("(revision %d was in %s; the flow now lives in %s)\n", rev, r.file.c_str(), name.c_str());
  std::printf("a running engine's hot reload deploys it now; otherwise the next `weir run` does\n");
  return 0;
}

struct FlowsCommand::State {
  FlowsOptions options;
  std::string flow;
  int rev = 0;
  bool as_json = false;
  CLI::App* history = nullptr;
  CLI::App* rollback = nullptr;
};

FlowsCommand::FlowsCommand(CLI::App& cli) : state_(std::make_unique<State>()) {
  auto& s = *state_;
  auto* flows = cli.add_subcommand("flows", "Deployed flow revisions (data_dir/weir.db): history, rollback");
  flows->require_subcommand(1);
  auto add_config_options = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", s.options.config_file, config::config_flag_help);
    cmd->add_option("--flows", s.options.flows_dir, "Flows directory (overrides the config)");
    cmd->add_option("--data-dir", s.options.data_dir, "Data directory (overrides the config)");
  };

  s.history = flows->add_subcommand("history", "List the deployed revisions of a flow, newest first");
  s.history->add_option("name", s.flow, "Flow name")->required();
  s.history->add_flag("--json", s.as_json, "Machine-readable output, with full hashes");
  add_config_options(s.history);

  s.rollback = flows->add_subcommand(
      "rollback", "Write a revision back into the flow's file; the engine's hot reload deploys it");
  s.rollback->add_option("name", s.flow, "Flow name")->required();
  s.rollback->add_option("rev", s.rev, "Revision number, from `weir flows history`")
      ->required()
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  add_config_options(s.rollback);
}

FlowsCommand::~FlowsCommand() = default;

bool FlowsCommand::selected() const {
  return *state_->history || *state_->rollback;
}

int FlowsCommand::run() const {
  const auto& s = *state_;
  if (*s.history) return flows_history(s.options, s.flow, s.as_json);
  return flows_rollback(s.options, s.flow, s.rev);
}

}  // namespace weir::app
