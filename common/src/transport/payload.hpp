// The bytes of one received frame, owned: either copied out of a lane into the
// heap, or a mapped out-of-line segment (no copy). Cheap to move; the bytes
// stay valid as long as any copy of `owner` lives.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

namespace isolated::detail {

struct Payload {
  std::shared_ptr<const void> owner;
  std::span<const std::byte> bytes;

  // Copies `source` into one fresh heap block.
  static Payload copy_of(std::span<const std::byte> source) {
    auto block = std::make_shared_for_overwrite<std::byte[]>(source.size());
    if (!source.empty()) std::memcpy(block.get(), source.data(), source.size());
    return Payload{block, std::span<const std::byte>(block.get(), source.size())};
  }
};

}  // namespace isolated::detail
