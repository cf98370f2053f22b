#include "control/json_views.hpp"

#include <boost/json.hpp>

namespace weir::control {

namespace json = boost::json;

json::value diagnostics_json(const sdk::Diagnostics& diags) {
  json::array a;
  for (const auto& d : diags.items()) {
    json::object o;
    o["severity"] = d.severity == sdk::Severity::error ? "error" : "warning";
    o["code"] = d.code;
    o["pointer"] = d.pointer;
    o["message"] = d.message;
    if (!d.hint.empty()) o["hint"] = d.hint;
    if (!d.file.empty()) o["file"] = d.file;
    if (d.line > 0) {
      o["line"] = d.line;
      o["column"] = d.column;
    }
    o["text"] = sdk::format(d);
    a.push_back(std::move(o));
  }
  return a;
}

namespace {

// A flow that failed to start names the component at fault first: "<id>: <reason>".
bool failed_at(const runtime::FlowStatus& flow, const runtime::ComponentStatus& c) {
  return flow.state == runtime::FlowState::failed && flow.error.rfind(c.id + ": ", 0) == 0;
}

}  // namespace

std::string component_state(const runtime::FlowStatus& flow, const runtime::ComponentStatus& c) {
  using runtime::FlowState;
  switch (flow.state) {
    case FlowState::deploying:
      return "starting";
    case FlowState::stopped:
      return "stopped";
    case FlowState::failed:
      return failed_at(flow, c) ? "failed" : "starting";
    case FlowState::running:
      break;
  }
  if (c.failing) return "degraded";
  for (const auto& m : c.metrics)
    if (m.name == "link_up" && m.value == 0) return "degraded";
  return "running";
}

json::value flow_status_json(const runtime::FlowStatus& f) {
  json::object o;
  o["name"] = f.name;
  o["state"] = runtime::to_string(f.state);
  if (!f.error.empty()) o["error"] = f.error;
  json::array comps;
  for (const auto& c : f.components) {
    json::object k;
    k["id"] = c.id;
    k["type"] = c.type;
    k["state"] = component_state(f, c);
    if (failed_at(f, c))
      k["error"] = f.error.substr(c.id.size() + 2);
    else if (!c.last_error.empty())
      k["error"] = c.last_error;
    k["records_in"] = c.records_in;
    k["records_out"] = c.records_out;
    if (c.ports_out.size() > 1) {
      json::object ports;
      for (const auto& [port, n] : c.ports_out) ports[port] = n;
      k["records_out_by_port"] = std::move(ports);
    }
    k["errors"] = c.errors;
    k["dead_letters"] = c.dead_letters;
    k["retries"] = c.retries;
    k["replays"] = c.replays;
    if (!c.metrics.empty()) {
      json::object m;
      for (const auto& x : c.metrics) m[x.name] = x.value;
      k["metrics"] = std::move(m);
    }
    comps.push_back(std::move(k));
  }
  o["components"] = std::move(comps);
  return o;
}

json::value file_json(const FlowFile& f) {
  json::object o;
  o["file"] = f.file;
  if (!f.flow.empty()) o["flow"] = f.flow;
  o["diagnostics"] = diagnostics_json(f.errors);
  return o;
}

json::value event_json(const ReloadEvent& e) {
  json::object o;
  o["at_ms"] = e.at_ms;
  o["flow"] = e.flow;
  o["file"] = e.file;
  o["source"] = e.source;
  o["ok"] = e.ok;
  o["message"] = e.message;
  return o;
}

namespace {
// The state of a flow that has no runner: its file never deployed, or it is not running now.
const char* idle_state(const FlowFile& f) {
  return f.deployed_hash.empty() ? "invalid" : "disabled";
}
}  // namespace

json::value flow_summary_json(const FlowFile& f, const std::vector<runtime::FlowStatus>& statuses) {
  json::object o;
  o["name"] = f.flow;
  o["file"] = f.file;
  std::string state = idle_state(f);
  for (const auto& s : statuses)
    if (s.name == f.flow && !f.flow.empty()) {
      state = runtime::to_string(s.state);
      if (!s.error.empty()) o["error"] = s.error;
    }
  o["state"] = state;
  // The file on disk is invalid while a previous version runs: the API shows both.
  if (!f.errors.empty()) o["pending_errors"] = diagnostics_json(f.errors);
  return o;
}

json::value flow_detail_json(const FlowFile& f, const std::optional<runtime::FlowStatus>& status,
                             const std::string& deployed_text, const std::vector<ReloadEvent>& events) {
  json::object o;
  o["name"] = f.flow;
  o["file"] = f.file;
  json::error_code ec;
  auto def = json::parse(deployed_text, ec);
  o["definition"] = ec ? json::value(nullptr) : std::move(def);
  if (status) {
    auto s = flow_status_json(*status).as_object();
    o["state"] = s["state"];
    if (s.contains("error")) o["error"] = s["error"];
    o["components"] = s["components"];
  } else {
    o["state"] = idle_state(f);
  }
  if (!f.errors.empty()) o["pending_errors"] = diagnostics_json(f.errors);
  json::array reloads;
  for (const auto& e : events)
    if (e.flow == f.flow) reloads.push_back(event_json(e));
  o["reloads"] = std::move(reloads);
  return o;
}

json::value history_json(const std::vector<store::Revision>& revisions) {
  json::array a;
  for (const auto& r : revisions) {
    json::object o;
    o["rev"] = r.rev;
    o["hash"] = r.hash;
    o["source"] = r.source;
    o["file"] = r.file;
    o["deployed_at_ms"] = r.deployed_at_ms;
    a.push_back(std::move(o));
  }
  return a;
}

}  // namespace weir::control
