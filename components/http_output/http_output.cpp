#include "http_output/http_output.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_set>

#include "common/http/client.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::http_output {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Headers http_output writes itself; a config may not set them.
constexpr std::string_view reserved_headers[] = {"host",       "content-length",  "transfer-encoding",
                                                 "connection", "idempotency-key", "authorization"};
constexpr std::size_t max_body_head = 1024;       // of a refusal's body, for the error port
constexpr std::size_t delivered_memory = 10'000;  // requests remembered as delivered (2xx)
constexpr std::size_t max_key_id = 128;           // longest record id used as it is for a key

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), token_char);
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The Idempotency-Key of a request: the record's id (single, when it is short and plain), else
// the SHA-256 of the ids of its records. Empty when a record has no id (no stable key exists).
std::string idempotency_key(const std::vector<const sdk::Record*>& records, bool single) {
  std::vector<std::string_view> ids;
  for (const auto* r : records) {
    if (r->id.empty()) return "";
    ids.emplace_back(r->id);
  }
  if (single && ids[0].size() <= max_key_id && std::all_of(ids[0].begin(), ids[0].end(), token_char))
    return std::string(ids[0]);
  return "sha256-" + httpc::sha256_hex(ids);
}

// One request of a write(): where it goes, what it carries, which records of the batch.
struct Outgoing {
  httpc::Request req;
  std::vector<std::size_t> indexes;
  std::string group;  // url and header values: consecutive records with the same group share a request
  std::size_t body_bytes = 0;
};

class HttpOutput final : public sdk::Output {
 public:
  HttpOutput(const Config& config, const sdk::Context& ctx) : config_(config), ctx_(ctx) {}
  ~HttpOutput() override { stop(); }

  sdk::Status start() override {
    if (config_.url_expr.source.empty())
      if (auto e = httpc::parse_url(config_.url, fixed_)) return sdk::Status::error("url: " + *e);
    httpc::Options o;
    o.connect_timeout = duration_cast<milliseconds>(config_.connect_timeout);
    o.request_timeout = duration_cast<milliseconds>(config_.request_timeout);
    o.tls = ws::TlsOptions{config_.tls.cert, config_.tls.key, config_.tls.ca};
    o.max_body_head = max_body_head;
    client_ = std::make_unique<httpc::Client>(o);
    ctx_.log.info("sending to {} ({} {}, {})", config_.url_expr.source.empty() ? where(fixed_) : "url_expr",
                  config_.method == Method::put ? "PUT" : "POST",
                  config_.format == Format::single  ? "a record per request"
                  : config_.format == Format::array ? "JSON arrays"
                                                    : "NDJSON",
                  config_.url_expr.source.empty() ? "fixed URL" : config_.url_expr.source);
    return sdk::Status::ok();
  }

  void stop() override {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (client_) client_->cancel();
    cv_.notify_all();
  }
  // A write retrying against a peer that is down ends at once (stop() is safe during a write).
  void interrupt() override { stop(); }

  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects& rejects) override {
    std::vector<Outgoing> outs;
    plan(records, rejects, outs);
    std::optional<Clock::time_point> give_up;  // from the first failure of this write on
    auto backoff = std::min(config_.backoff_min, config_.backoff_max);
    std::size_t retried = 0;
    for (auto& o : outs) {
      // Without a key (records without ids) a request is not remembered.
      const std::string key = header(o.req, "Idempotency-Key");
      const std::string memo = key.empty() ? "" : o.req.target.origin() + o.req.target.path + " " + key;
      if (!memo.empty() && delivered_set_.contains(memo)) {
        skipped_.fetch_add(1);
        continue;
      }
      for (;;) {
        if (stopped()) return sdk::Status::error("stopping");
        requests_.fetch_add(1);
        const auto res = client_->exchange(o.req);
        count(res.status);
        if (res.status >= 200 && res.status < 300) {
          if (retried > 0) ctx_.log.info("{}: delivered after {} retries", where(o.req.target), retried);
          if (!memo.empty()) remember(memo);
          backoff = std::min(config_.backoff_min, config_.backoff_max);
          retried = 0;
          break;
        }
        if (!retryable(res.status)) {
          const std::string why = "HTTP " + std::to_string(res.status) + " from " + where(o.req.target) +
                                  (res.body_head.empty() ? "" : ": " + res.body_head);
          for (auto i : o.indexes) rejects.add(i, why);
          rejected_.fetch_add(o.indexes.size());
          break;
        }
        const std::string what = res.status == 0 ? res.error : "HTTP " + std::to_string(res.status);
        if (stopped()) return sdk::Status::error("stopping (" + what + ")");
        const auto now = Clock::now();
        if (!give_up) give_up = now + config_.retry_time;
        auto wait = jitter(backoff);
        backoff = std::min(backoff * 2, config_.backoff_max);
        std::string asked;
        if (!res.retry_after.empty())
          if (auto ra = httpc::parse_retry_after(res.retry_after, std::chrono::system_clock::now())) {
            wait = std::max<std::chrono::nanoseconds>(wait, *ra);
            asked = ", Retry-After " + std::to_string(ra->count()) + " s";
          }
        if (now + wait > *give_up)
          return sdk::Status::error(
              fmt::format("{}: {}{}; gave up after {} retries (retry_time {} ms): the batch comes again",
                          where(o.req.target), what, asked, retried,
                          duration_cast<milliseconds>(config_.retry_time).count()));
        if (retried == 0)
          ctx_.log.warn("{}: {}{}; retrying (for up to {} ms)", where(o.req.target), what, asked,
                        duration_cast<milliseconds>(*give_up - now).count());
        ++retried;
        retries_.fetch_add(1);
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, wait, [&] { return stopping_; });
      }
    }
    return sdk::Status::ok();
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back(
        {"requests", static_cast<double>(requests_.load()), false, "requests sent (retries included)"});
    out.push_back({"retries", static_cast<double>(retries_.load()), false,
                   "requests sent again after a connection error, a timeout, 408, 429 or 5xx"});
    out.push_back({"responses_2xx", static_cast<double>(status_[2].load()), false, "2xx responses"});
    out.push_back(
        {"responses_3xx", static_cast<double>(status_[3].load()), false, "3xx responses (refused)"});
    out.push_back({"responses_4xx", static_cast<double>(status_[4].load()), false, "4xx responses"});
    out.push_back({"responses_5xx", static_cast<double>(status_[5].load()), false, "5xx responses"});
    out.push_back({"request_errors", static_cast<double>(status_[0].load()), false,
                   "requests without a response (connect, TLS, timeout, reset)"});
    out.push_back({"records_rejected", static_cast<double>(rejected_.load()), false,
                   "records sent to the error port (the receiver refused them, or no URL/header)"});
    out.push_back({"requests_skipped", static_cast<double>(skipped_.load()), false,
                   "requests of batches delivered again that had been answered 2xx already"});
    out.push_back(
        {"connects", client_ ? static_cast<double>(client_->connects()) : 0.0, false, "connections opened"});
  }

 private:
  static std::string where(const httpc::Target& t) {
    // Without the query: it may hold a token.
    return t.origin() + t.path.substr(0, t.path.find('?'));
  }

  static std::string header(const httpc::Request& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return "";
  }

  static bool retryable(unsigned status) {
    return status == 0 || status == 408 || status == 429 || status >= 500;
  }

  void count(unsigned status) {
    const unsigned cls = status / 100;
    status_[cls <= 5 && cls != 1 ? cls : 0].fetch_add(1);
  }

  bool stopped() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  std::chrono::nanoseconds jitter(std::chrono::nanoseconds d) {
    std::uniform_real_distribution<double> f(0.75, 1.25);
    return std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(d.count()) * f(rng_)));
  }

  void remember(const std::string& memo) {
    if (!delivered_set_.insert(memo).second) return;
    delivered_.push_back(memo);
    if (delivered_.size() > delivered_memory) {
      delivered_set_.erase(delivered_.front());
      delivered_.pop_front();
    }
  }

  // A header value from an expression: strings as they are, numbers and booleans as their JSON.
  static bool value_text(const boost::json::value& v, std::string& out) {
    if (v.is_string())
      out.assign(v.get_string().data(), v.get_string().size());
    else if (v.is_number() || v.is_bool())
      out = sdk::to_json(v);
    else
      return false;
    return true;
  }

  // The URL and the per-record headers of one record; false with `why` when they cannot be made.
  bool render(const sdk::Record& r, httpc::Target& target,
              std::vector<std::pair<std::string, std::string>>& headers, std::string& why) const {
    boost::json::value v;
    sdk::expr::EvalError err;
    if (config_.url_expr.program) {
      if (!config_.url_expr.program->eval(r.value, v, err)) {
        why = "url_expr: " + err.message;
        return false;
      }
      if (!v.is_string()) {
        why = "url_expr gave " + sdk::to_json(v) + ", not a string";
        return false;
      }
      if (auto e = httpc::parse_url(std::string_view(v.get_string()), target)) {
        why = "url_expr gave \"" + std::string(v.get_string()) + "\": " + *e;
        return false;
      }
    } else {
      target = fixed_;
    }
    for (const auto& [name, e] : config_.header_exprs) {
      std::string text;
      if (!e.program->eval(r.value, v, err)) {
        why = "header_exprs/" + name + ": " + err.message;
        return false;
      }
      if (!value_text(v, text) || !valid_header_value(text)) {
        why = "header_exprs/" + name + " gave " + sdk::to_json(v) + ", not a header value";
        return false;
      }
      headers.emplace_back(name, std::move(text));
    }
    return true;
  }

  // Splits the batch into requests: a record each (single), or runs of consecutive records with
  // the same URL and header values, up to max_records and max_bytes (array, ndjson).
  void plan(std::span<const sdk::Record> records, sdk::Rejects& rejects, std::vector<Outgoing>& outs) {
    const bool single = config_.format == Format::single;
    const std::size_t max_records = single ? 1 : static_cast<std::size_t>(config_.max_records);
    std::vector<std::vector<const sdk::Record*>> members;
    std::vector<std::string> bodies;
    for (std::size_t i = 0; i < records.size(); ++i) {
      httpc::Target target;
      std::vector<std::pair<std::string, std::string>> headers;
      std::string why;
      if (!render(records[i], target, headers, why)) {
        rejects.add(i, why);
        rejected_.fetch_add(1);
        continue;
      }
      std::string json;
      sdk::write_json(json, records[i].value);
      std::string group = target.origin() + target.path;
      for (const auto& [n, v] : headers) group.append("\n").append(n).append(": ").append(v);
      const bool fits = !outs.empty() && outs.back().group == group &&
                        outs.back().indexes.size() < max_records &&
                        outs.back().body_bytes + json.size() + 2 <= config_.max_bytes.bytes;
      if (!fits) {
        outs.emplace_back();
        outs.back().group = std::move(group);
        outs.back().req.target = std::move(target);
        outs.back().req.headers = std::move(headers);
        members.emplace_back();
        bodies.emplace_back();
      }
      auto& o = outs.back();
      std::string& body = bodies.back();
      if (config_.format == Format::array) body += body.empty() ? "[" : ",";
      body += json;
      if (config_.format == Format::ndjson) body += "\n";
      o.body_bytes = body.size();
      o.indexes.push_back(i);
      members.back().push_back(&records[i]);
    }
    const std::string content_type =
        config_.format == Format::ndjson ? "application/x-ndjson" : "application/json";
    for (std::size_t k = 0; k < outs.size(); ++k) {
      auto& req = outs[k].req;
      req.method = config_.method == Method::put ? "PUT" : "POST";
      req.body = std::move(bodies[k]);
      if (config_.format == Format::array) req.body += "]";
      auto per_record = std::move(req.headers);
      req.headers.clear();
      bool typed = false;
      for (const auto& [n, v] : config_.headers) {
        typed = typed || lower(n) == "content-type";
        req.headers.emplace_back(n, v);
      }
      for (auto& [n, v] : per_record) {
        typed = typed || lower(n) == "content-type";
        req.headers.emplace_back(std::move(n), std::move(v));
      }
      if (!typed) req.headers.emplace_back("Content-Type", content_type);
      if (!config_.authorization.empty()) req.headers.emplace_back("Authorization", config_.authorization);
      const auto key = idempotency_key(members[k], single);
      if (!key.empty()) req.headers.emplace_back("Idempotency-Key", key);
    }
  }

  Config config_;
  sdk::Context ctx_;
  httpc::Target fixed_;
  std::unique_ptr<httpc::Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
  // Requests answered 2xx lately (URL and Idempotency-Key): a batch delivered again after a
  // write() that failed later on does not send them again. Only the writing thread uses them.
  std::deque<std::string> delivered_;
  std::unordered_set<std::string> delivered_set_;
  std::atomic<std::uint64_t> requests_{0}, retries_{0}, rejected_{0}, skipped_{0};
  std::array<std::atomic<std::uint64_t>, 6> status_{};  // by class; [0]: no response
};

void lint_config(const Config& c, sdk::Lint& lint) {
  if (c.url.empty() && c.url_expr.source.empty())
    // At the object: neither field is required by itself.
    lint.error("", "invalid_value", "set `url`, or `url_expr` for a URL per record");
  if (!c.url.empty() && !c.url_expr.source.empty())
    lint.warning("url", "unused", "`url_expr` is set: `url` is not used", "remove one of them");
  httpc::Target t;
  if (!c.url.empty())
    if (auto e = httpc::parse_url(c.url, t)) lint.error("url", "invalid_value", *e);
  std::unordered_set<std::string> names;
  auto check = [&](const char* field, const std::string& name) {
    const auto l = lower(name);
    if (!valid_header_name(name))
      lint.error(field, "invalid_value", "\"" + name + "\" is not a header name");
    else if (std::find(std::begin(reserved_headers), std::end(reserved_headers), l) !=
             std::end(reserved_headers))
      lint.error(field, "invalid_value", "header " + name + " is set by http_output",
                 l == "authorization" ? "put it in `authorization` (a secret: never logged)" : "");
    else if (!names.insert(l).second)
      lint.error(field, "invalid_value", "header " + name + " is set twice");
  };
  for (const auto& [name, value] : c.headers) {
    check("headers", name);
    if (!valid_header_value(value))
      lint.error("headers", "invalid_value", "header " + name + ": CR, LF or NUL in the value");
  }
  for (const auto& [name, e] : c.header_exprs) check("header_exprs", name);
  if (!valid_header_value(c.authorization))
    lint.error("authorization", "invalid_value", "CR, LF or NUL in the value");
  if (c.tls.cert.empty() != c.tls.key.empty())
    lint.error("tls", "invalid_value", "a client certificate needs both `cert` and `key`");
  if (c.backoff_min > c.backoff_max)
    lint.warning("backoff_min", "unused", "longer than `backoff_max`: every wait is `backoff_max`");
}

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"http_output"};
  s.summary(
       "Sends records to an HTTP endpoint (POST or PUT), one per request or batched as a JSON array or "
       "NDJSON; a batch counts as written once every request was answered 2xx.")
      .description(
          "Each request carries an `Idempotency-Key` derived from its records' ids, the same when a batch "
          "comes again. Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff "
          "and jitter (Retry-After honoured) for up to `retry_time`; then the write fails and the engine "
          "delivers the batch again later. Any other status (3xx, 4xx) sends the request's records to "
          "`error` with the status and the first 1 KiB of the response body. Limits: one kept-alive "
          "connection per origin, 8 at most; response bodies read up to 1 MiB, headers up to 64 KiB; the "
          "last 10,000 requests answered 2xx are remembered so that a batch delivered again skips them.");
  s.field("url", &Config::url,
          field()
              .doc("Where requests go: http://host[:port]/path or https://... (TLS, verified). Required "
                   "unless `url_expr` is set.")
              .example("http://127.0.0.1:8080/ingest"))
      .field("url_expr", &Config::url_expr,
             field()
                 .doc("An expression computing each record's URL (a string, http:// or https://). A record "
                      "for which it fails goes to `error`. When set, `url` is not used.")
                 .example("\"http://collector/\" + site"))
      .field("method", &Config::method,
             field()
                 .doc("The HTTP method.")
                 .option("POST", Method::post, "POST.")
                 .option("PUT", Method::put, "PUT."))
      .field("format", &Config::format,
             field()
                 .doc("How records make a request body.")
                 .option("single", Format::single, "One record per request: its JSON (application/json).")
                 .option("array", Format::array,
                         "Consecutive records with the same URL and header values in one JSON array "
                         "(application/json), up to `max_records` and `max_bytes`.")
                 .option("ndjson", Format::ndjson,
                         "As `array`, one JSON text per line, each ending in a newline "
                         "(application/x-ndjson)."))
      .field("max_records", &Config::max_records,
             field().range(1, 10000).doc("array and ndjson: most records in one request."))
      .field("max_bytes", &Config::max_bytes,
             field()
                 .size_range(1024, 64ull * 1024 * 1024)
                 .doc("array and ndjson: largest request body; a single record larger than it goes alone."))
      .field("headers", &Config::headers,
             field()
                 .doc("Headers sent with every request (not secret: credentials go in `authorization`). "
                      "`Content-Type` replaces the format's own; Host, Content-Length, Connection, "
                      "Transfer-Encoding, Idempotency-Key and Authorization cannot be set here.")
                 .example(boost::json::object{{"X-Source", "weir"}}))
      .field("header_exprs", &Config::header_exprs,
             field()
                 .doc("Headers whose values are expressions over the record (a string, number or boolean; "
                      "anything else sends the record to `error`).")
                 .example(boost::json::object{{"X-Site", "site"}}))
      .field("authorization", &Config::authorization,
             field()
                 .secret()
                 .doc("The Authorization header's value, e.g. \"Bearer ${HTTP_TOKEN}\"; never logged.")
                 .example("Bearer ${HTTP_TOKEN}"))
      .field(
          "tls", &Config::tls,
          field().doc("https:// URLs: `ca` verifies the server (else the system's CAs); `cert` and `key` are "
                      "a client certificate."))
      .field("connect_timeout", &Config::connect_timeout,
             field().duration_range(100ms, 5min).doc("Name lookup, TCP connect and TLS handshake."))
      .field("request_timeout", &Config::request_timeout,
             field().duration_range(100ms, 1h).doc("Writing a request and reading its whole response."))
      .field("retry_time", &Config::retry_time,
             field().duration_range(0s, 24h).doc(
                 "How long a write keeps retrying from its first failure; then it fails and the batch comes "
                 "again later (requests answered 2xx are not sent again by this process). A Retry-After "
                 "beyond it fails the write at once. 0: no retries."))
      .field(
          "backoff_min", &Config::backoff_min,
          field().duration_range(1ms, 1min).advanced().doc("The first retry's wait (then x2, +-25% jitter)."))
      .field("backoff_max", &Config::backoff_max,
             field()
                 .duration_range(1ms, 10min)
                 .advanced()
                 .doc("The longest wait between retries (a Retry-After may ask for more)."))
      .lint(lint_config)
      .example(boost::json::parse(R"({"id": "collector", "type": "http_output", "inputs": ["readings"],
          "config": {"url": "http://127.0.0.1:8080/ingest", "format": "ndjson", "max_records": 500}})"))
      .implementation<HttpOutput>();
  return s;
}

}  // namespace weir::components::http_output
