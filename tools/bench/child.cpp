#include "child.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include "pinning.hpp"

namespace isolated::bench {

namespace {

// Exit status of a child that could not be set up; body never ran.
constexpr int kSetupFailed = 125;

pid_t waitpid_no_eintr(pid_t pid, int* status) {
  for (;;) {
    const pid_t r = ::waitpid(pid, status, 0);
    if (!(r == -1 && errno == EINTR)) return r;
  }
}

int decode(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

}  // namespace

pid_t ForkedChild::fork_pinned(int cpu) {
  // The child reports its setup through this pipe, so start() fails with the
  // real reason instead of a benchmark that silently ran unpinned.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == -1) {
    const int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    ::close(report[0]);
    // Die with the bench (a killed bench must not leave a spinning child on a
    // CPU). The getppid check closes the race where the parent died before
    // prctl. Note the signal fires when the forking *thread* exits.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(kSetupFailed);
    const char pinned = pin_to_cpu(cpu) ? 1 : 0;
    ssize_t sent;
    while ((sent = ::write(report[1], &pinned, 1)) == -1 && errno == EINTR) {
    }
    // Run the body only if the parent is sure to know we did.
    if (sent != 1 || !pinned) ::_exit(kSetupFailed);
    ::close(report[1]);
    return 0;
  }
  ::close(report[1]);
  char pinned = 0;
  ssize_t got;
  while ((got = ::read(report[0], &pinned, 1)) == -1 && errno == EINTR) {
  }
  ::close(report[0]);
  if (got == 1 && pinned == 1) return pid;
  // The child has exited or is about to; SIGKILL only makes sure of it and
  // does not change the status of a child already in _exit.
  ::kill(pid, SIGKILL);
  int raw = 0;
  waitpid_no_eintr(pid, &raw);
  throw std::runtime_error(got == 1 ? "cannot pin the child process to CPU " + std::to_string(cpu)
                                    : "the child process died during setup (status " +
                                          std::to_string(decode(raw)) + ")");
}

void ForkedChild::exit_child(int status) noexcept { ::_exit(status); }

void ForkedChild::fail_child(const char* what) noexcept {
  std::fprintf(stderr, "isolated-bench: child process failed: %s\n", what);
  ::_exit(1);
}

int ForkedChild::wait() {
  if (pid_ <= 0) throw std::logic_error("ForkedChild::wait on a moved-from handle");
  if (!reaped_) {
    int raw = 0;
    if (waitpid_no_eintr(pid_, &raw) == -1)
      throw std::system_error(errno, std::generic_category(), "waitpid");
    status_ = decode(raw);
    reaped_ = true;
  }
  return status_;
}

void ForkedChild::kill_and_reap() noexcept {
  if (pid_ <= 0 || reaped_) return;
  // Safe by pid: an unreaped child stays a zombie, so its pid cannot have
  // been reused by another process.
  ::kill(pid_, SIGKILL);
  int raw = 0;
  waitpid_no_eintr(pid_, &raw);
  reaped_ = true;
}

ForkedChild::~ForkedChild() { kill_and_reap(); }

ForkedChild::ForkedChild(ForkedChild&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), reaped_(other.reaped_), status_(other.status_) {}

ForkedChild& ForkedChild::operator=(ForkedChild&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = other.reaped_;
    status_ = other.status_;
  }
  return *this;
}

}  // namespace isolated::bench
