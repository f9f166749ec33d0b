// isolated::catch2_main, run as a test program of its own (the suite in
// support/isolated_catch2_suite.cpp): a crashing, exiting or hanging
// ISOLATED_TEST_CASE fails alone, with its crash report, in the console and
// in a junit report that stays well-formed; failed checks in one show their
// expression and values; the test case after the bad ones still runs; the
// summary and the exit code count it all; --isolate-each runs an ordinary
// test case that crashes in a process of its own; --isolated-jobs runs them
// side by side with the same report.
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"
#include "support/child_program.hpp"
#include "support/deadlines.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using isolated::test::deadline_of;
using isolated::test::ProgramRun;

namespace {

// The hanging test case is given this long, scaled in sanitizer builds.
const std::string kTrialTimeout =
    std::to_string(isolated::test::deadline_of(std::chrono::milliseconds(1000)).count());

ProgramRun run_suite(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), {"--isolated-timeout", kTrialTimeout});
  return isolated::test::run_program(ISOLATED_CATCH2_SUITE, arguments,
                                     deadline_of(std::chrono::seconds(60)));
}

int exit_code_of(const ProgramRun& run) {
  REQUIRE(run.status);
  REQUIRE(WIFEXITED(*run.status));
  return WEXITSTATUS(*run.status);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Where `part` first is, or npos.
std::size_t place_of(const std::string& text, const std::string& part) {
  return text.find(part);
}

// A junit report file, removed afterwards.
struct ReportFile {
  std::string path = "/tmp/isolated_catch2_suite." + std::to_string(::getpid()) + ".xml";
  ~ReportFile() { std::remove(path.c_str()); }
};

using Tree = boost::property_tree::ptree;

// The <testcase> elements of the report's one <testsuite>, by name.
std::map<std::string, Tree> test_cases_of(const Tree& suite) {
  std::map<std::string, Tree> cases;
  for (const auto& [tag, child] : suite) {
    if (tag == "testcase") cases[child.get<std::string>("<xmlattr>.name")] = child;
  }
  return cases;
}

}  // namespace

TEST_CASE("a crash, an exit and a hang each fail their test case alone, and the run goes on",
          "[integration][catch2]") {
  const ProgramRun run = run_suite({});
  const std::string& out = run.output;
  INFO(out);
  // Catch's exit code: the number of failed assertions (2 checks, a check
  // in a section, the crash, the exit, the hang).
  CHECK(exit_code_of(run) == 6);
  CHECK(contains(out, "test cases:  8 | 3 passed | 5 failed"));
  CHECK(contains(out, "assertions: 10 | 4 passed | 6 failed"));

  // Failed checks in a test case's own process: expression, expansion, message.
  CHECK(contains(out,
                 ": FAILED:\n  CHECK( answer == 42 )\n"
                 "with expansion:\n  41 == 42\nwith message:\n  the answer is computed\n"));
  CHECK(contains(out, "  CHECK_FALSE( answer == 41 )\nwith expansion:\n  !(41 == 41)\n"));
  // A failure in a section is shown under the section.
  CHECK(contains(out, "an isolated test case fails in a section\n  the inner section\n"));
  CHECK(contains(out, "with expansion:\n  \"pear\" == \"apple\"\n"));

  // The crash: its signal, fault address and backtrace, and its last output.
  CHECK(contains(out,
                 "due to a fatal error condition:\n"
                 "  this test case ran in a process of its own, which did not return:\n"
                 "  the trial was killed by SIGSEGV (Segmentation fault)"));
  CHECK(contains(out, "SIGSEGV (Segmentation fault: address not mapped) at address 0x0"));
  CHECK(contains(out, "#0 suite_null_write()+0x"));
  CHECK(contains(out, "| about to write through a null pointer"));
  CHECK(contains(out, "the trial exited with code 3"));
  CHECK(contains(out,
                 "the trial timed out after " + kTrialTimeout + " ms and was killed by SIGKILL"));

  // Its test case processes ended with it, and took their segments along:
  // none is left of the session it was the root of.
  CHECK(isolated::detail::list_session_segments(run.pid).empty());

  // The test case after them ran.
  const std::size_t hang = place_of(out, "an isolated test case hangs");
  const std::size_t later = place_of(out, "the later test case ran");
  REQUIRE(hang != std::string::npos);
  REQUIRE(later != std::string::npos);
  CHECK(later > hang);
}

TEST_CASE("the junit report is well-formed, counts right and holds the crash report",
          "[integration][catch2]") {
  const ReportFile report;
  const ProgramRun run = run_suite({"-r", "junit", "-o", report.path});
  INFO(run.output);
  CHECK(exit_code_of(run) == 6);

  Tree document;
  std::ifstream file(report.path);
  REQUIRE(file);
  // read_xml throws on anything that is not well-formed XML.
  REQUIRE_NOTHROW(boost::property_tree::read_xml(file, document));
  const Tree& suite = document.get_child("testsuites.testsuite");
  // Catch's junit counts assertions: 4 passed, 6 failed; none threw.
  CHECK(suite.get<int>("<xmlattr>.tests") == 10);
  CHECK(suite.get<int>("<xmlattr>.failures") == 6);
  CHECK(suite.get<int>("<xmlattr>.errors") == 0);

  const auto cases = test_cases_of(suite);
  for (const char* name :
       {"an ordinary test case passes", "an isolated test case passes in every section/first",
        "an isolated test case passes in every section/second",
        "an isolated test case fails a check",
        "an isolated test case fails in a section/the inner section",
        "an isolated test case crashes", "an isolated test case exits",
        "an isolated test case hangs", "a later test case still runs"}) {
    INFO(name);
    CHECK(cases.count(name) == 1);
  }
  CHECK(cases.size() == 9);

  REQUIRE(cases.count("an isolated test case crashes") == 1);
  const Tree& crashed = cases.at("an isolated test case crashes");
  const std::string crash = crashed.get<std::string>("error");
  CHECK(contains(crash, "the trial was killed by SIGSEGV (Segmentation fault)"));
  CHECK(contains(crash, "SIGSEGV (Segmentation fault: address not mapped) at address 0x0"));
  CHECK(contains(crash, "#0 suite_null_write()+0x"));
  CHECK(contains(crashed.get<std::string>("system-out"), "about to write through a null pointer"));

  REQUIRE(cases.count("an isolated test case fails a check") == 1);
  CHECK(contains(cases.at("an isolated test case fails a check").get<std::string>("failure"),
                 "CHECK( answer == 42 )\nwith expansion:\n  41 == 42"));
  REQUIRE(cases.count("a later test case still runs") == 1);
  CHECK(cases.at("a later test case still runs").count("failure") == 0);
}

TEST_CASE(
    "a run with --isolate-each runs an ordinary test case that crashes in a process of its own",
    "[integration][catch2]") {
  const ProgramRun run =
      run_suite({"--isolate-each",
                 "[.in-process-crash],an ordinary test case passes,a later test case still runs"});
  const std::string& out = run.output;
  INFO(out);
  CHECK(exit_code_of(run) == 1);
  CHECK(contains(out, "an ordinary test case crashes\n"));
  CHECK(contains(out, "the trial was killed by SIGSEGV (Segmentation fault)"));
  CHECK(contains(out, "#0 suite_null_write()+0x"));
  CHECK(contains(out, "test cases: 3 | 2 passed | 1 failed"));
  CHECK(contains(out, "the later test case ran"));
}

TEST_CASE("a run with --isolated-jobs runs test case processes side by side with the same report",
          "[integration][catch2]") {
  const ProgramRun run = run_suite({"--isolate-each", "--isolated-jobs", "3"});
  const std::string& out = run.output;
  INFO(out);
  CHECK(exit_code_of(run) == 6);
  CHECK(contains(out, "test cases:  8 | 3 passed | 5 failed"));
  CHECK(contains(out, "assertions: 10 | 4 passed | 6 failed"));
  // Reported in the run's order, whichever process ended first.
  const std::size_t crash = place_of(out, "an isolated test case crashes\n");
  const std::size_t hang = place_of(out, "an isolated test case hangs\n");
  REQUIRE(crash != std::string::npos);
  REQUIRE(hang != std::string::npos);
  CHECK(crash < hang);
}

TEST_CASE("with -s the passing assertions of a test case's process are shown too",
          "[integration][catch2]") {
  const ProgramRun run = run_suite({"-s", "an isolated test case passes in every section"});
  const std::string& out = run.output;
  INFO(out);
  CHECK(exit_code_of(run) == 0);
  CHECK(contains(out, "an isolated test case passes in every section\n  first\n"));
  CHECK(contains(out, "PASSED:\n  CHECK( one == 1 )\nwith expansion:\n  1 == 1\n"));
  CHECK(contains(out, "PASSED:\n  REQUIRE( one + 1 == 2 )\nwith expansion:\n  2 == 2\n"));
  CHECK(contains(out, "All tests passed (2 assertions in 1 test case)"));
}
