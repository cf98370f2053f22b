// modbus_input against real devices: libmodbus's own server side in this process (TCP, and RTU
// over a pseudo-terminal pair made by socat), a peer that accepts and never answers, and an
// address nobody listens on.
#include "modbus_input/modbus_input.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <atomic>
#include <bit>
#include <cmath>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "support/child_process.hpp"
#include "support/component_testing.hpp"
#include "support/free_port.hpp"
#include "support/modbus_server.hpp"
#include "support/nats_harness.hpp"
#include "support/shared_sink.hpp"

using namespace weir;
using namespace weir::components::modbus_input;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// What the input gave, per device.
struct DeviceSink : testing::SharedSink {
  // Records of `device` so far.
  std::vector<json::object> of(const std::string& device) {
    std::lock_guard lock(mu);
    std::vector<json::object> out;
    for (const auto& v : pushed)
      if (v.at("device").as_string() == device) out.push_back(v.as_object());
    return out;
  }
  std::vector<std::string> errors_of(const std::string& device) {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& [v, why] : failed)
      if (v.at("device").as_string() == device) out.push_back(why);
    return out;
  }
};

// Runs the input on its own thread until the end of the scope.
struct Running {
  std::unique_ptr<sdk::Input> input;
  DeviceSink sink;
  std::thread thread;
  explicit Running(const std::string& config) {
    auto parsed = testing::parse_config("modbus_input", config);
    input = testing::create<sdk::Input>(parsed);
    thread = std::thread([this] { input->run(sink); });
  }
  ~Running() { stop(); }
  void stop() {
    sink.stop = true;
    if (thread.joinable()) thread.join();
  }
  double metric(const std::string& name) { return testing::metric(*input, name); }
};

std::string tcp_device(const std::string& name, int port, const std::string& registers,
                       const std::string& extra = R"("interval": "20ms")") {
  return R"({"name": ")" + name + R"(", "host": "127.0.0.1", "port": )" + std::to_string(port) + ", " +
         extra + R"(, "registers": )" + registers + "}";
}

std::uint16_t hi(std::uint32_t v) {
  return static_cast<std::uint16_t>(v >> 16);
}
std::uint16_t lo(std::uint32_t v) {
  return static_cast<std::uint16_t>(v & 0xFFFF);
}
std::uint16_t swap(std::uint16_t w) {
  return static_cast<std::uint16_t>((w << 8) | (w >> 8));
}

}  // namespace

TEST_CASE("spec: the example loads, and missing, unknown and out-of-range fields are diagnosed") {
  auto ok = testing::parse_config("modbus_input", R"({"devices": [{"name": "p", "host": "h",
      "registers": [{"name": "t", "address": 0, "type": "float32"}]}]})");
  CHECK_MESSAGE(ok.config != nullptr, testing::dump(ok.diags));
  auto missing = testing::parse_config("modbus_input", "{}");
  CHECK(testing::has_diag(missing.diags, "missing_field", "/components/0/config/devices"));
  auto unknown = testing::parse_config("modbus_input", R"({"devices": [{"name": "p", "host": "h", "colour": 1,
      "registers": [{"name": "t", "address": 0}]}]})");
  CHECK(testing::has_diag(unknown.diags, "unknown_field", "/components/0/config/devices/0/colour"));
  auto range =
      testing::parse_config("modbus_input", R"({"devices": [{"name": "p", "host": "h", "interval": "1ms",
      "registers": [{"name": "t", "address": 70000}]}]})");
  CHECK(testing::has_diag(range.diags, "out_of_range", "/components/0/config/devices/0/interval"));
  CHECK(testing::has_diag(range.diags, "out_of_range", "/components/0/config/devices/0/registers/0/address"));
  auto no_host = testing::parse_config("modbus_input", R"({"devices": [{"name": "p",
      "registers": [{"name": "t", "address": 0}]}]})");
  CHECK(testing::has_diag(no_host.diags, "missing_field", "/components/0/config/devices/0/host"));
  auto no_serial = testing::parse_config("modbus_input", R"({"devices": [{"name": "p", "transport": "rtu",
      "registers": [{"name": "t", "address": 0}]}]})");
  CHECK(testing::has_diag(no_serial.diags, "missing_field", "/components/0/config/devices/0/serial"));
  auto twice = testing::parse_config("modbus_input", R"({"devices": [{"name": "p", "host": "h",
      "registers": [{"name": "t", "address": 0}, {"name": "t", "address": 1}]}]})");
  CHECK(testing::has_diag(twice.diags, "duplicate_name", "/components/0/config/devices/0/registers"));
  auto two_devices = testing::parse_config("modbus_input", R"({"devices": [
      {"name": "p-1", "host": "h", "registers": [{"name": "t", "address": 0}]},
      {"name": "p_1", "host": "h", "registers": [{"name": "t", "address": 0}]}]})");
  CHECK(testing::has_diag(two_devices.diags, "duplicate_name", "/components/0/config/devices"));
  auto past_end = testing::parse_config("modbus_input", R"({"devices": [{"name": "p", "host": "h",
      "registers": [{"name": "t", "address": 65534, "type": "float64"}]}]})");
  CHECK(testing::has_diag(past_end.diags, "out_of_range",
                          "/components/0/config/devices/0/registers/0/address"));
}

TEST_CASE("plan_reads: touching ranges of one table join, up to 125 registers or 2,000 bits a request") {
  auto reg = [](Table t, int a, Type ty = Type::uint16) {
    Register r;
    r.table = t;
    r.address = a;
    r.type = ty;
    return r;
  };
  // 0..1 (float32), 2, 3..6 (float64): one request of 7; 10 apart: another; input table apart.
  std::vector<Register> map{reg(Table::holding, 3, Type::float64),
                            reg(Table::holding, 0, Type::float32),
                            reg(Table::holding, 2),
                            reg(Table::holding, 10),
                            reg(Table::input, 2),
                            reg(Table::coil, 5),
                            reg(Table::coil, 6)};
  auto plan = plan_reads(map, 0);
  REQUIRE(plan.size() == 4);
  CHECK((plan[0].table == Table::holding && plan[0].start == 0 && plan[0].count == 7 &&
         plan[0].members.size() == 3));
  CHECK((plan[1].start == 10 && plan[1].count == 1));
  CHECK((plan[2].table == Table::input && plan[2].start == 2));
  CHECK((plan[3].table == Table::coil && plan[3].start == 5 && plan[3].count == 2));
  // With a gap of 3 allowed, 7..9 are read to join 10 in.
  CHECK(plan_reads(map, 3).size() == 3);
  // 130 touching registers: 125 + 5.
  std::vector<Register> many;
  for (int i = 0; i < 130; ++i) many.push_back(reg(Table::holding, 100 + i));
  auto split = plan_reads(many, 0);
  REQUIRE(split.size() == 2);
  CHECK((split[0].count == 125 && split[1].start == 225 && split[1].count == 5));
  std::vector<Register> bits;
  for (int i = 0; i < 2001; ++i) bits.push_back(reg(Table::discrete, i));
  auto bit_plan = plan_reads(bits, 0);
  REQUIRE(bit_plan.size() == 2);
  CHECK(bit_plan[0].count == 2000);
}

TEST_CASE("decode and encode: every type in every word and byte order") {
  using components::modbus::decode;
  using components::modbus::encode;
  // float32 1.5 = 0x3FC00000: ABCD, CDAB, BADC, DCBA.
  const std::uint32_t f = std::bit_cast<std::uint32_t>(1.5f);
  CHECK(decode(std::vector<std::uint16_t>{hi(f), lo(f)}, Type::float32, Order::big, Order::big) == 1.5);
  CHECK(decode(std::vector<std::uint16_t>{lo(f), hi(f)}, Type::float32, Order::little, Order::big) == 1.5);
  CHECK(decode(std::vector<std::uint16_t>{swap(hi(f)), swap(lo(f))}, Type::float32, Order::big,
               Order::little) == 1.5);
  CHECK(decode(std::vector<std::uint16_t>{swap(lo(f)), swap(hi(f))}, Type::float32, Order::little,
               Order::little) == 1.5);
  CHECK(decode(std::vector<std::uint16_t>{0xFFFE}, Type::int16, Order::big, Order::big) == -2);
  CHECK(decode(std::vector<std::uint16_t>{0xFEFF}, Type::int16, Order::big, Order::little) == -2);
  CHECK(decode(std::vector<std::uint16_t>{0xFFFE}, Type::uint16, Order::big, Order::big) == 65534);
  CHECK(decode(std::vector<std::uint16_t>{0xFFFF, 0xFFFD}, Type::int32, Order::big, Order::big) == -3);
  CHECK(decode(std::vector<std::uint16_t>{0xFFFD, 0xFFFF}, Type::int32, Order::little, Order::big) == -3);
  CHECK(decode(std::vector<std::uint16_t>{0x0001, 0x0002}, Type::uint32, Order::big, Order::big) == 65538);
  const std::uint64_t d = std::bit_cast<std::uint64_t>(-2.25);
  const std::vector<std::uint16_t> abcd{static_cast<std::uint16_t>(d >> 48),
                                        static_cast<std::uint16_t>(d >> 32),
                                        static_cast<std::uint16_t>(d >> 16), static_cast<std::uint16_t>(d)};
  CHECK(decode(abcd, Type::float64, Order::big, Order::big) == -2.25);
  CHECK(decode(std::vector<std::uint16_t>{abcd[3], abcd[2], abcd[1], abcd[0]}, Type::float64, Order::little,
               Order::big) == -2.25);
  // encode is decode's inverse, for every type and order.
  const std::pair<Type, double> samples[] = {{Type::int16, -1234},      {Type::uint16, 54321},
                                             {Type::int32, -123456789}, {Type::uint32, 4000000000.0},
                                             {Type::float32, -0.15625}, {Type::float64, 6.02214076e23}};
  for (const auto& [t, v] : samples)
    for (auto wo : {Order::big, Order::little})
      for (auto bo : {Order::big, Order::little}) CHECK(decode(encode(v, t, wo, bo), t, wo, bo) == v);
  CHECK(components::modbus::fits(70000, Type::uint16) != "");
  CHECK(components::modbus::fits(1.5, Type::int32) != "");
  CHECK(components::modbus::fits(-1, Type::uint32) != "");
  CHECK(components::modbus::fits(-1, Type::int16) == "");
}

TEST_CASE("a live device's values: every type and order, scale and offset, coils and discrete inputs") {
  testing::ModbusServer dev;
  const std::uint32_t f = std::bit_cast<std::uint32_t>(21.5f);
  const std::uint64_t d = std::bit_cast<std::uint64_t>(-1013.25);
  dev.set_holding(0, {static_cast<std::uint16_t>(-300 & 0xFFFF)});  // int16 -300, scale 0.1 → -30
  dev.set_holding(1, {swap(65000)});                                // uint16, bytes swapped
  dev.set_holding(
      2, {lo(static_cast<std::uint32_t>(-70000)), hi(static_cast<std::uint32_t>(-70000))});  // int32 CDAB
  dev.set_holding(4, {swap(hi(3000000000u)), swap(lo(3000000000u))});                        // uint32 BADC
  dev.set_holding(6, {swap(lo(f)), swap(hi(f))});                                            // float32 DCBA
  dev.set_holding(8, {static_cast<std::uint16_t>(d >> 48), static_cast<std::uint16_t>(d >> 32),
                      static_cast<std::uint16_t>(d >> 16), static_cast<std::uint16_t>(d)});  // float64 ABCD
  dev.set_holding(12, {0x7FC0, 0x0000});                                                     // float32 NaN
  dev.set_input(0, {500});  // input register 500 × 2 + 3
  dev.set_coil(3, true);
  dev.set_discrete(7, true);
  Running run(R"({"devices": [)" + tcp_device("plc", dev.port(), R"([
      {"name": "a", "address": 0, "type": "int16", "scale": 0.1},
      {"name": "b", "address": 1, "type": "uint16", "byte_order": "little"},
      {"name": "c", "address": 2, "type": "int32", "word_order": "little"},
      {"name": "d", "address": 4, "type": "uint32", "byte_order": "little"},
      {"name": "e", "address": 6, "type": "float32", "word_order": "little", "byte_order": "little"},
      {"name": "f", "address": 8, "type": "float64"},
      {"name": "g", "table": "input", "address": 0, "scale": 2, "offset": 3},
      {"name": "h", "table": "coil", "address": 3},
      {"name": "i", "table": "coil", "address": 4},
      {"name": "j", "table": "discrete", "address": 7},
      {"name": "k", "address": 12, "type": "float32"}])") +
              "]}");
  REQUIRE(testing::wait_until([&] { return run.sink.of("plc").size() >= 2; }, 10s));
  const auto rec = run.sink.of("plc")[0];
  CHECK(rec.at("ts").as_string().size() == 24);  // 2026-12-07T21:00:00.123Z
  const auto& v = rec.at("values").as_object();
  CHECK(std::fabs(v.at("a").as_double() - -30.0) < 1e-9);
  CHECK(v.at("b").as_int64() == 65000);
  CHECK(v.at("c").as_int64() == -70000);
  CHECK(v.at("d").as_int64() == 3000000000);
  CHECK(v.at("e").as_double() == 21.5);
  CHECK(v.at("f").as_double() == -1013.25);
  CHECK(v.at("g").as_double() == 1003);
  CHECK(v.at("h").as_bool() == true);
  CHECK(v.at("i").as_bool() == false);
  CHECK(v.at("j").as_bool() == true);
  CHECK(v.at("k").is_null());  // NaN: JSON has no such number
  // Holding 0..13 in one request, input, coils 3..4 and the discrete input: four requests a poll.
  // (A poll counts once its requests are answered.)
  const auto before = static_cast<std::uint64_t>(run.metric("device_plc_polls"));
  const auto requests = dev.requests();
  const auto after = static_cast<std::uint64_t>(run.metric("device_plc_polls"));
  CHECK(requests >= 4 * before);
  CHECK(requests <= 4 * after + 4);
  CHECK(run.metric("device_plc_state") == 1);
}

TEST_CASE("a device that never answers and one nobody listens on do not hold up the live one") {
  testing::ModbusServer live;
  live.set_holding(0, {42});
  testing::SilentPeer silent;
  const auto nobody = testing::free_port();
  // The silent device's first request waits 5 s: the live one polls every 20 ms meanwhile.
  Running run(R"({"backoff_initial": "50ms", "backoff_max": "200ms", "devices": [)" +
              tcp_device("hung", silent.port(), R"([{"name": "x", "address": 0}])",
                         R"("interval": "20ms", "timeout": "5s")") +
              "," + tcp_device("gone", nobody, R"([{"name": "x", "address": 0}])") + "," +
              tcp_device("live", live.port(), R"([{"name": "x", "address": 0}])") + "]}");
  REQUIRE(testing::wait_until([&] { return run.sink.of("live").size() >= 20; }, 20s));
  // Twenty live polls came while the hung device's first request still waited for its answer.
  CHECK(run.sink.errors_of("hung").empty());
  CHECK(run.metric("device_hung_polls") == 0);  // its first poll is still under way
  CHECK(run.sink.of("live")[19].at("values").at("x").as_int64() == 42);
  // The address nobody listens on: a failure record per try, then backoff.
  REQUIRE(testing::wait_until([&] { return run.metric("device_gone_state") == 3; }, 10s));
  const auto errors = run.sink.errors_of("gone");
  REQUIRE(!errors.empty());
  CHECK(errors[0].find("gone: cannot connect to tcp 127.0.0.1:") == 0);
  CHECK(run.metric("device_gone_failures") >= 2);
  // The hung device's request times out: a failure record, the device unreachable.
  REQUIRE(testing::wait_until([&] { return !run.sink.errors_of("hung").empty(); }, 15s));
  CHECK(run.sink.errors_of("hung")[0].find("hung: reading 1 from address 0:") == 0);
  CHECK(run.metric("device_hung_state") >= 2);
  CHECK(run.metric("device_live_state") == 1);
  CHECK(run.metric("device_live_failures") == 0);
}

TEST_CASE("a stop does not wait for the answer of a device that never answers") {
  testing::ModbusServer live;
  testing::SilentPeer silent;
  Running run(R"({"devices": [)" +
              tcp_device("hung", silent.port(), R"([{"name": "x", "address": 0}])",
                         R"("interval": "20ms", "timeout": "60s")") +
              "," + tcp_device("live", live.port(), R"([{"name": "x", "address": 0}])") + "]}");
  // The hung device's request is under way once the device server saw its connection and the
  // live device polled a few times.
  REQUIRE(testing::wait_until([&] { return run.sink.of("live").size() >= 5; }, 20s));
  run.stop();
  // The request ended at the stop, not by its 60 s timeout: its poll counted, its error is not
  // a timeout.
  CHECK(run.metric("device_hung_polls") == 1);
  std::vector<sdk::Metric> m;
  run.input->metrics(m);
  for (const auto& x : m)
    if (x.name == "device_hung_state") CHECK(x.help.find("timed out") == std::string::npos);
}

TEST_CASE("a device that comes up after backoff is polled again") {
  const auto port = testing::free_port();
  Running run(R"({"backoff_initial": "20ms", "backoff_max": "80ms", "devices": [)" +
              tcp_device("late", port, R"([{"name": "x", "address": 0}])") + "]}");
  REQUIRE(testing::wait_until([&] { return run.metric("device_late_state") == 3; }, 10s));
  testing::ModbusServer dev(port);
  dev.set_holding(0, {7});
  REQUIRE(testing::wait_until([&] { return !run.sink.of("late").empty(); }, 10s));
  CHECK(run.sink.of("late")[0].at("values").at("x").as_int64() == 7);
  CHECK(run.metric("device_late_state") == 1);
  CHECK(run.metric("device_late_failures") >= 2);
}

TEST_CASE("a Modbus exception is a failure record, and the device stays ok") {
  testing::ModbusServer dev;  // 1,000 registers: address 2000 is illegal
  Running run(R"({"devices": [)" + tcp_device("plc", dev.port(), R"([{"name": "x", "address": 2000}])") +
              "]}");
  REQUIRE(testing::wait_until([&] { return run.sink.errors_of("plc").size() >= 2; }, 10s));
  CHECK(run.sink.errors_of("plc")[0].find("Illegal data address") != std::string::npos);
  CHECK(run.metric("device_plc_state") == 1);
}

TEST_CASE("ExceptionFilter: deadband per value and the heartbeat") {
  using clock = std::chrono::steady_clock;
  ExceptionFilter filter({1.0, 0.0}, 10s);
  const auto t0 = clock::time_point{} + 1h;
  std::vector<bool> out;
  filter.select({10.0, 5.0}, t0, out);
  CHECK(out == std::vector<bool>{true, true});  // the first values
  filter.select({10.9, 5.0}, t0 + 1s, out);
  CHECK(out == std::vector<bool>{false, false});  // within the deadband; no change
  filter.select({11.1, 5.5}, t0 + 2s, out);
  CHECK(out == std::vector<bool>{true, true});  // 1.1 > 1 from the last sent (10); any change
  filter.select({10.2, 5.5}, t0 + 3s, out);
  CHECK(out == std::vector<bool>{false, false});  // 0.9 from 11.1
  filter.select({10.0, 5.5}, t0 + 4s, out);
  CHECK(out == std::vector<bool>{true, false});  // 1.1 from 11.1, the last sent
  filter.select({10.0, 5.5}, t0 + 10s, out);
  CHECK(out == std::vector<bool>{true, true});  // heartbeat: 10 s since all were sent at t0
  filter.select({10.0, 5.5}, t0 + 19s, out);
  CHECK(out == std::vector<bool>{false, false});
  filter.select({10.0, std::nullopt}, t0 + 20s, out);
  CHECK(out == std::vector<bool>{true, false});  // heartbeat; a value not read is not sent
}

// Must-show 3 (the count half): a staircase with noise below the deadband and a slow ramp, set in
// the device's registers per request (one request per poll), driven to a known end: the values
// sent are exactly the steps and the ramp's changes.
TEST_CASE("report by exception sends exactly the expected values of a test signal") {
  constexpr std::uint64_t polls = 200;
  testing::ModbusServer dev;
  auto stair = [](std::uint64_t k) {  // raw × 0.1: step × 10 ± 0.4
    const auto noise = static_cast<int>((k * 7) % 9) - 4;
    return static_cast<std::uint16_t>(static_cast<int>(k / 10) * 100 + 400 + noise);
  };
  auto ramp = [](std::uint64_t k) { return static_cast<std::uint16_t>(k / 3); };
  dev.on_request([&](std::uint64_t n, testing::ModbusServer& s) {
    const auto k = std::min(n, polls - 1);  // after the signal: it holds its last value
    s.set_holding_locked(0, stair(k));
    s.set_holding_locked(1, ramp(k));
  });
  Running run(R"({"report_by_exception": true, "deadband": 5, "heartbeat": "0", "devices": [)" +
              tcp_device("sig", dev.port(),
                         R"([{"name": "stair", "address": 0, "scale": 0.1},
                             {"name": "ramp", "address": 1, "deadband": 0}])",
                         R"("interval": "10ms")") +
              "]}");
  REQUIRE(testing::wait_until([&] { return dev.requests() >= polls + 20; }, 60s));
  std::size_t stair_sent = 0, ramp_sent = 0;
  for (const auto& r : run.sink.of("sig")) {
    stair_sent += r.at("values").as_object().contains("stair");
    ramp_sent += r.at("values").as_object().contains("ramp");
  }
  // Expected: one stair value per step (20 steps in 200 polls: each step moves 10 ± 0.8, noise
  // moves at most 0.8 < 5), one ramp value per distinct k / 3 (0..66: 67).
  CHECK(stair_sent == polls / 10);
  CHECK(ramp_sent == (polls - 1) / 3 + 1);
  MESSAGE("report by exception: " << stair_sent + ramp_sent << " values sent of " << 2 * polls
                                  << " read in the signal's " << polls << " polls");
  CHECK(run.metric("device_sig_values_suppressed") >=
        static_cast<double>(2 * polls - stair_sent - ramp_sent));
}

TEST_CASE("RTU over a pseudo-terminal pair (socat)") {
  testing::TempDir dir("weir-modbus-rtu");
  testing::ChildProcess socat({"/usr/bin/socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"},
                              dir.file("socat.log"));
  std::vector<std::string> ptys;
  REQUIRE_MESSAGE(testing::wait_until(
                      [&] {
                        ptys.clear();
                        const auto log = socat.log();
                        static const std::regex re("PTY is (/dev/pts/[0-9]+)");
                        for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it)
                          ptys.push_back((*it)[1]);
                        return ptys.size() == 2;
                      },
                      10s),
                  "socat (apt install socat) did not make two ptys: " << socat.log());
  testing::ModbusServer dev(ptys[0], 17);
  dev.set_holding(5, {1234});
  dev.set_coil(1, true);
  Running run(R"({"devices": [{"name": "meter", "transport": "rtu", "serial": ")" + ptys[1] +
              R"(", "baud": 9600, "unit_id": 17, "interval": "100ms",
      "registers": [{"name": "kw", "address": 5, "scale": 0.01}, {"name": "on", "table": "coil", "address": 1}]}]})");
  REQUIRE(testing::wait_until([&] { return run.sink.of("meter").size() >= 2; }, 10s));
  const auto v = run.sink.of("meter")[0].at("values").as_object();
  CHECK(std::fabs(v.at("kw").as_double() - 12.34) < 1e-9);
  CHECK(v.at("on").as_bool() == true);
}
