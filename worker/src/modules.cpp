#include "modules.hpp"

#include <isolated/error.hpp>

#include <link.h>

#include <cstdio>

namespace isolated::detail {
namespace {

struct Search {
  std::uintptr_t address = 0;       // locate: the address to find
  const std::string* name = nullptr;  // resolve: the module to find
  std::uint64_t offset = 0;
  bool found = false;
  CodeAddress result;
  std::uintptr_t resolved = 0;
};

// Whether [bias + vaddr, bias + vaddr + memsz) of an executable PT_LOAD
// segment of `info` contains `address`.
bool in_code(const dl_phdr_info* info, std::uintptr_t address) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || (header.p_flags & PF_X) == 0) continue;
    const std::uintptr_t start = info->dlpi_addr + header.p_vaddr;
    if (address >= start && address < start + header.p_memsz) return true;
  }
  return false;
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto& search = *static_cast<Search*>(data);
  const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (search.name == nullptr) {
    if (!in_code(info, search.address)) return 0;
    search.result = CodeAddress{name, search.address - info->dlpi_addr};
  } else {
    // The first module without a name is the main program.
    if (name != *search.name) return 0;
    const std::uintptr_t address = info->dlpi_addr + search.offset;
    if (!in_code(info, address)) return 0;
    search.resolved = address;
  }
  search.found = true;
  return 1;
}

}  // namespace

CodeAddress locate_code(const void* address) {
  Search search;
  search.address = reinterpret_cast<std::uintptr_t>(address);
  dl_iterate_phdr(&visit, &search);
  if (!search.found) {
    char text[32];
    std::snprintf(text, sizeof text, "%p", address);
    throw UsageError(std::string("no loaded module contains the code address ") + text);
  }
  return search.result;
}

const void* resolve_code(const CodeAddress& code) {
  Search search;
  search.name = &code.module;
  search.offset = code.offset;
  dl_iterate_phdr(&visit, &search);
  if (!search.found) {
    throw Error("entry not found: offset " + std::to_string(code.offset) + " in module '" +
                (code.module.empty() ? std::string("the main program") : code.module) +
                "' is not code of this process (was the worker built from another binary?)");
  }
  return reinterpret_cast<const void*>(search.resolved);
}

}  // namespace isolated::detail
