// The main of the transport suites: no isolate runtime, only fork.
#include "suite.hpp"

int main(int argc, char** argv) { return isolated::test::run_suite(argc, argv); }
