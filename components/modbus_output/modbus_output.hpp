#pragma once

#include <string>

#include "common/modbus/modbus.hpp"
#include "sdk/field.hpp"
#include "sdk/spec.hpp"

namespace weir::components::modbus_output {

using modbus::Order;
using modbus::Type;

enum class Target { holding, coil };

struct Config : modbus::LinkConfig {
  Target table = Target::holding;
  sdk::Expression table_expr;  // one computed per record: "holding" or "coil"
  int address = -1;            // -1: from address_expr
  sdk::Expression address_expr;
  Type type = Type::uint16;
  sdk::Expression type_expr;  // one computed per record: a type name
  sdk::Expression value;      // required
  Order word_order = Order::big;
  Order byte_order = Order::big;
  double scale = 1;
  double offset = 0;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::modbus_output
