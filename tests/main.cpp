// The doctest runner for ewx's unit tests (run through ctest, one ctest entry per test case). The servers
// the gateway tests start log at warning level and above only, so a failure's output is the failure.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  return doctest::Context(argc, argv).run();
}
