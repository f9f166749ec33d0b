#include "tree_order.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace isolated::ps {
namespace {

struct Walk {
  const std::vector<PidAndParent>& processes;
  std::multimap<int, std::size_t> children_by_parent;  // parent pid -> index
  std::vector<bool> placed;
  std::vector<TreePosition> order;

  // Depth first with a stack of its own: a chain of parents in shared memory
  // can be as long as a hostile worker likes.
  void place(std::size_t root) {
    std::vector<TreePosition> stack{{root, 0}};
    while (!stack.empty()) {
      const TreePosition next = stack.back();
      stack.pop_back();
      if (placed[next.index]) continue;  // a duplicate pid, or a cycle
      placed[next.index] = true;
      order.push_back(next);
      const auto [first, last] = children_by_parent.equal_range(processes[next.index].pid);
      // Pushed in reverse so that they come off the stack in pid order.
      std::vector<std::size_t> children;
      for (auto child = first; child != last; ++child) children.push_back(child->second);
      for (auto child = children.rbegin(); child != children.rend(); ++child) {
        stack.push_back({*child, next.depth + 1});
      }
    }
  }
};

}  // namespace

std::vector<TreePosition> tree_order(const std::vector<PidAndParent>& processes) {
  // Indices sorted by pid, so siblings (and roots) come in pid order.
  std::vector<std::size_t> by_pid(processes.size());
  for (std::size_t i = 0; i < by_pid.size(); ++i) by_pid[i] = i;
  std::stable_sort(by_pid.begin(), by_pid.end(), [&](std::size_t a, std::size_t b) {
    return processes[a].pid < processes[b].pid;
  });

  Walk walk{processes, {}, std::vector<bool>(processes.size(), false), {}};
  std::map<int, std::size_t> listed;  // pid -> index
  for (const std::size_t i : by_pid) {
    listed.emplace(processes[i].pid, i);
    walk.children_by_parent.emplace(processes[i].parent_pid, i);
  }
  for (const std::size_t i : by_pid) {
    const int parent = processes[i].parent_pid;
    const bool has_listed_parent =
        parent != 0 && parent != processes[i].pid && listed.contains(parent);
    if (!has_listed_parent) walk.place(i);
  }
  for (const std::size_t i : by_pid) walk.place(i);  // what only a cycle leads to
  return std::move(walk.order);
}

}  // namespace isolated::ps
