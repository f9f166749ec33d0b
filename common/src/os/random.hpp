// Unpredictable bytes from the kernel (getrandom), for capabilities and
// segment names.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace isolated::detail {

// Fills `out` from getrandom(2). Throws isolated::Error if the kernel refuses.
void fill_random(std::span<std::byte> out);

// `byte_count` random bytes as lowercase hex (2 * byte_count characters).
std::string random_hex(std::size_t byte_count);

}  // namespace isolated::detail
