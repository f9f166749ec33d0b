// The README's run_isolated example: a test case of the isolate suite, so
// it runs with the rest; readme_examples_test.cpp checks that the README
// shows it word for word (the text between the "example:" and "end" markers).

// example: run_isolated
#include <isolated/testing/catch2.hpp>

#include <csignal>
#include <cstdlib>
#include <string>

// Code under test: reads a port number. A number no port can have means a
// bug upstream, and then it aborts.
int parse_port(const std::string& text) {
  const int port = std::stoi(text);  // throws std::invalid_argument for "http"
  if (port <= 0 || port > 65535) std::abort();
  return port;
}

TEST_CASE("parse_port returns, throws or aborts, each in a process of its own") {
  using namespace isolated::testing;
  CHECK(run_isolated(&parse_port, std::string("8080")).result<int>() == 8080);
  CHECK_THAT(run_isolated(&parse_port, std::string("http")), Threw("invalid_argument"));
  ISOLATED_CHECK_CRASH(&parse_port, std::string("70000"), SIGABRT);
}
// end
