// The side of a test case that runs in a process of its own: the entry of
// that process, and what the test case's invoker asks to know whether it is
// there.
#pragma once

#include "test_case_events.hpp"

namespace isolated::testing::catch2_detail {

// The entry of a test case's process (run by run_isolated): runs the test
// case `request.name` of this program under a Catch run of its own whose
// reporter sends every event to `request.events`. Throws isolated::UsageError
// if the program has no such test case.
void run_test_case_here(TestRequest request);

// True in a process that run_test_case_here started in: a test case's
// invoker then runs its body instead of a process for it.
bool in_test_case_process() noexcept;

}  // namespace isolated::testing::catch2_detail
