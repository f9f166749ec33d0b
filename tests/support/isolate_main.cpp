// The main of the isolate suites. isolated::init comes first: a worker is
// this very binary run again, and in a worker init runs the isolate and never
// returns. The root's own inbox lives as long as the suite.
#include "suite.hpp"
#include "worker/src/runtime.hpp"

#include <isolated/isolated.hpp>

int main(int argc, char** argv) {
  isolated::init(argc, argv);
  return isolated::test::run_suite(argc, argv, {isolated::detail::Runtime::require().inbox_name()});
}
