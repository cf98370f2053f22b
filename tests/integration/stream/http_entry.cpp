// Stream suite entry: http_input → http_output. Producers POST NDJSON to http_input with an
// Idempotency-Key per request and retry until 202 (exactly once into the flow,
// components/http_input/README.md); http_output sends NDJSON requests to a collector, a real
// HTTP server in the test that answers 200 and counts every record it gets, duplicates kept.
// http_output is at least once (components/http_output/README.md), and exactly once at a
// receiver that honours Idempotency-Key: the collector also keeps the records of the first
// request per key, which the suite checks exactly once (Stream::deduplicated()). The engine
// reaches the collector through a TcpProxy: disrupt() cuts the connection, and once more right
// after the collector took the next request, so that its answer is lost (a kept-alive connection
// cut while idle is reopened without a retry); away() takes the link down (the collector gone).
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "../../unit/http/http_test_support.hpp"  // http::testing::TestServer
#include "stream_suite.hpp"
#include "support/free_port.hpp"
#include "support/raw_http.hpp"

namespace weir::testing::stream {

using namespace std::chrono_literals;

namespace {

// The collector: every record of every request (duplicates kept), and those of the first request
// per Idempotency-Key.
class Collector {
 public:
  std::uint16_t port() const { return server_.port(); }
  std::vector<std::int64_t> all() const {
    std::lock_guard lock(mu_);
    return all_;
  }
  std::vector<std::int64_t> first_per_key() const {
    std::lock_guard lock(mu_);
    return first_per_key_;
  }
  std::string figures() const {
    std::lock_guard lock(mu_);
    return std::to_string(requests_) + " requests at the collector, " + std::to_string(repeated_keys_) +
           " with a key seen before, " + std::to_string(answers_lost_) + " answers lost";
  }
  // The next request is taken (counted), then `link` cut before its answer goes.
  void lose_next_answer(TcpProxy& link) { cut_after_next_ = &link; }

 private:
  static http::ServerOptions options() {
    http::ServerOptions o;
    o.max_body = 64 << 20;
    o.workers = 4;
    return o;
  }

  http::Response on_request(const http::Request& r) {
    std::vector<std::int64_t> got;
    std::size_t start = 0;
    while (start < r.body.size()) {
      auto end = r.body.find('\n', start);
      if (end == std::string::npos) end = r.body.size();
      const std::string_view line(r.body.data() + start, end - start);
      start = end + 1;
      if (line.empty()) continue;
      boost::system::error_code ec;
      const auto v = boost::json::parse(line, ec);
      const auto* n = !ec && v.is_object() ? v.get_object().if_contains("n") : nullptr;
      if (n == nullptr || !n->is_int64()) return http::json_error(400, "not a record");
      got.push_back(n->get_int64());
    }
    const std::string key(r.header("Idempotency-Key"));
    std::lock_guard lock(mu_);
    ++requests_;
    all_.insert(all_.end(), got.begin(), got.end());
    if (key.empty() || keys_.insert(key).second)
      first_per_key_.insert(first_per_key_.end(), got.begin(), got.end());
    else
      ++repeated_keys_;
    if (auto* link = cut_after_next_.exchange(nullptr)) {
      link->cut();
      ++answers_lost_;
    }
    http::Response res;
    res.body = "{}";
    return res;
  }

  mutable std::mutex mu_;
  std::vector<std::int64_t> all_, first_per_key_;
  std::set<std::string> keys_;
  std::size_t requests_ = 0, repeated_keys_ = 0, answers_lost_ = 0;
  std::atomic<TcpProxy*> cut_after_next_{nullptr};
  http::testing::TestServer server_{options(), [this](const http::Request& r) { return on_request(r); }};
};

class HttpStream : public OneEngine {
 public:
  HttpStream() : OneEngine("stream"), input_port_(free_port()), link_("127.0.0.1", collector_.port()) {
    rig_.write_flow("stream.json", R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"},
      "components": [
        {"id": "in", "type": "http_input", "config": {"listen": "127.0.0.1:)" +
                                       std::to_string(input_port_) + R"(", "path": "/ingest"}},
        {"id": "out", "type": "http_output", "inputs": ["in"], "config": {"url": "http://127.0.0.1:)" +
                                       std::to_string(link_.port()) +
                                       R"(/collect", "format": "ndjson", "max_records": 100}}]})");
  }

  // One request per chunk of records (100, or 32 of the padded ones: under max_body), each with
  // its own Idempotency-Key, retried until 202.
  void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) override {
    const std::uint64_t chunk = pad > 0 ? 32 : 100;
    const std::string padding = pad > 0 ? R"(, "pad": ")" + std::string(pad, 'x') + "\"" : "";
    for (auto first = from; first < to; first += chunk) {
      const auto last = std::min(to, first + chunk);
      std::string body;
      for (auto n = first; n < last; ++n) body += R"({"n": )" + std::to_string(n) + padding + "}\n";
      post(body, "k" + std::to_string(first) + "-" + std::to_string(last));
    }
  }
  std::vector<std::int64_t> consumed() override { return collector_.all(); }
  std::vector<std::int64_t> deduplicated() override { return collector_.first_per_key(); }
  std::string figures() override { return collector_.figures(); }
  void disrupt() override {
    link_.cut();
    collector_.lose_next_answer(link_);
  }
  void away(bool gone) override { link_.set_down(gone); }
  std::string logs() override { return collector_.figures() + "\n" + rig_.engine_log(); }

 private:
  void post(const std::string& body, const std::string& key) {
    const std::vector<std::string> headers{"Content-Type: application/x-ndjson", "Idempotency-Key: " + key};
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    for (;;) {
      const auto reply = raw_request(input_port_, body, headers, "/ingest");
      if (reply.status == 202) return;
      // No answer (the engine killed or starting), 429 (max_pending) or 503: the same key again.
      const bool retry = reply.status == 0 || reply.status == 429 || reply.status == 503;
      REQUIRE_MESSAGE(retry, "request " << key << " refused: " << reply.status << " " << reply.body);
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                      "request " << key << " not answered 202 within 180 s: " << reply.status << " "
                                 << reply.error << reply.body);
      std::this_thread::sleep_for(50ms);
    }
  }

  Collector collector_;
  std::uint16_t input_port_;
  TcpProxy link_;
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "http";
  t.guarantee = Guarantee::at_least_once;
  t.deduplicated_by = "Idempotency-Key";
  t.disruption = "http_output's connection to the collector cut (TcpProxy), and the next answer lost";
  t.away = "the collector unreachable (TcpProxy down: connections reset)";
  return {{t, [] { return std::make_unique<HttpStream>(); }}};
}

}  // namespace weir::testing::stream
