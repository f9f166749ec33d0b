#include "isolate_children.hpp"

#include "forked_process.hpp"
#include "leftovers.hpp"
#include "isolated/src/zygote_client.hpp"

#include <algorithm>
#include <thread>

namespace isolated::test {

std::vector<int> isolate_children() {
  std::vector<int> children = live_children();
  const std::vector<int> helpers = detail::zygote_helper_pids();
  std::erase_if(children, [&](int pid) {
    return std::find(helpers.begin(), helpers.end(), pid) != helpers.end();
  });
  return children;
}

bool reap_orphans(const std::vector<int>& keep, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // A zygote that was forking when its spawner died may still hand its
  // clone to us a moment later: none must show up for a while.
  constexpr auto kQuiet = std::chrono::milliseconds(200);
  auto quiet_since = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<int> orphans = isolate_children();
    std::erase_if(orphans, [&](int pid) {
      return std::find(keep.begin(), keep.end(), pid) != keep.end();
    });
    const auto now = std::chrono::steady_clock::now();
    if (orphans.empty()) {
      if (now - quiet_since >= kQuiet) return true;
      if (now >= deadline) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    quiet_since = now;
    for (const int pid : orphans) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      reap_child(pid, left);
    }
  }
}

}  // namespace isolated::test
