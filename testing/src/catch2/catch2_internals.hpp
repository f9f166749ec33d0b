// The two things of a Catch2 run that only code compiled with Catch2's
// implementation can reach (main.cpp compiles it); everything else in
// isolated::catch2_main uses Catch's external interfaces.
#pragma once

#include <catch2/catch.hpp>

namespace isolated::testing::catch2_detail {

// The reporter of the test run in progress: the replay of a test case's
// sections goes straight to it, so that the run's own section tracking (and
// with it how often Catch runs the test case) is left alone.
Catch::IStreamingReporter& running_reporter();

// Runs one test case as Catch runs any: every path through its sections and
// generators, each assertion to `reporter`.
void run_test_case(const Catch::TestCase& test_case, const Catch::IConfigPtr& config,
                   Catch::IStreamingReporterPtr reporter);

}  // namespace isolated::testing::catch2_detail
