#include "syscall.hpp"

#include <isolated/error.hpp>

#include <signal.h>

#include <cstring>

namespace isolated::detail {

void throw_system_error(std::string_view what, int err) {
  throw Error(std::string(what) + ": " + std::strerror(err));
}

bool process_exists(int pid) noexcept {
  if (pid <= 0) return false;
  // EPERM means the process exists but belongs to somebody else.
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace isolated::detail
