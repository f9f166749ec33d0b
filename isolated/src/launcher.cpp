#include "launcher.hpp"

#include <isolated/error.hpp>

// Boost.Process 1.74 compiles its vfork executor only when this is set, which
// glibc's feature macros (POSIX 2008, where vfork is no longer listed) never
// do; glibc has vfork all the same.
#ifndef BOOST_POSIX_HAS_VFORK
#define BOOST_POSIX_HAS_VFORK 1
#endif

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <system_error>
#include <thread>

namespace isolated::detail {
namespace {

namespace bp = boost::process;

// The child is made with vfork: it borrows the launcher thread's memory and
// stack until it execs, so nothing of the parent's address space is copied
// (fork copied its page tables, about 0.15 ms here, and exec then threw the
// copy away). The launcher thread is suspended meanwhile; the other threads
// run on. Hence the rules for the child between vfork and exec: system calls
// only, no allocation, no write to memory the parent uses, and no signal
// handler of the parent may run in it (it would run on the parent's memory):
// signals stay blocked from before the vfork (BlockedSignals) until the
// child's handlers are back to their defaults.
class BlockedSignals {
 public:
  BlockedSignals() noexcept {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous_);
  }
  ~BlockedSignals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;

  // The launcher thread's mask before, which the child gets back.
  const sigset_t& previous() const noexcept { return previous_; }

 private:
  sigset_t previous_;
};

// Runs in the child between vfork and exec: system calls, nothing else.
//  - Every signal the parent handles goes back to its default action (as
//    posix_spawn does), then the child's mask is the launcher thread's again.
//  - The child is killed when the launcher thread (its parent thread) ends.
//  - It inherits no descriptor but stdin, stdout and stderr (or those the
//    options give) and the one kept as fd 3: every other one is marked
//    close-on-exec. bp::limit_handles would do this too, but it allocates
//    after the fork, which deadlocks now and then under AddressSanitizer.
//  - Then what else LaunchOptions asks for: no core file, a process group of
//    its own.
class PrepareChild : public bp::extend::handler {
 public:
  PrepareChild(const sigset_t& mask, const LaunchOptions& options) noexcept
      : mask_(&mask), options_(&options) {}

  template <class Executor>
  void on_exec_setup(Executor&) const {
    for (int signal = 1; signal < NSIG; ++signal) {
      struct sigaction action {};
      // Fails for the C library's own signals, which it keeps to itself.
      if (::sigaction(signal, nullptr, &action) != 0) continue;
      if (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN) continue;
      action.sa_handler = SIG_DFL;
      action.sa_flags = 0;
      ::sigaction(signal, &action, nullptr);
    }
    ::sigprocmask(SIG_SETMASK, mask_, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // dup2 leaves the copies on 0, 1 and 2 open across exec; the originals
    // are close-on-exec like every other descriptor.
    if (options_->stdin_fd >= 0) ::dup2(options_->stdin_fd, STDIN_FILENO);
    if (options_->stdout_fd >= 0) ::dup2(options_->stdout_fd, STDOUT_FILENO);
    if (options_->stderr_fd >= 0) ::dup2(options_->stderr_fd, STDERR_FILENO);
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    // The one descriptor a child keeps (the zygote's socket): dup2 clears
    // close-on-exec on the copy it makes; on fd 3 itself, fcntl does.
    if (options_->kept_as_fd3 == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else if (options_->kept_as_fd3 >= 0) {
      ::dup2(options_->kept_as_fd3, 3);
    }
    if (options_->no_core_dump) {
      const rlimit none{0, 0};
      ::setrlimit(RLIMIT_CORE, &none);
    }
    if (options_->own_process_group) ::setpgid(0, 0);
  }

 private:
  const sigset_t* mask_;
  const LaunchOptions* options_;
};

class Launcher {
 public:
  static Launcher& get() {
    // Never destroyed: the thread must outlive every child (see launch_process).
    static Launcher* launcher = new Launcher();
    return *launcher;
  }

  int launch(const std::string& executable, const std::vector<std::string>& arguments,
             const LaunchOptions& options) {
    std::packaged_task<int()> task([&] { return start(executable, arguments, options); });
    auto result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
    return result.get();
  }

 private:
  Launcher() : thread_([this] { serve(); }) { thread_.detach(); }

  void serve() {
    for (;;) {
      std::packaged_task<int()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  static int start(const std::string& executable, const std::vector<std::string>& arguments,
                   const LaunchOptions& options) {
    std::error_code error;
    const BlockedSignals blocked;
    bp::child child(bp::exe = executable, bp::args = arguments,
                    PrepareChild(blocked.previous(), options), bp::posix::use_vfork, error);
    if (error) {
      throw IsolateSpawnError("cannot start " + executable + ": " + error.message());
    }
    const int pid = child.id();
    // The supervisor reaps it; bp::child must not terminate it on destruction.
    child.detach();
    return pid;
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<int()>> tasks_;
  std::thread thread_;
};

}  // namespace

int launch_process(const std::string& executable, const std::vector<std::string>& arguments,
                   const LaunchOptions& options) {
  return Launcher::get().launch(executable, arguments, options);
}

}  // namespace isolated::detail
