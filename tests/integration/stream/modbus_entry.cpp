// Stream suite entry: nats_input (SRC) → modbus_output, at least once
// (components/modbus_output/README.md: a batch that comes again writes its values again; Modbus
// writes of the same value are idempotent). The device is libmodbus's own server side in the test
// process; each record's n is written as a uint32 to holding registers 0-1 (function 16), and
// consumed() reads the server's log of those writes back, repeated writes kept. disrupt(): the
// device closes its connection; away(): the device hangs (connects complete in the kernel's
// backlog, no answer: each write times out after 300 ms).
#include "stream_suite.hpp"
#include "support/modbus_server.hpp"

namespace weir::testing::stream {

namespace {

class ModbusStream : public NatsSourced {
 public:
  ModbusStream() : ModbusStream(std::make_unique<ModbusServer>()) {}

  std::vector<std::int64_t> consumed() override {
    std::vector<std::int64_t> out;
    for (const auto& w : device_->writes())
      if (w.function == 16 && w.address == 0 && w.values.size() == 2)
        out.push_back((static_cast<std::int64_t>(w.values[0]) << 16) | w.values[1]);
    return out;
  }
  void disrupt() override { device_->drop_connection(); }
  void away(bool gone) override { device_->set_away(gone); }
  std::string figures() override { return std::to_string(device_->requests()) + " requests at the device"; }

 private:
  explicit ModbusStream(std::unique_ptr<ModbusServer> device)
      : NatsSourced(
            "stream",
            [port = device->port()](EngineRig&) {
              return R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"}, "components": [)" +
                     source_component("2s") + R"(,
            {"id": "sink", "type": "modbus_output", "inputs": ["src"], "config": {"host": "127.0.0.1",
             "port": )" +
                     std::to_string(port) +
                     R"(, "timeout": "300ms", "address": 0, "type": "uint32", "value": "n"}}]})";
            }),
        device_(std::move(device)) {}

  std::unique_ptr<ModbusServer> device_;
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "modbus";
  t.guarantee = Guarantee::at_least_once;
  t.disruption = "the device closes its connection";
  t.away = "the device hangs: takes no connection, answers nothing";
  return {{t, [] { return std::make_unique<ModbusStream>(); }}};
}

}  // namespace weir::testing::stream
