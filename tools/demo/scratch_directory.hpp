// A directory under /tmp that exists for one scope: made with a unique name,
// removed with everything in it when the scope ends, also when it ends by an
// exception, so that a failed demo leaves no megabytes of images behind.
#pragma once

#include <string>

namespace demo {

class ScratchDirectory {
 public:
  // Creates /tmp/<prefix>XXXXXX. Throws std::system_error.
  explicit ScratchDirectory(const std::string& prefix);
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace demo
