// The demo's workload, from the article: a JSON list of persons to decode.
#pragma once

#include <isolated/message.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace demo {

struct Person {
  std::string name;
  int age = 0;
  std::string email;
  MSGPACK_DEFINE(name, age, email)
};

// A JSON array of `count` persons, as an API would return it.
std::string make_persons_json(std::size_t count);

// Decodes the JSON (slow on purpose: it is the article's "costly thing").
std::vector<Person> decode_persons(std::string json);

// Decodes half of it, then dereferences a null pointer: a decoder with a bug.
std::vector<Person> decode_persons_then_crash(std::string json);

}  // namespace demo
