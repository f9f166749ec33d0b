// The test cases declared with ISOLATED_TEST_CASE, by name, and the invoker
// through which any test case runs in a process of its own.
#pragma once

#include <catch2/catch.hpp>

#include <string>

namespace isolated::testing::catch2_detail {

// Whether `name` was declared with ISOLATED_TEST_CASE.
bool is_isolated_test_case(const std::string& name);

// A test case's body, run in a process of its own (the test case
// `Catch::getResultCapture().getCurrentTestName()`, found there by name):
// what --isolate-each puts in place of every test case's invoker.
class InOwnProcess : public Catch::ITestInvoker {
 public:
  InOwnProcess(Catch::SourceLineInfo declared, const char* macro)
      : declared_(declared), macro_(macro) {}
  void invoke() const override;

 private:
  Catch::SourceLineInfo declared_;
  const char* macro_;
};

}  // namespace isolated::testing::catch2_detail
