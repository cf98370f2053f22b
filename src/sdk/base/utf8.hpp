#pragma once

#include <cstdint>
#include <string>

namespace weir::sdk {

// Appends code point `cp` (at most U+10FFFF) to `out` as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp);

}  // namespace weir::sdk
