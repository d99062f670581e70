// Write-ahead logs written over prepared spares (ledger/prepared_log.hpp): RocksDB opens each log over a
// file of zeros, reads back everything written, also past a spare's end and after logs switch, and never
// trusts a spare it finds on opening. Recovery after SIGKILL with prepared logs is in test_ledger.cpp.
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/rate_limiter.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <thread>

#include "ledger/ledger.hpp"
#include "ledger/prepared_log.hpp"
#include "tests/ledger_workload.hpp"
#include "tests/temp_dir.hpp"

using namespace ewx;
using namespace ewx::ledger;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The files in `dir` whose names pass `named`, in name order.
template <typename Named>
std::vector<fs::path> files_in(const fs::path& dir, Named named) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (named(entry.path().string())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The write-ahead logs in `dir`, oldest first.
std::vector<fs::path> logs_in(const fs::path& dir) { return files_in(dir, PreparedLogFileSystem::is_log); }
// The spares, spares being made and retired logs in `dir`.
std::vector<fs::path> ours_in(const fs::path& dir) { return files_in(dir, PreparedLogFileSystem::is_ours); }

std::string value_of(int key) { return std::string(4000, static_cast<char>('a' + key % 26)) + std::to_string(key); }

// A RocksDB of its own over spares of `spare_bytes` (0: over RocksDB's own file system), with small
// memtables, so that a few megabytes of writes switch logs many times. Members in the order they must
// outlive one another.
struct TestDb {
  std::shared_ptr<PreparedLogFileSystem> files;
  std::unique_ptr<rocksdb::Env> env;
  std::unique_ptr<rocksdb::DB> db;
};

// With `pace`, spares after the first are paced by it, as the ledger paces them.
TestDb open_db(const fs::path& dir, std::uint64_t spare_bytes, std::size_t memtable_bytes,
               std::shared_ptr<rocksdb::RateLimiter> pace = nullptr) {
  TestDb opened;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = memtable_bytes;
  options.avoid_flush_during_shutdown = true;  // what is in the memtable at close is found by replaying logs
  if (spare_bytes > 0) {
    opened.files = std::make_shared<PreparedLogFileSystem>(rocksdb::FileSystem::Default(), dir, spare_bytes,
                                                           std::move(pace), Ledger::kBackgroundWritePiece);
    opened.env = rocksdb::NewCompositeEnv(opened.files);
    options.env = opened.env.get();
  }
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir.string(), &db);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  opened.db.reset(db);
  return opened;
}

void write_keys(rocksdb::DB& db, int from, int to) {
  rocksdb::WriteOptions synced;
  synced.sync = true;
  for (int key = from; key < to; ++key) REQUIRE(db.Put(synced, std::to_string(key), value_of(key)).ok());
}

void check_keys(rocksdb::DB& db, int count) {
  for (int key = 0; key < count; ++key) {
    std::string value;
    REQUIRE_MESSAGE(db.Get(rocksdb::ReadOptions(), std::to_string(key), &value).ok(), key);
    REQUIRE(value == value_of(key));
  }
}

}  // namespace

TEST_CASE("RocksDB's write-ahead logs are told apart from its other files by name") {
  CHECK(PreparedLogFileSystem::is_log("/data/db/000004.log"));
  CHECK(PreparedLogFileSystem::is_log("000123.log"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/LOG"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/LOG.old.1796205968979515"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/000023.sst"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/MANIFEST-000005"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/.log"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/ewx-log-spare-1"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/ewx-log-retired-2"));
  CHECK(PreparedLogFileSystem::is_ours("/data/db/ewx-log-spare-1"));
  CHECK(PreparedLogFileSystem::is_ours("/data/db/ewx-log-spare-3.preparing"));
  CHECK(PreparedLogFileSystem::is_ours("/data/db/ewx-log-retired-2"));
  CHECK_FALSE(PreparedLogFileSystem::is_ours("/data/db/000004.log"));
  CHECK_FALSE(PreparedLogFileSystem::is_ours("/data/db/LOG"));
  CHECK_FALSE(PreparedLogFileSystem::is_log("/data/db/backup.log"));
}

TEST_CASE("each write-ahead log is written over a spare of zeros, and every synced write is read back") {
  testing::TempDir dir;
  constexpr std::uint64_t kSpare = 256 << 10;
  constexpr int kKeys = 1000;  // 4 MB of values through 64 KiB memtables: dozens of logs
  // 4 MiB a second: a spare takes 64 ms, several times as long as a log lasts here.
  const std::shared_ptr<rocksdb::RateLimiter> pace(rocksdb::NewGenericRateLimiter(4 << 20, 1000));
  {
    auto [files, env, db] = open_db(dir.path, kSpare, 64 << 10, pace);
    // The log RocksDB opened with is the first spare: already its full size, not an empty file growing.
    REQUIRE(logs_in(dir.path).size() == 1);
    CHECK(fs::file_size(logs_in(dir.path).back()) == kSpare);
    CHECK(files->prepared_logs() == 1);
    CHECK(files->appended_logs() == 0);

    write_keys(*db, 0, kKeys);
    check_keys(*db, kKeys);
    // Logs switch faster here than spares are made (they are paced), so some logs were appended; the
    // rest were prepared, and every log was one or the other.
    CHECK(files->prepared_logs() >= 2);
    CHECK(files->appended_logs() >= 1);
    // Every spare made while the database ran (all but the first) was written through the pace.
    CHECK(pace->GetTotalBytesThrough(rocksdb::Env::IO_LOW) >= (files->prepared_logs() - 1) * kSpare);
    REQUIRE(db->Close().ok());
  }
  // No spare or retired log is left for another process.
  CHECK(ours_in(dir.path).empty());

  // Read back by an ordinary RocksDB, which knows nothing of spares, and then by a prepared one again.
  check_keys(*open_db(dir.path, 0, 64 << 10).db, kKeys);
  check_keys(*open_db(dir.path, kSpare, 64 << 10).db, kKeys);
}

TEST_CASE("a log that outgrows its spare goes on appending, and is replayed whole") {
  testing::TempDir dir;
  constexpr std::uint64_t kSpare = 64 << 10;
  constexpr int kKeys = 200;  // 800 KB: past the spare, within one 8 MiB memtable (one log)
  {
    auto [files, env, db] = open_db(dir.path, kSpare, 8 << 20);
    write_keys(*db, 0, kKeys);
    REQUIRE(logs_in(dir.path).size() == 1);
    CHECK(fs::file_size(logs_in(dir.path).back()) > kSpare);
    CHECK(files->prepared_logs() == 1);
    REQUIRE(db->Close().ok());  // the memtable not flushed: everything is found by replaying the log
  }
  check_keys(*open_db(dir.path, 0, 8 << 20).db, kKeys);
}

TEST_CASE("a spare found on opening is not trusted: it is deleted and made again, and never becomes a log") {
  testing::TempDir dir;
  constexpr std::uint64_t kSpare = 1 << 20;
  const Ledger::Options prepared{.prepared_log_bytes = kSpare};
  {
    auto opened = Ledger::open(dir.path, true, prepared);
    REQUIRE_MESSAGE(opened.is_ok(), opened.status().message());
    REQUIRE(testing::run_workload_step(*opened.value(), 0));
    CHECK(opened.value()->log_files().prepared == 1);
  }
  // What a crash at the wrong moment could leave under the names of spares and retired logs, including the
  // name the next open gives its first spare: bytes that are not zeros (here a stand-in for log records
  // with valid checksums).
  for (const char* name : {"ewx-log-spare-1", "ewx-log-spare-2.preparing", "ewx-log-retired-3"})
    std::ofstream(dir.path / "db" / name, std::ios::binary) << std::string(kSpare, '\xab');

  auto opened = Ledger::open(dir.path, false, prepared);
  REQUIRE_MESSAGE(opened.is_ok(), opened.status().message());
  Ledger& ledger = *opened.value();
  REQUIRE(testing::run_workload_step(ledger, 1));
  // The log opened now was made by this open, all zeros past what has been written into it.
  const std::string log = read_bytes(logs_in(dir.path / "db").back());
  CHECK(log.size() == kSpare);
  CHECK(log.find(std::string(64, '\xab')) == std::string::npos);  // not even a stretch of the planted bytes
  CHECK(log.substr(log.size() / 2) == std::string(log.size() - log.size() / 2, '\0'));
  CHECK(ledger.log_files().prepared == 1);
  CHECK(ledger.log_files().appended == 0);
}

TEST_CASE("with background pacing, spares are written through the pace and each journal log fits its spare") {
  testing::TempDir dir;
  // Each step writes far less than the 1/8 of a spare left past the switch point (tens of KB at most).
  constexpr std::uint64_t kSpare = 1 << 20;
  const Ledger::Options paced{.prepared_log_bytes = kSpare, .background_write_bytes_per_second = 256 << 20};
  auto opened = Ledger::open(dir.path, true, paced);
  REQUIRE_MESSAGE(opened.is_ok(), opened.status().message());
  Ledger& ledger = *opened.value();
  // Until the log has been switched twice (each at 7/8 of a spare): three logs, each over a spare.
  int step = 0;
  for (; step < 20'000 && ledger.log_files().prepared + ledger.log_files().appended < 3; ++step)
    REQUIRE(testing::run_workload_step(ledger, step));
  REQUIRE(ledger.log_files().prepared + ledger.log_files().appended == 3);
  // Paced at 256 MiB/s a spare takes 4 ms, far less than the dozens of synced steps a log lasts: none missed.
  CHECK(ledger.log_files().appended == 0);
  // The second and third spares were made while the ledger ran: through the pace.
  CHECK(ledger.paced_write_bytes() >= 2 * kSpare);
  // Every log but the open one was switched before it outgrew its spare.
  std::vector<fs::path> logs = logs_in(dir.path / "db");
  REQUIRE(!logs.empty());
  logs.pop_back();
  for (const fs::path& log : logs) CHECK_MESSAGE(fs::file_size(log) <= kSpare, log.string());
  MESSAGE("steps: " << step << ", logs kept: " << logs.size() + 1);
}

TEST_CASE("a log RocksDB is done with is made a spare again: overwritten with zeros, never deleted") {
  testing::TempDir dir;
  constexpr std::uint64_t kSpare = 256 << 10;
  const std::shared_ptr<rocksdb::RateLimiter> pace(rocksdb::NewGenericRateLimiter(64 << 20, 1000));
  int keys = 0;
  {
    auto [files, env, db] = open_db(dir.path, kSpare, 64 << 10, pace);
    // 64 KiB memtables: a log switch every 16 keys, and its log retired once the memtable is flushed.
    while (keys < 4000 && files->recycled_spares() < 3) {
      write_keys(*db, keys, keys + 16);
      keys += 16;
    }
    CHECK(files->recycled_spares() >= 3);
    // Logs switched faster than spares were made: once writing stops, the retired logs become spares.
    const auto ready_spares = [&] {
      return files_in(dir.path, [](std::string_view path) {
        const std::string name = fs::path(path).filename().string();
        return name.starts_with("ewx-log-spare-") && !name.ends_with(".preparing");
      });
    };
    for (int wait = 0; wait < 1000 && ready_spares().size() < 2; ++wait)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Every spare is all zeros, the records of the log it was made from gone, and a spare's size.
    const std::vector<fs::path> spares = ready_spares();
    CHECK(spares.size() == 2);
    for (const fs::path& spare : spares) {
      const std::string bytes = read_bytes(spare);
      CHECK(bytes.size() == kSpare);
      CHECK_MESSAGE(bytes.find_first_not_of('\0') == std::string::npos, spare.string());
    }
    check_keys(*db, keys);
    REQUIRE(db->Close().ok());
  }
  check_keys(*open_db(dir.path, 0, 64 << 10).db, keys);
}

TEST_CASE("a ledger open in one place is refused in another at once, before anything of the first is touched") {
  testing::TempDir dir;
  const Ledger::Options prepared{.prepared_log_bytes = 256 << 10};
  auto first = Ledger::open(dir.path, true, prepared);
  REQUIRE_MESSAGE(first.is_ok(), first.status().message());
  REQUIRE(testing::run_workload_step(*first.value(), 0));
  // Spares made: the one the first log took, and the next, a moment later.
  const fs::path db = dir.path / "db";
  for (int wait = 0; wait < 1000 && ours_in(db).empty(); ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::vector<fs::path> spares = ours_in(db);
  REQUIRE(!spares.empty());

  auto second = Ledger::open(dir.path, false, prepared);
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().message().find("is open in another process") != std::string::npos);
  CHECK(ours_in(db) == spares);  // the first ledger's spares are where they were
  REQUIRE(testing::run_workload_step(*first.value(), 1));
  first.value().reset();  // closed: the directory may be opened again
  auto again = Ledger::open(dir.path, false, prepared);
  CHECK_MESSAGE(again.is_ok(), again.status().message());
}

TEST_CASE("logs closed over their spares keep zeros after their records, and a reopening replays them all") {
  testing::TempDir dir;
  constexpr std::uint64_t kSpare = 256 << 10;
  constexpr int kRounds = 4, kKeysPerRound = 20;  // 80 KB a round: well within a spare
  const auto files = std::make_shared<PreparedLogFileSystem>(rocksdb::FileSystem::Default(), dir.path, kSpare, nullptr,
                                                             Ledger::kBackgroundWritePiece);
  const std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(files);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.avoid_flush_during_shutdown = true;
  options.env = env.get();
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                                 {"flushed", {}}};
  rocksdb::WriteOptions synced;
  synced.sync = true;
  {
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    REQUIRE(rocksdb::DB::Open(options, dir.path.string(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    // Each round writes to both families and flushes one: the log switches, and the old one stays live for
    // the other family's unflushed keys, so that several closed logs must be replayed on reopening.
    for (int round = 0; round < kRounds; ++round) {
      for (int k = 0; k < kKeysPerRound; ++k) {
        const int key = round * kKeysPerRound + k;
        REQUIRE(db->Put(synced, handles[0], std::to_string(key), value_of(key)).ok());
        REQUIRE(db->Put(synced, handles[1], std::to_string(key), value_of(key)).ok());
      }
      REQUIRE(db->Flush(rocksdb::FlushOptions(), handles[1]).ok());
    }
    const std::vector<fs::path> logs = logs_in(dir.path);
    REQUIRE(logs.size() >= static_cast<std::size_t>(kRounds));
    // The closed logs were not trimmed: their spare's size, records first and zeros after.
    for (std::size_t k = 0; k + 1 < logs.size(); ++k) {
      const std::string bytes = read_bytes(logs[k]);
      CHECK(bytes.size() == kSpare);
      CHECK(bytes.substr(bytes.size() - 4096) == std::string(4096, '\0'));
    }
    for (auto* handle : handles) REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
    REQUIRE(db->Close().ok());  // the default family's keys are only in the logs
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  REQUIRE(rocksdb::DB::Open(options, dir.path.string(), families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (int key = 0; key < kRounds * kKeysPerRound; ++key) {
    std::string value;
    REQUIRE_MESSAGE(db->Get(rocksdb::ReadOptions(), handles[0], std::to_string(key), &value).ok(), key);
    CHECK(value == value_of(key));
  }
  for (auto* handle : handles) REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  REQUIRE(db->Close().ok());
}
