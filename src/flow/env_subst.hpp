// ${VAR} substitution in every string value of a flow, from the environment at load.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <string>

#include "sdk/diagnostic.hpp"

namespace weir::flow {

using Getenv = std::function<const char*(const char*)>;

// Replaces ${NAME} with the variable's value, and $${ with a literal ${. An unset variable is an
// `unset_variable` error (never an empty string); a malformed reference is `invalid_variable`.
void substitute_env(boost::json::value& root, const Getenv& getenv, sdk::Diagnostics& diags);

}  // namespace weir::flow
