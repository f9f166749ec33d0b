// A test body run in a forked child process: real process boundaries for the
// transport tests. The child dies with the test process (PR_SET_PDEATHSIG), and
// the handle kills and reaps it if the test did not.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>

namespace isolated::test {

// Waits for child `pid` to end and reaps it: its wait status, or nothing
// after `timeout`.
std::optional<int> reap_child(pid_t pid, std::chrono::milliseconds timeout);

class ForkedProcess {
 public:
  // Forks; the child runs `body` and _exits with its return value (or 99 and
  // a message on stderr if it throws). It never returns into the test.
  static ForkedProcess start(const std::function<int()>& body);

  ForkedProcess(ForkedProcess&& other) noexcept;
  ForkedProcess& operator=(ForkedProcess&&) = delete;
  ~ForkedProcess();

  pid_t pid() const noexcept { return pid_; }

  // The wait status once the child ended, or nothing after `timeout`.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // wait_for, and the exit code; -1 if it timed out or died by a signal.
  int exit_code(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  void kill(int signal) const noexcept;

 private:
  explicit ForkedProcess(pid_t pid) noexcept : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace isolated::test
