#include "elf_file.hpp"

#include "common/src/os/syscall.hpp"
#include "common/src/os/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace isolated::detail {
namespace {

constexpr unsigned char kNativeClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char kNativeData =
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
constexpr std::uint64_t kMaxSectionNamesBytes = 1u << 20;
constexpr std::uint64_t kMaxTableBytes = 256u << 20;  // a sane bound for one symbol or string table

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

// ---------------------------------------------------------------- symbols

ElfSymbols ElfSymbols::load(const std::string& path) {
  ElfSymbols symbols;
  if (path.empty() || path.front() != '/') return symbols;
  const UniqueFd fd(retry_on_eintr(
      [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); }));
  if (!fd) return symbols;
  struct stat status {};
  if (::fstat(fd.get(), &status) == 0 && S_ISREG(status.st_mode)) {
    symbols.read_tables(fd.get(), static_cast<std::uint64_t>(status.st_size));
  }
  return symbols;
}

std::optional<std::pair<std::string_view, std::uint64_t>> ElfSymbols::find(
    std::uint64_t address) const {
  const Function* best = nullptr;
  for (const Function& function : functions_) {
    if (function.start <= address && address - function.start < function.size &&
        (best == nullptr || function.size < best->size)) {
      best = &function;
    }
  }
  if (best == nullptr) return std::nullopt;
  return std::pair{std::string_view(names_.data() + best->name), address - best->start};
}

// Module files are read in this process's own ELF flavour: a crashed child ran
// on this machine, so its modules have it too.
void ElfSymbols::read_tables(int fd, std::uint64_t file_size) {
  const auto file = ElfFile::read(fd, file_size);
  if (!file) return;
  for (const ElfW(Word) type : {ElfW(Word){SHT_SYMTAB}, ElfW(Word){SHT_DYNSYM}}) {
    for (const ElfW(Shdr) & table : file->sections()) {
      if (table.sh_type == type && read_table(*file, table)) return;
    }
  }
}

bool ElfSymbols::read_table(const ElfFile& file, const ElfW(Shdr) & table) {
  const auto& sections = file.sections();
  if (table.sh_entsize != sizeof(ElfW(Sym)) || table.sh_size > kMaxTableBytes ||
      table.sh_link >= sections.size()) {
    return false;
  }
  const ElfW(Shdr)& strings = sections[table.sh_link];
  if (strings.sh_type != SHT_STRTAB || strings.sh_size == 0 || strings.sh_size > kMaxTableBytes) {
    return false;
  }
  std::vector<ElfW(Sym)> symbols(table.sh_size / sizeof(ElfW(Sym)));
  names_.resize(strings.sh_size);
  if (!file.read_at(table.sh_offset, symbols.size() * sizeof(ElfW(Sym)), symbols.data()) ||
      !file.read_at(strings.sh_offset, names_.size(), names_.data())) {
    return false;
  }
  names_.back() = '\0';  // every name now ends inside the table
  for (const ElfW(Sym) & symbol : symbols) {
    const auto kind = ELF64_ST_TYPE(symbol.st_info);
    if ((kind != STT_FUNC && kind != STT_GNU_IFUNC) || symbol.st_shndx == SHN_UNDEF ||
        symbol.st_size == 0 || symbol.st_name >= names_.size()) {
      continue;
    }
    functions_.push_back({symbol.st_value, symbol.st_size, symbol.st_name});
  }
  return !functions_.empty();
}

}  // namespace isolated::detail
