// Stream suite entry: nats_input (SRC) → file_output, exactly once by position
// (components/file_output/README.md); the consumer reads every line of the file.
#include "stream_suite.hpp"

namespace weir::testing::stream {

namespace {

class FileStream : public NatsSourced {
 public:
  FileStream()
      : NatsSourced("stream", [](EngineRig& rig) {
          return R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"}, "components": [)" +
                 source_component("2s") + R"(,
            {"id": "sink", "type": "file_output", "inputs": ["src"], "config": {"path": ")" +
                 rig.dir() + R"(/out.ndjson"}}]})";
        }) {}

  std::vector<std::int64_t> consumed() override { return read_numbers(rig_.dir() + "/out.ndjson"); }
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "file";
  t.guarantee = Guarantee::exactly_once;
  t.disruption = "engine's NATS link cut (TcpProxy)";
  t.away = "engine's NATS link stalled (TcpProxy): file_output has no external side to take away";
  return {{t, [] { return std::make_unique<FileStream>(); }}};
}

}  // namespace weir::testing::stream
