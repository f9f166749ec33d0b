// This process's children that are isolates: all of them (leftovers.hpp)
// but the library's own helpers, the zygote and its spare, which live as long
// as the process (or until stop_zygote).
#pragma once

#include <vector>

namespace isolated::test {

std::vector<int> isolate_children();

}  // namespace isolated::test
