#include "elf_file.hpp"

#include "common/src/os/syscall.hpp"

#include <unistd.h>

#include <cstring>
#include <string>

namespace isolated::detail {
namespace {

constexpr unsigned char kNativeClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char kNativeData =
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
constexpr std::uint64_t kMaxSectionNamesBytes = 1u << 20;

}  // namespace

std::optional<ElfFile> ElfFile::read(int fd, std::uint64_t file_size) {
  ElfFile file(fd, file_size);
  ElfW(Ehdr) header{};
  if (!file.read_at(0, sizeof header, &header) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != kNativeClass ||
      header.e_ident[EI_DATA] != kNativeData || header.e_shentsize != sizeof(ElfW(Shdr)) ||
      header.e_shnum == 0) {
    return std::nullopt;
  }
  file.sections_.resize(header.e_shnum);
  if (!file.read_at(header.e_shoff, file.sections_.size() * sizeof(ElfW(Shdr)),
                    file.sections_.data())) {
    return std::nullopt;
  }
  file.names_section_ = header.e_shstrndx;
  return file;
}

bool ElfFile::read_at(std::uint64_t offset, std::uint64_t size, void* out) const {
  if (offset > file_size_ || size > file_size_ - offset) return false;
  auto* bytes = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t got = retry_on_eintr([&] {
      return ::pread(fd_, bytes, static_cast<std::size_t>(size), static_cast<off_t>(offset));
    });
    if (got <= 0) return false;
    bytes += got;
    offset += static_cast<std::uint64_t>(got);
    size -= static_cast<std::uint64_t>(got);
  }
  return true;
}

bool ElfFile::has_section(std::string_view name) const {
  if (names_section_ >= sections_.size()) return false;
  const ElfW(Shdr)& names_section = sections_[names_section_];
  if (names_section.sh_size == 0 || names_section.sh_size > kMaxSectionNamesBytes) return false;
  std::string names(names_section.sh_size, '\0');
  if (!read_at(names_section.sh_offset, names.size(), names.data())) return false;
  names.back() = '\0';  // every name now ends inside the table
  for (const ElfW(Shdr)& section : sections_) {
    if (section.sh_name < names.size() && name == names.c_str() + section.sh_name) return true;
  }
  return false;
}

}  // namespace isolated::detail
