// What a process costs in memory, from /proc/<pid>/smaps: its proportional
// set size (Pss: each page divided by the number of processes that map it),
// and the part of it that is the program's own binary file.
#pragma once

#include <string>

namespace isolated::bench {

struct ProcessMemory {
  double pss_kib = 0;         // all mappings, as smaps_rollup sums them
  double binary_pss_kib = 0;  // mappings of `binary` (its code, data read from the file)
  double anon_pss_kib = 0;    // heap, stacks, copied-on-write pages
  double shmem_pss_kib = 0;   // shared memory: inbox, lanes
  // Pss beyond the binary's pages.
  double beyond_binary_kib() const { return pss_kib - binary_pss_kib; }
};

// Throws std::runtime_error if the process's smaps cannot be read.
ProcessMemory process_memory(int pid, const std::string& binary);

}  // namespace isolated::bench
