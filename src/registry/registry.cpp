#include "registry/registry.hpp"

#include <algorithm>
#include <stdexcept>

namespace weir::registry {

void Registry::add(sdk::ComponentInfo info) {
  if (find(info.type)) throw std::logic_error("component type registered twice: " + info.type);
  auto pos = std::lower_bound(infos_.begin(), infos_.end(), info.type,
                              [](const sdk::ComponentInfo& a, const std::string& t) { return a.type < t; });
  infos_.insert(pos, std::move(info));
}

const sdk::ComponentInfo* Registry::find(std::string_view type) const {
  auto pos = std::lower_bound(infos_.begin(), infos_.end(), type,
                              [](const sdk::ComponentInfo& a, std::string_view t) { return a.type < t; });
  return pos != infos_.end() && pos->type == type ? &*pos : nullptr;
}

std::vector<std::string> Registry::types() const {
  std::vector<std::string> out;
  for (const auto& i : infos_) out.push_back(i.type);
  return out;
}

}  // namespace weir::registry
