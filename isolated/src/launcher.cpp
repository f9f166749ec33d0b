#include "launcher.hpp"

#include <isolated/error.hpp>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>

#include <signal.h>
#include <sys/prctl.h>
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

// Runs in the child between fork and exec, where a multithreaded parent's
// child may only make async-signal-safe calls (another thread may have held
// the allocator's lock at the fork): two system calls, nothing else.
//  - The child is killed when the launcher thread (its parent thread) ends.
//  - It inherits no descriptor but stdin, stdout and stderr: every other one
//    is marked close-on-exec (Boost.Process's own error pipe is already).
//    bp::limit_handles would do this too, but it allocates after the fork,
//    which deadlocks now and then under AddressSanitizer.
struct PrepareChild : bp::extend::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  }
};

class Launcher {
 public:
  static Launcher& get() {
    // Never destroyed: the thread must outlive every child (see launch_process).
    static Launcher* launcher = new Launcher();
    return *launcher;
  }

  int launch(const std::string& executable, const std::vector<std::string>& arguments) {
    std::packaged_task<int()> task([&] { return start(executable, arguments); });
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

  static int start(const std::string& executable, const std::vector<std::string>& arguments) {
    std::error_code error;
    bp::child child(bp::exe = executable, bp::args = arguments, PrepareChild{}, error);
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

int launch_process(const std::string& executable, const std::vector<std::string>& arguments) {
  return Launcher::get().launch(executable, arguments);
}

}  // namespace isolated::detail
