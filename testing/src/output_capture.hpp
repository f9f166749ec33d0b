// A trial's stdout and stderr: one pipe, whose write end the child gets as
// both, read by the parent while the child runs, so the child never blocks on
// a full pipe. Only the last kOutputLimit bytes are kept.
#pragma once

#include "common/src/os/unique_fd.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace isolated::testing::detail {

inline constexpr std::size_t kOutputLimit = 1 << 20;

class OutputCapture {
 public:
  // Throws isolated::ResourceExhausted or SystemError if the pipe cannot be made.
  OutputCapture();

  // What the child gets as stdout and stderr; close it here once it has it.
  int write_end() const noexcept { return write_end_.get(); }
  void close_write_end() noexcept { write_end_.reset(); }

  // For poll: readable when output or the end of it arrived.
  int read_end() const noexcept { return read_end_.get(); }
  // Whether every writer has closed its end (and all was read).
  bool finished() const noexcept { return finished_; }

  // Reads what is there now, without blocking.
  void read_available();
  // Reads until every writer has closed its end or `deadline` passes.
  void read_until_finished(std::chrono::steady_clock::time_point deadline);

  std::string take() { return std::move(text_); }
  bool truncated() const noexcept { return truncated_; }

 private:
  isolated::detail::UniqueFd read_end_;
  isolated::detail::UniqueFd write_end_;
  std::string text_;
  bool truncated_ = false;
  bool finished_ = false;
};

}  // namespace isolated::testing::detail
