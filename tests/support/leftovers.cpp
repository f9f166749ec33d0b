#include "leftovers.hpp"

#include "common/src/os/syscall.hpp"
#include "common/src/shm/names.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

namespace isolated::test {

std::vector<int> live_children() {
  // Nothing is reaped here: the library's supervisor reaps its children, and
  // a zombie it left behind is a leftover too.
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream children(task.path() / "children");
    int pid = 0;
    while (children >> pid) pids.push_back(pid);
  }
  return pids;
}

void kill_and_reap(const std::vector<int>& pids) {
  for (const int pid : pids) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

std::vector<std::string> orphaned_segments() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string file = entry.path().filename().string();
    const auto parsed = detail::parse_segment_name(file);
    if (parsed && !detail::process_exists(parsed->root_pid)) names.push_back("/" + file);
  }
  return names;
}

}  // namespace isolated::test
