// Another program run by a test, with its stdout and stderr read through a
// pipe. It dies with the test thread that started it (PR_SET_PDEATHSIG), and
// the handle kills and reaps it if the test did not wait for it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace isolated::test {

class ChildProgram {
 public:
  // Starts `path` with `arguments` (argv[1...]). Throws std::runtime_error if
  // it cannot fork or the pipe cannot be made; an exec failure shows as exit
  // code 127.
  static ChildProgram start(const std::string& path, const std::vector<std::string>& arguments);

  ChildProgram(ChildProgram&& other) noexcept;
  ChildProgram& operator=(ChildProgram&&) = delete;
  ~ChildProgram();

  pid_t pid() const noexcept { return pid_; }

  // The next line of its output (without the newline), or nothing if it
  // ended its output or `timeout` passed first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  // Everything it writes until it closes its output, or until `timeout`
  // (then what came so far).
  std::string read_all(std::chrono::milliseconds timeout);

  // Its wait status once it ended (reaped), or nothing after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  ChildProgram(pid_t pid, int output) noexcept : pid_(pid), output_(output) {}
  // Appends to buffer_ what arrives before `deadline`; false at end of output
  // or at the deadline.
  bool read_more(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int output_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

// Runs a program to its end: its exit status (nothing if it had to be killed
// after `timeout`), its output, and the pid it had.
struct ProgramRun {
  std::optional<int> status;
  std::string output;
  pid_t pid = -1;
};
ProgramRun run_program(const std::string& path, const std::vector<std::string>& arguments,
                       std::chrono::milliseconds timeout);

}  // namespace isolated::test
