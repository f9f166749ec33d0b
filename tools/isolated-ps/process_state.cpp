#include "process_state.hpp"

#include "common/src/os/syscall.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace isolated::ps {

ProcessState process_state(int pid) {
  if (!detail::process_exists(pid)) return ProcessState::gone;
  // /proc/<pid>/stat is "pid (command) state ppid ...": the fields are counted
  // from the last ')', since the command may contain parentheses and spaces.
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return ProcessState::running;  // raced with its end, or no /proc
  const auto close = line.rfind(')');
  if (close == std::string::npos) return ProcessState::running;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 18 || fields[0] != "Z") return ProcessState::running;
  // A leader whose main thread called pthread_exit shows 'Z' while its other
  // threads still run; num_threads (field 20 of stat) tells them apart.
  return fields[17] == "1" || fields[17] == "0" ? ProcessState::zombie : ProcessState::running;
}

}  // namespace isolated::ps
