// What modbus_input and modbus_output share: how a device is reached (TCP or RTU), the value
// types and their word/byte order, and the connection to a device over libmodbus. One Link per
// thread: a libmodbus context is blocking and is never shared between threads.
#pragma once

#include <modbus/modbus.h>
#include <chrono>

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "sdk/spec.hpp"

namespace weir::components::modbus {

enum class Transport { tcp, rtu };
enum class Parity { none, even, odd };
enum class Table { holding, input, coil, discrete };
enum class Type { int16, uint16, int32, uint32, float32, float64 };
enum class Order { big, little };

// How one device is reached; a base of each component's device settings.
struct LinkConfig {
  Transport transport = Transport::tcp;
  std::string host;  // tcp
  int port = 502;
  std::string serial;  // rtu: the serial device path
  int baud = 9600;
  Parity parity = Parity::none;
  int data_bits = 8;
  int stop_bits = 1;
  int unit_id = 1;
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);
};

void lint_link(const LinkConfig& c, sdk::Lint& lint);

// The 16-bit words a value of `t` takes.
int words_of(Type t);
// A value as read: a number, with whether it is an integer or a bit (for how it is written out).
struct Value {
  enum class Kind { integer, real, bit };
  Kind kind = Kind::integer;
  double number = 0;
};
// Decodes words[0 .. words_of(t)) as read from the device (word 0 at the lowest address).
// word_order big: the most significant word first; byte_order big: the high byte of each word
// first on the wire (Modbus's own order: libmodbus gives each word with its bytes as sent).
double decode(std::span<const std::uint16_t> words, Type t, Order word_order, Order byte_order);
// The words to write for `v` (already checked to fit `t`, see fits()).
std::vector<std::uint16_t> encode(double v, Type t, Order word_order, Order byte_order);
// Whether `v` can be written as `t` (integers: whole and in range; floats: finite and, for
// float32, within its range). An error text when not.
std::string fits(double v, Type t);

// A Modbus exception a device answered with (errno from libmodbus: EMBXILADD...) rather than a
// link failure (timeout, connection lost, bad CRC).
bool is_device_exception(int err);
std::string error_text(int err);

// One libmodbus context for one device, connected on demand. Not thread-safe: one per thread.
class Link {
 public:
  explicit Link(const LinkConfig& config) : config_(config) {}
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Connects when not connected. An error text when it cannot (or once aborted).
  std::string connect();
  void close();
  bool connected() const { return connected_; }
  modbus_t* ctx() const { return ctx_; }
  std::string describe() const;  // "tcp 10.0.0.5:502 unit 1", for log lines
  // From another thread, when stopping: a request waiting for its answer on TCP returns at once
  // with an error (the socket is shut down, not closed, so its descriptor is not reused under
  // the request), and connect() fails from then on. An RTU request still waits its timeout.
  void abort();

 private:
  LinkConfig config_;
  modbus_t* ctx_ = nullptr;
  bool connected_ = false;
  std::mutex mu_;  // guards fd_ and aborted_ between the link's thread and abort()
  int fd_ = -1;    // the connected TCP socket
  bool aborted_ = false;
};

// ---- template definition ----

// The fields of LinkConfig, added to an ObjectSpec or ComponentSpec of a struct deriving from it.
template <class T, class Spec>
void add_link_fields(Spec& spec) {
  using sdk::field;
  using L = LinkConfig;
  using namespace std::chrono_literals;
  spec.field("transport", static_cast<Transport T::*>(&L::transport),
             field()
                 .doc("How the device is reached.")
                 .option("tcp", Transport::tcp, "Modbus TCP to `host`:`port`.")
                 .option("rtu", Transport::rtu, "Modbus RTU on the serial device `serial`."))
      .field("host", static_cast<std::string T::*>(&L::host),
             field().doc("tcp: the device's host name or address.").example("10.0.0.5"))
      .field("port", static_cast<int T::*>(&L::port), field().range(1, 65535).doc("tcp: the device's port."))
      .field("serial", static_cast<std::string T::*>(&L::serial),
             field().doc("rtu: the serial device path.").example("/dev/ttyUSB0"))
      .field("baud", static_cast<int T::*>(&L::baud), field().range(50, 4000000).doc("rtu: bits per second."))
      .field("parity", static_cast<Parity T::*>(&L::parity),
             field()
                 .doc("rtu: parity bit.")
                 .option("none", Parity::none, "No parity bit.")
                 .option("even", Parity::even, "Even parity.")
                 .option("odd", Parity::odd, "Odd parity."))
      .field("data_bits", static_cast<int T::*>(&L::data_bits), field().range(5, 8).doc("rtu: data bits."))
      .field("stop_bits", static_cast<int T::*>(&L::stop_bits), field().range(1, 2).doc("rtu: stop bits."))
      .field("unit_id", static_cast<int T::*>(&L::unit_id),
             field().range(0, 255).doc("The Modbus unit (slave) id the requests are addressed to."))
      .field("timeout", static_cast<std::chrono::nanoseconds T::*>(&L::timeout),
             field().duration_range(1ms, 60s).doc(
                 "How long a request (and a TCP connect) waits for the device's answer."));
}

template <class T, class Spec>
void add_order_fields(Spec& spec, Order T::*word_order, Order T::*byte_order) {
  using sdk::field;
  spec.field("word_order", word_order,
             field()
                 .doc("Order of the 16-bit words of a 32/64-bit value.")
                 .option("big", Order::big, "Most significant word at the lowest address (ABCD).")
                 .option("little", Order::little, "Least significant word first (CDAB)."))
      .field("byte_order", byte_order,
             field()
                 .doc("Order of the two bytes inside each word.")
                 .option("big", Order::big, "High byte first, as Modbus sends it.")
                 .option("little", Order::little, "Low byte first (BADC, DCBA with word_order little)."));
}

template <class T, class Spec>
void add_type_field(Spec& spec, Type T::*type, const std::string& doc) {
  using sdk::field;
  spec.field("type", type,
             field()
                 .doc(doc)
                 .option("int16", Type::int16, "Signed 16-bit integer, one register.")
                 .option("uint16", Type::uint16, "Unsigned 16-bit integer, one register.")
                 .option("int32", Type::int32, "Signed 32-bit integer, two registers.")
                 .option("uint32", Type::uint32, "Unsigned 32-bit integer, two registers.")
                 .option("float32", Type::float32, "IEEE 754 single, two registers.")
                 .option("float64", Type::float64, "IEEE 754 double, four registers."));
}

}  // namespace weir::components::modbus
