#include "forked_process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <thread>

namespace isolated::test {

ForkedProcess ForkedProcess::start(const std::function<int()>& body) {
  const pid_t parent = ::getpid();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(98);  // the test died before the prctl
    int code = 99;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "forked test process %d threw: %s\n", ::getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "forked test process %d threw a non-exception\n", ::getpid());
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  return ForkedProcess(pid);
}

ForkedProcess::ForkedProcess(ForkedProcess&& other) noexcept
    : pid_(other.pid_), reaped_(other.reaped_) {
  other.pid_ = -1;
  other.reaped_ = true;
}

ForkedProcess::~ForkedProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::optional<int> reap_child(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::optional<int> ForkedProcess::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto status = reap_child(pid_, timeout);
  if (status) reaped_ = true;
  return status;
}

int ForkedProcess::exit_code(std::chrono::milliseconds timeout) {
  const auto status = wait_for(timeout);
  if (!status || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

void ForkedProcess::kill(int signal) const noexcept {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal);
}

}  // namespace isolated::test
