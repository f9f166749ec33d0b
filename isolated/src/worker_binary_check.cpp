#include "worker_binary_check.hpp"

#include "common/src/os/syscall.hpp"
#include "common/src/os/unique_fd.hpp"
#include "worker/src/elf_file.hpp"

#include <isolated/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace isolated::detail {
namespace {

// The section ISOLATED_WORKER_MAIN puts its marker in (isolated/worker.hpp).
constexpr std::string_view kMarkerSection = ".isolated_worker";

}  // namespace

void check_worker_binary(const std::string& path) {
  const auto refuse = [&](const std::string& why) {
    throw IsolateSpawnError("cannot spawn \"" + path + "\": " + why);
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) refuse(std::strerror(errno));
  if (!S_ISREG(info.st_mode)) refuse("it is not a regular file");
  if (::access(path.c_str(), X_OK) != 0) refuse("it is not executable (chmod +x it)");
  const UniqueFd fd(retry_on_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
  if (!fd) refuse(std::strerror(errno));
  const auto file = ElfFile::read(fd.get(), static_cast<std::uint64_t>(info.st_size));
  const bool is_worker = file && file->has_section(kMarkerSection);
  if (!file) refuse("it is not an ELF executable of this machine");
  if (!is_worker) {
    refuse("it is not a worker binary (a program built with ISOLATED_WORKER_MAIN and linked "
           "with isolated::worker)");
  }
}

}  // namespace isolated::detail
