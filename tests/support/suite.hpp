// Running a test suite: Catch2, then the check that the tests left nothing
// behind (child processes, segments of this session other than
// `still_in_use`). Returns the process's exit code.
#pragma once

#include <string>
#include <vector>

namespace isolated::test {

int run_suite(int argc, char** argv, const std::vector<std::string>& still_in_use = {});

}  // namespace isolated::test
