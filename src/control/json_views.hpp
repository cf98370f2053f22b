// The API's JSON shapes of flows, their files, statuses, diagnostics and revisions.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/flow_manager.hpp"
#include "runtime/flow_runner.hpp"
#include "store/store.hpp"

namespace weir::control {

boost::json::value diagnostics_json(const sdk::Diagnostics& diags);
// starting | running | degraded | failed | stopped, from the flow's state and the component's.
std::string component_state(const runtime::FlowStatus& flow, const runtime::ComponentStatus& c);
boost::json::value flow_status_json(const runtime::FlowStatus& f);
boost::json::value file_json(const FlowFile& f);
boost::json::value event_json(const ReloadEvent& e);
boost::json::value flow_summary_json(const FlowFile& f, const std::vector<runtime::FlowStatus>& statuses);
boost::json::value flow_detail_json(const FlowFile& f, const std::optional<runtime::FlowStatus>& status,
                                    const std::string& deployed_text, const std::vector<ReloadEvent>& events);
boost::json::value history_json(const std::vector<store::Revision>& revisions);

}  // namespace weir::control
