// The one wrapper for system calls: EINTR is retried here and nowhere else,
// and failures become an isolated::Error with the call's name and strerror:
// ResourceExhausted when a limit was reached (ENOSPC, EDQUOT, EMFILE, ENFILE,
// ENOMEM), SystemError otherwise. Descriptors are owned by UniqueFd
// (unique_fd.hpp).
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

namespace isolated::detail {

// Throws "<what>: <strerror(err)>" as ResourceExhausted or SystemError (see
// above).
[[noreturn]] void throw_system_error(std::string_view what, int err);

// Calls `call` until it does not fail with EINTR. Returns its last result; on
// failure errno is left as the call set it.
template <class Call>
auto retry_on_eintr(Call&& call) {
  for (;;) {
    auto result = call();
    if (!(result == -1 && errno == EINTR)) return result;
  }
}

// Like retry_on_eintr, but throws on any failure.
template <class Call>
auto checked(std::string_view what, Call&& call) {
  auto result = retry_on_eintr(call);
  if (result == -1) throw_system_error(what, errno);
  return result;
}

// True when a process with this pid exists (it may be a zombie).
bool process_exists(int pid) noexcept;

}  // namespace isolated::detail
