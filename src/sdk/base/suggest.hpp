// "Did you mean" hints for misspelt keys, component types, port names.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace weir::sdk {

// Optimal string alignment distance (Damerau-Levenshtein where a transposed pair counts as one
// edit and no substring is edited twice). Byte-wise, case-sensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when its distance is at most max(1, word.size() / 3), else
// empty. Ties go to the earliest candidate, so callers control preference by order.
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

// "did you mean \"x\"?" for the closest candidate, or empty: ready for Diagnostic::hint.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace weir::sdk
