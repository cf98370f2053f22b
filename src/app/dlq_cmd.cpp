#include "app/dlq_cmd.hpp"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "app/docs.hpp"
#include "bus/connection.hpp"
#include "config/engine_config.hpp"
#include "log/redact.hpp"
#include "log/setup.hpp"
#include "runtime/dead_letters.hpp"

namespace weir::app {

namespace {

namespace dl = runtime::dead_letters;

// The engine config as `weir run` builds it (file, WEIR_* variables, flags), then a connection
// to its NATS: nats.url, or the embedded server `weir run` starts on 127.0.0.1.
std::unique_ptr<bus::Connection> connect(const DlqOptions& options) {
  auto loaded = config::load_engine_config_with_flags(options.config_file,
                                                      {{"nats.url", "--nats-url", &options.nats_url}});
  for (const auto& d : loaded.diagnostics.items()) std::fprintf(stderr, "%s\n", sdk::format(d).c_str());
  if (loaded.diagnostics.has_errors()) return nullptr;
  const auto& cfg = loaded.config;
  // Library log lines (connection state) go to stderr, and only when they matter.
  config::LogConfig quiet;
  quiet.level = config::LogLevel::warn;
  log::setup_logging(quiet);

  bus::ConnectOptions co;
  co.url = cfg.nats.url.empty() ? "nats://127.0.0.1:" + std::to_string(cfg.nats.embedded.port) : cfg.nats.url;
  co.user = cfg.nats.user;
  co.password = cfg.nats.password;
  co.token = cfg.nats.token;
  co.creds_file = cfg.nats.creds.string();
  co.name = "weir-dlq";
  co.connect_timeout = std::chrono::seconds(5);
  auto conn = bus::Connection::connect(co);
  if (!conn) {
    std::string why = conn.status().text(), masked;
    if (log::redact_urls(why, masked)) why = masked;  // the text quotes the URL
    std::fprintf(
        stderr, "weir: cannot connect to NATS at %s: %s%s\n", log::redact_url(co.url).c_str(), why.c_str(),
        cfg.nats.url.empty() ? " (nats.url is empty: is `weir run` with its embedded server running?)" : "");
    return nullptr;
  }
  return std::move(conn).value();
}

int fail(const bus::Status& st) {
  std::fprintf(stderr, "weir: %s\n", st.text().c_str());
  return 1;
}

std::string utc_iso8601(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

void print_table(const std::vector<dl::Entry>& entries) {
  std::vector<std::array<std::string, 7>> rows{
      {"SEQ", "STORED", "COMPONENT", "RECORDS", "BYTES", "SUBJECT", "ERROR"}};
  for (const auto& e : entries)
    rows.push_back({std::to_string(e.seq), utc_iso8601(e.time_ms), e.component, std::to_string(e.records),
                    std::to_string(e.bytes), e.subject.empty() ? "-" : e.subject, e.error});
  std::array<std::size_t, 7> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace

int dlq_list(const DlqOptions& options, const std::string& flow, std::size_t limit, std::uint64_t after,
             bool as_json) {
  const auto conn = connect(options);
  if (!conn) return 1;
  const auto page = dl::list(*conn, flow, limit, after);
  if (!page) return fail(page.status());
  if (as_json) {
    std::cout << pretty_json(dl::to_json(*page));
    return 0;
  }
  if (page->entries.empty()) {
    std::fprintf(stderr, "flow %s has no dead letters%s\n", flow.c_str(),
                 after != 0 ? " after that sequence" : "");
    return 0;
  }
  print_table(page->entries);
  std::fprintf(stderr, "%zu of %llu dead letters", page->entries.size(),
               static_cast<unsigned long long>(page->total));
  if (page->next_after != 0)
    std::fprintf(stderr, "; more with --after %llu", static_cast<unsigned long long>(page->next_after));
  std::fprintf(stderr, "\n");
  return 0;
}

int dlq_show(const DlqOptions& options, const std::string& flow, std::uint64_t seq, bool as_json) {
  const auto conn = connect(options);
  if (!conn) return 1;
  const auto d = dl::show(*conn, flow, seq);
  if (!d) return fail(d.status());
  if (as_json) {
    std::cout << pretty_json(dl::to_json(*d));
    return 0;
  }
  const auto& e = d->entry;
  std::printf(
      "seq        %llu\nstored     %s\ncomponent  %s\nerror      %s\nsubject    %s\nrecords    %llu\n"
      "bytes      %llu\n",
      static_cast<unsigned long long>(e.seq), utc_iso8601(e.time_ms).c_str(), e.component.c_str(),
      e.error.c_str(), e.subject.empty() ? "- (cannot be replayed)" : e.subject.c_str(),
      static_cast<unsigned long long>(e.records), static_cast<unsigned long long>(e.bytes));
  std::printf("headers\n");
  for (const auto& [k, v] : d->headers) std::printf("  %s: %s\n", k.c_str(), v.c_str());
  std::printf("body%s\n", e.error_records ? " (error records: a replay sends each one's \"record\")" : "");
  std::fwrite(d->body.data(), 1, d->body.size(), stdout);
  if (!d->body.empty() && d->body.back() != '\n') std::printf("\n");
  return 0;
}

int dlq_replay(const DlqOptions& options, const std::string& flow,
               const std::optional<std::string>& component, std::optional<std::uint64_t> seq, bool as_json) {
  const auto conn = connect(options);
  if (!conn) return 1;
  const auto r = dl::replay(*conn, flow, component, seq);
  if (!r) return fail(r.status());
  if (as_json) {
    std::cout << pretty_json(dl::to_json(*r));
  } else {
    std::printf("replayed %llu dead letters (%llu records) of flow %s\n",
                static_cast<unsigned long long>(r->replayed), static_cast<unsigned long long>(r->records),
                flow.c_str());
    if (r->skipped_no_subject != 0)
      std::printf(
          "kept %llu without Weir-Subject (an input's records, or older dead letters): they cannot be "
          "replayed\n",
          static_cast<unsigned long long>(r->skipped_no_subject));
    if (r->skipped_no_consumer != 0)
      std::printf("kept %llu whose subject no consumer of the flow reads (the flow changed?)\n",
                  static_cast<unsigned long long>(r->skipped_no_consumer));
    if (r->failed != 0) std::printf("failed %llu:\n", static_cast<unsigned long long>(r->failed));
    for (const auto& e : r->errors) std::printf("  %s\n", e.c_str());
  }
  return r->failed == 0 ? 0 : 1;
}

struct DlqCommand::State {
  DlqOptions options;
  std::string flow;
  std::uint64_t seq = 0;
  std::size_t limit = 100;
  std::uint64_t after = 0;
  std::optional<std::string> component;
  std::optional<std::uint64_t> replay_seq;
  bool as_json = false;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* replay = nullptr;
};

DlqCommand::DlqCommand(CLI::App& cli) : state_(std::make_unique<State>()) {
  auto& s = *state_;
  auto* dlq = cli.add_subcommand("dlq", "A flow's dead letters (stream WEIR_DLQ_<FLOW>): list, show, replay");
  dlq->require_subcommand(1);
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("flow", s.flow, "Flow name")->required();
    cmd->add_option("-c,--config", s.options.config_file, config::config_flag_help);
    cmd->add_option("--nats-url", s.options.nats_url,
                    "NATS URL (overrides the config; empty: the embedded server on 127.0.0.1)");
    cmd->add_flag("--json", s.as_json, "Machine-readable output");
  };

  s.list = dlq->add_subcommand("list", "List dead letters, oldest first");
  add_common(s.list);
  s.list->add_option("--limit", s.limit, "At most this many (0: all)")->capture_default_str();
  s.list->add_option("--after", s.after, "Only those after this sequence (the next page)");

  s.show = dlq->add_subcommand("show", "Show one dead letter: fields, headers, body");
  add_common(s.show);
  s.show->add_option("seq", s.seq, "Sequence, from `weir dlq list`")->required()->check(CLI::PositiveNumber);

  s.replay = dlq->add_subcommand(
      "replay", "Send dead letters back to the subject they were consumed from, then remove them");
  add_common(s.replay);
  s.replay->add_option("--component", s.component, "Only those of this component");
  s.replay->add_option("--seq", s.replay_seq, "Only this one")->check(CLI::PositiveNumber);
}

DlqCommand::~DlqCommand() = default;

bool DlqCommand::selected() const {
  return *state_->list || *state_->show || *state_->replay;
}

int DlqCommand::run() const {
  const auto& s = *state_;
  if (*s.list) return dlq_list(s.options, s.flow, s.limit, s.after, s.as_json);
  if (*s.show) return dlq_show(s.options, s.flow, s.seq, s.as_json);
  return dlq_replay(s.options, s.flow, s.component, s.replay_seq, s.as_json);
}

}  // namespace weir::app
