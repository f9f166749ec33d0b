#include "persons.hpp"

#include <nlohmann/json.hpp>

namespace demo {

std::string make_persons_json(std::size_t count) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < count; ++i) {
    list.push_back({{"name", "Person " + std::to_string(i)},
                    {"age", 18 + static_cast<int>(i * 7919 % 80)},
                    {"email", "person" + std::to_string(i) + "@example.org"},
                    {"tags", {"demo", "isolate", "json"}}});
  }
  return list.dump();
}

std::vector<Person> decode_persons(std::string json) {
  const auto list = nlohmann::json::parse(json);
  std::vector<Person> persons;
  persons.reserve(list.size());
  for (const auto& item : list) {
    persons.push_back(Person{item.at("name").get<std::string>(), item.at("age").get<int>(),
                             item.at("email").get<std::string>()});
  }
  return persons;
}

std::vector<Person> decode_persons_then_crash(std::string json) {
  auto persons = decode_persons(std::move(json));
  persons.resize(persons.size() / 2);
  volatile int* broken = nullptr;
  *broken = static_cast<int>(persons.size());  // SIGSEGV, mid-task
  return persons;
}

}  // namespace demo
