// The doctest runner for ewx's unit tests (run through ctest, one ctest entry per test case).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
