#include "two_sites.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <set>

namespace weir::testing {

TwoSites::TwoSites(LinkOptions options) : options_(std::move(options)) {
  a_ = std::make_unique<EngineRig>();
  hub_ = std::make_unique<EngineRig>(options_.hub_store_dir);
  a_->create_streams();
  hub_->create_streams();
  hub_port_ = free_port();
  proxy_ = std::make_unique<TcpProxy>("127.0.0.1", hub_port_);
  const bool wss = !options_.site_a_tls.empty();
  const std::string a_token = options_.site_a_token.empty() ? options_.token : options_.site_a_token;
  a_->write_flow("uplink.json", R"({
  "version": 1, "name": "uplink", "settings": )" +
                                    options_.a_settings + R"(,
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC", "ack_wait": "5s" } },
    { "id": "link", "type": "websocket_output", "inputs": ["src"],
      "config": { "mode": "connect", "url": ")" +
                                    std::string(wss ? "wss" : "ws") + "://" +
                                    (wss ? "localhost" : "127.0.0.1") + ":" + std::to_string(proxy_->port()) +
                                    R"(/bridge", "token": ")" + a_token + R"(", "site": "site-a",
                  "heartbeat": "500ms", "reconnect_max": "1s")" +
                                    (wss ? R"(, "tls": )" + options_.site_a_tls : "") + R"( } }
  ]
})");
  hub_->write_flow("hub.json", R"({
  "version": 1, "name": "hub", "settings": )" +
                                   options_.hub_settings + R"(,
  "components": [
    { "id": "from_sites", "type": "websocket_input",
      "config": { "mode": "listen", "listen": "127.0.0.1:)" +
                                   std::to_string(hub_port_) + R"(", "path": "/bridge", "token": ")" +
                                   options_.token + R"(", "site": "hub", "heartbeat": "500ms")" +
                                   (options_.hub_tls.empty() ? "" : R"(, "tls": )" + options_.hub_tls) +
                                   options_.hub_extra + R"( } },
    )" + options_.hub_sink + R"(
  ]
})");
}

void TwoSites::start() {
  hub_->start_engine();
  a_->start_engine();
}

std::string TwoSites::logs() {
  return "---- site A ----\n" + a_->engine_log() + "\n---- hub ----\n" + hub_->engine_log();
}

void TwoSites::check_exactly_once(std::uint64_t n, bool ordered) {
  auto msgs = hub_->read_out();
  CHECK(msgs.size() == n);
  std::set<std::string> ids;
  std::int64_t last = -1;
  std::size_t dup = 0, disorder = 0, bad = 0;
  std::set<std::int64_t> seen;
  for (const auto& m : msgs) {
    boost::system::error_code ec;
    auto v = boost::json::parse(m.data, ec);
    const auto* n_field = (!ec && v.is_object()) ? v.get_object().if_contains("n") : nullptr;
    if (!n_field || !n_field->is_int64()) {
      if (bad++ < 5) FAIL_CHECK("unexpected payload: " << m.data);
      continue;
    }
    const auto i = n_field->get_int64();
    if (!seen.insert(i).second && dup++ < 5) FAIL_CHECK("record " << i << " arrived twice");
    if (ordered && i < last && disorder++ < 5) FAIL_CHECK("record " << i << " arrived after " << last);
    last = std::max(last, i);
    ids.insert(m.msg_id);
  }
  CHECK(bad == 0);
  CHECK(dup == 0);
  CHECK(disorder == 0);
  CHECK(ids.size() == msgs.size());
  const auto missing = missing_ranges(seen, n, [](std::uint64_t) { return true; });
  CHECK_MESSAGE(missing.empty(), "missing records: " << missing);
  if (!msgs.empty()) CHECK(msgs.front().msg_id.rfind("hub.sink:site-a/uplink/link/", 0) == 0);
}

}  // namespace weir::testing
