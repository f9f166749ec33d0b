// A Catch2 test program on isolated::catch2_main: a check on a trial that
// crashes, and a test case whose body runs in a process of its own.
#include <isolated/testing/catch2.hpp>

#include <csignal>
#include <cstdlib>

[[noreturn]] void give_up(int) { std::abort(); }

TEST_CASE("a trial that aborts is seen to abort") { ISOLATED_CHECK_CRASH(&give_up, 0, SIGABRT); }

ISOLATED_TEST_CASE("a body in a process of its own") { CHECK(1 + 1 == 2); }
