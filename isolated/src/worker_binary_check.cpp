#include "worker_binary_check.hpp"

#include <isolated/error.hpp>

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

namespace isolated::detail {
namespace {

// The section ISOLATED_WORKER_MAIN puts its marker in (isolated/worker.hpp).
constexpr std::string_view kMarkerSection = ".isolated_worker";
constexpr std::size_t kMaxSectionNamesBytes = 1 << 20;

class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool is_open() const { return fd_ >= 0; }
  // Reads exactly `size` bytes at `offset`; false if the file is shorter.
  bool read_at(std::uint64_t offset, std::size_t size, void* out) const {
    return ::pread(fd_, out, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size);
  }

 private:
  int fd_;
};

// Whether the ELF file has a section named kMarkerSection. Every offset and
// size is checked against what can be read.
bool has_marker_section(const File& file, const Elf64_Ehdr& header) {
  if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shstrndx >= header.e_shnum) {
    return false;
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!file.read_at(header.e_shoff, sections.size() * sizeof(Elf64_Shdr), sections.data())) {
    return false;
  }
  const Elf64_Shdr& names_section = sections[header.e_shstrndx];
  if (names_section.sh_size == 0 || names_section.sh_size > kMaxSectionNamesBytes) return false;
  std::vector<char> names(names_section.sh_size);
  if (!file.read_at(names_section.sh_offset, names.size(), names.data())) return false;
  names.back() = '\0';
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_name < names.size() && kMarkerSection == &names[section.sh_name]) return true;
  }
  return false;
}

}  // namespace

void check_worker_binary(const std::string& path) {
  const auto refuse = [&](const std::string& why) {
    throw IsolateSpawnError("cannot spawn \"" + path + "\": " + why);
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) refuse(std::strerror(errno));
  if (!S_ISREG(info.st_mode)) refuse("it is not a regular file");
  if (::access(path.c_str(), X_OK) != 0) refuse("it is not executable (chmod +x it)");
  const File file(path);
  if (!file.is_open()) refuse(std::strerror(errno));
  Elf64_Ehdr header{};
  if (!file.read_at(0, sizeof header, &header) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
    refuse("it is not an ELF executable of this machine");
  }
  if (!has_marker_section(file, header)) {
    refuse("it is not a worker binary (a program built with ISOLATED_WORKER_MAIN and linked "
           "with isolated::worker)");
  }
}

}  // namespace isolated::detail
