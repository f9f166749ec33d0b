// A root isolate ended by SIGTERM takes its session's segments with it
// (DESIGN §11), transferables and its workers' inboxes included.
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

TEST_CASE("a root killed by SIGTERM leaves no segment of its session",
          "[integration][transfer]") {
  FILE* program = ::popen(ISOLATED_SIGTERM_ROOT_PROGRAM, "r");
  REQUIRE(program != nullptr);
  char line[128] = {};
  REQUIRE(std::fgets(line, sizeof line, program) != nullptr);
  INFO("the program said: " << line);
  int pid = 0;
  REQUIRE(std::sscanf(line, "ready %d", &pid) == 1);
  CHECK_FALSE(isolated::detail::list_session_segments(pid).empty());

  REQUIRE(::kill(pid, SIGTERM) == 0);
  ::pclose(program);
  // Its worker dies with it (death signal); give the kernel a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!isolated::detail::list_session_segments(pid).empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Its worker, orphaned, was re-parented to this test process (the suite is
  // a subreaper): reap it, as init would.
  const auto reap_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < reap_deadline) {
    if (::waitpid(-1, nullptr, WNOHANG) < 0) break;  // no child left
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto left = isolated::detail::list_session_segments(pid);
  for (const auto& name : left) UNSCOPED_INFO("left: " << name);
  CHECK(left.empty());
}
