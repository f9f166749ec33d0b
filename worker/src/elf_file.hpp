// Reading an ELF file of this machine's flavour whose contents are not
// trusted: every offset and size is checked against the file before use.
// Used to name a crashed worker's frames (ElfSymbols), and to tell a worker
// binary from any other program before spawn_uri starts it.
#pragma once

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isolated::detail {

class ElfFile {
 public:
  // The file open on `fd` (not owned) of `file_size` bytes; nothing if it is
  // not an ELF file of this machine's class and byte order, or its section
  // table is not all in the file.
  static std::optional<ElfFile> read(int fd, std::uint64_t file_size);

  const std::vector<ElfW(Shdr)>& sections() const noexcept { return sections_; }

  // Reads exactly `size` bytes at `offset`; false if they are not all in the
  // file.
  bool read_at(std::uint64_t offset, std::uint64_t size, void* out) const;

  // Whether a section is named `name`.
  bool has_section(std::string_view name) const;

 private:
  ElfFile(int fd, std::uint64_t file_size) : fd_(fd), file_size_(file_size) {}

  int fd_;
  std::uint64_t file_size_;
  std::vector<ElfW(Shdr)> sections_;
  std::size_t names_section_ = 0;  // e_shstrndx
};

// The function symbols of one ELF file: its .symtab, or .dynsym if stripped.
class ElfSymbols {
 public:
  // The symbols of the file at `path`; none if it cannot be read. Only
  // absolute paths (a relative one would resolve in our directory), only
  // regular files (a FIFO or a device named by a crashed child must not block
  // or feed us), never a controlling terminal.
  static ElfSymbols load(const std::string& path);

  // The function containing `address` (in the file's own addresses) and how
  // far into it; nothing if no sized function symbol covers it.
  std::optional<std::pair<std::string_view, std::uint64_t>> find(std::uint64_t address) const;

 private:
  struct Function {
    std::uint64_t start;
    std::uint64_t size;
    std::size_t name;  // offset of a NUL-terminated name in names_
  };

  void read_tables(int fd, std::uint64_t file_size);
  bool read_table(const ElfFile& file, const ElfW(Shdr) & table);

  std::vector<Function> functions_;
  std::string names_;
};

}  // namespace isolated::detail
