// A Catch2 suite on isolated::catch2_main whose test cases pass, fail a
// check, crash, exit and hang; run by catch2_main_test.cpp, which checks its
// console and junit reports, its exit code, and that the test case after the
// bad ones still ran. The hidden one crashes in the test run's own process
// unless --isolate-each runs it in one of its own.
#include <isolated/testing/catch2.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

// Outside any namespace, so the crash report names it exactly; without
// sanitizer instrumentation, so the real signal happens.
[[gnu::noinline, gnu::no_sanitize("address", "undefined")]] void suite_null_write() {
  volatile int* volatile target = nullptr;
  *target = 42;
}

TEST_CASE("an ordinary test case passes", "[suite]") {
  CHECK(1 + 1 == 2);
}

ISOLATED_TEST_CASE("an isolated test case passes in every section", "[suite]") {
  const int one = 1;
  SECTION("first") {
    CHECK(one == 1);
  }
  SECTION("second") {
    REQUIRE(one + 1 == 2);
  }
}

ISOLATED_TEST_CASE("an isolated test case fails a check", "[suite]") {
  const int answer = 41;
  INFO("the answer is computed");
  CHECK(answer == 42);
  CHECK_FALSE(answer == 41);
}

ISOLATED_TEST_CASE("an isolated test case fails in a section", "[suite]") {
  SECTION("the inner section") {
    const std::string word = "pear";
    CHECK(word == "apple");
  }
}

ISOLATED_TEST_CASE("an isolated test case crashes", "[suite]") {
  std::puts("about to write through a null pointer");
  std::fflush(stdout);
  suite_null_write();
}

ISOLATED_TEST_CASE("an isolated test case exits", "[suite]") {
  std::exit(3);
}

ISOLATED_TEST_CASE("an isolated test case hangs", "[suite]") {
  for (;;) ::pause();
}

TEST_CASE("a later test case still runs", "[suite]") {
  std::puts("the later test case ran");
  CHECK(true);
}

TEST_CASE("an ordinary test case crashes", "[.in-process-crash]") {
  suite_null_write();
}
