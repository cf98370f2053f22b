#include "core/hash.hpp"

namespace weir::core {

std::uint64_t fnv1a64(std::string_view data, std::uint64_t seed) {
  constexpr std::uint64_t prime = 1099511628211ull;
  std::uint64_t h = seed;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= prime;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[v & 0xF];
    v >>= 4;
  }
  return out;
}

}  // namespace weir::core
