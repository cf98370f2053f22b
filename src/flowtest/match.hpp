// The matchers of `weir test` and the diff a failed one prints.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "flowtest/cases.hpp"
#include "sdk/record.hpp"

namespace weir::flowtest {

// How many records a diff lists per kind (missing, extra, received); the rest are counted.
inline constexpr std::size_t diff_max_records = 5;

// JSON equality where numbers compare by value (2 equals 2.0) and object members in any order.
bool json_equal(const boost::json::value& a, const boost::json::value& b);
// `expected` within `actual`: an object's members are found (recursively) in the other object,
// which may hold more; arrays have the same length, element by element; anything else equal.
bool json_subset(const boost::json::value& expected, const boost::json::value& actual);
// Where `actual` first departs from `expected` ("/count: expected 2, got 3", "/k: missing"),
// empty when it does not.
std::string first_difference(const boost::json::value& expected, const boost::json::value& actual,
                             bool subset);

// Checks one expectation against the records; empty when it holds, else the diff, one line per
// element (without indentation).
std::vector<std::string> check(const Expectation& e, const std::vector<sdk::Record>& actual);

}  // namespace weir::flowtest
