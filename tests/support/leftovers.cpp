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
  return children_of(static_cast<int>(::getpid()));
}

std::vector<int> children_of(int pid) {
  std::vector<int> pids;
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream children(task.path() / "children");
    int child = 0;
    while (children >> child) pids.push_back(child);
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
