#include "test_case_process.hpp"

#include "catch2_internals.hpp"
#include "event_reporter.hpp"

#include <isolated/error.hpp>

#include <signal.h>

#include <array>
#include <memory>

namespace isolated::testing::catch2_detail {
namespace {

bool g_in_test_case_process = false;

// Catch installs handlers of its own for SIGSEGV, SIGABRT, ... around every
// test case it runs; they would report the signal and raise it again, so the
// crash report would lose the fault address and name Catch's handler. This
// invoker gives the process back the handlers it had before Catch's run (the
// worker's crash handler and its signal stack) just before the body runs.
class WithOwnSignalHandlers : public Catch::ITestInvoker {
 public:
  explicit WithOwnSignalHandlers(Catch::TestCase test_case) : test_case_(std::move(test_case)) {
    for (std::size_t signal = 1; signal < NSIG; ++signal) {
      // Fails for SIGKILL, SIGSTOP and the C library's own: those stay as they are.
      saved_[signal] = ::sigaction(static_cast<int>(signal), nullptr, &actions_[signal]) == 0;
    }
    ::sigaltstack(nullptr, &stack_);
  }

  void invoke() const override {
    for (std::size_t signal = 1; signal < NSIG; ++signal) {
      if (saved_[signal]) ::sigaction(static_cast<int>(signal), &actions_[signal], nullptr);
    }
    ::sigaltstack(&stack_, nullptr);
    test_case_.invoke();
  }

 private:
  Catch::TestCase test_case_;
  std::array<struct sigaction, NSIG> actions_{};
  std::array<bool, NSIG> saved_{};
  stack_t stack_{};
};

const Catch::TestCase* find_test_case(const std::string& name) {
  for (const Catch::TestCase& test_case :
       Catch::getRegistryHub().getTestCaseRegistry().getAllTests()) {
    if (test_case.getTestCaseInfo().name == name) return &test_case;
  }
  return nullptr;
}

}  // namespace

bool in_test_case_process() noexcept {
  return g_in_test_case_process;
}

void run_test_case_here(TestRequest request) {
  g_in_test_case_process = true;
  const Catch::TestCase* test_case = find_test_case(request.name);
  if (test_case == nullptr) {
    throw UsageError("this program has no test case named \"" + request.name + "\"");
  }
  Catch::ConfigData data;
  data.showSuccessfulTests = request.report_passes;
  data.rngSeed = request.rng_seed;
  data.sectionsToRun = request.sections_to_run;
  data.warnings =
      request.warn_missing_assertions ? Catch::WarnAbout::NoAssertions : Catch::WarnAbout::Nothing;
  data.noThrow = !request.allow_throws;
  const Catch::IConfigPtr config = std::make_shared<Catch::Config>(data);
  const Catch::TestCase own_handlers(new WithOwnSignalHandlers(*test_case),
                                     Catch::TestCaseInfo(test_case->getTestCaseInfo()));
  run_test_case(own_handlers, config,
                std::make_unique<EventReporter>(request.events, request.report_passes));
}

}  // namespace isolated::testing::catch2_detail
