// Filled by the isolate issue's tests.
#include <catch2/catch.hpp>
