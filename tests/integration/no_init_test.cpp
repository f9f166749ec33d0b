// A program that never calls isolated::init cannot spawn, says why, and does
// not run its main a second time.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <string>

TEST_CASE("spawning from a program without isolated::init fails with a clear message",
          "[integration][spawn]") {
  FILE* program = ::popen(ISOLATED_NO_INIT_PROGRAM " 2>&1", "r");
  REQUIRE(program != nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, program) != nullptr) output += buffer;
  const int status = ::pclose(program);
  INFO(output);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(output, Catch::Contains("IsolateSpawnError"));
  // main ran exactly once: no worker ran it again.
  CHECK(output.find("main ran") == output.rfind("main ran"));
}
