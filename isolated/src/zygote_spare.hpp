// A spare: a child the zygote forked ahead of need, waiting for its boot
// record (zygote_protocol.hpp). It is a child of the spawner, not of the
// zygote (clone3 with CLONE_PARENT, zygote_process.cpp).
#pragma once

namespace isolated::detail {

// What a spare needs from the zygote it was cloned from.
struct SpareInheritance {
  int spawner_pid = 0;  // its parent, as the zygote's parent
  // The zygote's robust-futex list, which the kernel does not carry into a
  // clone and glibc's fork would have registered again.
  void* robust_list_head = nullptr;
  unsigned long robust_list_length = 0;
  // The name the program had before the zygote renamed itself.
  char process_name[16] = {};
};

// In the clone: puts right what glibc's fork would have (robust list),
// arranges to die with its parent, keeps no descriptor but stdin, stdout,
// stderr and `socket`, waits for the BootRequest on `socket` and runs the
// worker it names (run_worker). Ends the process if the socket closes first.
[[noreturn]] void run_spare(int socket, const SpareInheritance& inheritance);

}  // namespace isolated::detail
