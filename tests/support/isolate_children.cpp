#include "isolate_children.hpp"

#include "leftovers.hpp"
#include "isolated/src/zygote_client.hpp"

#include <algorithm>

namespace isolated::test {

std::vector<int> isolate_children() {
  std::vector<int> children = live_children();
  const std::vector<int> helpers = detail::zygote_helper_pids();
  std::erase_if(children, [&](int pid) {
    return std::find(helpers.begin(), helpers.end(), pid) != helpers.end();
  });
  return children;
}

}  // namespace isolated::test
