// modbus_output against a real device: libmodbus's own server side in this process, whose
// register mapping and write log show what the device took.
#include "modbus_output/modbus_output.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <bit>
#include <thread>

#include "support/component_testing.hpp"
#include "support/free_port.hpp"
#include "support/modbus_server.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using namespace weir::components::modbus_output;
namespace json = boost::json;

namespace {

std::unique_ptr<sdk::Output> make(const std::string& config) {
  auto parsed = testing::parse_config("modbus_output", config);
  return testing::create<sdk::Output>(parsed);
}

std::vector<sdk::Record> records(std::initializer_list<const char*> values) {
  std::vector<sdk::Record> out;
  for (const auto* v : values) out.push_back(sdk::Record{"r" + std::to_string(out.size()), json::parse(v)});
  return out;
}

std::string device(int port, const std::string& rest) {
  return R"({"host": "127.0.0.1", "port": )" + std::to_string(port) + R"(, "timeout": "300ms", )" + rest +
         "}";
}

}  // namespace

TEST_CASE("spec: the example loads, and missing, unknown and out-of-range fields are diagnosed") {
  auto ok = testing::parse_config("modbus_output", R"({"host": "h", "address": 3, "value": "v"})");
  CHECK_MESSAGE(ok.config != nullptr, testing::dump(ok.diags));
  auto missing = testing::parse_config("modbus_output", R"({"host": "h", "address": 3})");
  CHECK(testing::has_diag(missing.diags, "missing_field", "/components/0/config/value"));
  auto unknown =
      testing::parse_config("modbus_output", R"({"host": "h", "address": 3, "value": "v", "colour": 1})");
  CHECK(testing::has_diag(unknown.diags, "unknown_field", "/components/0/config/colour"));
  auto range =
      testing::parse_config("modbus_output", R"({"host": "h", "port": 70000, "address": 3, "value": "v"})");
  CHECK(testing::has_diag(range.diags, "out_of_range", "/components/0/config/port"));
  auto neither = testing::parse_config("modbus_output", R"({"host": "h", "value": "v"})");
  CHECK(testing::has_diag(neither.diags, "missing_field", "/components/0/config/address"));
  auto bad_expr = testing::parse_config("modbus_output", R"({"host": "h", "address": 1, "value": "v +"})");
  CHECK(bad_expr.config == nullptr);
}

TEST_CASE("writes reach the device's registers and coils, in every type and order, confirmed") {
  testing::ModbusServer dev;
  auto out = make(device(dev.port(), R"("address_expr": "reg", "type_expr": "type", "table_expr": "table",
      "value": "v", "word_order": "little")"));
  auto batch = records({R"({"table": "holding", "reg": 10, "type": "int16", "v": -2})",
                        R"({"table": "holding", "reg": 11, "type": "uint32", "v": 65538})",
                        R"({"table": "holding", "reg": 20, "type": "float32", "v": 1.5})",
                        R"({"table": "holding", "reg": 30, "type": "float64", "v": -2.25})",
                        R"({"table": "coil", "reg": 4, "type": "int16", "v": true})"});
  sdk::Rejects rejects;
  REQUIRE(out->write(batch, rejects).is_ok());
  CHECK(rejects.items.empty());
  CHECK(dev.holding(10) == 0xFFFE);
  CHECK((dev.holding(11) == 2 && dev.holding(12) == 1));  // 0x0001_0002, low word first
  const auto f = std::bit_cast<std::uint32_t>(1.5f);
  CHECK((dev.holding(20) == (f & 0xFFFF) && dev.holding(21) == (f >> 16)));
  const auto d = std::bit_cast<std::uint64_t>(-2.25);
  CHECK((dev.holding(33) == (d >> 48) && dev.holding(30) == (d & 0xFFFF)));
  CHECK(dev.coil(4));
  const auto log = dev.writes();
  REQUIRE(log.size() == 5);
  CHECK((log[0].function == 6 && log[1].function == 16 && log[3].values.size() == 4 && log[4].function == 5));
  CHECK(testing::metric(*out, "writes") == 5);
}

TEST_CASE("scale and offset: the raw value written is (value - offset) / scale") {
  testing::ModbusServer dev;
  auto out =
      make(device(dev.port(), R"("address": 5, "type": "int16", "scale": 0.1, "offset": -40, "value": "t")"));
  sdk::Rejects rejects;
  REQUIRE(out->write(records({R"({"t": 21.5})"}), rejects).is_ok());
  CHECK(dev.holding(5) == 615);  // (21.5 + 40) / 0.1
}

TEST_CASE("a Modbus exception rejects its record with the exception's text; the rest are written") {
  testing::ModbusServer dev;  // 1,000 registers: address 2000 is illegal
  auto out = make(device(dev.port(), R"("address_expr": "reg", "value": "v")"));
  sdk::Rejects rejects;
  REQUIRE(out->write(records({R"({"reg": 1, "v": 11})", R"({"reg": 2000, "v": 12})", R"({"reg": 3, "v": 13})",
                              R"({"reg": 4, "v": 70000})", R"({"reg": 5, "v": "x"})", R"({"v": 1})"}),
                     rejects)
              .is_ok());
  REQUIRE(rejects.items.size() == 4);
  CHECK(rejects.items[0].first == 1);
  CHECK(rejects.items[0].second.find("Illegal data address") != std::string::npos);
  CHECK(rejects.items[1].first == 3);
  CHECK(rejects.items[1].second.find("out of range 0..65535") != std::string::npos);
  CHECK(rejects.items[2].first == 4);
  CHECK(rejects.items[3].first == 5);
  CHECK((dev.holding(1) == 11 && dev.holding(3) == 13));
  CHECK(testing::metric(*out, "exceptions") == 1);
}

TEST_CASE("a device not reached fails the batch; the batch again, once it is up, writes the same values") {
  const auto port = testing::free_port();
  auto out = make(device(port, R"("address": 7, "value": "v")"));
  const auto batch = records({R"({"v": 1})", R"({"v": 2})"});
  sdk::Rejects rejects;
  const auto st = out->write(batch, rejects);
  CHECK(!st.is_ok());
  CHECK(st.error().find("cannot connect") != std::string::npos);
  CHECK(rejects.items.empty());
  CHECK(testing::metric(*out, "device_up") == 0);
  testing::ModbusServer dev(port);
  REQUIRE(out->write(batch, rejects).is_ok());
  REQUIRE(out->write(batch, rejects).is_ok());  // delivered again: the same writes again
  CHECK(dev.holding(7) == 2);
  const auto log = dev.writes();
  REQUIRE(log.size() == 4);
  CHECK((log[0].values[0] == 1 && log[1].values[0] == 2 && log[2].values[0] == 1 && log[3].values[0] == 2));
  CHECK(testing::metric(*out, "device_up") == 1);
}

TEST_CASE("a device that never answers fails the batch after the timeout") {
  testing::SilentPeer silent;
  auto out = make(device(silent.port(), R"("address": 7, "value": "v")"));
  sdk::Rejects rejects;
  const auto st = out->write(records({R"({"v": 1})"}), rejects);
  CHECK(!st.is_ok());
  CHECK(st.error().find("timed out") != std::string::npos);
  CHECK(rejects.items.empty());
}

TEST_CASE("interrupt() ends a write waiting for a device that never answers") {
  testing::SilentPeer silent;
  auto out = make(R"({"host": "127.0.0.1", "port": )" + std::to_string(silent.port()) +
                  R"(, "timeout": "60s", "address": 7, "value": "v"})");
  sdk::Status st;
  std::thread writer([&] {
    sdk::Rejects rejects;
    st = out->write(records({R"({"v": 1})"}), rejects);
  });
  REQUIRE(testing::wait_until([&] { return silent.reads() >= 1; }, std::chrono::seconds(20)));
  out->interrupt();
  writer.join();
  // Ended by interrupt(), not by its 60 s timeout.
  CHECK(!st.is_ok());
  CHECK(st.error().find("timed out") == std::string::npos);
}
