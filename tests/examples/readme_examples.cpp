// The README's examples, compiled and run by readme_examples_test.cpp, which
// also checks that the README shows each one word for word (the text between
// the "example:" and "end" markers).
#include "readme_examples.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

// example: spawn
#include <isolated/isolated.hpp>

// Runs in a worker process: answers every name it is sent, until nil.
void greeter(isolated::SendPort reply) {
  isolated::ReceivePort names;
  reply.send(names.send_port());  // first, tell the parent where to write
  for (const isolated::Message& name : names.messages()) {
    if (name.is<std::nullptr_t>()) break;
    reply.send("hello, " + name.as<std::string>());
  }
}

std::string greet_from_an_isolate() {
  isolated::ReceivePort port;
  isolated::Isolate::spawn(&greeter, port.send_port());
  auto greeter_port = port.receive().as<isolated::SendPort>();
  greeter_port.send("isolate");
  auto greeting = port.receive().as<std::string>();
  greeter_port.send(nullptr);  // the greeter returns, its process ends
  return greeting;
}
// end

// example: compute
struct Person {
  std::string name;
  int age = 0;
  MSGPACK_DEFINE(name, age)
};

Person parse_person(const std::string& line) {  // "Ada,36"
  const auto comma = line.find(',');
  return Person{line.substr(0, comma), std::stoi(line.substr(comma + 1))};
}

int age_of_ada() {
  std::future<Person> ada = isolated::compute(&parse_person, std::string("Ada,36"));
  return ada.get().age;  // or the exception thrown in the worker, as RemoteError
}
// end

// example: transfer
std::uint64_t sum_of_bytes(isolated::TransferableTypedData block) {
  const isolated::ByteBuffer bytes = block.materialize();  // a view: O(1), no copy
  return std::accumulate(bytes.data(), bytes.data() + bytes.size(), std::uint64_t{0});
}

std::uint64_t sum_in_an_isolate() {
  auto block = isolated::TransferableTypedData::allocate(64 << 20);  // in shared memory
  std::fill(block.bytes().begin(), block.bytes().end(), 1);          // written in place
  return isolated::compute(&sum_of_bytes, std::move(block)).get();   // never copied
}
// end

// example: pool
std::size_t count_words(const std::string& text) {
  std::size_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    if (c != ' ' && !in_word) ++words;
    in_word = c != ' ';
  }
  return words;
}

std::vector<std::size_t> words_per_document(const std::vector<std::string>& documents) {
  auto pool = isolated::LoadBalancer::create(2, [] { return isolated::IsolateRunner::spawn(); });
  std::vector<std::size_t> counts;
  // The article's asyncMap: results in input order, a few tasks in the air.
  for (std::size_t words : pool.map(documents, &count_words)) counts.push_back(words);
  return counts;
}
// end

// example: worker binary host
std::vector<std::string> shout_in_worker_binaries(const std::string& worker_binary,
                                                  const std::vector<std::string>& texts) {
  auto pool = isolated::LoadBalancer::create(
      2, [&] { return isolated::IsolateRunner::spawn_uri(worker_binary); });
  std::vector<std::future<std::string>> shouts;
  for (const std::string& text : texts) shouts.push_back(pool.run<std::string>("shout", text));
  std::vector<std::string> results;
  for (auto& shout : shouts) results.push_back(shout.get());
  return results;
}
// end
