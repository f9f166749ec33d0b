// isolated::catch2_main: the main of a Catch2 test program whose test cases
// may run in processes of their own. isolated::init first (a test case's
// process is this program run again, and there init runs the test case),
// then Catch's session, with three more options:
//   --isolate-each          every test case in a process of its own
//   --isolated-jobs N       that many test case processes at once
//   --isolated-timeout MS   how long one may run before it is killed and fails
//
// Catch2's single header shows its Session, its command line and its
// RunContext only to the one file that compiles its implementation, so this
// file is that one; the rest of the package reaches RunContext through the
// two functions of catch2_internals.hpp, defined at the end.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch2_internals.hpp"
#include "run_plan.hpp"
#include "test_case_trials.hpp"

#include <isolated/init.hpp>

namespace isolated::testing::catch2_detail {
namespace {

struct CommandLine {
  bool isolate_each = false;
  int jobs = 1;
  long timeout_ms = 60000;
};

Catch::clara::Parser with_isolation_options(const Catch::clara::Parser& parser,
                                            CommandLine& options) {
  using Catch::clara::Opt;
  return parser |
         Opt(options.isolate_each)["--isolate-each"](
             "run every test case in a process of its own") |
         Opt(options.jobs,
             "N")["--isolated-jobs"]("how many test case processes run at once (default 1)") |
         Opt(options.timeout_ms, "ms")["--isolated-timeout"](
             "how long a test case process may run before it fails (default 60000)");
}

}  // namespace

Catch::IStreamingReporter& running_reporter() {
  return dynamic_cast<Catch::RunContext&>(Catch::getResultCapture()).reporter();
}

void run_test_case(const Catch::TestCase& test_case, const Catch::IConfigPtr& config,
                   Catch::IStreamingReporterPtr reporter) {
  Catch::RunContext context(config, std::move(reporter));
  context.runTest(test_case);
}

}  // namespace isolated::testing::catch2_detail

int main(int argc, char** argv) {
  using namespace isolated::testing::catch2_detail;
  isolated::init(argc, argv);  // in a test case's process, runs the test case and ends

  Catch::Session session;
  CommandLine options;
  session.cli(with_isolation_options(session.cli(), options));
  if (const int error = session.applyCommandLine(argc, argv)) return error;
  if (options.jobs < 1 || options.timeout_ms < 1) {
    Catch::cerr() << "--isolated-jobs and --isolated-timeout take a number above 0\n";
    return 255;
  }

  const Catch::Config& config = session.config();
  IsolationSettings settings;
  settings.jobs = static_cast<unsigned>(options.jobs);
  settings.timeout = std::chrono::milliseconds(options.timeout_ms);
  plan_test_case_trials(settings, planned_in_own_process(config, options.isolate_each));
  if (options.isolate_each) isolate_every_test_case(config);

  const int failures = session.run();
  finish_test_case_trials();
  return failures;
}
