#include <functional>

#include "flow/loader.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"

namespace weir::flow {

namespace {

std::string port_list(const sdk::ComponentInfo& info) {
  std::string out;
  for (const auto& p : info.outputs) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

std::vector<std::string> ids(const Flow& flow) {
  std::vector<std::string> out;
  for (const auto& c : flow.components) out.push_back(c.id);
  return out;
}

}  // namespace

void check_graph(const Flow& flow, sdk::Diagnostics& diags) {
  const auto n = flow.components.size();
  // Edges of the graph by index, for the cycle check: from upstream to consumer.
  std::vector<std::vector<std::pair<std::size_t, const InputRef*>>> consumers(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = flow.components[i];
    if (c.info && c.info->kind == sdk::Kind::input && !c.inputs.empty())
      diags.error(c.pointer + "/inputs", "unexpected_inputs",
                  sdk::quote(c.id) + " is an input (" + c.type + ") and takes no inputs");
    if (c.info && c.info->kind != sdk::Kind::input && c.inputs.empty())
      diags.error(c.pointer, "missing_inputs",
                  sdk::quote(c.id) + " (" + c.type + ") needs at least one entry in \"inputs\"",
                  "name an upstream component, e.g. \"inputs\": [\"source\"]");
    for (const auto& ref : c.inputs) {
      auto up = flow.index_of(ref.component);
      if (up == static_cast<std::size_t>(-1)) {
        auto near = sdk::closest(ref.component, ids(flow));
        diags.error(ref.pointer, "unknown_input",
                    "no component " + sdk::quote(ref.component) + " in this flow",
                    near.empty() ? "" : "did you mean " + sdk::quote(near) + "?");
        continue;
      }
      const auto& u = flow.components[up];
      if (u.info && u.info->output_index(ref.port) == static_cast<std::size_t>(-1)) {
        diags.error(ref.pointer, "unknown_port",
                    sdk::quote(u.id) + " (" + u.type + ") has no port " + sdk::quote(ref.port),
                    "its ports: " + port_list(*u.info));
        continue;
      }
      consumers[up].push_back({i, &ref});
    }
  }
  // Cycles: a DFS colouring; each back edge is reported once, at the reference that closes it.
  std::vector<int> state(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<std::size_t> stack;
  std::function<void(std::size_t)> visit = [&](std::size_t v) {
    state[v] = 1;
    stack.push_back(v);
    for (const auto& [w, ref] : consumers[v]) {
      if (state[w] == 1) {
        std::string path;
        bool on = false;
        for (auto s : stack) {
          if (s == w) on = true;
          if (on) path += flow.components[s].id + " -> ";
        }
        path += flow.components[w].id;
        diags.error(ref->pointer, "cycle", "cycle: " + path, "flows are acyclic graphs");
      } else if (state[w] == 0) {
        visit(w);
      }
    }
    stack.pop_back();
    state[v] = 2;
  };
  for (std::size_t i = 0; i < n; ++i)
    if (state[i] == 0) visit(i);
}

}  // namespace weir::flow
