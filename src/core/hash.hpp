// Stable hashing for message ids: the same input gives the same id on every run, build and
// machine (ids are compared across restarts and across sites), so no std::hash here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir::core {

inline constexpr std::uint64_t fnv1a64_offset = 14695981039346656037ull;

// FNV-1a, 64 bit. Pass a previous result as `seed` to hash a sequence of parts; callers that
// join variable-length parts should put a separator between them so "ab"+"c" != "a"+"bc".
std::uint64_t fnv1a64(std::string_view data, std::uint64_t seed = fnv1a64_offset);

// 16 lower-case hex digits, zero-padded.
std::string hex64(std::uint64_t v);

}  // namespace weir::core
