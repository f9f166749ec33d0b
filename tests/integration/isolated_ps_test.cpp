// isolated-ps, the built program, run against real isolates: it lists a tree
// of isolates with their debug names, parents and queued messages; --gc
// removes what a SIGKILLed root left and nothing of a live session; and a
// corrupt or hostile doorbell neither crashes it nor goes unreported.
//
// Every wait has a deadline (scaled, support/deadlines.hpp); every process
// and segment a test makes is gone when it returns, also when it fails: the
// guards below see to that.
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"
#include "common/src/shm/segment.hpp"
#include "common/src/transport/doorbell.hpp"
#include "support/child_program.hpp"
#include "support/deadlines.hpp"
#include "support/isolate_children.hpp"

#include <isolated/isolated.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace isolated;
using namespace std::chrono_literals;

namespace {

// ------------------------------------------------------------------ helpers

using isolated::test::deadline_of;
using isolated::test::eventually;

bool segment_exists(const std::string& name) {
  return std::filesystem::exists("/dev/shm" + name);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The state letter of /proc/<pid>/stat ('T' for stopped), or 0.
char process_state_letter(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return 0;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : 0;
}

// Runs the built isolated-ps; REQUIREs that it ended on its own with code 0
// (under ASan a memory error aborts it).
std::string run_isolated_ps(const std::vector<std::string>& arguments = {}) {
  const auto run = test::run_program(ISOLATED_PS_PROGRAM, arguments, deadline_of(20s));
  INFO("isolated-ps said:\n" << run.output);
  REQUIRE(run.status);
  REQUIRE(WIFEXITED(*run.status));
  REQUIRE(WEXITSTATUS(*run.status) == 0);
  return run.output;
}

// A row of the table: the columns before the name, and the name with its
// indentation as printed.
struct Row {
  std::vector<std::string> columns;  // PID PPID ROOT STATE LANES QUEUED BYTES
  std::string name;                  // with its tree marker, e.g. "\\_ ps-leaf"
  std::size_t name_column = 0;       // where the debug name itself starts
  std::size_t line = 0;
};

std::vector<Row> rows_of_pid(const std::string& output, int pid) {
  std::vector<Row> rows;
  std::istringstream lines(output);
  std::size_t line_number = 0;
  for (std::string line; std::getline(lines, line); ++line_number) {
    std::istringstream words(line);
    Row row;
    for (int i = 0; i < 7; ++i) {
      std::string word;
      if (!(words >> word)) break;
      row.columns.push_back(word);
    }
    if (row.columns.size() != 7 || row.columns[0] != std::to_string(pid)) continue;
    const auto tail = line.find_first_not_of(' ', static_cast<std::size_t>(words.tellg()));
    if (tail == std::string::npos) continue;
    row.name = line.substr(tail);
    row.name_column = line.find_first_not_of("\\_ ", tail);
    row.line = line_number;
    rows.push_back(row);
  }
  return rows;
}

// Kills, on the way out of a failing test, an isolate that this process
// started (the library's supervisor reaps it) or one re-parented to it (the
// suite's main is a subreaper; then it is reaped here).
struct KillOnExit {
  int pid = 0;
  bool reap = false;
  ~KillOnExit() {
    if (pid <= 0 || ::kill(pid, 0) != 0) return;
    ::kill(pid, SIGKILL);
    eventually([&] {
      if (reap) ::waitpid(pid, nullptr, WNOHANG);
      return ::kill(pid, 0) != 0;
    });
  }
};

// Removes a session's segments on the way out, if a test failed before
// isolated-ps --gc did.
struct UnlinkSessionOnExit {
  int root_pid = 0;
  ~UnlinkSessionOnExit() {
    if (root_pid > 0) detail::unlink_session_segments(root_pid);
  }
};

// ------------------------------------------------- a tree of three isolates

// The grandchild: tells its parent where to write, then takes messages until nil.
void ps_leaf(SendPort to_middle) {
  ReceivePort inbox;
  to_middle.send(inbox.send_port());
  for (const Message& message : inbox.messages()) {
    if (message.is<std::nullptr_t>()) break;
  }
}

// The child: spawns the leaf, tells the test both pids and the leaf's port,
// and returns once the leaf has ended.
void ps_middle(SendPort to_test) {
  ReceivePort from_leaf;
  ReceivePort leaf_exits;
  SpawnOptions options;
  options.debug_name = "ps-leaf";
  options.on_exit = leaf_exits.send_port();
  const Isolate leaf = Isolate::spawn(&ps_leaf, from_leaf.send_port(), options);
  const auto leaf_port = from_leaf.receive().as<SendPort>();
  to_test.send(std::tuple<int, int, SendPort>(static_cast<int>(::getpid()), leaf.pid(), leaf_port));
  leaf_exits.receive();
}

// ------------------------------------------------------- hostile doorbells

// A segment with the name form of an inbox of this session and `bytes` as
// its content, unlinked when the test ends.
struct RawSegment {
  std::string name = detail::make_segment_name(detail::SegmentKind::inbox);
  explicit RawSegment(const std::vector<std::byte>& bytes) {
    const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    const auto size = static_cast<ssize_t>(bytes.size());
    const bool written = bytes.empty() || ::write(fd, bytes.data(), bytes.size()) == size;
    ::close(fd);
    if (!written) ::shm_unlink(name.c_str());  // no destructor runs if the constructor fails
    REQUIRE(written);
  }
  RawSegment(const RawSegment&) = delete;
  RawSegment& operator=(const RawSegment&) = delete;
  ~RawSegment() { ::shm_unlink(name.c_str()); }
};

// A doorbell as its owner lays it out, in a segment of this session; the test
// then spoils what it wants. The Segment unlinks its name when it goes.
struct LaidOutDoorbell {
  detail::Segment segment;
  detail::DoorbellHeader* header = nullptr;
  explicit LaidOutDoorbell(std::uint32_t slots = 4)
      : segment(detail::Segment::create(detail::SegmentKind::inbox, detail::doorbell_bytes(slots))),
        header(detail::initialize_doorbell(segment.data(), slots, static_cast<int>(::getpid()))) {
    header->state.store(static_cast<std::uint32_t>(detail::InboxState::alive));
  }
  const std::string& name() const { return segment.name(); }
};

void set_slot(detail::LaneSlot& slot, detail::SlotState state, int pid, std::uint32_t name_length,
              const std::string& name = {}) {
  slot.state.store(static_cast<std::uint32_t>(state));
  slot.producer_pid = pid;
  slot.name_length = name_length;
  std::memcpy(slot.lane_name, name.data(), std::min(name.size(), sizeof slot.lane_name));
}

}  // namespace

// =================================================================== tests

TEST_CASE("isolated-ps lists a tree of isolates with debug names, parents and queued messages",
          "[integration][isolated-ps]") {
  ReceivePort from_middle;
  ReceivePort middle_exits;
  SpawnOptions options;
  options.debug_name = "ps-middle";
  options.on_exit = middle_exits.send_port();
  Isolate middle = Isolate::spawn(&ps_middle, from_middle.send_port(), options);

  KillOnExit middle_guard{middle.pid()};
  KillOnExit leaf_guard;
  leaf_guard.reap = true;  // if the middle dies first, the leaf is re-parented to us
  const auto hello = from_middle.receive_for(deadline_of(10s));
  REQUIRE(hello);
  const auto [middle_pid, leaf_pid, leaf_port] = hello->as<std::tuple<int, int, SendPort>>();
  leaf_guard.pid = leaf_pid;
  REQUIRE(middle_pid == middle.pid());
  const int root_pid = static_cast<int>(::getpid());

  // Three messages wait in a lane of the stopped leaf. Its consumer never
  // attached that lane, so its name still exists and any user can count it.
  REQUIRE(::kill(leaf_pid, SIGSTOP) == 0);
  REQUIRE(eventually([&] { return process_state_letter(leaf_pid) == 'T'; }));
  for (int i = 0; i < 3; ++i) REQUIRE(leaf_port.send(std::string("waiting")));
  std::string output;
  try {
    output = run_isolated_ps();
  } catch (...) {
    ::kill(leaf_pid, SIGCONT);
    throw;
  }
  REQUIRE(::kill(leaf_pid, SIGCONT) == 0);
  INFO("isolated-ps said:\n" << output);

  const auto root_rows = rows_of_pid(output, root_pid);
  const auto middle_rows = rows_of_pid(output, middle_pid);
  const auto leaf_rows = rows_of_pid(output, leaf_pid);
  REQUIRE(root_rows.size() == 1);
  REQUIRE(middle_rows.size() == 1);
  REQUIRE(leaf_rows.size() == 1);
  const Row& root = root_rows[0];
  const Row& child = middle_rows[0];
  const Row& grandchild = leaf_rows[0];

  CHECK(root.name == "main");
  CHECK(root.columns[1] == "-");
  CHECK(root.columns[2] == std::to_string(root_pid));

  CHECK(child.name == "\\_ ps-middle");
  CHECK(child.columns[1] == std::to_string(root_pid));
  CHECK(child.columns[2] == std::to_string(root_pid));
  CHECK(child.columns[3] == "alive");

  CHECK(grandchild.name == "\\_ ps-leaf");
  CHECK(grandchild.columns[1] == std::to_string(middle_pid));
  CHECK(grandchild.columns[2] == std::to_string(root_pid));
  CHECK(grandchild.columns[4] != "0");  // our lane at least
  // Exact when every lane of the leaf could be read; "3+" when a lane its
  // consumer attached is closed to this user (no CAP_SYS_ADMIN).
  CHECK((grandchild.columns[5] == "3" || grandchild.columns[5] == "3+"));

  // Tree order: each under its parent, one step further in.
  CHECK(root.line < child.line);
  CHECK(child.line < grandchild.line);
  CHECK(root.name_column < child.name_column);
  CHECK(child.name_column < grandchild.name_column);

  // The leaf takes its three messages and nil and returns; then the middle returns.
  REQUIRE(leaf_port.send(nullptr));
  REQUIRE(middle_exits.receive_for(deadline_of(10s)));
  CHECK(eventually([&] { return ::kill(leaf_pid, 0) != 0; }));
  CHECK(eventually([&] { return ::kill(middle_pid, 0) != 0; }));
}

TEST_CASE("isolated-ps --gc removes every segment of a SIGKILLed root and none of a live session",
          "[integration][isolated-ps]") {
  // The live session: this process, with its inbox and a transferable block.
  auto block = TransferableTypedData::allocate(4096);
  auto live_before = detail::list_session_segments(detail::session_root_pid());
  std::sort(live_before.begin(), live_before.end());
  REQUIRE(live_before.size() >= 2);

  auto root = test::ChildProgram::start(ISOLATED_PS_ROOT_PROGRAM, {});
  UnlinkSessionOnExit unlink_guard{root.pid()};
  KillOnExit worker_guard;
  worker_guard.reap = true;  // its root dies first: the worker is re-parented to us
  const auto line = root.read_line(deadline_of(20s));
  REQUIRE(line);
  INFO("the root program said: " << *line);
  int root_pid = 0;
  int worker_pid = 0;
  char root_inbox[80] = {};
  char worker_inbox[80] = {};
  REQUIRE(std::sscanf(line->c_str(), "ready %d %d %79s %79s", &root_pid, &worker_pid, root_inbox,
                      worker_inbox) == 4);
  REQUIRE(root_pid == root.pid());
  worker_guard.pid = worker_pid;

  REQUIRE(::kill(root_pid, SIGKILL) == 0);
  // The worker dies by its death signal, as an orphan of ours: reap it.
  REQUIRE(eventually([&] { return ::waitpid(worker_pid, nullptr, WNOHANG) == worker_pid; }));
  // Its zygote and spare are orphans too.
  CHECK(test::reap_orphans({root_pid}, deadline_of(10s)));
  // Right after a SIGKILL the root is often a zombie that its parent has not
  // reaped yet: it has ended all the same. Both ways are tried.
  const bool root_reaped = GENERATE(false, true);
  INFO("the root was " << (root_reaped ? "reaped" : "a zombie") << " when --gc ran");
  if (root_reaped) {
    const auto status = root.wait(deadline_of(10s));
    REQUIRE(status);
    CHECK((WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL));
  } else {
    REQUIRE(eventually([&] { return process_state_letter(root_pid) == 'Z'; }));
  }

  // Nobody was left to clean up: the session's segments are all still there.
  const auto left = detail::list_session_segments(root_pid);
  CHECK(segment_exists(root_inbox));
  CHECK(segment_exists(worker_inbox));
  CHECK(std::any_of(left.begin(), left.end(), [](const std::string& name) {
    return detail::parse_segment_name(name)->kind == detail::SegmentKind::transferable;
  }));

  const std::string output = run_isolated_ps({"--gc"});
  INFO("isolated-ps --gc said:\n" << output);
  for (const auto& name : left) {
    CHECK(contains(output, "removed " + name + "\n"));
    CHECK_FALSE(segment_exists(name));
  }
  CHECK(detail::list_session_segments(root_pid).empty());

  auto live_after = detail::list_session_segments(detail::session_root_pid());
  std::sort(live_after.begin(), live_after.end());
  CHECK(live_after == live_before);
  for (const auto& name : live_before) CHECK_FALSE(contains(output, name));
  CHECK(block.bytes().size() == 4096);
}

TEST_CASE("isolated-ps reports corrupt doorbells and survives hostile ones",
          "[integration][isolated-ps]") {
  using detail::SlotState;
  const int me = static_cast<int>(::getpid());

  // Not doorbells at all.
  const RawSegment empty(std::vector<std::byte>{});
  const RawSegment truncated(std::vector<std::byte>(100, std::byte{0x5a}));
  std::vector<std::byte> noise(detail::doorbell_bytes(4));
  for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<std::byte>(i * 131 + 7);
  const RawSegment garbage(noise);

  // Doorbells with one field spoiled each.
  LaidOutDoorbell bad_version;
  bad_version.header->layout_version = 99;
  LaidOutDoorbell too_many_slots;
  too_many_slots.header->slot_count = detail::kMaxSlotCount;  // the segment holds 4
  LaidOutDoorbell long_name;
  long_name.header->debug_name_length = 100000;
  LaidOutDoorbell negative_pid;
  negative_pid.header->owner_pid = -5;
  LaidOutDoorbell unknown_state;
  unknown_state.header->state.store(77);
  LaidOutDoorbell other_root;
  other_root.header->root_pid = me + 1;  // its name says this session

  // A well-formed header whose owner (this process) is alive, with a name
  // made of escape sequences and slots that producers could have spoiled.
  LaidOutDoorbell hostile;
  const std::string evil_name = "\x1b[2J\x1b[31mevil\\";
  std::memcpy(hostile.header->debug_name, evil_name.data(), evil_name.size());
  hostile.header->debug_name_length = static_cast<std::uint32_t>(evil_name.size());
  detail::LaneSlot* slots = detail::doorbell_slots(hostile.header);
  set_slot(slots[0], static_cast<SlotState>(77), me, 0);
  set_slot(slots[1], SlotState::ready, me, 200);
  const std::string missing_lane = detail::make_segment_name(detail::SegmentKind::lane);
  set_slot(slots[2], SlotState::attached, me, static_cast<std::uint32_t>(missing_lane.size()),
           missing_lane);
  hostile.header->slots_used.store(3);  // as producers that claimed them would

  const std::string output = run_isolated_ps();
  INFO("isolated-ps said:\n" << output);
  for (const std::string& name :
       {empty.name, truncated.name, garbage.name, bad_version.name(), too_many_slots.name(),
        long_name.name(), negative_pid.name(), unknown_state.name(), other_root.name()}) {
    CHECK(contains(output, "corrupt " + name + ": "));
  }
  CHECK(contains(output, "truncated"));
  CHECK(contains(output, "layout version 99"));
  CHECK_FALSE(contains(output, "corrupt " + hostile.name()));

  // The hostile doorbell is listed, its name escaped, its bad slots counted
  // as such: nothing of it reaches the terminal raw.
  CHECK(contains(output, "\\x1b[2J\\x1b[31mevil\\x5c"));
  CHECK_FALSE(contains(output, "\x1b"));
  CHECK(contains(output, "2 lane(s) not counted because their slot or ring does not hold up"));
  CHECK(contains(output, "attached lane(s) could not be read"));  // the missing lane, at least
}
