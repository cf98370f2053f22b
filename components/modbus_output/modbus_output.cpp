#include "modbus_output/modbus_output.hpp"

#include <modbus/modbus.h>

#include <boost/json.hpp>

#include <atomic>
#include <cerrno>
#include <cmath>

#include "sdk/base/json_write.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::modbus_output {

namespace json = boost::json;

namespace {

// One write, as a record asks for it.
struct Write {
  Target table = Target::holding;
  int address = 0;
  Type type = Type::uint16;
  std::vector<std::uint16_t> words;  // registers
  bool bit = false;                  // coil
};

constexpr std::pair<const char*, Type> type_names[] = {
    {"int16", Type::int16},   {"uint16", Type::uint16},   {"int32", Type::int32},
    {"uint32", Type::uint32}, {"float32", Type::float32}, {"float64", Type::float64}};

class ModbusOutput final : public sdk::Output {
 public:
  ModbusOutput(const Config& config, const sdk::Context& ctx)
      : config_(config), log_(ctx.log), link_(config_) {}

  // Each record's write is confirmed by the device before the next goes out; the batch is ok
  // only once every write was. A device exception rejects that record; a link failure fails the
  // batch (it comes again whole: the writes already made are made again, with the same values).
  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects& rejects) override {
    if (auto e = link_.connect(); !e.empty()) return link_down(e);
    for (std::size_t i = 0; i < records.size(); ++i) {
      Write w;
      if (auto why = plan(records[i], w); !why.empty()) {
        rejects.add(i, why);
        rejected_.fetch_add(1);
        continue;
      }
      if (send(w) == 0) {
        writes_.fetch_add(1);
        continue;
      }
      const int err = errno;
      if (modbus::is_device_exception(err)) {
        rejects.add(i, "the device answered writing address " + std::to_string(w.address) + ": " +
                           modbus::error_text(err));
        exceptions_.fetch_add(1);
        continue;
      }
      link_.close();
      return link_down("writing address " + std::to_string(w.address) + ": " + modbus::error_text(err));
    }
    if (down_.exchange(false)) log_.info("device {} answering again", link_.describe());
    return sdk::Status::ok();
  }

  // A write waiting for the device's answer returns now (TCP), with an error: the batch comes
  // again at the next start.
  void interrupt() override { link_.abort(); }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back({"device_up", down_.load() ? 0.0 : 1.0, true, "1 while the device answers writes"});
    out.push_back({"writes", static_cast<double>(writes_.load()), false, "writes the device confirmed"});
    out.push_back({"exceptions", static_cast<double>(exceptions_.load()), false,
                   "writes the device refused with a Modbus exception (records rejected)"});
    out.push_back({"rejected", static_cast<double>(rejected_.load()), false,
                   "records that did not give a valid write (bad value, address or type)"});
    out.push_back({"link_failures", static_cast<double>(link_failures_.load()), false,
                   "batches failed because the device was not reached or did not answer"});
  }

 private:
  sdk::Status link_down(const std::string& why) {
    link_failures_.fetch_add(1);
    if (!down_.exchange(true)) log_.warn("device {} unreachable: {}", link_.describe(), why);
    return sdk::Status::error("device " + link_.describe() + ": " + why);
  }

  int send(const Write& w) {
    auto* ctx = link_.ctx();
    if (w.table == Target::coil) return modbus_write_bit(ctx, w.address, w.bit ? 1 : 0) == 1 ? 0 : -1;
    if (w.words.size() == 1) return modbus_write_register(ctx, w.address, w.words[0]) == 1 ? 0 : -1;
    const int n = static_cast<int>(w.words.size());
    return modbus_write_registers(ctx, w.address, n, w.words.data()) == n ? 0 : -1;
  }

  // What record `r` asks to write; an error text when it gives no valid write.
  std::string plan(const sdk::Record& r, Write& w) const {
    json::value v;
    sdk::expr::EvalError err;
    auto eval = [&](const sdk::Expression& e, const char* name) -> std::string {
      if (!e.program->eval(r.value, v, err)) return std::string(name) + ": " + err.message;
      return {};
    };
    w.table = config_.table;
    if (config_.table_expr.program) {
      if (auto e = eval(config_.table_expr, "table_expr"); !e.empty()) return e;
      if (v.is_string() && v.get_string() == "holding")
        w.table = Target::holding;
      else if (v.is_string() && v.get_string() == "coil")
        w.table = Target::coil;
      else
        return "table_expr gave " + sdk::to_json(v) + ", not \"holding\" or \"coil\"";
    }
    w.type = config_.type;
    if (config_.type_expr.program) {
      if (auto e = eval(config_.type_expr, "type_expr"); !e.empty()) return e;
      bool found = false;
      for (const auto& [name, t] : type_names)
        if (v.is_string() && v.get_string() == name) {
          w.type = t;
          found = true;
        }
      if (!found) return "type_expr gave " + sdk::to_json(v) + ", not a type (int16, uint16, ... float64)";
    }
    w.address = config_.address;
    if (config_.address_expr.program) {
      if (auto e = eval(config_.address_expr, "address_expr"); !e.empty()) return e;
      const auto a = v.is_number() ? v.to_number<double>() : -1.0;
      if (a < 0 || a > 65535 || a != std::floor(a))
        return "address_expr gave " + sdk::to_json(v) + ", not an address 0..65535";
      w.address = static_cast<int>(a);
    }
    const int words = w.table == Target::coil ? 1 : modbus::words_of(w.type);
    if (w.address + words - 1 > 65535) return "the value's last register is past address 65535";
    if (auto e = eval(config_.value, "value"); !e.empty()) return e;
    if (w.table == Target::coil) {
      if (v.is_bool())
        w.bit = v.get_bool();
      else if (v.is_number() && (v.to_number<double>() == 0 || v.to_number<double>() == 1))
        w.bit = v.to_number<double>() == 1;
      else
        return "value gave " + sdk::to_json(v) + " for a coil, not true/false/0/1";
      return {};
    }
    if (!v.is_number()) return "value gave " + sdk::to_json(v) + ", not a number";
    double raw = (v.to_number<double>() - config_.offset) / config_.scale;
    if (w.type != Type::float32 && w.type != Type::float64 && std::fabs(raw - std::round(raw)) < 1e-6)
      raw = std::round(raw);  // what scale and offset leave of a whole number in binary fractions
    if (auto e = modbus::fits(raw, w.type); !e.empty())
      return "value " + sdk::to_json(v) + " as the raw " + std::to_string(raw) + ": " + e;
    w.words = modbus::encode(raw, w.type, config_.word_order, config_.byte_order);
    return {};
  }

  const Config config_;
  sdk::Log log_;
  modbus::Link link_;
  std::atomic<bool> down_{false};
  std::atomic<std::uint64_t> writes_{0}, exceptions_{0}, rejected_{0}, link_failures_{0};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"modbus_output"};
  s.summary("Writes holding registers or coils of one Modbus TCP or RTU device from records.")
      .description(
          "Each record gives one write: the value from `value`, the table, address and type from the "
          "config or from expressions over the record. A batch is acknowledged only after the device "
          "confirmed every write of it. A Modbus exception (an illegal address, say) sends that record "
          "to the error port with the exception's text; a device not reached fails the batch, which "
          "comes again (its writes are made again: Modbus writes of the same values are idempotent). "
          "One register: function 6; several: function 16; a coil: function 5.");
  modbus::add_link_fields<Config>(s);
  s.field("table", &Config::table,
          field()
              .doc("Where the value is written.")
              .option("holding", Target::holding, "Holding registers.")
              .option("coil", Target::coil, "Coils (the value true/false or 1/0)."))
      .field("table_expr", &Config::table_expr,
             field().doc(
                 "An expression giving the table per record: \"holding\" or \"coil\"; replaces `table`."))
      .field("address", &Config::address,
             field().range(-1, 65535).doc("The register (or coil) address, from 0; -1 takes `address_expr`."))
      .field("address_expr", &Config::address_expr,
             field()
                 .doc("An expression giving the address per record; replaces `address`.")
                 .example("register"));
  modbus::add_type_field<Config>(s, &Config::type, "Registers only: how the value is written.");
  s.field(
       "type_expr", &Config::type_expr,
       field().doc("An expression giving the type per record (\"int16\" ... \"float64\"); replaces `type`."))
      .field("value", &Config::value,
             field().required().doc("An expression giving the value to write.").example("setpoint"));
  modbus::add_order_fields<Config>(s, &Config::word_order, &Config::byte_order);
  s.field("scale", &Config::scale,
          field().doc("Registers only: the raw value written is (value - offset) / scale."))
      .field("offset", &Config::offset, field().doc("Registers only: subtracted before dividing by scale."))
      .lint([](const Config& c, sdk::Lint& lint) {
        modbus::lint_link(c, lint);
        if (c.address < 0 && !c.address_expr.program)
          lint.error("address", "missing_field", "set address or address_expr", "\"address\": 100");
        if (c.scale == 0) lint.error("scale", "invalid_value", "scale must not be 0");
      })
      .example(json::parse(R"({"id": "setpoints", "type": "modbus_output", "inputs": ["plan"],
          "config": {"host": "10.0.0.5", "address": 100, "type": "float32", "value": "setpoint"}})"))
      .implementation<ModbusOutput>();
  return s;
}

}  // namespace weir::components::modbus_output
