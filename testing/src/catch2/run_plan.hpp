// Before a run: which test cases will run in processes of their own, in the
// run's order, and (--isolate-each) making every test case one of them.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace isolated::testing::catch2_detail {

// The names of the test cases the session will run in processes of their
// own, in its order: of the test cases it chooses (those not hidden, or
// those its filters match), every one with `isolate_each`, else those
// declared with ISOLATED_TEST_CASE.
std::vector<std::string> planned_in_own_process(const Catch::Config& config, bool isolate_each);

// Gives every test case an invoker that runs it in a process of its own
// (which finds the original by name).
void isolate_every_test_case(const Catch::Config& config);

}  // namespace isolated::testing::catch2_detail
