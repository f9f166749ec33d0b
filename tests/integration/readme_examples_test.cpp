// The README's examples run, and the README shows them as they are here.
#include <catch2/catch.hpp>

#include "examples/readme_examples.hpp"
#include "support/child_program.hpp"
#include "support/deadlines.hpp"
#include "support/isolate_children.hpp"
#include "support/leftovers.hpp"

#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The text between "// example: <name>" and "// end" in the examples file.
std::string example(const std::string& source, const std::string& name) {
  const std::string start = "// example: " + name + "\n";
  const auto begin = source.find(start);
  REQUIRE(begin != std::string::npos);
  const auto end = source.find("// end\n", begin);
  REQUIRE(end != std::string::npos);
  return source.substr(begin + start.size(), end - begin - start.size());
}

// The example leaves its worker to end by itself; wait for that.
void wait_for_children_to_end() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!isolated::test::isolate_children().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(isolated::test::isolate_children().empty());
}

}  // namespace

TEST_CASE("the README's spawn example greets from another process", "[integration][readme]") {
  CHECK(greet_from_an_isolate() == "hello, isolate");
  wait_for_children_to_end();
}

TEST_CASE("the README's compute example parses in another process", "[integration][readme]") {
  CHECK(age_of_ada() == 36);
  wait_for_children_to_end();
}

TEST_CASE("the README's transfer example sums 64 MiB in another process", "[integration][readme]") {
  CHECK(sum_in_an_isolate() == (std::uint64_t{64} << 20));
  wait_for_children_to_end();
}

TEST_CASE("the README's pool example counts words on two runners", "[integration][readme]") {
  const std::vector<std::string> documents{"one", "two words", "", "and now three", " spaced  out "};
  CHECK(words_per_document(documents) == std::vector<std::size_t>{1, 2, 0, 3, 2});
  wait_for_children_to_end();
}

TEST_CASE("the README's worker binary example shouts in a pool of worker binaries",
          "[integration][readme]") {
  CHECK(shout_in_worker_binaries(ISOLATED_README_WORKER_BINARY, {"hello", "pool"}) ==
        std::vector<std::string>{"HELLO!", "POOL!"});
  wait_for_children_to_end();
}

TEST_CASE("the README's ISOLATED_TEST_CASE example passes as a test program of its own",
          "[integration][readme]") {
  const auto run = isolated::test::run_program(ISOLATED_README_TEST_PROGRAM, {},
                                               isolated::test::deadline_of(std::chrono::seconds(30)));
  INFO(run.output);
  REQUIRE(run.status);
  CHECK((WIFEXITED(*run.status) && WEXITSTATUS(*run.status) == 0));
  CHECK(run.output.find("All tests passed (2 assertions in 1 test case)") != std::string::npos);
}

TEST_CASE("the README shows the examples word for word", "[unit][readme]") {
  const std::string source = read_file(ISOLATED_SOURCE_DIR "/tests/examples/readme_examples.cpp");
  const std::string worker =
      read_file(ISOLATED_SOURCE_DIR "/tests/examples/readme_worker_binary.cpp");
  const std::string readme = read_file(ISOLATED_SOURCE_DIR "/README.md");
  for (const char* name : {"spawn", "compute", "transfer", "pool", "worker binary host"}) {
    INFO("example " << name);
    CHECK(readme.find(example(source, name)) != std::string::npos);
  }
  CHECK(readme.find(example(worker, "worker binary")) != std::string::npos);
  const std::string trial =
      read_file(ISOLATED_SOURCE_DIR "/tests/examples/readme_testing_example.cpp");
  CHECK(readme.find(example(trial, "run_isolated")) != std::string::npos);
  const std::string test_case =
      read_file(ISOLATED_SOURCE_DIR "/tests/examples/readme_isolated_test_case.cpp");
  CHECK(readme.find(example(test_case, "isolated test case")) != std::string::npos);
}
