// The load generator's schedule (tools/request_schedule.hpp): request k falls due at start + k/R, each is
// counted as due from its own due time on and not a nanosecond before, and a load of R a second for S seconds
// is R * S requests, checked against the definition at rates that divide a second evenly and rates that do
// not, including a whole day at a million a second (past where 64-bit products overflow).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

#include "tools/request_schedule.hpp"

using ewx::RequestSchedule;
using Clock = RequestSchedule::Clock;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST_CASE("request schedule: each request is due from its own due time on, not one interval later") {
  const Clock::time_point start{seconds(1000)};
  for (const std::uint64_t rate : {1ull, 3ull, 7ull, 1000ull, 20'000ull, 100'000ull, 999'983ull}) {
    CAPTURE(rate);
    const RequestSchedule schedule(start, rate, start + seconds(10));
    CHECK(schedule.total() == 10 * rate);
    CHECK(schedule.due(0) == start);
    CHECK(schedule.due(rate) == start + seconds(1));
    CHECK(schedule.due_by(start - nanoseconds(1)) == 0);
    CHECK(schedule.due_by(start) == 1);
    for (std::uint64_t k = 1; k < std::min<std::uint64_t>(rate * 10, 5000); k += 1 + k / 7) {
      CAPTURE(k);
      // due(k) is k seconds / rate, rounded down to the nanosecond.
      CHECK(schedule.due(k) - start == nanoseconds(k * 1'000'000'000ull / rate));
      CHECK(schedule.due_by(schedule.due(k)) == k + 1);
      CHECK(schedule.due_by(schedule.due(k) - nanoseconds(1)) == k);
    }
    // Past the end nothing more falls due; the last request is due before the stop.
    CHECK(schedule.due_by(start + seconds(3600)) == schedule.total());
    CHECK(schedule.due(schedule.total() - 1) < start + seconds(10));
    CHECK(schedule.due(schedule.total()) >= start + seconds(10));
  }
}

TEST_CASE("request schedule: a load that does not fill whole seconds, and a day at a million a second") {
  const Clock::time_point start{seconds(5)};
  // 3 a second for 2.5 s: due at 0, 1/3, 2/3, ..., 7/3 s, eight requests.
  const RequestSchedule short_load(start, 3, start + std::chrono::milliseconds(2500));
  CHECK(short_load.total() == 8);
  CHECK(short_load.due_by(start + std::chrono::milliseconds(1000)) == 4);
  CHECK(RequestSchedule(start, 1000, start).total() == 0);

  const std::uint64_t day = 86'400;
  const RequestSchedule long_load(start, 1'000'000, start + seconds(day));
  const std::uint64_t last = day * 1'000'000 - 1;
  CHECK(long_load.total() == last + 1);
  CHECK(long_load.due(last) == start + seconds(day) - std::chrono::microseconds(1));
  CHECK(long_load.due_by(long_load.due(last)) == last + 1);
  CHECK(long_load.due_by(long_load.due(last) - nanoseconds(1)) == last);
}
