// The test run's side of test cases that run in a process of their own
// (ISOLATED_TEST_CASE, and every one under --isolate-each): each is a trial
// (run_isolated) of run_test_case_here; with --isolated-jobs N, up to N run
// at once, started ahead in the order the run will take them, and each is
// replayed when Catch comes to it.
#pragma once

#include <isolated/testing.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace isolated::testing::catch2_detail {

struct IsolationSettings {
  unsigned jobs = 1;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);  // per test case
};

// Before the run (catch2_main's main): how, and which test cases will run
// in processes of their own, in the run's order. Without it, each runs
// when Catch comes to it, with the default settings.
void plan_test_case_trials(const IsolationSettings& settings, std::vector<std::string> planned);

// After the run: waits for the trials started ahead that the run never
// came to (it stopped early: -x, --abort).
void finish_test_case_trials();

// The body of a test case that runs in a process of its own: runs it there
// (or takes the trial started ahead for it) and replays what it reported
// into the current test case, then fails it if the process crashed, exited,
// threw or hung. `macro` names the failure's kind in reports.
void run_in_own_process(const std::string& test_case, const Catch::SourceLineInfo& declared,
                        const char* macro);

}  // namespace isolated::testing::catch2_detail
