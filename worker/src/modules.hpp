// Code addresses that mean the same in another process running the same
// binaries (DESIGN §2): a loaded module's name and an offset into it.
#pragma once

#include <isolated/message.hpp>

#include <cstdint>
#include <string>

namespace isolated::detail {

struct CodeAddress {
  std::string module;  // as the dynamic loader names it; "" for the main program
  std::uint64_t offset = 0;
  MSGPACK_DEFINE(module, offset)
};

// The module and offset of `address`. Throws isolated::Error if no loaded
// module contains it.
CodeAddress locate_code(const void* address);

// The address of `code` in this process. Throws isolated::Error if the module
// is not loaded here or the offset lies outside its code.
const void* resolve_code(const CodeAddress& code);

}  // namespace isolated::detail
