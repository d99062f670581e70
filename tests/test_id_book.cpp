// One side of the open book (ledger/id_book.hpp), checked against a std::map: ids opened in sequence and far
// apart, closed at random, looked up, replaced, walked in id order and copied; pointers to records stay good
// while the pool grows.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <vector>

#include "ledger/id_book.hpp"

using namespace ewx::ledger;

namespace {

struct Record {
  std::uint64_t id = 0;
  std::string text;  // something the record gives back when closed
};

template <typename Book>
void check_same(const Book& book, const std::map<std::uint64_t, Record>& want) {
  REQUIRE(book.size() == want.size());
  CHECK(book.empty() == want.empty());
  auto expected = want.begin();
  for (const auto& [id, record] : book) {
    REQUIRE(expected != want.end());
    CHECK(id == expected->first);
    CHECK(record.id == expected->second.id);
    CHECK(record.text == expected->second.text);
    ++expected;
  }
  CHECK(expected == want.end());
}

}  // namespace

TEST_CASE("the open book's side keeps ids as a map would: opened in sequence or far apart, closed at random") {
  IdBook<std::uint64_t, Record> book;
  std::map<std::uint64_t, Record> want;
  std::vector<std::uint64_t> opened;
  std::mt19937_64 random(11);
  std::uint64_t next = 1;
  for (int step = 0; step < 200'000; ++step) {
    const auto roll = random() % 100;
    if (roll < 55 || opened.empty()) {
      // Mostly the next id; now and then one far off (batch files number offers from 10^9 and 7x10^13).
      const std::uint64_t id = roll % 11 == 0 ? 70'001'000'000'000 + random() % 1'000'000 : next++;
      const Record r{id, std::to_string(id)};
      book.insert_or_assign(id, r);
      want[id] = r;
      opened.push_back(id);
    } else if (roll < 85) {
      const std::uint64_t id = opened[random() % opened.size()];
      book.erase(id);
      want.erase(id);
    } else if (roll < 95) {
      const std::uint64_t id = opened[random() % opened.size()] + random() % 3;  // open, closed or never
      const Record* found = book.find(id);
      const auto expected = want.find(id);
      REQUIRE((found != nullptr) == (expected != want.end()));
      CHECK(book.contains(id) == (found != nullptr));
      if (found) CHECK(found->text == expected->second.text);
    } else {
      const std::uint64_t id = opened[random() % opened.size()];
      const Record r{id, std::to_string(-step)};
      book.insert_or_assign(id, r);
      want[id] = r;
    }
    REQUIRE(book.size() == want.size());
    if (step % 20'000 == 0) check_same(book, want);
  }
  check_same(book, want);

  const auto copy = book;
  for (const auto& [id, record] : want) book.erase(id);
  CHECK(book.empty());
  CHECK(book.begin() == book.end());
  check_same(copy, want);  // the copy is its own
  book = copy;
  check_same(book, want);
}

TEST_CASE("the open book's side: a record's address holds while others open and close, and places are reused") {
  IdBook<std::uint64_t, Record> book;
  Record* first = &book.insert_or_assign(1, {1, "first"});
  for (std::uint64_t id = 2; id < 50'000; ++id) {
    book.insert_or_assign(id, {id, "x"});
    if (id % 3 == 0) book.erase(id - 1);
  }
  CHECK(book.find(1) == first);
  CHECK(first->text == "first");
  // Closing everything but the first and opening as many again reuses the pool: no new chunk is needed, so
  // no address moves (checked through the first record again).
  for (std::uint64_t id = 2; id < 50'000; ++id) book.erase(id);
  CHECK(book.size() == 1);
  for (std::uint64_t id = 100'000; id < 130'000; ++id) book.insert_or_assign(id, {id, "y"});
  CHECK(book.find(1) == first);
  CHECK(book.size() == 30'001);
  CHECK(book.find(99'999) == nullptr);
  CHECK(book.find(129'999)->text == "y");
  book.erase(5);  // not open: nothing
  CHECK(book.size() == 30'001);
}
