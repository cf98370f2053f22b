#include "file_input/file_input.hpp"

#include <boost/json.hpp>
#include <boost/regex.hpp>

#include <map>
#include <mutex>

#include "file_input/tail.hpp"
#include "sdk/base/record_json.hpp"

namespace weir::components::file_input {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TailOptions tail_options(const Config& c, const std::filesystem::path& data_dir) {
  TailOptions o;
  for (const auto& p : c.paths) {
    std::filesystem::path path(p);
    o.patterns.push_back((path.is_relative() && !data_dir.empty() ? data_dir / path : path).string());
  }
  o.excludes = c.exclude;
  o.start_at_end = c.start_at == StartAt::end;
  o.rotate_wait = c.rotate_wait;
  o.max_line = c.max_line.bytes;
  return o;
}

std::filesystem::path state_path(const sdk::Context& ctx) {
  const auto dir = ctx.data_dir.empty() ? std::filesystem::path(".") : ctx.data_dir;
  return dir / "file_input" / (ctx.flow + "." + ctx.component + ".state");
}

class FileInput final : public sdk::Input, private LineHandler {
 public:
  FileInput(const Config& c, const sdk::Context& ctx)
      : config_(c), ctx_(ctx), tailer_(tail_options(c, ctx.data_dir), state_path(ctx), ctx.log) {}

  sdk::Status start() override {
    if (!config_.multiline_start.empty()) start_ = boost::regex(config_.multiline_start);
    if (auto e = tailer_.open(); !e.empty()) return sdk::Status::error(e);
    return sdk::Status::ok();
  }

  void run(sdk::InputSink& sink) override {
    sink_ = &sink;
    if (config_.durability == Durability::sync && !sink.set_durability(sdk::Durability::synced))
      ctx_.log.warn(
          "durability \"sync\" is off: this engine cannot sync the stream's files; lines are taken as "
          "stored after their PubAck");
    auto next_scan = Clock::now(), next_save = Clock::now() + 1s;
    std::string last_error;
    while (!sink.stopping()) {
      auto now = Clock::now();
      if (now >= next_scan) {
        auto e = tailer_.scan();
        if (!e.empty() && e != last_error) ctx_.log.warn("{}", e);
        last_error = e;
        next_scan = now + config_.poll_interval;
      }
      const auto n = tailer_.read(*this);
      flush_joins(false);
      now = Clock::now();
      if (now >= next_save) {
        if (auto e = tailer_.save(); !e.empty()) ctx_.log.warn("{}", e);
        next_save = now + 1s;
      }
      {
        std::lock_guard lock(stats_mu_);
        stats_ = tailer_.stats();
      }
      if (n == 0) {
        sink.flush();
        if (!sink.sleep_for(config_.poll_interval)) break;
      }
    }
    if (auto e = tailer_.save(); !e.empty()) ctx_.log.warn("{}", e);
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    TailStats s;
    {
      std::lock_guard lock(stats_mu_);
      s = stats_;
    }
    auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    out.push_back({"files_open", d(s.files_open), true, "files being read"});
    out.push_back(
        {"files_started", d(s.generations), false, "files (or truncated files' new contents) begun"});
    out.push_back({"bytes_read", d(s.bytes_read), false, "bytes read from files"});
    out.push_back({"truncations", d(s.truncations), false, "files found truncated (copy-truncate rotation)"});
    out.push_back({"copies_followed", d(s.copies_followed), false,
                   "truncated files whose rest was read from their copy"});
    out.push_back({"files_lost", d(s.lost_generations), false,
                   "files given up with no file left to read the rest from (see the log)"});
    out.push_back({"lines_too_long", d(s.overlong), false, "lines longer than max_line, sent to error"});
  }

 private:
  // The record waiting to be pushed: the last one of a read gets the callback that moves its
  // file's stored offset (callbacks run in push order, after their batch is stored).
  struct Held {
    std::shared_ptr<Generation> g;
    std::string path;  // only with path_field
    std::string text;
    std::uint64_t end = 0;
    std::uint64_t long_bytes = 0;  // > 0: a line longer than max_line, text its head
  };

  struct Join {
    std::string text;
    std::uint64_t end = 0;
    int lines = 0;
    std::string path;
    Clock::time_point last{};
  };

  bool line(Generation& g, const std::string& path, std::string_view text, std::uint64_t end) override {
    if (config_.multiline_start.empty()) return hold(g, path, text, end, 0);
    auto& j = joins_[g.shared_from_this()];
    const bool starts = boost::regex_search(text.begin(), text.end(), start_, boost::match_continuous);
    if (!j.text.empty() && (starts || j.lines >= config_.multiline_max_lines ||
                            j.text.size() + 1 + text.size() > config_.max_line.bytes)) {
      if (!hold(g, j.path, j.text, j.end, 0)) return false;
      j.text.clear();
      j.lines = 0;
    }
    if (!j.text.empty()) j.text += '\n';
    j.text.append(text);
    j.end = end;
    ++j.lines;
    if (j.path != path) j.path = path;
    j.last = Clock::now();
    return true;
  }

  bool overlong(Generation& g, const std::string& path, std::string_view head, std::uint64_t bytes,
                std::uint64_t end) override {
    if (auto it = joins_.find(g.shared_from_this()); it != joins_.end() && !it->second.text.empty()) {
      if (!hold(g, path, it->second.text, it->second.end, 0)) return false;
      it->second.text.clear();
      it->second.lines = 0;
    }
    return hold(g, path, head, end, bytes);
  }

  void chunk_end(Generation& g) override {
    (void)g;
    push_held(true);
  }

  void ended(Generation& g) override {
    auto it = joins_.find(g.shared_from_this());
    if (it == joins_.end()) return;
    if (!it->second.text.empty()) hold(g, it->second.path, it->second.text, it->second.end, 0);
    joins_.erase(it);
  }

  // A multi-line record that waited multiline_timeout (or every one, at the end) goes out.
  void flush_joins(bool all) {
    const auto now = Clock::now();
    for (auto& [g, j] : joins_) {
      if (j.text.empty() || (!all && now - j.last < config_.multiline_timeout)) continue;
      hold(*g, j.path, j.text, j.end, 0);
      j.text.clear();
      j.lines = 0;
      push_held(true);
    }
  }

  bool hold(Generation& g, const std::string& path, std::string_view text, std::uint64_t end,
            std::uint64_t long_bytes) {
    if (held_.g && !push_held(false)) return false;
    held_.g = g.shared_from_this();
    if (!config_.path_field.empty()) held_.path = path;
    held_.text.assign(text);
    held_.end = end;
    held_.long_bytes = long_bytes;
    return true;
  }

  bool push_held(bool with_callback) {
    if (!held_.g) return true;
    auto g = std::move(held_.g);
    held_.g.reset();
    std::function<void()> done;
    if (with_callback) done = [g, end = held_.end] { g->stored_through(end); };
    const sdk::Position at{g->source, held_.end};
    std::string id = g->source + ":" + std::to_string(held_.end);
    auto& sink = *sink_;
    if (held_.long_bytes > 0) {
      const auto reason = "line of " + std::to_string(held_.long_bytes) + " bytes, longer than max_line (" +
                          std::to_string(config_.max_line.bytes) + ")";
      boost::json::object value;
      value["line_head"] = sdk::raw_record_value(held_.text, reason);
      value["line_bytes"] = held_.long_bytes;
      return sink.fail_at(at, sdk::Record{std::move(id), with_path(std::move(value))}, reason,
                          std::move(done));
    }
    const bool as_text = config_.format == Format::text;
    if (!as_text && config_.path_field.empty() && parser_.passes_as_line(held_.text))
      return sink.push_json_at(at, held_.text, std::move(done));
    boost::json::value value;
    std::string reason;
    if (!parser_.payload(held_.text, as_text, value, reason))
      return sink.fail_at(at,
                          sdk::Record{std::move(id), with_path(sdk::raw_record_value(held_.text, reason))},
                          reason, std::move(done));
    return sink.push_at(at, sdk::Record{std::move(id), with_path(std::move(value))}, std::move(done));
  }

  // The file's path at `path_field` of an object record; any other record is wrapped first as
  // {"line": <record>}.
  boost::json::value with_path(boost::json::value v) const {
    if (config_.path_field.empty()) return v;
    if (!v.is_object()) {
      boost::json::object o;
      o["line"] = std::move(v);
      v = std::move(o);
    }
    v.get_object()[config_.path_field] = held_.path;
    return v;
  }

  Config config_;
  sdk::Context ctx_;
  Tailer tailer_;
  boost::regex start_;
  sdk::InputSink* sink_ = nullptr;
  sdk::RecordParser parser_;
  Held held_;
  std::map<std::shared_ptr<Generation>, Join> joins_;
  mutable std::mutex stats_mu_;
  TailStats stats_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"file_input"};
  s.summary(
       "Follows files (tail -F): each line a record, every line once into the flow across rotations, "
       "restarts and crashes.")
      .description(
          "Reads files matching glob patterns, new files as they appear, each line a record (JSON, or text "
          "with optional multi-line joining). Follows rotation by rename and by copy-truncate, also while "
          "the "
          "engine is down: a file is known by its device and inode and a fingerprint of its first bytes, not "
          "by its name. How far each file is stored is kept in a state file below the data dir, and every "
          "line carries its file and offset as its position, so a restart or a crash neither skips nor "
          "repeats a line (the engine drops what it finds stored).");
  s.field(
       "paths", &Config::paths,
       field()
           .required()
           .doc("Glob patterns of the files to read (`*`, `?`, `[...]`); relative ones are in the engine's "
                "data dir. Include the names rotated files get (`app.log*`) so that lines written just "
                "before a rotation are read from the rotated file.")
           .example(boost::json::parse(R"(["/var/log/app/*.log*"])")))
      .field("exclude", &Config::exclude,
             field()
                 .doc("Patterns (fnmatch, on the full path) of matching files not to read.")
                 .example(boost::json::parse(R"(["*.gz", "*.zip"])")))
      .field("start_at", &Config::start_at,
             field()
                 .doc("Where files found at the component's very first start are read from (no state file "
                      "yet). Files that appear later are always read from their beginning; after a restart "
                      "every file is read on from where it was.")
                 .option("end", StartAt::end, "Only lines written from now on.")
                 .option("beginning", StartAt::beginning, "The files' existing lines too."))
      .field("format", &Config::format,
             field()
                 .doc("How a line becomes a record.")
                 .option("json", Format::json,
                         "Each line is one JSON value; one that does not parse goes to `error`.")
                 .option("text", Format::text,
                         "Each line (or joined group of lines) is a JSON string; not UTF-8 goes to `error`."))
      .field(
          "path_field", &Config::path_field,
          field()
              .doc("Puts the file's path into the record at this key; a record that is not an object becomes "
                   "{\"line\": <record>} first. Empty: the path is not kept.")
              .example("file"))
      .field("multiline_start", &Config::multiline_start,
             field()
                 .doc("With `format: text`: a regular expression (Perl syntax) that matches at the start of "
                      "the first line of a record; the lines that do not match are joined to the record "
                      "before them with a newline (stack traces). Empty: one record per line.")
                 .example("^\\d{4}-\\d{2}-\\d{2}"))
      .field("multiline_timeout", &Config::multiline_timeout,
             field().duration_range(10ms, 1h).advanced().doc(
                 "A joined record goes out when no line came for it for this long (else it waits for the "
                 "next record's first line)."))
      .field("multiline_max_lines", &Config::multiline_max_lines,
             field().range(1, 100000).advanced().doc("Lines joined into one record at most."))
      .field(
          "max_line", &Config::max_line,
          field()
              .size_range(64, 1024 * 1024)
              .doc(
                  "Longest line (or joined record) taken; a longer line goes to `error` with its first 4 KiB "
                  "and its length."))
      .field("poll_interval", &Config::poll_interval,
             field()
                 .duration_range(10ms, 1min)
                 .doc("How often files are looked for and, when idle, read for new lines: the latency of a "
                      "line at low rates."))
      .field("rotate_wait", &Config::rotate_wait,
             field().duration_range(0ms, 1h).doc(
                 "A file that no longer matches (rotated away, deleted) is read on until it has not "
                 "grown for this long; a truncated file waits this long for its copy to turn up."))
      .field("durability", &Config::durability,
             field()
                 .doc("When a line counts as stored, and so when the state file moves past it.")
                 .option("stored", Durability::stored,
                         "After its PubAck: a crash of any process loses nothing; a power cut can lose what "
                         "nats-server had not yet synced (it fsyncs every 2 minutes).")
                 .option("sync", Durability::sync,
                         "After its PubAck and an fsync of the flow stream's files: survives a power cut."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (c.paths.empty()) lint.error("paths", "invalid_value", "at least one pattern is needed");
        if (!c.multiline_start.empty()) {
          try {
            boost::regex re(c.multiline_start);
          } catch (const boost::regex_error& e) {
            lint.error("multiline_start", "invalid_value",
                       std::string("not a regular expression: ") + e.what());
          }
          if (c.format != Format::text)
            lint.error("multiline_start", "invalid_value", "multi-line joining needs format \"text\"");
        }
      })
      .output("out", "One record per line (or joined group of lines).")
      .example(boost::json::parse(R"({"id": "applog", "type": "file_input",
          "config": {"paths": ["/var/log/app/app.log*"], "exclude": ["*.gz"], "format": "text",
                     "start_at": "beginning", "path_field": "file"}})"))
      .implementation<FileInput>();
  return s;
}

}  // namespace weir::components::file_input
