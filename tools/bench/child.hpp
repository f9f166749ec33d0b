// Runs a function in a forked child process pinned to one CPU, for benchmark
// peers that need a second process but not a second binary.
//
// The parent must be single-threaded when it calls start(): the child runs
// ordinary C++ (allocations included) without exec, which is only safe if no
// other thread held a lock at the moment of fork.
#pragma once

#include <sys/types.h>

#include <exception>
#include <type_traits>
#include <utility>

namespace isolated::bench {

class ForkedChild {
 public:
  // Forks; the child pins itself to `cpu`, arranges to be killed if the
  // parent dies, runs `body()` and _exits with its result (an int result is
  // the exit status, void means 0; an escaping exception prints its what() to
  // stderr and exits 1). The child never returns into the caller's code and
  // never runs atexit handlers or flushes the parent's stdio buffers.
  // Returns once the child is pinned and about to run `body`; throws
  // std::runtime_error (after reaping the child) if it could not be pinned, or
  // std::system_error if fork fails.
  template <class F>
  static ForkedChild start(int cpu, F&& body) {
    const pid_t pid = fork_pinned(cpu);
    if (pid == 0) run_and_exit(body);
    return ForkedChild(pid);
  }

  // Blocks until the child exits and reaps it. Returns its exit status, or
  // 128 + signal number if a signal killed it (the shell's convention).
  // Later calls return the same value. Throws std::logic_error on a
  // moved-from object.
  int wait();

  pid_t pid() const { return pid_; }

  // Kills (SIGKILL) and reaps the child if wait() has not reaped it yet, so no
  // zombie outlives the handle, also when an exception unwinds past it.
  ~ForkedChild();
  ForkedChild(ForkedChild&& other) noexcept;
  ForkedChild& operator=(ForkedChild&& other) noexcept;
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;

 private:
  explicit ForkedChild(pid_t pid) : pid_(pid) {}

  // Returns 0 in the child (pinned, with PR_SET_PDEATHSIG set) and the
  // child's pid in the parent once the child has reported that.
  static pid_t fork_pinned(int cpu);
  [[noreturn]] static void exit_child(int status) noexcept;
  [[noreturn]] static void fail_child(const char* what) noexcept;

  template <class F>
  [[noreturn]] static void run_and_exit(F& body) noexcept {
    int status = 0;
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        body();
      } else {
        status = static_cast<int>(body());
      }
    } catch (const std::exception& e) {
      fail_child(e.what());
    } catch (...) {
      fail_child("unknown exception");
    }
    exit_child(status);
  }

  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace isolated::bench
