// ewxd end to end, as real processes: start the daemon, trade through the client library, get the notices,
// scrape /metrics, kill it with SIGKILL in the middle of recording a batch (EWXD_CRASH_AT stops it at the
// named point inside the ledger's commit, before or after the synced write), start it again, and check that
// no acknowledged order and no contract was lost or duplicated, that the lost batch is cleared again, and
// that the ledger verifies as an auditor would verify it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "gateway/asio.hpp"
#include "gateway/client.hpp"
#include "ledger/audit.hpp"
#include "tests/temp_dir.hpp"
#include "tools/read_file.hpp"

extern char** environ;

using namespace ewx;
using namespace ewx::gateway;
namespace fs = std::filesystem;

namespace {

// One ewxd process on ephemeral ports, its log in `log`.
class Daemon {
 public:
  Daemon(const fs::path& data_dir, const fs::path& log, const std::string& crash_at = "") : log_(log) {
    std::vector<std::string> args = {EWX_DAEMON,  "--data-dir",  data_dir.string(),  "--listen", "127.0.0.1:0",
                                     "--metrics", "127.0.0.1:0", "--batch-interval", "50",       "--solver",
                                     "cpu"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e)
      if (!std::string_view(*e).starts_with("EWXD_CRASH_AT=")) env_text.emplace_back(*e);
    if (!crash_at.empty()) env_text.push_back("EWXD_CRASH_AT=" + crash_at);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    REQUIRE(posix_spawn(&pid_, EWX_DAEMON, &actions, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&actions);

    // Ready when it logs where it listens.
    const std::regex started(R"(event=started listen=127\.0\.0\.1:(\d+) metrics=127\.0\.0\.1:(\d+))");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      std::smatch m;
      const std::string text = tools::read_whole_file(log.string());
      if (std::regex_search(text, m, started)) {
        port = static_cast<std::uint16_t>(std::stoi(m[1]));
        metrics_port = static_cast<std::uint16_t>(std::stoi(m[2]));
        break;
      }
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "ewxd did not start:\n" << text);
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;  // reaped: the destructor must not signal a pid the system may hand to another process
        FAIL("ewxd exited at start:\n" << text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Waits for the process to end (up to 30 s, then kills it) and returns its wait status.
  int wait() {
    int status = 0;
    for (int k = 0; k < 3000; ++k) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("ewxd did not end:\n" << log());
    return 0;
  }
  int terminate() {
    ::kill(pid_, SIGTERM);
    return wait();
  }
  std::string log() const { return tools::read_whole_file(log_.string()); }
  Endpoint endpoint() const { return {"127.0.0.1", port, false, ""}; }

  std::uint16_t port = 0, metrics_port = 0;

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

std::string scrape(std::uint16_t port) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> request(http::verb::get, "/metrics", 11);
  request.set(http::field::host, "localhost");
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response.body();
}

std::uint64_t metric(const std::string& text, const std::string& name) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(text, m, std::regex("\n" + name + " (\\d+)\n")), name << " not in\n" << text);
  return std::stoull(m[1]);
}

Credentials credentials(const fs::path& data_dir, const std::string& name) {
  const Participants participants =
      Participants::parse(tools::read_whole_file((data_dir / "participants").string()), "participants");
  const Participant* p = participants.find(name);
  REQUIRE(p);
  return {name, p->secret};
}

const Hour kNow = static_cast<Hour>(std::time(nullptr) / 3600);

OrderRequest bid(std::uint64_t client_order_id) {
  OrderRequest o;
  o.client_order_id = client_order_id;
  o.hub = "yrd";
  o.resource_class = "gpu.h100";
  o.units = 10;
  o.bid = 6'000;
  o.max_latency_ms = 40;
  o.window_begin = kNow + 3;
  o.window_end = kNow + 7;
  return o;
}

OfferRequest offer(std::uint64_t client_order_id) {
  OfferRequest o;
  o.client_order_id = client_order_id;
  o.cluster = "wuhu";
  o.resource_class = "gpu.h100";
  o.units = 30;
  o.ask = 2'000;
  o.green_percent = 60;
  o.window_begin = kNow;
  o.window_end = kNow + 48;
  return o;
}

// Every notice that arrives within `wait`.
std::vector<Notice> notices(Client& client, std::chrono::milliseconds wait) {
  std::vector<Notice> got;
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until)
    if (auto n = client.next_notice(std::chrono::milliseconds(50))) got.push_back(std::move(*n));
  return got;
}

std::vector<ledger::ContractRecord> all_contracts(Client& client, wire::ContractFilter filter, std::uint64_t key) {
  std::vector<ledger::ContractRecord> all;
  ledger::ContractPage page = client.contracts(filter, key, 0, 2);
  for (;;) {
    all.insert(all.end(), page.contracts.begin(), page.contracts.end());
    if (!page.next_start) return all;
    page = client.contracts(filter, key, *page.next_start, 2);
  }
}

}  // namespace

namespace {

// Trades two batches; the daemon dies at `crash_at` while recording the second.
void trade_crash_restart(const std::string& crash_at) {
  CAPTURE(crash_at);
  testing::TempDir dir;
  const fs::path data = dir.path / "data";
  std::map<std::uint64_t, std::uint64_t> order_ids, offer_ids;  // client order id -> exchange id, as acked

  {
    Daemon ewxd(data, dir.path / "ewxd-1.log", crash_at);
    Client buyer(ewxd.endpoint(), credentials(data, "enterprise-001"));
    Client seller(ewxd.endpoint(), credentials(data, "provider-001"));
    Client auditor(ewxd.endpoint(), credentials(data, "auditor-1"));
    buyer.subscribe(false, true);
    seller.subscribe(false, true);
    auditor.subscribe(true, false);

    // Batch 1: five orders of 10 units, then one offer of 30 (the orders first, so all five are in it).
    for (std::uint64_t k = 1; k <= 5; ++k) {
      const Answer a = buyer.submit(bid(k));
      REQUIRE_MESSAGE(a.accepted, a.reason);
      order_ids[k] = a.id;
    }
    const Answer first_offer = seller.submit(offer(1));
    REQUIRE(first_offer.accepted);
    offer_ids[1] = first_offer.id;

    // Both parties hear of every contract, and of their fills; subscribers get the summary.
    const auto to_buyer = notices(buyer, std::chrono::milliseconds(1500));
    std::set<std::uint64_t> buyer_contracts;
    Units buyer_filled = 0;
    for (const auto& n : to_buyer) {
      if (const auto* c = std::get_if<ledger::ContractRecord>(&n)) {
        CHECK(c->buyer == 1);
        CHECK(c->batch == 1);
        buyer_contracts.insert(c->id);
      }
      if (const auto* f = std::get_if<FillView>(&n)) {
        CHECK(f->side == wire::Side::order);
        CHECK(f->remaining == 10 - f->units);
        buyer_filled += f->units;
      }
    }
    CHECK(buyer_contracts.size() == 3);
    CHECK(buyer_filled == 30);
    const auto to_seller = notices(seller, std::chrono::milliseconds(100));
    std::size_t seller_contracts = 0;
    for (const auto& n : to_seller) {
      if (std::holds_alternative<ledger::ContractRecord>(n)) ++seller_contracts;
      if (const auto* f = std::get_if<FillView>(&n)) CHECK((f->id == first_offer.id && f->remaining == 0));
    }
    CHECK(seller_contracts == 3);
    const auto to_auditor = notices(auditor, std::chrono::milliseconds(100));
    REQUIRE(to_auditor.size() == 1);
    const auto& summary = std::get<BatchSummary>(to_auditor.front());
    CHECK(summary.number == 1);
    CHECK(summary.contracts == 3);
    CHECK(summary.units == 30);
    CHECK(summary.log_size == 3);

    // The open book shows what is left, and the metrics agree.
    Units open_units = 0;
    for (const auto& o : buyer.open_orders()) {
      CHECK(std::string(o.state()) == "open");
      open_units += o.remaining;
    }
    CHECK(open_units == 20);
    const std::string scraped = scrape(ewxd.metrics_port);
    CHECK(metric(scraped, "ewx_batches_total") == 1);
    CHECK(metric(scraped, "ewx_contracts_total") == 3);
    CHECK(metric(scraped, "ewx_orders_accepted_total") == 5);
    CHECK(metric(scraped, "ewx_offers_accepted_total") == 1);
    CHECK(metric(scraped, "ewx_client_order_ids") == 6);                   // the five bids and the offer
    CHECK(metric(scraped, "ewx_client_order_id_copy_rounds_total") == 0);  // far below the table's first growth
    CHECK(metric(scraped, "ewx_ledger_paced_write_bytes_total") > 0);      // the next log's spare, begun at start
    CHECK(metric(scraped, "ewx_journal_spares_recycled_total") == 0);      // no log has been flushed and retired
    CHECK(metric(scraped, "ewx_connections_open") == 3);
    CHECK(metric(scraped, "ewx_book_orders") == 2);
    // Every submission the journal took, each timed from its hand-over to its durable answer.
    CHECK(metric(scraped, "ewx_intake_to_durable_seconds_count") == 6);
    CHECK(metric(scraped, "ewx_journal_sync_seconds_count") >= 6);  // one at least for each of the six answered
                                                                    // one by one

    // Batch 2: three more orders, then another offer of 30; the daemon dies while recording it.
    for (std::uint64_t k = 6; k <= 8; ++k) {
      const Answer a = buyer.submit(bid(k));
      REQUIRE(a.accepted);
      order_ids[k] = a.id;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // their ticks pass: no offer, nothing to record
    const Answer second_offer = seller.submit(offer(2));
    REQUIRE(second_offer.accepted);
    offer_ids[2] = second_offer.id;
    const int status = ewxd.wait();
    REQUIRE_MESSAGE(WIFSIGNALED(status), ewxd.log());
    CHECK(WTERMSIG(status) == SIGKILL);
  }

  Daemon ewxd(data, dir.path / "ewxd-2.log");
  Client buyer(ewxd.endpoint(), credentials(data, "enterprise-001"));
  Client seller(ewxd.endpoint(), credentials(data, "provider-001"));
  Client auditor(ewxd.endpoint(), credentials(data, "auditor-1"));

  // Nothing acknowledged was lost: every resend is recognised, with its first id, and creates nothing.
  for (const auto& [client_id, id] : order_ids) {
    const Answer a = buyer.submit(bid(client_id));
    CHECK((a.accepted && a.duplicate && a.id == id));
  }
  for (const auto& [client_id, id] : offer_ids) {
    const Answer a = seller.submit(offer(client_id));
    CHECK((a.accepted && a.duplicate && a.id == id));
  }

  // The batch lost with the process (or recorded just before it died) is in the ledger once: 60 units in all.
  std::vector<ledger::ContractRecord> bought;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    bought = all_contracts(buyer, wire::ContractFilter::by_buyer, 1);
    Units units = 0;
    for (const auto& c : bought) units += c.units;
    if (units >= 60) break;
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "batch 2 was not cleared after the restart");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few more ticks: nothing more may trade
  bought = all_contracts(buyer, wire::ContractFilter::by_buyer, 1);
  std::map<std::uint64_t, Units> per_order, per_offer;
  std::set<std::uint64_t> ids, batches;
  Units units = 0;
  for (const auto& c : bought) {
    CHECK(ids.insert(c.id).second);
    batches.insert(c.batch);
    per_order[c.order] += c.units;
    per_offer[c.offer] += c.units;
    units += c.units;
  }
  CHECK(units == 60);
  CHECK(batches == std::set<std::uint64_t>{1, 2});
  for (const auto& [order, traded] : per_order) CHECK(traded <= 10);
  for (const auto& [offer, traded] : per_offer) CHECK(traded == 30);
  CHECK(ids.size() == auditor.head().head.log_size);  // every contract in the log is one of these, once
  Units open_units = 0;
  for (const auto& o : buyer.open_orders()) open_units += o.remaining;
  CHECK(open_units == 80 - 60);
  CHECK(seller.open_orders().empty());

  CHECK(ewxd.terminate() == 0);
  const ledger::VerifyReport verified = ledger::verify_data_dir(data / "ledger");
  CHECK_MESSAGE(verified.ok, verified.first_problem);
  CHECK(verified.batches == 2);
  for (std::uint64_t b = 1; b <= 2; ++b) {
    const ledger::BatchAudit audit = ledger::audit_batch(data / "ledger", b);
    CHECK_MESSAGE(audit.ok, audit.problem);
  }
}

}  // namespace

TEST_CASE("ewxd end to end: trade, notices, metrics; SIGKILL before a batch's write, restart, nothing lost") {
  trade_crash_restart("commit-before-write:2");
}

TEST_CASE("ewxd end to end: SIGKILL after a batch's synced write, before its notices: recorded once, not twice") {
  trade_crash_restart("commit-after-write:2");
}

namespace {

// The daemon dies at `crash_at`, a point of the fourth order's journal write: written but not yet synced, or
// synced but not yet acknowledged. The first three were acknowledged and must survive; the fourth was not,
// so it may or may not be there, but never twice. (A process killed after its write leaves the write in the
// kernel's cache, which reaches the disk anyway; only a power cut could lose it, which is why nobody hears
// of it before its sync. So `durable` says only that the sync is known to have happened.)
void crash_in_journal(const std::string& crash_at, bool durable) {
  CAPTURE(crash_at);
  testing::TempDir dir;
  const fs::path data = dir.path / "data";
  std::map<std::uint64_t, std::uint64_t> acked;  // client order id -> exchange id
  {
    Daemon ewxd(data, dir.path / "ewxd-1.log", crash_at);
    Client buyer(ewxd.endpoint(), credentials(data, "enterprise-001"));
    for (std::uint64_t k = 1; k <= 3; ++k) {
      const Answer a = buyer.submit(bid(k));
      REQUIRE_MESSAGE(a.accepted, a.reason);
      acked[k] = a.id;
    }
    CHECK_THROWS_AS(buyer.submit(bid(4)), ClientError);  // no answer: the daemon is gone
    const int status = ewxd.wait();
    REQUIRE_MESSAGE(WIFSIGNALED(status), ewxd.log());
    CHECK(WTERMSIG(status) == SIGKILL);
  }

  Daemon ewxd(data, dir.path / "ewxd-2.log");
  Client buyer(ewxd.endpoint(), credentials(data, "enterprise-001"));
  for (const auto& [client_id, id] : acked) {
    const Answer a = buyer.submit(bid(client_id));
    CHECK((a.accepted && a.duplicate && a.id == id));
  }
  const Answer fourth = buyer.submit(bid(4));
  REQUIRE(fourth.accepted);
  if (durable) CHECK(fourth.duplicate);
  const Answer again = buyer.submit(bid(4));
  CHECK((again.accepted && again.duplicate && again.id == fourth.id));
  CHECK(buyer.open_orders().size() == 4);
  CHECK(ewxd.terminate() == 0);
  const ledger::VerifyReport verified = ledger::verify_data_dir(data / "ledger");
  CHECK_MESSAGE(verified.ok, verified.first_problem);
}

}  // namespace

TEST_CASE("ewxd: SIGKILL between an order's journal write and its sync: acknowledged orders kept, the last not") {
  crash_in_journal("journal-after-write:4", false);
}

TEST_CASE("ewxd: SIGKILL after an order's journal sync, before its ack: it is kept, and a resend finds it") {
  crash_in_journal("journal-after-sync:4", true);
}
