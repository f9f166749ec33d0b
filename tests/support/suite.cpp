// Catch2, then the leftovers check. A test that leaves a child process or a
// segment of this session behind fails the run, and what it left is removed
// so the next test starts clean.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "suite.hpp"

#include "deadlines.hpp"
#include "isolate_children.hpp"
#include "leftovers.hpp"
#include "isolated/src/zygote_client.hpp"
#include "common/src/shm/names.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdio>

namespace isolated::test {

int run_suite(int argc, char** argv, const std::vector<std::string>& still_in_use) {
  // Orphaned grandchildren are re-parented to us, so we can see and reap them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Fix the session root before any fork, so forked test processes name their
  // segments after this process and the check below sees them.
  const int root = isolated::detail::session_root_pid();

  int failures = Catch::Session().run(argc, argv);

  // A compute future is ready as soon as the result arrives, while its worker
  // is still on its way out (it says goodbye, exits, and is reaped with its
  // segments): let such children end by themselves. One that does not within
  // the deadline is a leftover.
  eventually([] { return isolated::test::isolate_children().empty(); }, std::chrono::seconds(5));
  // The zygote and its spare live as long as the process; they must go when
  // asked, and leave nothing behind.
  if (!isolated::detail::stop_zygote(deadline_of(std::chrono::seconds(10)))) {
    std::fprintf(stderr, "LEFTOVER: the zygote or its spare did not end when stopped\n");
  }
  const auto children = isolated::test::live_children();
  for (const int pid : children) {
    std::fprintf(stderr, "LEFTOVER: child process %d is still running\n", pid);
  }
  isolated::test::kill_and_reap(children);

  auto segments = isolated::detail::list_session_segments(root);
  std::erase_if(segments, [&](const std::string& name) {
    return std::find(still_in_use.begin(), still_in_use.end(), name) != still_in_use.end();
  });
  for (const auto& name : segments) {
    std::fprintf(stderr, "LEFTOVER: shared-memory segment /dev/shm%s\n", name.c_str());
    ::shm_unlink(name.c_str());
  }
  if (!children.empty() || !segments.empty()) ++failures;
  return failures > 0 ? 1 : 0;
}

}  // namespace isolated::test
