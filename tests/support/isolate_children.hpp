// This process's children that are isolates: all of them (leftovers.hpp)
// but the library's own helpers, the zygote and its spare, which live as long
// as the process (or until stop_zygote).
#pragma once

#include <chrono>
#include <vector>

namespace isolated::test {

std::vector<int> isolate_children();

// Reaps the orphans re-parented to this process (the suite is a subreaper)
// after it SIGKILLed a process that spawned: its isolates, its zygote and
// spares. Takes every child but this process's own zygote and spares and
// those in `keep` (isolates still watched, programs the test waits for), until
// none is left; false if some remain after `timeout`.
bool reap_orphans(const std::vector<int>& keep, std::chrono::milliseconds timeout);

}  // namespace isolated::test
