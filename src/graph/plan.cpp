#include "graph/plan.hpp"

#include <algorithm>
#include <cctype>

namespace weir::graph {

namespace {

constexpr auto npos = static_cast<std::size_t>(-1);

std::string upper_token(const std::string& s) {
  std::string out;
  for (char c : s)
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

bool fusable(const flow::Flow& flow, std::size_t i) {
  const auto& c = flow.components[i];
  return flow.settings.fuse && c.info->kind == sdk::Kind::processor && c.info->stateless;
}

}  // namespace

std::string stream_name(const std::string& flow) {
  return "WEIR_" + upper_token(flow);
}
std::string stream_subjects(const std::string& flow) {
  return "weir." + flow + ".>";
}
std::string port_subject(const std::string& flow, const std::string& component, const std::string& port) {
  return "weir." + flow + "." + component + "." + port;
}
std::string durable_name(const std::string& consumer, const std::string& upstream, const std::string& port) {
  return consumer + "__" + upstream + "__" + port;
}
std::string dead_letter_stream(const std::string& flow) {
  return "WEIR_DLQ_" + upper_token(flow);
}
std::string dead_letter_subject(const std::string& flow) {
  return "weir_dlq." + flow;
}
std::string positions_stream(const std::string& flow) {
  return "WEIR_POS_" + upper_token(flow);
}
std::string positions_subjects(const std::string& flow) {
  return "weir_pos." + flow + ".>";
}
std::string positions_subject(const std::string& flow, const std::string& publisher) {
  return "weir_pos." + flow + "." + publisher;
}

std::vector<std::string> Plan::durables() const {
  std::vector<std::string> out;
  for (const auto& s : stages)
    for (const auto& u : s.upstreams) out.push_back(u.durable);
  return out;
}

Plan make_plan(const flow::Flow& flow) {
  const auto n = flow.components.size();
  // A fusable processor with a single input from a fusable processor joins that one's stage.
  std::vector<std::size_t> parent(n, npos);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = flow.components[i];
    if (!fusable(flow, i) || c.inputs.size() != 1) continue;
    auto up = flow.index_of(c.inputs[0].component);
    if (up != npos && fusable(flow, up)) parent[i] = up;
  }
  auto root_of = [&](std::size_t i) {
    while (parent[i] != npos) i = parent[i];
    return i;
  };

  Plan plan;
  std::vector<std::size_t> stage_of(n, npos), member_of(n, npos);
  for (std::size_t i = 0; i < n; ++i) {
    if (parent[i] != npos) continue;
    Stage s;
    const auto& c = flow.components[i];
    s.id = c.id;
    s.kind = c.info->kind == sdk::Kind::input    ? StageKind::input
             : c.info->kind == sdk::Kind::output ? StageKind::output
                                                 : StageKind::processors;
    for (const auto& ref : c.inputs)
      s.upstreams.push_back({durable_name(c.id, ref.component, ref.port),
                             port_subject(flow.name, ref.component, ref.port), ref.component, ref.port});
    stage_of[i] = plan.stages.size();
    plan.stages.push_back(std::move(s));
  }
  // Members in an order where a parent precedes its children (parents are roots or earlier).
  std::vector<std::size_t> order;
  std::vector<bool> placed(n, false);
  while (order.size() < n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (placed[i] || (parent[i] != npos && !placed[parent[i]])) continue;
      placed[i] = true;
      order.push_back(i);
    }
  }
  for (auto i : order) {
    auto& s = plan.stages[stage_of[root_of(i)]];
    stage_of[i] = stage_of[root_of(i)];
    member_of[i] = s.members.size();
    Member m;
    m.component = i;
    m.ports.resize(flow.components[i].info->outputs.size());
    s.members.push_back(std::move(m));
  }
  // Routes: for every port, who consumes it, and whether that is inside the stage.
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = flow.components[i];
    auto& member = plan.stages[stage_of[i]].members[member_of[i]];
    for (std::size_t p = 0; p < c.info->outputs.size(); ++p) {
      const auto& port = c.info->outputs[p].name;
      auto& route = member.ports[p];
      bool consumed = false;
      for (std::size_t j = 0; j < n; ++j) {
        for (const auto& ref : flow.components[j].inputs) {
          if (ref.component != c.id || ref.port != port) continue;
          consumed = true;
          if (parent[j] == i)
            route.local.push_back(member_of[j]);
          else
            route.publish = true;
        }
      }
      if (route.publish) route.subject = port_subject(flow.name, c.id, port);
      if (!consumed && port == "error") route.dead_letter = true;
    }
  }
  return plan;
}

}  // namespace weir::graph
