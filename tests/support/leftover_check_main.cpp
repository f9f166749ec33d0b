// Run by CTest after every suite: a segment whose session root is gone was
// leaked by a test process that could not clean up after itself (it crashed or
// was killed). Reports and removes each one; fails if there was any.
#include "leftovers.hpp"

#include <sys/mman.h>

#include <cstdio>

int main() {
  const auto leaked = isolated::test::orphaned_segments();
  for (const auto& name : leaked) {
    std::fprintf(stderr, "LEFTOVER: /dev/shm%s outlived its session\n", name.c_str());
    ::shm_unlink(name.c_str());
  }
  std::printf("%zu leaked segment(s)\n", leaked.size());
  return leaked.empty() ? 0 : 1;
}
