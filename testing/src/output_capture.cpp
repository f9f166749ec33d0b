#include "output_capture.hpp"

#include "common/src/os/syscall.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>

namespace isolated::testing::detail {

using isolated::detail::checked;
using isolated::detail::retry_on_eintr;
using isolated::detail::throw_system_error;

OutputCapture::OutputCapture() {
  int ends[2];
  // Close-on-exec: the launcher dup2s the write end onto the child's 1 and 2;
  // no other child may inherit it, or the end of output would never come.
  checked("pipe2 for a trial's output", [&] { return ::pipe2(ends, O_CLOEXEC | O_NONBLOCK); });
  read_end_.reset(ends[0]);
  write_end_.reset(ends[1]);
  // The child's end blocks like an ordinary stdout; only ours does not.
  const int flags = checked("fcntl F_GETFL", [&] { return ::fcntl(ends[1], F_GETFL); });
  checked("fcntl F_SETFL", [&] { return ::fcntl(ends[1], F_SETFL, flags & ~O_NONBLOCK); });
}

void OutputCapture::read_available() {
  char buffer[16384];
  while (!finished_) {
    const ssize_t got =
        retry_on_eintr([&] { return ::read(read_end_.get(), buffer, sizeof buffer); });
    if (got == 0) {
      finished_ = true;
    } else if (got < 0) {
      if (errno == EAGAIN) return;
      throw_system_error("read of a trial's output", errno);
    } else {
      text_.append(buffer, static_cast<std::size_t>(got));
      if (text_.size() > kOutputLimit) {
        // Keep the end, where a crash or a sanitizer's report is.
        text_.erase(0, text_.size() - kOutputLimit);
        truncated_ = true;
      }
    }
  }
}

void OutputCapture::read_until_finished(std::chrono::steady_clock::time_point deadline) {
  read_available();
  while (!finished_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd ready{read_end_.get(), POLLIN, 0};
    retry_on_eintr(
        [&] { return ::poll(&ready, 1, static_cast<int>(std::max<long>(1, left.count()))); });
    read_available();
  }
}

}  // namespace isolated::testing::detail
