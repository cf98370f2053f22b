#include "http_input/http_input.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/websocket/tls_context.hpp"
#include "core/hash.hpp"
#include "http/server.hpp"
#include "sdk/base/record_json.hpp"
#include "store/atomic_file.hpp"

namespace weir::components::http_input {

using namespace std::chrono_literals;

bool valid_key(std::string_view key, std::string& reason) {
  if (key.empty() || key.size() > 200) {
    reason = "an idempotency key takes 1 to 200 bytes (this one " + std::to_string(key.size()) + ")";
    return false;
  }
  for (const char c : key) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      reason = "an idempotency key takes visible ASCII characters only, without spaces";
      return false;
    }
  }
  return true;
}

// ---- KeyLog ----

namespace {
// The file is rewritten compacted once this much was appended since the last rewrite.
constexpr std::uint64_t rewrite_after_bytes = 64ull << 20;
// Most records an entry can hold: a body of at most 64 MiB (max_body), each record a byte and its
// newline at least.
constexpr std::uint64_t max_entry_records = 32ull << 20;
}  // namespace

KeyLog::~KeyLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t KeyLog::now_ms() const {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string KeyLog::open(const std::string& path, const std::string& name, std::chrono::nanoseconds window,
                         std::size_t max_keys) {
  path_ = path;
  window_ = window;
  max_keys_ = max_keys;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return "cannot create " + std::filesystem::path(path).parent_path().string() + ": " + ec.message();
  std::ifstream in(path);
  std::string line;
  std::uint64_t last_run = 0;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string op, hash, key;
    std::uint64_t run = 0, pos = 0, n = 0, time = 0;
    l >> op;
    if (op == "e" && l >> epoch_) {
    } else if (op == "g" && l >> run) {
      last_run = std::max(last_run, run);
    } else if (op == "+" && l >> run >> pos >> n >> hash >> time >> key && hash.size() == 16 &&
               hash.find_first_not_of("0123456789abcdef") == std::string::npos && n > 0 &&
               n <= max_entry_records) {
      Pending p{key, std::stoull(hash, nullptr, 16), run, pos, time, {}};
      // A kill may have torn the entry: its records were not pushed yet (the entry is written
      // whole before they are), so it is dropped with them.
      bool whole = true;
      for (std::uint64_t i = 0; i < n && whole; ++i) {
        std::string rec;
        whole = static_cast<bool>(std::getline(in, rec)) && in.good();
        p.records.push_back(std::move(rec));
      }
      if (whole) pending_[key] = std::move(p);
      last_run = std::max(last_run, run);
    } else if (op == "s" && l >> time >> hash >> key && hash.size() == 16 &&
               hash.find_first_not_of("0123456789abcdef") == std::string::npos) {
      pending_.erase(key);
      stored_[key] = Stored{std::stoull(hash, nullptr, 16), time};
      order_.emplace_back(time, key);
    }
    // Anything else is a line torn by a kill.
  }
  run_ = last_run + 1;
  if (epoch_.empty()) {
    std::random_device rd;
    epoch_ = core::hex64((static_cast<std::uint64_t>(rd()) << 32) | rd());
  }
  base_ = "http:" + name + ":" + epoch_;
  for (char& c : base_)
    if (c == ' ') c = '_';  // a source key holds no space
  std::stable_sort(order_.begin(), order_.end());
  expire();
  for (const auto& [key, p] : pending_) recovered_.push_back(p);
  std::sort(recovered_.begin(), recovered_.end(), [](const Pending& a, const Pending& b) {
    return std::tie(a.run, a.pos) < std::tie(b.run, b.pos);
  });
  rewrite();
  return fd_ < 0 ? "cannot write " + path : std::string();
}

const KeyLog::Stored* KeyLog::find(const std::string& key) const {
  auto it = stored_.find(key);
  if (it == stored_.end()) return nullptr;
  // Past the window, even when no key was stored since (expire() runs then).
  const auto window_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(window_).count());
  return it->second.time_ms + window_ms < now_ms() ? nullptr : &it->second;
}

std::string KeyLog::entry_text(const Pending& p) const {
  std::string t = "+ " + std::to_string(p.run) + " " + std::to_string(p.pos) + " " +
                  std::to_string(p.records.size()) + " " + core::hex64(p.hash) + " " +
                  std::to_string(p.time_ms) + " " + p.key + "\n";
  for (const auto& r : p.records) {
    t += r;
    t += '\n';
  }
  return t;
}

std::uint64_t KeyLog::take(const std::string& key, std::uint64_t hash,
                           const std::vector<std::string>& records) {
  const auto pos = next_;
  auto& p = pending_[key] = Pending{key, hash, run_, pos, now_ms(), records};
  // One write for the whole entry: a kill leaves it whole or torn, and a torn one is dropped.
  // (In pending_ first: a rewrite the append makes keeps it.)
  if (!append(entry_text(p))) {
    pending_.erase(key);
    return 0;
  }
  next_ += records.size();
  return pos;
}

void KeyLog::stored(const std::string& key, std::uint64_t hash) {
  pending_.erase(key);
  const auto t = now_ms();
  stored_[key] = Stored{hash, t};
  order_.emplace_back(t, key);
  // Not written (disk full): the entry stays pending in the file, and the next start pushes it
  // again with its positions, which the stream then finds stored.
  (void)append("s " + std::to_string(t) + " " + core::hex64(hash) + " " + key + "\n");
  expire();
}

void KeyLog::expire() {
  const auto now = now_ms();
  const auto window_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(window_).count());
  while (!order_.empty() && (order_.size() > max_keys_ || order_.front().first + window_ms < now)) {
    auto it = stored_.find(order_.front().second);
    // A key stored again later has a later entry in order_: only its last one counts.
    if (it != stored_.end() && it->second.time_ms == order_.front().first) {
      stored_.erase(it);
      ++forgotten_;
    }
    order_.pop_front();
  }
}

bool KeyLog::append(const std::string& text) {
  if (fd_ < 0) return false;
  const auto before = ::lseek(fd_, 0, SEEK_END);
  if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    // A short write (disk full) is taken back, so that what follows is not read as its rest.
    if (before >= 0) (void)::ftruncate(fd_, before);
    return false;
  }
  appended_ += text.size();
  if (appended_ > rewrite_after_bytes) rewrite();
  return true;
}

void KeyLog::rewrite() {
  std::string text = "e " + epoch_ + "\ng " + std::to_string(run_) + "\n";
  for (const auto& [t, key] : order_) {
    auto it = stored_.find(key);
    if (it == stored_.end() || it->second.time_ms != t) continue;
    text += "s " + std::to_string(t) + " " + core::hex64(it->second.hash) + " " + key + "\n";
  }
  for (const auto& [key, p] : pending_) text += entry_text(p);
  // Complete on disk (with the new run's line) before it replaces the old file.
  std::string error;
  if (!store::write_file_atomically(path_, text, &error)) {
    if (fd_ < 0) return;  // open() reports it
    return;               // the old file goes on taking appends
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  appended_ = 0;
}

// ---- the component ----

namespace {

// A keyed request's records (or all records of an unkeyed one) on their way to the stream.
struct Unit {
  std::string key;  // empty: no idempotency
  std::uint64_t hash = 0;
  std::size_t records = 0;
  std::size_t remaining = 0;  // records not yet durable
  bool done = false;
};

struct Job {
  std::shared_ptr<Unit> unit;
  std::vector<sdk::Record> records;
  std::string source;     // empty: no positions
  std::uint64_t pos = 0;  // the first record's
  std::size_t bytes = 0;
};

// What the HTTP workers, run() and the engine's durable callbacks share. Callbacks may run after
// the component is gone, so they hold it by shared_ptr.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;  // run(): a job came; requests: a unit is done, or stopping
  std::deque<Job> queue;
  std::size_t pending_bytes = 0;  // bytes of records taken and not yet durable
  std::unordered_map<std::string, std::shared_ptr<Unit>> inflight;  // keyed units not yet durable
  KeyLog keys;
  bool running = false;  // run() takes jobs
  bool stopping = false;

  std::atomic<std::uint64_t> requests{0}, accepted{0}, rejected{0}, throttled{0}, timed_out{0}, records_in{0},
      duplicates{0};

  // A record of `unit` is durable (`bytes` of them leave the pending budget with its last).
  void durable(const std::shared_ptr<Unit>& unit, std::size_t bytes) {
    std::lock_guard lock(mu);
    if (unit->remaining > 0 && --unit->remaining > 0) return;
    unit->done = true;
    pending_bytes -= std::min(pending_bytes, bytes);
    if (!unit->key.empty()) {
      keys.stored(unit->key, unit->hash);
      inflight.erase(unit->key);
    }
    cv.notify_all();
  }
};

// A Content-Type's media type: lower case, without parameters or trailing blanks.
std::string media_type(std::string_view ct) {
  std::string t(ct.substr(0, ct.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

bool is_ndjson_type(std::string_view ct) {
  const auto t = media_type(ct);
  return t == "application/x-ndjson" || t == "application/ndjson" || t == "application/jsonl" ||
         t == "application/x-jsonlines" || t == "application/jsonlines";
}

// JSON, or a type that is not clearly something else (absent, text/plain from curl -d, */*+json).
bool is_json_type(std::string_view ct) {
  const auto t = media_type(ct);
  return t.empty() || t == "application/json" || t == "text/plain" ||
         t == "application/x-www-form-urlencoded" || (t.size() > 5 && t.ends_with("+json"));
}

// Line and column (1-based) of byte `offset` in `text`.
std::string where(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// The records of a body. False with the reason (for a 400).
bool parse_body(std::string_view body, bool ndjson, sdk::RecordParser& parser,
                std::vector<boost::json::value>& out, std::string& reason) {
  // A UTF-8 byte order mark (Windows tools, PowerShell) is ignored (RFC 8259 8.1).
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
  if (ndjson) {
    std::size_t start = 0, line = 0;
    while (start < body.size()) {
      auto end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      ++line;
      auto text = body.substr(start, end - start);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      start = end + 1;
      if (text.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines
      boost::json::value v;
      if (!parser.parse(text, v, reason)) {
        reason.insert(0, "line " + std::to_string(line) + ": ");
        return false;
      }
      out.push_back(std::move(v));
    }
    if (out.empty()) reason = "no records in the body";
    return !out.empty();
  }
  boost::json::parse_options opt;
  opt.max_depth = sdk::record_max_depth + 1;
  boost::json::stream_parser p({}, opt);
  boost::system::error_code ec;
  const auto n = p.write(body.data(), body.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    reason = "invalid JSON at " + where(body, n) + ": " + ec.message();
    return false;
  }
  boost::json::value v = p.release();
  if (v.is_array()) {
    auto& a = v.get_array();
    if (a.empty()) {
      reason = "an empty array holds no records";
      return false;
    }
    for (auto& e : a) out.push_back(std::move(e));
  } else {
    out.push_back(std::move(v));
  }
  // Each record within the limits every weir input keeps (size, nesting).
  for (std::size_t i = 0; i < out.size(); ++i) {
    boost::json::value check;
    if (!parser.parse(boost::json::serialize(out[i]), check, reason)) {
      if (out.size() > 1) reason.insert(0, "record " + std::to_string(i) + ": ");
      return false;
    }
  }
  return true;
}

// The key of a record from `field` (a string, or an integer), else "" with the reason.
std::string field_key(const boost::json::value& v, const std::string& field, std::string& reason) {
  const auto* o = v.if_object();
  const auto* f = o ? o->if_contains(field) : nullptr;
  std::string key;
  if (f != nullptr && f->is_string())
    key = std::string(f->get_string());
  else if (f != nullptr && f->is_int64())
    key = std::to_string(f->get_int64());
  else if (f != nullptr && f->is_uint64())
    key = std::to_string(f->get_uint64());
  else {
    reason = "a record without a string or integer `" + field + "` (the idempotency field)";
    return {};
  }
  if (!valid_key(key, reason)) return {};
  return key;
}

http::Response answer(unsigned status, const boost::json::object& body, std::string retry_after = {}) {
  http::Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  if (!retry_after.empty()) r.headers.emplace_back("Retry-After", std::move(retry_after));
  return r;
}

std::string safe_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '-';
  return s;
}

class HttpInput final : public sdk::Input {
 public:
  HttpInput(const Config& config, const sdk::Context& ctx) : config_(config), ctx_(ctx) {}
  ~HttpInput() override { stop(); }

  sdk::Status start() override {
    shared_ = std::make_shared<Shared>();
    if (ctx_.data_dir.empty())
      return sdk::Status::error("http_input needs the engine's data dir (none is set)");
    const auto name = safe_name(ctx_.flow) + "." + safe_name(ctx_.component);
    const auto path = ctx_.data_dir / "http_input" / (name + ".keys");
    if (auto e = shared_->keys.open(path.string(), ctx_.flow + "/" + ctx_.component,
                                    config_.idempotency_window, static_cast<std::size_t>(config_.max_keys));
        !e.empty())
      return sdk::Status::error(e);
    // Keyed requests an earlier run took and never saw stored go first, with their positions.
    for (const auto& p : shared_->keys.recovered()) {
      auto unit = std::make_shared<Unit>();
      unit->key = p.key;
      unit->hash = p.hash;
      unit->records = unit->remaining = p.records.size();
      Job job{unit, {}, shared_->keys.source(p.run), p.pos, 0};
      for (std::size_t i = 0; i < p.records.size(); ++i) {
        boost::json::value v;
        std::string reason;
        if (!parser_.parse(p.records[i], v, reason)) v = sdk::raw_record_value(p.records[i], reason);
        job.records.push_back({record_id(p.key, i, p.records.size(), p.run, p.pos), std::move(v)});
        job.bytes += p.records[i].size();
      }
      shared_->pending_bytes += job.bytes;
      shared_->inflight[p.key] = unit;
      shared_->queue.push_back(std::move(job));
    }
    if (!shared_->keys.recovered().empty())
      ctx_.log.info(
          "{} keyed requests taken before the last stop and not seen stored: stored now unless the "
          "stream holds them",
          shared_->keys.recovered().size());

    http::ServerOptions o;
    o.listen = config_.listen;
    o.max_body = config_.max_body.bytes;
    o.read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.read_timeout);
    o.max_connections = static_cast<std::size_t>(config_.max_connections);
    o.workers = static_cast<std::size_t>(config_.max_concurrent);
    if (!config_.tls.cert.empty()) {
      std::string error;
      o.tls = ws::detail::make_server_context({config_.tls.cert, config_.tls.key, config_.tls.ca}, error);
      if (!o.tls) return sdk::Status::error("cannot serve HTTPS: " + error);
    }
    server_.reset();  // before its io_context
    io_ = std::make_unique<boost::asio::io_context>(1);
    server_ = std::make_unique<http::Server>(*io_, o, [this](const http::Request& r) { return handle(r); });
    std::string error;
    if (!server_->start(&error)) {
      server_.reset();
      return sdk::Status::error("cannot listen: " + error);
    }
    work_ = std::make_unique<Work>(io_->get_executor());
    io_thread_ = std::thread([io = io_.get()] { io->run(); });
    ctx_.log.info("listening on {} for POST {} ({}, {})", config_.listen, config_.path,
                  config_.tls.cert.empty() ? "plain HTTP"
                  : config_.tls.ca.empty() ? "HTTPS"
                                           : "HTTPS, client certificates required",
                  config_.token.empty() ? "no token" : "bearer token");
    return sdk::Status::ok();
  }

  void run(sdk::InputSink& sink) override {
    {
      std::lock_guard lock(shared_->mu);
      shared_->running = true;
    }
    std::deque<Job> jobs;
    while (!sink.stopping()) {
      {
        std::unique_lock lock(shared_->mu);
        shared_->cv.wait_for(lock, 200ms, [&] { return !shared_->queue.empty(); });
        jobs.swap(shared_->queue);
      }
      for (auto& j : jobs)
        if (!deliver(sink, j)) return finish();
      if (!jobs.empty()) sink.flush();
      jobs.clear();
    }
    finish();
  }

  void stop() override {
    if (shared_) {
      std::lock_guard lock(shared_->mu);
      shared_->stopping = true;
      shared_->cv.notify_all();
    }
    if (server_) server_->stop();
    work_.reset();
    if (io_) io_->stop();
    if (io_thread_.joinable()) io_thread_.join();
    // server_ stays (stopped) until the component goes: metrics() may read it meanwhile.
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    if (!shared_) return;
    const auto& s = *shared_;
    out.push_back({"requests", static_cast<double>(s.requests.load()), false, "POST requests received"});
    out.push_back({"requests_accepted", static_cast<double>(s.accepted.load()), false,
                   "requests answered 202 (their records stored)"});
    out.push_back({"requests_rejected", static_cast<double>(s.rejected.load()), false,
                   "requests answered 4xx for what they held or asked (bad JSON, no token, wrong path)"});
    out.push_back({"requests_throttled", static_cast<double>(s.throttled.load()), false,
                   "requests answered 429 or 503 with Retry-After (backpressure, stopping)"});
    out.push_back({"requests_timed_out", static_cast<double>(s.timed_out.load()), false,
                   "requests answered 503 because their records were not seen stored within ack_timeout"});
    out.push_back(
        {"records_received", static_cast<double>(s.records_in.load()), false, "records taken from requests"});
    out.push_back({"duplicate_requests", static_cast<double>(s.duplicates.load()), false,
                   "keyed requests whose key was stored already (not stored again)"});
    if (server_)
      out.push_back({"tls_handshake_failures", static_cast<double>(server_->tls_handshake_failures()), false,
                     "connections closed for a failed TLS handshake (plain HTTP, no or an unknown client "
                     "certificate)"});
    std::lock_guard lock(shared_->mu);
    out.push_back({"pending_bytes", static_cast<double>(shared_->pending_bytes), true,
                   "bytes of records taken and not yet stored"});
    out.push_back({"idempotency_keys", static_cast<double>(shared_->keys.keys()), true,
                   "stored idempotency keys remembered"});
  }

 private:
  using Work = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  // "<key>@<run>.<position>" ("<key>/<index>@..." for a request of several records): the same
  // for a retry (which is answered from the first one) and for a request pushed again after a
  // crash (which keeps its run and positions), and never the same for two requests taken: a key
  // forgotten and used again makes new ids, whose batch JetStream's duplicate window cannot take
  // for the first one's.
  static std::string record_id(const std::string& key, std::size_t i, std::size_t n, std::uint64_t run,
                               std::uint64_t pos) {
    return (n == 1 ? key : key + "/" + std::to_string(i)) + "@" + std::to_string(run) + "." +
           std::to_string(pos + i);
  }

  bool deliver(sdk::InputSink& sink, Job& j) {
    const auto per = j.records.empty() ? 0 : j.bytes;
    for (std::size_t i = 0; i < j.records.size(); ++i) {
      auto cb = [s = shared_, u = j.unit, per] { s->durable(u, per); };
      const bool ok = j.source.empty()
                          ? sink.push(std::move(j.records[i]), cb)
                          : sink.push_at(sdk::Position{j.source, j.pos + i}, std::move(j.records[i]), cb);
      if (!ok) return false;
    }
    return true;
  }

  // run() ended: what was not handed to the flow stays with the client (answered 503), keyed
  // requests also in the key log, for the next start.
  void finish() {
    std::lock_guard lock(shared_->mu);
    shared_->running = false;
    shared_->stopping = true;
    shared_->cv.notify_all();
  }

  http::Response handle(const http::Request& req) {
    auto& s = *shared_;
    ++s.requests;
    auto reject = [&](unsigned status, const std::string& reason) {
      ++s.rejected;
      return http::json_error(status, reason);
    };
    if (req.path != config_.path) return reject(404, "not found: POST records to " + config_.path);
    if (req.method != "POST") {
      auto r = reject(405, "method " + req.method + " not allowed: POST records to " + config_.path);
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    if (!config_.token.empty() && !http::bearer_matches(req.authorization, config_.token)) {
      auto r = reject(401, "missing or wrong bearer token (Authorization: Bearer <token>)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    bool ndjson = config_.format == Format::ndjson;
    if (config_.format == Format::auto_detect) {
      ndjson = is_ndjson_type(req.content_type);
      if (!ndjson && !is_json_type(req.content_type))
        return reject(415, "unsupported Content-Type \"" + req.content_type.substr(0, 100) +
                               "\": send application/json (a record or an array of records) or "
                               "application/x-ndjson (one record per line)");
    }
    std::vector<boost::json::value> values;
    std::string reason;
    // One parser per handler thread (a parser keeps state between calls).
    thread_local sdk::RecordParser parser;
    if (!parse_body(req.body, ndjson, parser, values, reason)) return reject(400, reason);
    const std::string header_key(req.header("Idempotency-Key"));
    if (!header_key.empty() && !valid_key(header_key, reason))
      return reject(400, "Idempotency-Key: " + reason);

    // The units of this request: one per key (the header's for all records, or each record's
    // field), or one without a key.
    struct Part {
      std::string key;
      std::uint64_t hash = 0;
      std::vector<std::string> texts;
      std::vector<boost::json::value> values;
    };
    std::vector<Part> parts;
    if (!config_.idempotency_field.empty() && header_key.empty()) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        auto key = field_key(values[i], config_.idempotency_field, reason);
        if (key.empty())
          return reject(400, (values.size() > 1 ? "record " + std::to_string(i) + ": " : "") + reason);
        Part p{std::move(key), 0, {boost::json::serialize(values[i])}, {}};
        p.hash = core::fnv1a64(p.texts[0]);
        p.values.push_back(std::move(values[i]));
        parts.push_back(std::move(p));
      }
    } else {
      Part p{header_key, core::fnv1a64(req.body), {}, std::move(values)};
      if (!p.key.empty())
        for (const auto& v : p.values) p.texts.push_back(boost::json::serialize(v));
      parts.push_back(std::move(p));
    }

    std::size_t bytes = 0;
    for (const auto& p : parts)
      for (const auto& t : p.texts) bytes += t.size();
    if (bytes == 0) bytes = req.body.size();
    std::size_t records = 0;
    std::uint64_t duplicate_records = 0;
    std::vector<std::shared_ptr<Unit>> waits;
    std::unique_lock lock(s.mu);
    if (s.stopping) {
      ++s.throttled;
      return answer(503, {{"error", "the input is stopping"}, {"status", 503}}, "5");
    }
    // Keys already stored or on their way: a different body under a used key is refused.
    std::unordered_map<std::string_view, std::uint64_t> here;
    for (const auto& p : parts) {
      if (p.key.empty()) continue;
      if (auto [it, added] = here.emplace(p.key, p.hash); !added && it->second != p.hash)
        return reject(422, "two records of the request have the idempotency key \"" + p.key +
                               "\" with different contents");
      std::uint64_t hash = 0;
      if (const auto* st = s.keys.find(p.key))
        hash = st->hash;
      else if (auto it = s.inflight.find(p.key); it != s.inflight.end())
        hash = it->second->hash;
      else
        continue;
      if (hash != p.hash)
        return reject(422, "Idempotency-Key \"" + p.key + "\" was used before for a different body");
    }
    if (s.pending_bytes > 0 && s.pending_bytes + bytes > config_.max_pending.bytes) {
      ++s.throttled;
      return answer(429,
                    {{"error", "too many records waiting to be stored (max_pending " +
                                   std::to_string(config_.max_pending.bytes) + " bytes): retry later"},
                     {"status", 429}},
                    "1");
    }
    for (auto& p : parts) {
      records += p.values.size();
      if (!p.key.empty()) {
        if (s.keys.find(p.key) != nullptr) {
          duplicate_records += p.values.size();
          continue;
        }
        if (auto it = s.inflight.find(p.key); it != s.inflight.end()) {
          duplicate_records += p.values.size();  // an earlier request's: answered once it is stored
          waits.push_back(it->second);
          continue;
        }
      }
      auto unit = std::make_shared<Unit>();
      unit->key = p.key;
      unit->hash = p.hash;
      unit->records = unit->remaining = p.values.size();
      Job job{unit, {}, {}, 0, 0};
      for (const auto& t : p.texts) job.bytes += t.size();
      if (job.bytes == 0) job.bytes = req.body.size();
      if (!p.key.empty()) {
        job.source = s.keys.source(s.keys.run());
        job.pos = s.keys.take(p.key, p.hash, p.texts);
        if (job.pos == 0) {
          // Not noted, so not taken: the parts taken before it are stored and answer a retry.
          ++s.throttled;
          return answer(
              503,
              {{"error", "cannot write the idempotency key log (disk full?): retry later"}, {"status", 503}},
              "10");
        }
        s.inflight[p.key] = unit;
      }
      for (std::size_t i = 0; i < p.values.size(); ++i)
        job.records.push_back(
            {p.key.empty() ? std::string() : record_id(p.key, i, p.values.size(), s.keys.run(), job.pos),
             std::move(p.values[i])});
      s.pending_bytes += job.bytes;
      s.queue.push_back(std::move(job));
      waits.push_back(std::move(unit));
    }
    s.records_in += records;
    s.cv.notify_all();
    const auto deadline = std::chrono::steady_clock::now() + config_.ack_timeout;
    const bool all = s.cv.wait_until(lock, deadline, [&] {
      return s.stopping || std::all_of(waits.begin(), waits.end(), [](const auto& u) { return u->done; });
    });
    const bool done = std::all_of(waits.begin(), waits.end(), [](const auto& u) { return u->done; });
    if (!done) {
      const bool keyed =
          std::any_of(parts.begin(), parts.end(), [](const Part& p) { return !p.key.empty(); });
      const std::string hint = keyed ? "; retry with the same Idempotency-Key: it is stored once"
                                     : "; they may still be stored: a retry without an Idempotency-Key may "
                                       "store them twice";
      if (!all) {
        ++s.timed_out;
        return answer(
            503,
            {{"error",
              "the records were not seen stored within ack_timeout (" +
                  std::to_string(
                      std::chrono::duration_cast<std::chrono::seconds>(config_.ack_timeout).count()) +
                  " s)" + hint},
             {"status", 503}},
            "5");
      }
      ++s.throttled;
      return answer(503, {{"error", "the input is stopping" + hint}, {"status", 503}}, "5");
    }
    ++s.accepted;
    if (duplicate_records > 0) ++s.duplicates;
    boost::json::object body{{"stored", records}};
    if (duplicate_records > 0) body["duplicates"] = duplicate_records;
    return answer(202, body);
  }

  Config config_;
  sdk::Context ctx_;
  std::shared_ptr<Shared> shared_;
  sdk::RecordParser parser_;  // start()'s
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<Work> work_;
  std::unique_ptr<http::Server> server_;
  std::thread io_thread_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"http_input"};
  s.summary(
       "Takes records POSTed as JSON, JSON arrays or NDJSON; answers 202 only once they are stored in the "
       "flow's stream.")
      .description(
          "An HTTP/1.1 listener of its own. A POST to `path` with a JSON value (one record), a JSON array "
          "(one record per element) or NDJSON (one record per line) is answered 202 `{\"stored\": N}` once "
          "every record of it is in the flow's stream: a 202 means durable. Bad JSON gets 400 with the line "
          "and column, a body over `max_body` 413, a full queue 429 and a stopping engine 503, both with "
          "Retry-After. A request with an `Idempotency-Key` header (or records with `idempotency_field`) is "
          "stored once however often the client sends it within `idempotency_window`, also across crashes of "
          "the engine (README).");
  s.field("listen", &Config::listen,
          field()
              .required()
              .not_empty()
              .doc("host:port to listen on (\"0.0.0.0:8088\" for every interface, \"[::]:8088\" for IPv6).")
              .example("0.0.0.0:8088"))
      .field("path", &Config::path,
             field().not_empty().doc("The path records are POSTed to; others get 404.").example("/ingest"))
      .field(
          "token", &Config::token,
          field().secret().doc("When set, requests need `Authorization: Bearer <token>` (else 401); set it "
                               "from the environment: \"${INGEST_TOKEN}\"."))
      .field("tls", &Config::tls,
             field().doc("`cert` and `key` serve HTTPS (TLS 1.2 or later) instead of plain HTTP; `ca` then "
                         "requires a client certificate that chains to it (mutual TLS)."))
      .field("format", &Config::format,
             field()
                 .doc("How a body is read.")
                 .option(
                     "auto", Format::auto_detect,
                     "By Content-Type: application/x-ndjson, application/ndjson, application/jsonl and "
                     "application/x-jsonlines are NDJSON; application/json, */*+json, text/plain or none are "
                     "JSON; anything else gets 415.")
                 .option("json", Format::json, "One JSON value per body: an array is one record per element.")
                 .option("ndjson", Format::ndjson, "One record per line; blank lines are skipped."))
      .field("max_body", &Config::max_body,
             field().size_range(1024, 64ull << 20).doc("Largest request body; larger ones get 413."))
      .field("max_pending", &Config::max_pending,
             field()
                 .size_range(64 * 1024, 1ull << 30)
                 .doc("Bytes of records taken and not yet stored; a request that would go past it gets 429 "
                      "with Retry-After (memory stays bounded while the flow's stream is slow or full)."))
      .field(
          "idempotency_field", &Config::idempotency_field,
          field()
              .doc("Without an Idempotency-Key header, each record's value at this key (a string or an "
                   "integer) is its idempotency key and its id; a record without it makes the request 400.")
              .example("event_id"))
      .field("idempotency_window", &Config::idempotency_window,
             field()
                 .duration_range(std::chrono::minutes(1), std::chrono::hours(24 * 30))
                 .doc("How long a stored idempotency key is remembered; a retry after that is stored again."))
      .field(
          "max_keys", &Config::max_keys,
          field()
              .range(1000, 10'000'000)
              .advanced()
              .doc(
                  "Most idempotency keys remembered (the oldest are forgotten first; about 100 bytes each)."))
      .field("ack_timeout", &Config::ack_timeout,
             field()
                 .duration_range(std::chrono::seconds(1), std::chrono::minutes(10))
                 .doc("How long a request waits for its records to be stored before it gets 503 with "
                      "Retry-After (they may still be stored: retry with the same Idempotency-Key)."))
      .field("read_timeout", &Config::read_timeout,
             field()
                 .duration_range(std::chrono::seconds(1), std::chrono::minutes(10))
                 .advanced()
                 .doc("A request must arrive whole within this time (else 408)."))
      .field("max_connections", &Config::max_connections,
             field().range(1, 10000).advanced().doc("Open connections; beyond, new ones get 503."))
      .field("max_concurrent", &Config::max_concurrent,
             field().range(1, 256).advanced().doc(
                 "Requests handled at once (each waits for its records to be stored); the rest wait their "
                 "turn."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (!c.path.empty() && c.path.front() != '/')
          lint.error("path", "invalid_value", "a path starts with /");
        const auto colon = c.listen.rfind(':');
        if (!c.listen.empty() && (colon == std::string::npos || colon + 1 == c.listen.size()))
          lint.error("listen", "invalid_value", "host:port expected, e.g. \"0.0.0.0:8088\"");
        if (c.tls.cert.empty() != c.tls.key.empty())
          lint.error("tls", "invalid_value", "serving HTTPS needs both tls.cert and tls.key");
        if (!c.tls.ca.empty() && c.tls.cert.empty())
          lint.error("tls", "invalid_value", "tls.ca (client certificates) needs tls.cert and tls.key");
      })
      .output("out", "One record per JSON value, array element or NDJSON line.")
      .example(boost::json::parse(R"({"id": "ingest", "type": "http_input",
          "config": {"listen": "0.0.0.0:8088", "path": "/ingest", "token": "${INGEST_TOKEN}"}})"))
      .implementation<HttpInput>();
  return s;
}

}  // namespace weir::components::http_input
