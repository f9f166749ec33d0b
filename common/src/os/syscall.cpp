#include "syscall.hpp"

#include <isolated/error.hpp>

#include <signal.h>

#include <cerrno>
#include <cstring>

namespace isolated::detail {

void throw_system_error(std::string_view what, int err) {
  std::string message = std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT: throw ResourceExhausted(message + " (is /dev/shm full?)");
    case EMFILE:
    case ENFILE: throw ResourceExhausted(message + " (raise the descriptor limit: ulimit -n)");
    case ENOMEM: throw ResourceExhausted(message);
    default: throw SystemError(message, err);
  }
}

bool process_exists(int pid) noexcept {
  if (pid <= 0) return false;
  // EPERM means the process exists but belongs to somebody else.
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace isolated::detail
