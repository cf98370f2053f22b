// The batch body of an internal edge (runtime/batch.hpp), "<id> <json>\n" per line: decoded as a
// stage reads it; what decodes is written again with BatchWriter and must read back the same.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/batch.hpp"

namespace rt = weir::runtime;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static rt::BatchReader reader;  // reused as a stage reuses it, batch after batch
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<weir::sdk::Record> records;
  std::string error;
  if (!reader.decode(body, records, error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  rt::BatchWriter writer;
  for (const auto& r : records) writer.add(r);
  if (writer.count() != records.size()) std::abort();
  std::vector<weir::sdk::Record> again;
  if (!reader.decode(writer.body(), again, error) || again.size() != records.size()) std::abort();
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (again[i].id != records[i].id) std::abort();
  }
  (void)rt::batch_id("c", "out", writer);
  return 0;
}
