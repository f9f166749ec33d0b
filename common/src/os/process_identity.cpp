#include "process_identity.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace isolated::detail {
namespace {

struct ProcStat {
  char state = '?';
  std::uint64_t start_time = 0;
};

std::optional<ProcStat> read_proc_stat(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!file || !std::getline(file, line)) return std::nullopt;
  // The command name may hold spaces and parentheses: fields resume after
  // the last ')'. Then: state (3), ... starttime (22).
  const auto name_end = line.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(name_end + 1));
  ProcStat stat;
  fields >> stat.state;
  std::string skipped;
  for (int field = 4; field < 22; ++field) fields >> skipped;
  if (!(fields >> stat.start_time)) return std::nullopt;
  return stat;
}

}  // namespace

std::optional<ProcessIdentity> identify_process(int pid) {
  if (pid <= 0) return std::nullopt;
  const auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return ProcessIdentity{pid, stat->start_time};
}

bool process_alive(const ProcessIdentity& identity) {
  if (identity.pid <= 0) return false;
  const auto stat = read_proc_stat(identity.pid);
  return stat && stat->state != 'Z' && stat->state != 'X' &&
         stat->start_time == identity.start_time;
}

}  // namespace isolated::detail
