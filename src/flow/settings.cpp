#include <boost/json.hpp>

#include "core/hash.hpp"
#include "flow/flow.hpp"
#include "flow/loader.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/units.hpp"

namespace weir::flow {

sdk::ObjectSpec<Settings> Settings::object_spec() {
  using sdk::field;
  using namespace std::chrono_literals;
  return sdk::ObjectSpec<Settings>{}
      .field("max_bytes", &Settings::max_bytes,
             field()
                 .doc("Disk budget of the flow's stream: what waits (a link down, a slow output) "
                      "is kept up to this size.")
                 .size_range(1024 * 1024, 1ull << 50))
      .field("max_age", &Settings::max_age,
             field().doc("Records older than this leave the stream even if unacked; 0 keeps them "
                         "until max_bytes."))
      .field("discard", &Settings::discard,
             field()
                 .doc("What happens when the stream is full.")
                 .option("new", Discard::new_,
                         "Refuse new records: producers feel backpressure, nothing is dropped.")
                 .option("old", Discard::old, "Drop the oldest records (counted) to take new ones."))
      .field("duplicate_window", &Settings::duplicate_window,
             field()
                 .doc("How long JetStream remembers message ids to drop redeliveries. Keep it at "
                      "least 2 x ack_wait (and 2 x the ack_wait of a nats_input reading a stream): a "
                      "batch delivered again after a crash comes back after ack_wait plus the restart. "
                      "A non-zero max_age must not be shorter.")
                 .duration_range(1s, 24h))
      .field("ack_wait", &Settings::ack_wait,
             field()
                 .doc("How long a batch may stay unacked before it is delivered again (after a crash, "
                      "work resumes after this).")
                 .duration_range(1s, 1h)
                 .advanced())
      .field("max_deliver", &Settings::max_deliver,
             field()
                 .doc("Deliveries of one batch before it goes to the dead letters.")
                 .range(1, 1000)
                 .advanced())
      .field("fuse", &Settings::fuse,
             field()
                 .doc("Run consecutive stateless processors in one stage (one durable hop fewer per "
                      "processor). false makes every edge durable.")
                 .advanced())
      .field("batch_records", &Settings::batch_records,
             field().doc("Most records in one internal message.").range(1, 10000).advanced())
      .field("batch_bytes", &Settings::batch_bytes,
             field().doc("Most bytes in one internal message.").size_range(1024, 900 * 1024).advanced())
      .field("publish_window", &Settings::publish_window,
             field().doc("Unacknowledged batches an input may have in flight.").range(1, 1024).advanced())
      .field("replicas", &Settings::replicas,
             field().doc("Stream replicas (clustered JetStream only).").range(1, 5).advanced())
      .field("state_interval", &Settings::state_interval,
             field()
                 .doc("How often a stateful processor (dedupe, throttle, deadband, window) stores a "
                      "snapshot of its state; its input is acknowledged only then, and after a crash "
                      "what came since the last snapshot is handled again.")
                 .duration_range(100ms, 10min)
                 .advanced());
}

void check_settings(const Flow& flow, sdk::Diagnostics& diags) {
  using sdk::format_duration;
  const auto& s = flow.settings;
  const auto window = s.duplicate_window;
  if (s.max_age.count() > 0 && s.max_age < window)
    diags.error("/settings/max_age", "inconsistent_settings",
                "max_age " + format_duration(s.max_age) + " is shorter than duplicate_window " +
                    format_duration(window) + ": JetStream refuses such a stream",
                "set max_age to at least " + format_duration(window) + ", or duplicate_window to at most " +
                    format_duration(s.max_age));
  if (window < 2 * s.ack_wait)
    diags.warning("/settings/duplicate_window", "short_duplicate_window",
                  "duplicate_window " + format_duration(window) + " is shorter than twice ack_wait " +
                      format_duration(s.ack_wait) +
                      ": a batch delivered again after a crash arrives after ack_wait plus the restart "
                      "time, beyond the window: batches are still stored once (by their positions), but "
                      "dead letters and records an input sends to its error port are stored again",
                  "set duplicate_window to at least " + format_duration(2 * s.ack_wait) +
                      ", or ack_wait to at most " + format_duration(window / 2));
  const sdk::FlowSettings view{window, s.ack_wait};
  for (const auto& c : flow.components)
    if (c.info && c.config && c.info->flow_lint)
      c.info->flow_lint(c.config.get(), view, diags, c.pointer + "/config");
}

const ComponentDecl* Flow::find(std::string_view id) const {
  for (const auto& c : components)
    if (c.id == id) return &c;
  return nullptr;
}

std::size_t Flow::index_of(std::string_view id) const {
  for (std::size_t i = 0; i < components.size(); ++i)
    if (components[i].id == id) return i;
  return static_cast<std::size_t>(-1);
}

std::string Flow::fingerprint() const {
  std::string print;
  sdk::write_json(print, Settings::object_spec().to_json(settings));
  for (const auto& c : components) print += '\n' + c.id + ' ' + c.fingerprint;
  return core::hex64(core::fnv1a64(print));
}

}  // namespace weir::flow
