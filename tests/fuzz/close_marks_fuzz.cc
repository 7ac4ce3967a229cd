// Fuzz target for decode_close_marks: any bytes either fail or decode to marks that encode and
// decode back to the same marks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "window/close_marks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch;
  auto marks = agent::decode_close_marks(ByteSpan(data, size));
  if (!marks.ok()) return 0;
  auto again = agent::decode_close_marks(agent::encode_close_marks(*marks));
  if (!again.ok() || *again != *marks) std::abort();
  return 0;
}
