#include "scratch_directory.hpp"

#include <stdlib.h>  // mkdtemp (POSIX)

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

namespace demo {

ScratchDirectory::ScratchDirectory(const std::string& prefix) {
  // mkdtemp picks a name nobody else uses and creates it atomically: two demos
  // running at once never share a directory.
  std::string name = "/tmp/" + prefix + "XXXXXX";
  if (::mkdtemp(name.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + name);
  }
  path_ = std::move(name);
}

ScratchDirectory::~ScratchDirectory() {
  // A destructor must not throw: a failure to clean up is reported, not raised.
  std::error_code error;
  std::filesystem::remove_all(path_, error);
  if (error) {
    std::fprintf(stderr, "could not remove %s: %s\n", path_.c_str(), error.message().c_str());
  }
}

}  // namespace demo
