// The ledger: records and queries, proofs, reopening, offline verification and tamper detection, refusal
// of foreign data, checkpoints, and recovery after SIGKILL at many points.
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "ledger/audit.hpp"
#include "ledger/ledger.hpp"
#include "ledger/ledger_writer.hpp"
#include "ledger/prepared_log.hpp"
#include "tests/ledger_workload.hpp"
#include "tests/temp_dir.hpp"

using namespace ewx;
using namespace ewx::ledger;
namespace fs = std::filesystem;

namespace {

using testing::TempDir;

std::unique_ptr<Ledger> open_ledger(const fs::path& dir) {
  auto opened = Ledger::open(dir, true);
  REQUIRE_MESSAGE(opened.is_ok(), opened.status().message());
  return std::move(opened.value());
}

// Runs the first `steps` steps of the workload.
void run_steps(Ledger& ledger, int steps) {
  for (int step = 0; step < steps; ++step) REQUIRE(testing::run_workload_step(ledger, step));
}

// Direct access to the RocksDB underneath, for tampering as an attacker with disk access would: `change`
// gets the database and one column family (the contracts unless named).
void tamper(const fs::path& dir, const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle* family)>& change,
            std::string_view family = "contracts") {
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  std::size_t chosen = 0;
  for (const char* name : {"default", "meta", "journal", "contracts", "merkle", "batches", "inputs", "indexes"}) {
    if (name == family) chosen = families.size();
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), (dir / "db").string(), families, &handles, &db).ok());
  change(*db, handles[chosen]);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

std::string contract_key(std::uint64_t id) {
  std::string key(8, '\0');
  for (int k = 7; k >= 0; --k, id >>= 8) key[k] = static_cast<char>(id & 0xff);
  return key;
}

}  // namespace

// The fills commit_batch handed back against its contracts and the book it left: one per order and offer that
// traded, orders first, each side in id order, with the units of its contracts and what the book still has.
void check_fills(const CommittedBatch& committed, const Ledger& ledger) {
  std::map<std::uint64_t, std::pair<ParticipantId, Units>> bought, sold;
  for (const ContractRecord& c : committed.contracts) {
    bought[c.order].first = c.buyer, bought[c.order].second += c.units;
    sold[c.offer].first = c.seller, sold[c.offer].second += c.units;
  }
  REQUIRE(committed.fills.size() == bought.size() + sold.size());
  auto fill = committed.fills.begin();
  for (const auto* side : {&bought, &sold}) {
    for (const auto& [id, traded] : *side) {
      const bool offer = side == &sold;
      CAPTURE(id);
      CHECK(fill->offer == offer);
      CHECK(fill->id == id);
      CHECK(fill->participant == traded.first);
      CHECK(fill->units == traded.second);
      const Units left = offer ? (ledger.open_offer(id) ? ledger.open_offer(id)->remaining : 0)
                               : (ledger.open_order(id) ? ledger.open_order(id)->remaining : 0);
      CHECK(fill->remaining == left);
      ++fill;
    }
  }
}

TEST_CASE("a batch commit hands back exactly the contracts it recorded, in log order, and the fills they made") {
  TempDir dir;
  auto ledger = open_ledger(dir.path);
  run_steps(*ledger, 2);  // one batch before, so the contracts do not start at 0
  const std::uint64_t before = ledger->log_size();
  REQUIRE(before > 0);
  const Batch next = testing::workload_market(1);
  REQUIRE(ledger->journal(testing::workload_entries(next)).is_ok());
  CommittedBatch committed;
  const auto record =
      ledger->commit_batch(next, default_topology(), clear_batch(next, default_topology()), 1'775'000'100, &committed);
  REQUIRE(record.is_ok());
  const std::vector<ContractRecord>& handed_back = committed.contracts;
  REQUIRE_FALSE(handed_back.empty());
  REQUIRE(handed_back.size() == record.value().contract_count);
  for (std::size_t k = 0; k < handed_back.size(); ++k) {
    CHECK(handed_back[k].id == before + k);
    CHECK(ledger->contract(before + k) == handed_back[k]);
  }
  check_fills(committed, *ledger);
  // Some orders and offers traded only part of their units, and some all.
  const auto part =
      std::count_if(committed.fills.begin(), committed.fills.end(), [](const BatchFill& f) { return f.remaining > 0; });
  CHECK(part > 0);
  CHECK(part < static_cast<std::ptrdiff_t>(committed.fills.size()));
}

TEST_CASE("a batch listed out of id order, among open orders it leaves out, updates the book as replay does") {
  // commit_batch walks the book forward for batches in id order (ewxd's); this one takes the other path.
  TempDir dir;
  OpenBook book;
  {
    auto ledger = open_ledger(dir.path);
    const Batch left_out = testing::workload_market(0);
    Batch next = testing::workload_market(1);
    REQUIRE(ledger->journal(testing::workload_entries(left_out)).is_ok());
    REQUIRE(ledger->journal(testing::workload_entries(next)).is_ok());
    next.number = 1;
    std::reverse(next.orders.begin(), next.orders.end());
    std::reverse(next.offers.begin(), next.offers.end());
    CommittedBatch committed;
    REQUIRE(
        ledger->commit_batch(next, default_topology(), clear_batch(next, default_topology()), 1'775'000'000, &committed)
            .is_ok());
    const std::vector<ContractRecord>& contracts = committed.contracts;
    REQUIRE_FALSE(contracts.empty());
    check_fills(committed, *ledger);  // in id order, though the batch listed them the other way
    std::map<OrderId, Units> bought;
    std::map<OfferId, Units> sold;
    for (const ContractRecord& c : contracts) bought[c.order] += c.units, sold[c.offer] += c.units;
    book = ledger->open_book();
    // What is left of an order or offer is open with those units, and nothing of a filled one.
    const auto check_left = [](const auto& open, std::uint64_t id, Units units, Units traded) {
      const auto* it = open.find(id);
      if (units == traded)
        CHECK(it == nullptr);
      else
        CHECK((it != nullptr && it->remaining == units - traded));
    };
    for (const BuyOrder& o : next.orders) check_left(book.orders, o.id, o.units, bought[o.id]);
    for (const SellOffer& s : next.offers) check_left(book.offers, s.id, s.units, sold[s.id]);
    for (const BuyOrder& o : left_out.orders) {
      REQUIRE(book.orders.contains(o.id));
      CHECK(book.orders.find(o.id)->remaining == o.units);
    }
  }
  CHECK(open_ledger(dir.path)->open_book() == book);  // replayed contract by contract
}

TEST_CASE("a ledger records batches, answers auditor queries, and proves inclusion and consistency") {
  TempDir dir;
  auto ledger = open_ledger(dir.path);
  run_steps(*ledger, 6);  // three batches
  REQUIRE(ledger->batch_count() == 3);
  const std::uint64_t size = ledger->log_size();
  REQUIRE(size > 50);

  std::vector<ContractRecord> all;
  for (std::uint64_t id = 0; id < size; ++id) {
    const auto c = ledger->contract(id);
    REQUIRE(c);
    CHECK(c->id == id);
    all.push_back(*c);
  }
  CHECK_FALSE(ledger->contract(size));

  // Every index, paged in small pages, returns exactly the matching contracts in id order.
  for (const auto& [index, field] :
       std::vector<std::pair<ContractIndex, std::function<std::uint64_t(const ContractRecord&)>>>{
           {ContractIndex::buyer, [](const ContractRecord& c) { return c.buyer; }},
           {ContractIndex::seller, [](const ContractRecord& c) { return c.seller; }},
           {ContractIndex::hub, [](const ContractRecord& c) { return std::uint64_t{c.hub}; }},
           {ContractIndex::cluster, [](const ContractRecord& c) { return std::uint64_t{c.cluster}; }}}) {
    std::set<std::uint64_t> keys;
    for (const auto& c : all) keys.insert(field(c));
    for (const std::uint64_t key : keys) {
      std::vector<std::uint64_t> expected, got;
      for (const auto& c : all) {
        if (field(c) == key) expected.push_back(c.id);
      }
      ContractPage page = ledger->contracts_by(index, key, 0, 7);
      for (;;) {
        for (const auto& c : page.contracts) got.push_back(c.id);
        if (!page.next_start) break;
        page = ledger->contracts_by(index, key, *page.next_start, 7);
      }
      CHECK(got == expected);  // contract 0 included
    }
  }
  const auto record2 = ledger->batch_record(2);
  REQUIRE(record2);
  const ContractPage in_batch = ledger->contracts_in_batch(2, 0, 1000);
  CHECK(in_batch.contracts.size() == record2->contract_count);
  for (const auto& c : in_batch.contracts) CHECK(c.batch == 2);
  // Batch 2 was cleared at 1'775'000'000 + 3; a window around it finds exactly its contracts.
  const ContractPage by_time = ledger->contracts_cleared_between(1'775'000'002, 1'775'000'004, 0, 1000);
  CHECK(by_time.contracts.size() == record2->contract_count);
  // Paged by time across all three batches in pages of 7: every contract once, in id order, from 0.
  std::vector<std::uint64_t> paged;
  for (ContractPage page = ledger->contracts_cleared_between(0, 2'000'000'000, 0, 7);;) {
    CHECK(page.contracts.size() <= 7);
    for (const auto& c : page.contracts) paged.push_back(c.id);
    if (!page.next_start) break;
    page = ledger->contracts_cleared_between(0, 2'000'000'000, *page.next_start, 7);
  }
  REQUIRE(paged.size() == size);
  for (std::uint64_t id = 0; id < size; ++id) CHECK(paged[id] == id);
  CHECK(record2->prices.size() == testing::workload_market(1).offers.size());

  const SignedHead head = ledger->head();
  CHECK(head.batch == 3);
  CHECK(head.log_size == size);
  const auto last = ledger->batch_record(3);
  CHECK(verify_signature(ledger->public_key(), signed_bytes(*last), head.signature));
  for (std::uint64_t id = 0; id < size; ++id) {
    const auto proof = ledger->inclusion_proof(id, size);
    REQUIRE(proof);
    CHECK(verify_inclusion(leaf_hash(encode(all[id])), id, size, *proof, head.log_root));
  }
  const auto record1 = ledger->batch_record(1);
  const auto consistency = ledger->consistency_proof(record1->log_size, size);
  REQUIRE(consistency);
  CHECK(verify_consistency(record1->log_size, size, record1->log_root, head.log_root, *consistency));
  CHECK(record2->previous_record == record_hash(*record1));

  // The open book: every order's remaining units are its units less what its contracts traded.
  std::map<OrderId, Units> traded;
  for (const auto& c : all) traded[c.order] += c.units;
  for (int g = 0; g < 3; ++g) {
    for (const BuyOrder& o : testing::workload_market(g).orders) {
      const auto* it = ledger->open_book().orders.find(o.id);
      const Units left = o.units - traded[o.id];
      if (left == 0)
        CHECK(it == nullptr);
      else
        CHECK((it != nullptr && it->remaining == left));
    }
  }
}

TEST_CASE("reopening restores the head and the open book, and the log continues from there") {
  TempDir dir;
  OpenBook book;
  Hash root{};
  {
    auto ledger = open_ledger(dir.path);
    run_steps(*ledger, 4);
    book = ledger->open_book();
    root = ledger->head().log_root;
  }
  auto ledger = open_ledger(dir.path);
  CHECK(ledger->open_book() == book);
  CHECK(ledger->head().log_root == root);
  CHECK(ledger->batch_count() == 2);
  for (int step = 4; step < 6; ++step) REQUIRE(testing::run_workload_step(*ledger, step));
  CHECK(verify_data_dir(dir.path).ok);

  // The same workload in one go gives the same log.
  TempDir straight;
  auto other = open_ledger(straight.path);
  run_steps(*other, 6);
  CHECK(other->log_size() == ledger->log_size());
  CHECK(encode(*other->contract(other->log_size() - 1)) == encode(*ledger->contract(ledger->log_size() - 1)));
}

TEST_CASE("offline verification and batch audits pass on an honest ledger and catch tampering") {
  TempDir dir;
  std::uint64_t size = 0;
  {
    auto ledger = open_ledger(dir.path);
    run_steps(*ledger, 6);
    size = ledger->log_size();
  }
  const VerifyReport honest = verify_data_dir(dir.path);
  CHECK_MESSAGE(honest.ok, honest.first_problem);
  CHECK(honest.contracts == size);
  CHECK(honest.batches == 3);
  for (std::uint64_t b = 1; b <= 3; ++b) {
    const BatchAudit audit = audit_batch(dir.path, b);
    CHECK_MESSAGE(audit.ok, audit.problem);
  }
  CHECK_FALSE(audit_batch(dir.path, 4).ok);

  SUBCASE("one flipped byte in one contract") {
    const std::uint64_t victim = size / 2;
    tamper(dir.path, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* contracts) {
      std::string value;
      REQUIRE(db.Get(rocksdb::ReadOptions(), contracts, contract_key(victim), &value).ok());
      value[60] ^= 0x01;  // inside the price field
      REQUIRE(db.Put(rocksdb::WriteOptions(), contracts, contract_key(victim), value).ok());
    });
    const VerifyReport report = verify_data_dir(dir.path);
    CHECK_FALSE(report.ok);
    // The first stored node above it is the one over its 16 (ledger.cpp stores levels 4 and up).
    const std::uint64_t group = victim & ~std::uint64_t{15};
    REQUIRE(group + 16 <= size);
    CHECK_MESSAGE(report.first_problem.find("contracts " + std::to_string(group) + ".." + std::to_string(group + 15) +
                                            " do not hash to the stored Merkle node (4, " + std::to_string(group / 16) +
                                            ")") == 0,
                  report.first_problem);
  }
  SUBCASE("one flipped byte in the last contract, under no stored Merkle node") {
    REQUIRE(size % 16 != 0);  // the last contracts make up no level-4 node, only the signed root covers them
    tamper(dir.path, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* contracts) {
      std::string value;
      REQUIRE(db.Get(rocksdb::ReadOptions(), contracts, contract_key(size - 1), &value).ok());
      value[60] ^= 0x01;
      REQUIRE(db.Put(rocksdb::WriteOptions(), contracts, contract_key(size - 1), value).ok());
    });
    const VerifyReport report = verify_data_dir(dir.path);
    CHECK_FALSE(report.ok);
    CHECK_MESSAGE(report.first_problem == "batch record 3: the contracts do not hash to the log root it signed",
                  report.first_problem);
  }
  SUBCASE("one contract removed") {
    const std::uint64_t victim = size / 3;
    tamper(dir.path, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* contracts) {
      REQUIRE(db.Delete(rocksdb::WriteOptions(), contracts, contract_key(victim)).ok());
    });
    const VerifyReport report = verify_data_dir(dir.path);
    CHECK_FALSE(report.ok);
    CHECK(report.first_problem == "contract " + std::to_string(victim) + " is missing (the next stored one is " +
                                      std::to_string(victim + 1) + ")");
  }
  SUBCASE("the last contract removed (no gap to see)") {
    tamper(dir.path, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* contracts) {
      REQUIRE(db.Delete(rocksdb::WriteOptions(), contracts, contract_key(size - 1)).ok());
    });
    const VerifyReport report = verify_data_dir(dir.path);
    CHECK_FALSE(report.ok);
    CHECK(report.first_problem.find("batch record 3") != std::string::npos);
  }
  SUBCASE("a key other than the trusted one") { CHECK_FALSE(verify_data_dir(dir.path, std::string(32, 'k')).ok); }
}

TEST_CASE("foreign and damaged data directories are refused and left untouched") {
  TempDir dir;
  SUBCASE("a directory with someone else's files") {
    std::ofstream(dir.path / "notes.txt") << "precious";
    const auto opened = Ledger::open(dir.path, true);
    CHECK_FALSE(opened.is_ok());
    CHECK(opened.status().code() == Status::Code::foreign_data);
    CHECK(fs::exists(dir.path / "notes.txt"));
    CHECK_FALSE(fs::exists(dir.path / "db"));
  }
  SUBCASE("another RocksDB database") {
    rocksdb::DB* db = nullptr;
    rocksdb::Options options;
    options.create_if_missing = true;
    REQUIRE(rocksdb::DB::Open(options, (dir.path / "db").string(), &db).ok());
    delete db;
    CHECK_FALSE(Ledger::open(dir.path, true).is_ok());
  }
  SUBCASE("a ledger whose exchange key was replaced") {
    {
      auto ledger = open_ledger(dir.path);
      run_steps(*ledger, 2);
    }
    TempDir other;
    { auto ledger = open_ledger(other.path); }
    fs::copy_file(other.path / "exchange-key.pem", dir.path / "exchange-key.pem", fs::copy_options::overwrite_existing);
    const auto opened = Ledger::open(dir.path, true);
    CHECK_FALSE(opened.is_ok());
    CHECK(opened.status().message().find("does not match") != std::string::npos);
  }
  SUBCASE("a ledger without its key file is not re-keyed") {
    {
      auto ledger = open_ledger(dir.path);
      run_steps(*ledger, 2);
    }
    fs::remove(dir.path / "exchange-key.pem");
    CHECK_FALSE(Ledger::open(dir.path, true).is_ok());
    CHECK_FALSE(fs::exists(dir.path / "exchange-key.pem"));
    CHECK(verify_data_dir(dir.path).ok);  // auditors need no private key
  }
  SUBCASE("a ledger whose RocksDB files are damaged") {
    {
      auto ledger = open_ledger(dir.path);
      run_steps(*ledger, 2);
    }
    std::ofstream(dir.path / "db" / "CURRENT", std::ios::trunc) << "garbage\n";
    const auto opened = Ledger::open(dir.path, true);
    CHECK_FALSE(opened.is_ok());
    CHECK(opened.status().message().find("cannot open the ledger") != std::string::npos);
    std::ifstream current(dir.path / "db" / "CURRENT");
    std::string line;
    std::getline(current, line);
    CHECK(line == "garbage");  // left as found, for the operator to restore from a checkpoint
    CHECK_FALSE(verify_data_dir(dir.path).ok);
  }
  SUBCASE("nothing there, and not asked to create") {
    CHECK(Ledger::open(dir.path / "absent", false).status().code() == Status::Code::not_found);
  }
}

TEST_CASE("the journal refuses duplicate ids, unknown cancels and direct fills, writing nothing") {
  TempDir dir;
  auto ledger = open_ledger(dir.path);
  const Batch batch = testing::workload_market(0);
  std::vector<JournalEntry> entries = testing::workload_entries(batch);
  REQUIRE(ledger->journal(entries).is_ok());
  const OpenBook before = ledger->open_book();
  CHECK(ledger->journal({entries.begin(), entries.begin() + 1}).code() == Status::Code::invalid_argument);
  JournalEntry cancel;
  cancel.kind = JournalEntry::Kind::cancel_order;
  cancel.id = 424242;
  JournalEntry fresh = entries[0];
  fresh.order.id = 999'999'999;
  CHECK_FALSE(ledger->journal(std::vector<JournalEntry>{fresh, cancel}).is_ok());
  CHECK(ledger->open_book() == before);
  CHECK_FALSE(ledger->open_book().orders.contains(fresh.order.id));
  cancel.id = entries[0].order.id;
  CHECK(ledger->journal(std::vector<JournalEntry>{cancel}).is_ok());
  CHECK_FALSE(ledger->open_book().orders.contains(cancel.id));
  JournalEntry fill;
  fill.kind = JournalEntry::Kind::batch_fills;
  fill.batch = 1;
  CHECK_FALSE(ledger->journal(std::vector<JournalEntry>{fill}).is_ok());
  // A batch out of sequence is refused too.
  Batch late = testing::workload_market(0);
  late.number = 5;
  CHECK_FALSE(ledger->commit_batch(late, default_topology(), clear_batch(late, default_topology()), 0).is_ok());
}

TEST_CASE("a batch commit refuses contracts outside the batch or beyond what is open, and records nothing") {
  TempDir dir;
  auto ledger = open_ledger(dir.path);
  Batch batch = testing::workload_market(0);
  REQUIRE(ledger->journal(testing::workload_entries(batch)).is_ok());
  const ClearingResult cleared = clear_batch(batch, default_topology());
  REQUIRE(cleared.contracts.size() >= 2);
  const Contract& first = cleared.contracts[0];
  const auto refusal = [&](const Batch& b, const ClearingResult& r) {
    const auto record = ledger->commit_batch(b, default_topology(), r, 1'775'000'000);
    REQUIRE_FALSE(record.is_ok());
    CHECK(record.status().code() == Status::Code::invalid_argument);
    return record.status().message();
  };

  ClearingResult stranger = cleared;
  stranger.contracts[1].order = 888'888'888;
  CHECK(refusal(batch, stranger) == "a contract between order 888888888 and offer " +
                                        std::to_string(stranger.contracts[1].offer) +
                                        " names one that is not in batch 1");

  ClearingResult overdrawn = cleared;
  overdrawn.contracts[0].units += 1'000'000;
  CHECK(refusal(batch, overdrawn) == "order " + std::to_string(first.order) + " is not open for " +
                                         std::to_string(first.units + 1'000'000) + " units");

  // An offer in the batch that was never journalled is not open.
  Batch with_unknown = batch;
  SellOffer unknown = batch.offers[0];
  unknown.id = 777'777'777;
  with_unknown.offers.push_back(unknown);
  ClearingResult unjournalled = cleared;
  unjournalled.offer_price.push_back(unknown.ask);
  unjournalled.contracts[0].offer = unknown.id;
  CHECK(refusal(with_unknown, unjournalled) ==
        "offer 777777777 is not open for " + std::to_string(first.units) + " units");

  CHECK(ledger->log_size() == 0);
  CHECK(ledger->batch_count() == 0);
  REQUIRE(ledger->commit_batch(batch, default_topology(), cleared, 1'775'000'000).is_ok());
  CHECK(ledger->log_size() == cleared.contracts.size());
}

TEST_CASE("journal_each writes the admissible entries of a group and says why each other one was refused") {
  TempDir dir;
  auto ledger = open_ledger(dir.path);
  const Batch batch = testing::workload_market(0);
  std::vector<JournalEntry> entries = testing::workload_entries(batch);
  REQUIRE(entries.size() >= 2);
  const JournalEntry first = entries[0];
  REQUIRE(first.kind == JournalEntry::Kind::order);
  REQUIRE(ledger->journal(std::span(entries).first(1)).is_ok());

  JournalEntry theft;  // another participant cancelling the first order
  theft.kind = JournalEntry::Kind::cancel_order;
  theft.id = first.order.id;
  theft.participant = first.participant + 1;
  JournalEntry own = theft;  // the owner cancelling it
  own.participant = first.participant;
  JournalEntry twice = own;  // and again, in the same group: no longer open
  JournalEntry fresh = entries[1];
  const auto result = ledger->journal_each(std::vector<JournalEntry>{theft, fresh, own, twice, first});
  REQUIRE(result.is_ok());
  const auto& refusals = result.value();
  REQUIRE(refusals.size() == 5);
  REQUIRE(refusals[0].has_value());
  CHECK(refusals[0]->find("not an open order of participant") != std::string::npos);
  CHECK_FALSE(refusals[1].has_value());
  CHECK_FALSE(refusals[2].has_value());
  CHECK(refusals[3].has_value());
  CHECK_FALSE(refusals[4].has_value());  // reopening a cancelled id in the same group is allowed, as in journal()
  CHECK(ledger->open_book().orders.contains(first.order.id));

  // What was written survives a reopen, the refused entries are not in the journal, and the cancel is
  // recorded with who made it.
  const OpenBook after = ledger->open_book();
  ledger.reset();
  auto reopened = open_ledger(dir.path);
  CHECK(reopened->open_book() == after);
  std::vector<JournalEntry> stored;
  REQUIRE(reopened
              ->scan_journal([&](std::uint64_t, const JournalEntry& entry) {
                stored.push_back(entry);
                return true;
              })
              .is_ok());
  REQUIRE(stored.size() == 4);  // first, fresh, own cancel, first again
  CHECK(stored[2].kind == JournalEntry::Kind::cancel_order);
  CHECK(stored[2].participant == first.participant);
  CHECK(stored[0].client_order_id == first.client_order_id);
}

TEST_CASE("a journal record holds one entry or a group; a damaged record is refused by open and by verification") {
  const Batch batch = testing::workload_market(0);
  std::vector<JournalEntry> entries = testing::workload_entries(batch);
  REQUIRE(entries.size() >= 2);
  if (entries.size() > 100) entries.resize(100);  // so that the group's count is one byte, changed below
  JournalEntry cancel;
  cancel.kind = JournalEntry::Kind::cancel_order;
  cancel.id = entries[0].order.id;
  cancel.participant = entries[0].participant;
  entries.push_back(cancel);
  std::vector<const JournalEntry*> all;
  for (const JournalEntry& e : entries) all.push_back(&e);

  const std::string group = encode_journal_group(all);
  std::vector<JournalEntry> decoded;
  REQUIRE(decode_journal_record(group, decoded));
  REQUIRE(decoded.size() == entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k) CHECK(encode(decoded[k]) == encode(entries[k]));
  // One entry is stored as the entry itself, as every record was before groups.
  CHECK(encode_journal_group(std::span(all).first(1)) == encode(entries[0]));
  REQUIRE(decode_journal_record(encode(entries[1]), decoded));
  CHECK((decoded.size() == 1 && encode(decoded[0]) == encode(entries[1])));
  // Exactly one encoding decodes: every shortening, a byte more, a count of one or more than there are.
  for (std::size_t n = 0; n < group.size(); ++n) CHECK_FALSE(decode_journal_record(group.substr(0, n), decoded));
  CHECK_FALSE(decode_journal_record(group + '\0', decoded));
  std::string miscounted = group;
  miscounted[1] = 1;
  CHECK_FALSE(decode_journal_record(miscounted, decoded));
  miscounted[1] = static_cast<char>(entries.size() + 1);
  CHECK_FALSE(decode_journal_record(miscounted, decoded));
  REQUIRE(entries.size() < 0x80);  // the count is one byte; the same count in two bytes is not its encoding
  std::string overlong = group;
  overlong.replace(1, 1, std::string{static_cast<char>(entries.size() | 0x80), '\0'});
  CHECK_FALSE(decode_journal_record(overlong, decoded));

  // Every field's whole range survives the group's compact encoding, signs and extremes included.
  JournalEntry extreme_order = entries[0];
  extreme_order.participant = std::numeric_limits<ParticipantId>::max();
  extreme_order.order.id = std::numeric_limits<OrderId>::max();
  extreme_order.order.hub = std::numeric_limits<HubIndex>::max();
  extreme_order.order.units = std::numeric_limits<Units>::min();
  extreme_order.order.bid = std::numeric_limits<Fen>::max();
  extreme_order.order.max_latency_ms = std::numeric_limits<std::int32_t>::min();
  extreme_order.order.min_green_percent = -1;
  extreme_order.order.window_begin = std::numeric_limits<Hour>::min();
  extreme_order.order.window_end = std::numeric_limits<Hour>::max();
  extreme_order.client_order_id = std::numeric_limits<std::uint64_t>::max();
  extreme_order.resource_class = std::string(300, 'c');
  JournalEntry zero_cancel;
  zero_cancel.kind = JournalEntry::Kind::cancel_offer;
  const std::vector<const JournalEntry*> extremes = {&extreme_order, &zero_cancel, &entries[1]};
  REQUIRE(decode_journal_record(encode_journal_group(extremes), decoded));
  REQUIRE(decoded.size() == extremes.size());
  for (std::size_t k = 0; k < extremes.size(); ++k) CHECK(encode(decoded[k]) == encode(*extremes[k]));
  // and is the smaller: a group commit is the journal's bulk.
  CHECK(group.size() * 2 < std::accumulate(entries.begin(), entries.end(), std::size_t{0},
                                           [](std::size_t n, const JournalEntry& e) { return n + encode(e).size(); }));

  // In a data directory: the group is read back entry by entry, at consecutive positions; damaged, it
  // stops both the ledger's open and the auditor's verification, which name it.
  TempDir dir;
  {
    auto ledger = open_ledger(dir.path);
    const auto refusals = ledger->journal_each(entries);
    REQUIRE(refusals.is_ok());
    for (const auto& r : refusals.value()) CHECK_FALSE(r.has_value());
    std::vector<std::uint64_t> positions;
    REQUIRE(ledger
                ->scan_journal([&](std::uint64_t position, const JournalEntry&) {
                  positions.push_back(position);
                  return true;
                })
                .is_ok());
    REQUIRE(positions.size() == entries.size());
    for (std::size_t k = 0; k < positions.size(); ++k) CHECK(positions[k] == k);
  }
  CHECK(verify_data_dir(dir.path).journal_entries == entries.size());
  tamper(
      dir.path,
      [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* journal) {
        const std::string key(8, '\0');  // the group's first position, 0
        std::string value;
        REQUIRE(db.Get(rocksdb::ReadOptions(), journal, key, &value).ok());
        value.pop_back();
        REQUIRE(db.Put(rocksdb::WriteOptions(), journal, key, value).ok());
      },
      "journal");
  const auto reopened = Ledger::open(dir.path, false);
  REQUIRE_FALSE(reopened.is_ok());
  CHECK(reopened.status().message() == "journal record 0 is unreadable");
  const VerifyReport report = verify_data_dir(dir.path);
  CHECK_FALSE(report.ok);
  CHECK(report.first_problem == "journal record 0 is unreadable");
}

TEST_CASE("the ledger writer groups appends from many threads into few synced writes and loses none") {
  TempDir dir;
  const Batch batch = testing::workload_market(0);
  const std::vector<JournalEntry> base = testing::workload_entries(batch);
  std::mutex mutex;
  std::vector<std::uint64_t> durable;
  std::size_t refused = 0;
  constexpr int kThreads = 4, kPerThread = 500;
  {
    LedgerWriter writer(open_ledger(dir.path), [&](const LedgerWriter::GroupOutcome& group) {
      std::lock_guard lock(mutex);
      REQUIRE(group.status.is_ok());
      for (std::size_t k = 0; k < group.tags.size(); ++k) {
        if (group.refusals[k])
          ++refused;
        else
          durable.push_back(group.tags[k]);
      }
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int k = 0; k < kPerThread; ++k) {
          JournalEntry e = base[0];
          e.order.id = static_cast<OrderId>(1'000'000 + t * kPerThread + k);
          e.id = e.order.id;
          writer.append(e, e.order.id);
        }
      });
    for (auto& thread : threads) thread.join();
    // A task runs after every append before it is synced and reported, so it never sees an order whose
    // acknowledgment could still be lost or come after what the task announces.
    std::promise<std::pair<std::size_t, std::size_t>> seen;  // open orders, durable ones reported
    writer.run([&](Ledger& l) {
      std::lock_guard lock(mutex);
      seen.set_value({l.open_book().orders.size(), durable.size()});
    });
    const auto [open_orders, reported] = seen.get_future().get();
    CHECK(open_orders == kThreads * kPerThread);
    CHECK(reported == kThreads * kPerThread);
    writer.stop();
    CHECK(writer.groups_written() < kThreads * kPerThread);  // grouped: fewer writes than entries
    CHECK(writer.syncs() >= 1);
    CHECK(writer.syncs() <= writer.groups_written());  // and one sync serves every group written before it
    MESSAGE((kThreads * kPerThread) << " appends in " << writer.groups_written() << " writes and " << writer.syncs()
                                    << " syncs, the largest group " << writer.largest_group());
  }
  CHECK(refused == 0);
  std::sort(durable.begin(), durable.end());
  CHECK(durable.size() == kThreads * kPerThread);
  CHECK(std::adjacent_find(durable.begin(), durable.end()) == durable.end());
  CHECK(open_ledger(dir.path)->open_book().orders.size() == kThreads * kPerThread);
}

TEST_CASE("an online checkpoint is a complete, verifiable data directory") {
  TempDir dir, copy;
  auto ledger = open_ledger(dir.path);
  run_steps(*ledger, 4);
  REQUIRE(ledger->checkpoint(copy.path / "snapshot").is_ok());
  CHECK_FALSE(ledger->checkpoint(copy.path / "snapshot").is_ok());  // never into a used directory
  CHECK(verify_data_dir(copy.path / "snapshot").ok);
  auto reopened = open_ledger(copy.path / "snapshot");
  CHECK(reopened->open_book() == ledger->open_book());
  CHECK(reopened->head().log_root == ledger->head().log_root);
}

namespace {

// SIGKILL at each crash point of the workload, in a child whose write-ahead logs are prepared spares of
// `prepared_log_bytes` (0: appended), then reopening by an ordinary ledger and checking what survived.
void crash_at_every_point(std::uint64_t prepared_log_bytes, bool logs_switch = false) {
  // Every state the ledger may durably be in: after 0, 1, 2, ... workload steps.
  std::vector<OpenBook> books;
  std::vector<std::uint64_t> sizes;
  {
    TempDir reference;
    auto ledger = open_ledger(reference.path);
    books.push_back(ledger->open_book());
    sizes.push_back(0);
    for (int step = 0; step < 2 * testing::kWorkloadMarkets; ++step) {
      REQUIRE(testing::run_workload_step(*ledger, step));
      books.push_back(ledger->open_book());
      sizes.push_back(ledger->log_size());
    }
  }
  const int points = 4 * testing::kWorkloadMarkets;  // before and after each journal and batch write
  REQUIRE(points >= 60);
  int lost_in_flight = 0, landed_unacknowledged = 0;
  for (int kill_at = 1; kill_at <= points; ++kill_at) {
    CAPTURE(kill_at);
    TempDir dir;
    const fs::path acks = dir.path / "acks";
    const fs::path data = dir.path / "data";
    const pid_t child = fork();
    if (child == 0) {
      const std::string prepared = std::to_string(prepared_log_bytes);
      execl(EWX_CRASH_CHILD, EWX_CRASH_CHILD, data.c_str(), std::to_string(kill_at).c_str(), acks.c_str(),
            prepared.c_str(), nullptr);
      _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    if (prepared_log_bytes > 0) {
      // What the crash left: the newest log at its spare's full size, zeros after the last write (or past
      // it, when logs switch and one a batch's write took past its spare has gone on appending).
      std::vector<fs::path> logs;
      for (const auto& entry : fs::directory_iterator(data / "db"))
        if (PreparedLogFileSystem::is_log(entry.path().string())) logs.push_back(entry.path());
      REQUIRE_FALSE(logs.empty());
      const auto newest = fs::file_size(*std::max_element(logs.begin(), logs.end()));
      if (logs_switch)
        CHECK(newest >= prepared_log_bytes);
      else
        CHECK(newest == prepared_log_bytes);
    }
    int acknowledged = 0;
    std::ifstream in(acks);
    for (int step; in >> step;) acknowledged = step + 1;

    auto ledger = open_ledger(data);
    // Durable steps: the journal groups and batches present. Each step is one atomic write.
    const int batches = static_cast<int>(ledger->batch_count());
    int groups = 0;
    while (groups < testing::kWorkloadMarkets &&
           (ledger->open_book().orders.contains(testing::workload_market(groups).orders[0].id) || groups < batches)) {
      ++groups;
    }
    const int durable = groups + batches;
    CHECK(durable >= acknowledged);      // nothing acknowledged is lost
    CHECK(durable <= acknowledged + 1);  // at most the write in flight landed
    (durable == acknowledged ? lost_in_flight : landed_unacknowledged) += 1;
    CHECK(ledger->open_book() == books[durable]);
    CHECK(ledger->log_size() == sizes[durable]);  // no contract lost or duplicated
    const VerifyReport report = verify_data_dir(data);
    CHECK_MESSAGE(report.ok, report.first_problem);
  }
  // Half the points are before a write (the step is lost, and was never acknowledged), half after it
  // (durable, not yet acknowledged): both outcomes must really have been exercised.
  CHECK(lost_in_flight == points / 2);
  CHECK(landed_unacknowledged == points / 2);
}

}  // namespace

TEST_CASE("after SIGKILL at any of 60 points, nothing acknowledged is lost, nothing is duplicated, the log verifies") {
  crash_at_every_point(0);
}

// The same over prepared logs: the log a crash leaves is its spare's full size, zeros past the last write,
// and an ordinary RocksDB replays it (ledger/prepared_log.hpp says why zeros are safe where old records
// would not be).
TEST_CASE("the same with write-ahead logs over prepared spares: the zero-filled tail a crash leaves replays clean") {
  crash_at_every_point(1 << 20);
}

// Spares small enough that logs switch during the workload, and each log RocksDB is done with is renamed
// aside and made a spare again: a crash may leave retired logs (valid records under another name) and spares
// half rewritten, and none of them may be replayed.
TEST_CASE("the same with spares of 128 KiB: logs switch, retire and become spares again between the crashes") {
  crash_at_every_point(128 << 10, true);
}
