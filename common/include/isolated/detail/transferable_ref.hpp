// What a message carries for a TransferableTypedData: the name of the
// shared-memory segment that holds the block, and the block's size in bytes
// (DESIGN §7). TransferableTypedData wraps this; the codec only moves it.
#pragma once

#include <cstdint>
#include <string>

namespace isolated::detail {

struct TransferableRef {
  std::string segment_name;
  std::uint64_t size = 0;

  friend bool operator==(const TransferableRef&, const TransferableRef&) = default;
};

}  // namespace isolated::detail
