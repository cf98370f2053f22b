#include "control/api.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <mutex>

#include "bus/connection.hpp"
#include "control/flow_manager.hpp"
#include "control/json_views.hpp"
#include "runtime/dead_letters.hpp"
#include "runtime/engine.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "store/store.hpp"

namespace weir::control {

namespace json = boost::json;

namespace {

http::Response json_response(unsigned status, const json::value& v) {
  http::Response r;
  r.status = status;
  r.body = sdk::to_json(v);
  r.body += '\n';
  return r;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

http::Response method_not_allowed(std::string_view allow) {
  auto r = http::json_error(405, "method not allowed here; allowed: " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// One tap WebSocket: the subscription lives until the socket closes.
struct TapSession {
  std::mutex mu;
  std::unique_ptr<runtime::TapHandle> sub;
  std::shared_ptr<http::WsChannel> channel;
};

bool json_content_type(std::string_view ct) {
  if (ct.empty()) return true;
  auto semi = ct.find(';');
  auto base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  return base == "application/json" || base == "text/plain";
}

std::string query_value(const http::Request& req, std::string_view key) {
  for (const auto& [k, v] : req.query)
    if (k == key) return v;
  return {};
}

template <class Mutating>
http::Response dead_letters(const http::Request& req, const std::string& flow,
                            const std::vector<std::string>& parts, Mutating& mutating,
                            bus::Connection& conn) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  auto fail = [](const bus::Status& st) {
    return http::json_error(st.is_not_found() ? 404 : 503, st.text());
  };
  auto number = [](const std::string& s, std::uint64_t& out) {
    if (s.empty()) return true;
    char* end = nullptr;
    out = std::strtoull(s.c_str(), &end, 10);
    return end && *end == '\0' && s[0] != '-';
  };
  if (parts.size() == 5) {  // list
    if (!get) return method_not_allowed("GET");
    std::uint64_t limit = 100, after = 0;
    if (!number(query_value(req, "limit"), limit) || !number(query_value(req, "after"), after) ||
        limit > 1000)
      return http::json_error(400, "limit (at most 1000) and after must be non-negative integers");
    auto page = runtime::dead_letters::list(conn, flow, static_cast<std::size_t>(limit), after);
    if (!page) return fail(page.status());
    return json_response(200, runtime::dead_letters::to_json(*page));
  }
  if (parts.size() == 6 && parts[5] == "replay") {
    if (req.method != "POST") return method_not_allowed("POST");
    if (auto denied = mutating()) return *denied;
    std::optional<std::string> component;
    if (auto c = query_value(req, "component"); !c.empty()) component = c;
    std::optional<std::uint64_t> seq;
    if (auto s = query_value(req, "seq"); !s.empty()) {
      std::uint64_t n = 0;
      if (!number(s, n)) return http::json_error(400, "seq must be a non-negative integer");
      seq = n;
    }
    auto r = runtime::dead_letters::replay(conn, flow, component, seq);
    if (!r) return fail(r.status());
    return json_response(r->failed ? 502 : 200, runtime::dead_letters::to_json(*r));
  }
  if (parts.size() == 6) {  // one dead letter
    if (!get) return method_not_allowed("GET");
    std::uint64_t seq = 0;
    if (!number(parts[5], seq) || seq == 0)
      return http::json_error(400, "a dead letter is named by its sequence");
    auto d = runtime::dead_letters::show(conn, flow, seq);
    if (!d) return fail(d.status());
    return json_response(200, runtime::dead_letters::to_json(*d));
  }
  return http::json_error(404, "no such endpoint");
}

}  // namespace

std::pair<bool, std::string> Api::readiness() const {
  json::object out;
  const bool nats = ctx_.conn && ctx_.conn->connected();
  json::object bus;
  bus["state"] = ctx_.conn ? bus::to_string(ctx_.conn->state()) : "closed";
  bus["reconnects"] = ctx_.conn ? ctx_.conn->reconnects() : 0;
  out["bus"] = std::move(bus);
  bool ready = nats;
  json::array flows;
  // Degraded components (an input held back, an output whose writes fail) keep the engine
  // ready, as it loses nothing and resumes by itself, but the status says so, with the reasons.
  json::array degraded;
  for (const auto& f : ctx_.engine->status()) {
    if (f.state != runtime::FlowState::running) ready = false;
    for (const auto& c : f.components)
      if (component_state(f, c) == "degraded")
        degraded.push_back(json::string(f.name + "/" + c.id + ": " +
                                        (c.last_error.empty() ? std::string("degraded") : c.last_error)));
    flows.push_back(flow_status_json(f));
  }
  out["flows"] = std::move(flows);
  if (!degraded.empty()) out["degraded"] = std::move(degraded);
  json::array invalid;
  for (const auto& f : ctx_.flows->files())
    if (!f.errors.empty()) invalid.push_back(file_json(f));
  if (!invalid.empty()) out["invalid_files"] = std::move(invalid);
  out["status"] = !ready ? "not ready" : out.contains("degraded") ? "degraded" : "ready";
  return {ready, sdk::to_json(out) + "\n"};
}

http::Response Api::handle(const http::Request& req) {
  try {
    const auto parts = split_path(req.path);
    const bool get = req.method == "GET" || req.method == "HEAD";
    auto mutating = [&]() -> std::optional<http::Response> {
      if (ctx_.token.empty())
        return http::json_error(403,
                                "changes through the API are disabled: the engine has no http.token "
                                "(set it in the engine config or WEIR_HTTP_TOKEN)");
      if (req.authorization.empty()) {
        auto r = http::json_error(401, "this call changes the engine: send Authorization: Bearer <token>");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      }
      if (!http::bearer_matches(req.authorization, ctx_.token)) {
        auto r = http::json_error(401, "wrong bearer token");
        r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        return r;
      }
      return std::nullopt;
    };

    if (parts.size() == 1 && parts[0] == "health") {
      if (!get) return method_not_allowed("GET");
      json::object o;
      o["status"] = "healthy";
      o["version"] = ctx_.version;
      o["uptime_s"] =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx_.started)
              .count();
      return json_response(200, o);
    }
    if (parts.size() == 1 && parts[0] == "ready") {
      if (!get) return method_not_allowed("GET");
      auto [ok, body] = readiness();
      http::Response r;
      r.status = ok ? 200 : 503;
      r.body = std::move(body);
      return r;
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
      if (!get) return method_not_allowed("GET");
      http::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = ctx_.metrics ? ctx_.metrics() : std::string();
      return r;
    }
    if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1")
      return http::json_error(404, "no such endpoint");

    const auto& what = parts[2];
    if (what == "components" && parts.size() == 3) {
      if (!get) return method_not_allowed("GET");
      http::Response r;
      r.body = ctx_.components_json ? ctx_.components_json() : "[]\n";
      return r;
    }
    if (what == "reloads" && parts.size() == 3) {
      if (!get) return method_not_allowed("GET");
      json::array a;
      for (const auto& e : ctx_.flows->recent_events()) a.push_back(event_json(e));
      return json_response(200, a);
    }
    if (what == "validate" && parts.size() == 3) {
      if (req.method != "POST") return method_not_allowed("POST");
      if (!json_content_type(req.content_type))
        return http::json_error(415, "send the flow as application/json");
      auto r = ctx_.flows->validate(req.body, "request");
      json::object o;
      o["valid"] = r.flow.has_value();
      o["diagnostics"] = diagnostics_json(r.diagnostics);
      if (r.flow) o["flow"] = r.flow->name;
      return json_response(r.flow ? 200 : 422, o);
    }
    if (what != "flows") return http::json_error(404, "no such endpoint");

    if (parts.size() == 3) {
      if (!get) return method_not_allowed("GET");
      json::array a;
      const auto statuses = ctx_.engine->status();
      for (const auto& f : ctx_.flows->files()) a.push_back(flow_summary_json(f, statuses));
      return json_response(200, a);
    }
    const auto& name = parts[3];
    auto file = ctx_.flows->file_of(name);
    if (parts.size() == 4) {
      if (get) {
        if (!file) return http::json_error(404, "no flow named " + sdk::quote(name));
        return json_response(
            200, flow_detail_json(*file, ctx_.engine->status(name), ctx_.flows->deployed_text(name),
                                  ctx_.flows->recent_events()));
      }
      if (req.method == "PUT") {
        if (auto denied = mutating()) return *denied;
        if (auto why = ctx_.flows->unwritable()) return http::json_error(409, *why);
        if (!json_content_type(req.content_type))
          return http::json_error(415, "send the flow as application/json");
        auto w = ctx_.flows->put(name, req.body);
        json::object o;
        o["flow"] = name;
        o["message"] = w.message;
        o["diagnostics"] = diagnostics_json(w.diagnostics);
        // A body that is not JSON at all is a bad request (400); a flow that is JSON but wrong is 422.
        for (const auto& d : w.diagnostics.items())
          if (d.code == "json_syntax") {
            o["error"] = "the body is not valid JSON: " + sdk::format(d);
            return json_response(400, o);
          }
        if (w.status >= 400 && w.status != 422) o["error"] = w.message;
        return json_response(w.status, o);
      }
      if (req.method == "DELETE") {
        if (auto denied = mutating()) return *denied;
        std::string error;
        if (!file) return http::json_error(404, "no flow named " + sdk::quote(name));
        if (auto why = ctx_.flows->unwritable()) return http::json_error(409, *why);
        if (!ctx_.flows->remove(name, &error)) return http::json_error(500, error);
        json::object o;
        o["flow"] = name;
        o["message"] = "undeployed and its file removed";
        return json_response(200, o);
      }
      return method_not_allowed("GET, PUT, DELETE");
    }
    const auto& sub = parts[4];
    // Dead letters outlive a flow's file: they are asked for by flow name alone.
    if (sub == "dlq") return dead_letters(req, name, parts, mutating, *ctx_.conn);
    if (!file) return http::json_error(404, "no flow named " + sdk::quote(name));
    if (sub == "restart" && parts.size() == 5) {
      if (req.method != "POST") return method_not_allowed("POST");
      if (auto denied = mutating()) return *denied;
      if (!ctx_.flows->restart(name))
        return http::json_error(409, "flow " + sdk::quote(name) + " is not deployed");
      json::object o;
      o["flow"] = name;
      o["message"] = "restarted";
      return json_response(200, o);
    }
    if (sub == "history" && parts.size() == 5) {
      if (!get) return method_not_allowed("GET");
      if (!ctx_.store)
        return http::json_error(404, "no revision history: the engine runs without its database");
      auto h = ctx_.store->history(name);
      if (!h) return http::json_error(500, h.error());
      return json_response(200, history_json(*h));
    }
    if (sub == "tap") return http::json_error(426, "the tap is a WebSocket: connect with an Upgrade request");
    return http::json_error(404, "no such endpoint");
  } catch (const std::exception& e) {
    spdlog::error("api {} {}: {}", req.method, req.path, e.what());
    return http::json_error(500, std::string("internal error: ") + e.what());
  }
}

std::variant<http::Response, http::Upgrade> Api::upgrade(const http::Request& req) {
  const auto parts = split_path(req.path);
  // /api/v1/flows/{name}/tap/{component}[/{port}]
  if (parts.size() < 6 || parts.size() > 7 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "flows" ||
      parts[4] != "tap")
    return http::json_error(404, "only /api/v1/flows/{name}/tap/{component}[/{port}] is a WebSocket");
  if (req.method != "GET") return method_not_allowed("GET");
  const auto& name = parts[3];
  const auto& component = parts[5];
  const std::string port = parts.size() == 7 ? parts[6] : std::string();
  std::string error;
  auto target = ctx_.engine->tap_target(name, component, port, &error);
  if (!target) return http::json_error(404, error);
  auto* engine = ctx_.engine;
  auto state = std::make_shared<TapSession>();
  http::Upgrade up;
  up.on_open = [engine, state, t = *target](const std::shared_ptr<http::WsChannel>& ch) {
    std::weak_ptr<http::WsChannel> weak = ch;
    state->channel = ch;
    std::string err;
    auto sub = engine->tap(
        t,
        [weak](std::string text) {
          auto c = weak.lock();
          return c && c->send(std::move(text));
        },
        [weak] {
          if (auto c = weak.lock()) c->close();
        },
        &err);
    std::lock_guard lock(state->mu);
    if (!sub) {
      ch->send("{\"error\":" + sdk::to_json(json::value(err)) + "}");
      ch->close();
      return;
    }
    state->sub = std::move(sub);
    json::object hello;
    hello["tap"] = t.describe();
    ch->send(sdk::to_json(hello));
  };
  up.on_close = [state] {
    std::lock_guard lock(state->mu);
    state->sub.reset();
    state->channel.reset();
  };
  return up;
}

}  // namespace weir::control
