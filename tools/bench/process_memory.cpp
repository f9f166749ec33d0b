#include "process_memory.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace isolated::bench {
namespace {

// "Pss:   123 kB" -> 123.
double kib_of(const std::string& line) {
  std::istringstream fields(line.substr(line.find(':') + 1));
  double kib = 0;
  fields >> kib;
  return kib;
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

ProcessMemory process_memory(int pid, const std::string& binary) {
  const std::string base = "/proc/" + std::to_string(pid);
  ProcessMemory memory;
  std::ifstream rollup(base + "/smaps_rollup");
  if (!rollup) throw std::runtime_error("cannot read " + base + "/smaps_rollup");
  for (std::string line; std::getline(rollup, line);) {
    if (starts_with(line, "Pss:")) memory.pss_kib = kib_of(line);
    if (starts_with(line, "Pss_Anon:")) memory.anon_pss_kib = kib_of(line);
    if (starts_with(line, "Pss_Shmem:")) memory.shmem_pss_kib = kib_of(line);
  }
  // smaps: a header line per mapping ("start-end perms offset dev inode
  // path"), then its "Key: value kB" lines.
  std::ifstream smaps(base + "/smaps");
  if (!smaps) throw std::runtime_error("cannot read " + base + "/smaps");
  bool in_binary = false;
  for (std::string line; std::getline(smaps, line);) {
    const auto colon = line.find(':');
    const bool is_field = colon != std::string::npos && line.find(' ') > colon;
    if (!is_field) {
      const auto path = line.find('/');
      in_binary = path != std::string::npos && line.substr(path) == binary;
    } else if (in_binary && starts_with(line, "Pss:")) {
      memory.binary_pss_kib += kib_of(line);
    }
  }
  return memory;
}

}  // namespace isolated::bench
