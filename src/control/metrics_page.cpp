#include "control/metrics_page.hpp"

#include <cctype>
#include <map>

#include "bus/connection.hpp"
#include "control/flow_manager.hpp"
#include "metrics/exposition.hpp"
#include "metrics/process.hpp"

namespace weir::control {

using metrics::Type;

MetricsPage::MetricsPage(runtime::Engine& engine, const bus::Connection& conn, const FlowManager& flows,
                         std::string version, std::chrono::milliseconds lag_every)
    : engine_(engine), conn_(conn), flows_(flows), version_(std::move(version)), lag_every_(lag_every) {}

namespace {

// A component's own figure as a metric name: "weir_" + name, counters ending in "_total".
std::string component_metric_name(const sdk::Metric& m) {
  std::string name = "weir_";
  for (char c : m.name) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (!m.gauge && (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0)) name += "_total";
  return name;
}

}  // namespace

std::string MetricsPage::render() {
  metrics::Exposition ex;
  ex.add("weir_build_info", Type::gauge, "The running weir's version.", {{"version", version_}}, 1);
  ex.add("weir_nats_connected", Type::gauge, "1 while the engine's NATS connection is up.", {},
         conn_.connected() ? 1 : 0);
  ex.add("weir_nats_reconnects_total", Type::counter, "Reconnections of the engine's NATS connection.", {},
         static_cast<double>(conn_.reconnects()));
  ex.add("weir_reloads_total", Type::counter,
         "Flow file changes applied (ok) or refused as invalid (failed).", {{"result", "ok"}},
         static_cast<double>(flows_.reloads_ok()));
  ex.add("weir_reloads_total", Type::counter,
         "Flow file changes applied (ok) or refused as invalid (failed).", {{"result", "failed"}},
         static_cast<double>(flows_.reloads_failed()));
  std::size_t invalid = 0;
  for (const auto& f : flows_.files())
    if (!f.errors.empty()) ++invalid;
  ex.add("weir_flow_files_invalid", Type::gauge, "Flow files whose current content is invalid.", {},
         static_cast<double>(invalid));

  // Components of different types may report a figure of the same name: the first one seen
  // decides its type and help, as a family has only one.
  std::map<std::string, std::pair<Type, std::string>> own;
  for (const auto& f : engine_.status()) {
    ex.add("weir_flow_up", Type::gauge, "1 while the flow runs.", {{"flow", f.name}},
           f.state == runtime::FlowState::running ? 1 : 0);
    for (const auto& c : f.components) {
      metrics::Labels l{{"flow", f.name}, {"component", c.id}};
      ex.add("weir_records_in_total", Type::counter, "Records a component took in.", l,
             static_cast<double>(c.records_in));
      if (c.ports_out.empty())
        ex.add("weir_records_written_total", Type::counter, "Records an output delivered.", l,
               static_cast<double>(c.records_out));
      for (const auto& [port, n] : c.ports_out) {
        auto lp = l;
        lp.push_back({"port", port});
        ex.add("weir_records_out_total", Type::counter, "Records a component emitted, per output port.", lp,
               static_cast<double>(n));
      }
      ex.add("weir_errors_total", Type::counter, "Records a component sent to its error port.", l,
             static_cast<double>(c.errors));
      ex.add("weir_dead_letters_total", Type::counter, "Records a component sent to the flow's dead letters.",
             l, static_cast<double>(c.dead_letters));
      ex.add("weir_retries_total", Type::counter, "Publish or write rounds a component had to repeat.", l,
             static_cast<double>(c.retries));
      ex.add(
          "weir_replays_total", Type::counter,
          "Records delivered again (after a crash, a reconnect, a broker restart) that were already stored "
          "and so were not stored twice.",
          l, static_cast<double>(c.replays));
      if (c.processing.count > 0)
        ex.add_histogram("weir_processing_seconds",
                         "Time to handle one batch in a stage (its fused processors, or an output's write).",
                         l, c.processing);
      for (const auto& m : c.metrics) {
        const auto name = component_metric_name(m);
        auto [it, added] = own.try_emplace(name, m.gauge ? Type::gauge : Type::counter,
                                           m.help.empty() ? "A component's own figure." : m.help);
        if (it->second.first != (m.gauge ? Type::gauge : Type::counter)) continue;
        ex.add(name, it->second.first, it->second.second, l, m.value);
      }
    }
  }

  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - lag_at_ >= lag_every_) {
      lag_ = engine_.consumer_lag();
      lag_at_ = now;
    }
    for (const auto& g : lag_) {
      metrics::Labels l{{"flow", g.flow}, {"component", g.component}, {"upstream", g.upstream}};
      ex.add("weir_consumer_pending", Type::gauge,
             "Batches waiting for a stage in the flow's stream (not yet delivered plus delivered unacked).",
             l, static_cast<double>(g.pending + g.ack_pending));
    }
  }
  metrics::add_process_metrics(ex);
  return ex.str();
}

}  // namespace weir::control
