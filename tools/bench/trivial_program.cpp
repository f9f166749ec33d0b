// The peer of `isolated-bench spawn`: a trivial dynamically linked C++
// program (libstdc++, libm, libgcc_s and libc mapped and relocated), whose
// posix_spawn + wait is what the spawn of an isolate is measured against.
#include <string>

int main(int argc, char** argv) {
  const std::string name = argc > 0 ? argv[0] : "";
  return name.empty() ? 1 : 0;
}
