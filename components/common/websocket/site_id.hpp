// The name a site goes by on its bridges. It prefixes the ids of every batch and record a
// websocket_input receives, so it must stay the same for as long as a sender may replay: a host
// name does not (under docker compose it is the container id, new with every re-created
// container), so when `site` is not configured the name is made once and kept in the data dir.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace weir::ws {

// The file, below the engine's data dir, that keeps the site name when `site` is not set.
inline constexpr const char* site_id_file = "site_id";

struct SiteIdentity {
  std::string name;
  // Where the name came from, for the log line: "config", "<data_dir>/site_id" or
  // "<data_dir>/site_id, created now".
  std::string origin;
};

// `configured` when it is not empty; otherwise the name kept in <data_dir>/site_id, which is
// created the first time (written to a temporary file, fsynced, then linked into place, so a
// crash or a second component starting at the same moment never leaves a torn or second name).
// False with a one-line `error` that tells the user to set `site` when that file cannot be
// read or created, or holds no valid site name.
bool resolve_site(const std::string& configured, const std::filesystem::path& data_dir, SiteIdentity& out,
                  std::string& error);

// A name for a new site_id: `host` with every character a site name may not hold replaced by
// '-', cut to fit, then '-' and 8 random hex digits (two containers with one host name still
// differ).
std::string new_site_name(std::string_view host);

}  // namespace weir::ws
