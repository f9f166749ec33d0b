#include "child_program.hpp"
#include "forked_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <thread>
#include <utility>

namespace isolated::test {

ChildProgram ChildProgram::start(const std::string& path,
                                 const std::vector<std::string>& arguments) {
  // Everything exec needs is made before fork: the test process has threads,
  // so the child may only make system calls until it execs.
  std::vector<std::string> strings{path};
  strings.insert(strings.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the test died before the prctl
    ::dup2(pipe_ends[1], STDOUT_FILENO);
    ::dup2(pipe_ends[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_ends[1]);
  return ChildProgram(pid, pipe_ends[0]);
}

ChildProgram::ChildProgram(ChildProgram&& other) noexcept
    : pid_(other.pid_),
      output_(other.output_),
      reaped_(other.reaped_),
      buffer_(std::move(other.buffer_)) {
  other.pid_ = -1;
  other.output_ = -1;
  other.reaped_ = true;
}

ChildProgram::~ChildProgram() {
  if (output_ >= 0) ::close(output_);
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool ChildProgram::read_more(std::chrono::steady_clock::time_point deadline) {
  if (output_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd ready{output_, POLLIN, 0};
  const int polled = ::poll(&ready, 1, static_cast<int>(left.count()));
  if (polled < 0 && errno == EINTR) return true;
  if (polled <= 0) return false;
  char chunk[4096];
  const ssize_t got = ::read(output_, chunk, sizeof chunk);
  if (got < 0 && errno == EINTR) return true;
  if (got <= 0) {
    ::close(output_);
    output_ = -1;
    return false;
  }
  buffer_.append(chunk, static_cast<std::size_t>(got));
  return true;
}

std::optional<std::string> ChildProgram::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    if (!read_more(deadline)) return std::nullopt;
  }
}

std::string ChildProgram::read_all(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_more(deadline)) {
  }
  return std::exchange(buffer_, std::string());
}

std::optional<int> ChildProgram::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 || reaped_) return std::nullopt;
  const auto status = reap_child(pid_, timeout);
  if (status) reaped_ = true;
  return status;
}

ProgramRun run_program(const std::string& path, const std::vector<std::string>& arguments,
                       std::chrono::milliseconds timeout) {
  ChildProgram program = ChildProgram::start(path, arguments);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ProgramRun run;
  run.pid = program.pid();
  run.output = program.read_all(timeout);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  run.status = program.wait(std::max(left, std::chrono::milliseconds(100)));
  return run;  // if it did not end, the destructor kills and reaps it
}

}  // namespace isolated::test
