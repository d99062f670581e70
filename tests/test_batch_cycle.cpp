// The batch cycle inside one process: the exchange core and its ledger writer, driven on the test's own
// io_context with a clock the test sets, and a solver wrapper that keeps each clearing for the independent
// checks (optimality certificate, competitive equilibrium) or holds it while the test acts mid-batch. Also
// the metrics endpoint, over real HTTP.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "exchange/batch_cycle.hpp"
#include "exchange/exchange.hpp"
#include "exchange/metrics.hpp"
#include "gateway/asio.hpp"
#include "matcher/certificate.hpp"
#include "matcher/equilibrium_check.hpp"
#include "matcher/market_generator.hpp"
#include "tests/temp_dir.hpp"

using namespace ewx;
namespace asio = boost::asio;

namespace {

constexpr Hour kHour = 493'000;  // the test clock's hour; generated markets deliver from 493'080 on

gateway::Participant trader(ParticipantId account) {
  return {"p" + std::to_string(account),
          account >= 100'000 ? gateway::Role::provider : gateway::Role::enterprise,
          account,
          {}};
}

ledger::JournalEntry order_entry(const BuyOrder& order, const std::string& resource_class, std::uint64_t client_id) {
  ledger::JournalEntry e;
  e.kind = ledger::JournalEntry::Kind::order;
  e.order = order;
  e.resource_class = resource_class;
  e.client_order_id = client_id;
  return e;
}

ledger::JournalEntry offer_entry(const SellOffer& offer, const std::string& resource_class, std::uint64_t client_id) {
  ledger::JournalEntry e;
  e.kind = ledger::JournalEntry::Kind::offer;
  e.offer = offer;
  e.resource_class = resource_class;
  e.client_order_id = client_id;
  return e;
}

BuyOrder simple_order(Units units, Fen bid, Hour begin) {
  BuyOrder o;
  o.hub = *default_topology().find_hub("yrd");
  o.units = units;
  o.bid = bid;
  o.max_latency_ms = 40;
  o.window_begin = begin;
  o.window_end = begin + 4;
  o.participant = 1;
  return o;
}

SellOffer simple_offer(Units units, Fen ask, Hour end) {
  SellOffer o;
  o.cluster = *default_topology().find_cluster("wuhu");
  o.units = units;
  o.ask = ask;
  o.green_percent = 50;
  o.window_begin = kHour;
  o.window_end = end;
  o.participant = 100'001;
  return o;
}

// The exchange and its batch cycle on the test thread's io_context.
struct Market {
  testing::TempDir dir;
  asio::io_context io;
  std::unique_ptr<Exchange> exchange;
  std::unique_ptr<BatchCycle> cycle;
  std::atomic<std::int64_t> now{kHour * 3600};
  std::vector<ClearedBatch> ticks;
  // The solver's last clearing, kept for the independent checks.
  std::mutex solved_mutex;
  std::vector<std::pair<Batch, ClearingResult>> solved;
  std::function<void()> before_solve;  // runs on the solver thread, e.g. to hold a batch mid-flight

  explicit Market(std::chrono::milliseconds interval = std::chrono::milliseconds(20),
                  std::size_t batch_size = 100'000) {
    auto opened = Exchange::open(dir.path, true, io);
    REQUIRE_MESSAGE(opened.is_ok(), opened.status().message());
    exchange = std::move(opened.value());
    BatchCycleConfig config;
    config.interval = interval;
    config.batch_size = batch_size;
    config.clock = [this] { return now.load(); };
    config.solver = [this](const Batch& batch, const Topology& topology) {
      if (before_solve) before_solve();
      ClearingResult result = clear_batch(batch, topology);
      std::lock_guard lock(solved_mutex);
      solved.emplace_back(batch, result);
      return result;
    };
    cycle = std::make_unique<BatchCycle>(io, *exchange, default_topology(), config,
                                         [this](const ClearedBatch& tick) { ticks.push_back(tick); });
    exchange->on_accepted([this] { cycle->arrived(); });
    cycle->start();
  }
  ~Market() {
    cycle->stop();
    io.run_for(std::chrono::seconds(5));  // a batch in flight finishes
    exchange->stop();
  }

  // Runs the io_context until `done` holds (or fails the test after 20 s).
  template <typename Predicate>
  void run_until(Predicate done, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "timed out waiting for " << what);
      io.run_one_for(std::chrono::milliseconds(10));
    }
  }

  // Submits and waits for the decision; returns the exchange's id.
  std::uint64_t submit(ParticipantId account, ledger::JournalEntry entry) {
    std::optional<gateway::Decision> decision;
    exchange->submit(trader(account), std::move(entry), [&](gateway::Decision d) { decision = std::move(d); });
    run_until([&] { return decision.has_value(); }, "an Ack");
    const auto* accepted = std::get_if<gateway::Accepted>(&*decision);
    REQUIRE_MESSAGE(accepted, std::get<gateway::Rejection>(*decision).reason);
    return accepted->id;
  }
  std::size_t cleared() const {
    return static_cast<std::size_t>(std::count_if(ticks.begin(), ticks.end(), [](auto& t) { return t.cleared; }));
  }
  std::vector<gateway::OpenOrderView> open_orders(ParticipantId account) {
    std::optional<std::vector<gateway::OpenOrderView>> open;
    exchange->open_orders(trader(account), [&](auto rows) { open = std::move(rows); });
    run_until([&] { return open.has_value(); }, "the open orders");
    return *open;
  }
};

}  // namespace

TEST_CASE("the batch cycle clears the open book exactly, records it, and reports every fill") {
  // Two waves of a generated market, each closing its batch by size alone (the timer would wait an hour), so
  // what each batch holds does not depend on how fast the submissions run: the first batch is the first
  // wave, the second is the second wave and what the first left open.
  constexpr std::size_t kWave = 340;  // 300 orders and 40 offers
  Market market(std::chrono::hours(1), kWave);
  std::map<OrderId, Units> order_units;
  std::map<OfferId, Units> offer_units;
  std::uint64_t client_id = 0;
  for (const std::uint64_t seed : {7, 8}) {
    MarketShape shape;
    shape.orders = 300;
    shape.offers = 40;
    shape.seed = seed;
    const Batch generated = generate_market(shape, default_topology());
    REQUIRE(generated.orders.size() + generated.offers.size() == kWave);
    for (const BuyOrder& o : generated.orders) {
      const auto id =
          market.submit(o.participant, order_entry(o, generated.resource_classes[o.resource_class], ++client_id));
      order_units[id] = o.units;
    }
    for (const SellOffer& o : generated.offers) {
      const auto id =
          market.submit(o.participant, offer_entry(o, generated.resource_classes[o.resource_class], ++client_id));
      offer_units[id] = o.units;
    }
    const std::size_t wave = seed - 6;
    market.run_until([&] { return market.cleared() >= wave; }, "the wave's batch");
  }
  // Nothing new arrives, so nothing more clears.
  const auto settled = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  market.run_until([&] { return std::chrono::steady_clock::now() > settled; }, "quiet");

  std::lock_guard lock(market.solved_mutex);
  const std::size_t batches = market.cleared();
  REQUIRE(market.solved.size() == batches);
  std::map<OrderId, Units> bought;
  std::map<OfferId, Units> sold;
  for (std::size_t k = 0; k < batches; ++k) {
    const auto& [batch, result] = market.solved[k];
    const ClearedBatch& tick = *std::find_if(market.ticks.begin(), market.ticks.end(),
                                             [&](auto& t) { return t.cleared && t.number == batch.number; });
    CAPTURE(batch.number);
    // The clearing is optimal by an independent certificate and a competitive equilibrium at its prices.
    const CertificateReport certificate = check_certificate(result.graph.problem, result.solution);
    CHECK_MESSAGE(certificate.optimal, certificate.failure);
    const EquilibriumReport equilibrium =
        check_equilibrium(batch, default_topology(), result.contracts, result.offer_price);
    CHECK_MESSAGE(equilibrium.holds, equilibrium.failure);
    // The recorded contracts are the solver's, one for one, in the ledger's log order.
    REQUIRE(tick.contracts.size() == result.contracts.size());
    CHECK(tick.contracts.size() > 0);
    REQUIRE(tick.record);
    CHECK(tick.record->contract_count == result.contracts.size());
    CHECK(tick.record->total_surplus == to_string(result.total_surplus));
    for (std::size_t c = 0; c < result.contracts.size(); ++c) {
      CHECK(tick.contracts[c].order == result.contracts[c].order);
      CHECK(tick.contracts[c].offer == result.contracts[c].offer);
      CHECK(tick.contracts[c].units == result.contracts[c].units);
      CHECK(tick.contracts[c].price == result.contracts[c].price);
      CHECK(tick.contracts[c].batch == batch.number);
    }
    // One fill for each order and offer that traded, orders then offers, each in id order.
    std::set<std::pair<bool, std::uint64_t>> traded_ids;
    for (const auto& c : tick.contracts) traded_ids.insert({false, c.order}), traded_ids.insert({true, c.offer});
    REQUIRE(tick.fills.size() == traded_ids.size());
    auto expected_id = traded_ids.begin();
    for (const auto& f : tick.fills) {
      CHECK(f.offer == expected_id->first);
      CHECK(f.id == expected_id->second);
      ++expected_id;
    }
    // Each fill is what the batch's contracts traded, by its owner, with what is left of it afterwards.
    for (const auto& f : tick.fills) {
      Units traded = 0;
      for (const auto& c : tick.contracts) {
        if ((f.offer ? c.offer : c.order) != f.id) continue;
        traded += c.units;
        CHECK(f.participant == (f.offer ? c.seller : c.buyer));
      }
      CHECK(f.units == traded);
      auto& total = f.offer ? sold[f.id] : bought[f.id];
      total += f.units;
      CHECK(f.remaining == (f.offer ? offer_units.at(f.id) : order_units.at(f.id)) - total);
    }
  }
  CHECK(batches == 2);
  CHECK(market.ticks.size() == 2);
  CHECK(market.ticks.front().orders == 300);
  CHECK(market.ticks.back().orders > 300);  // the second wave's and what the first left open
  // The book as the exchange reports it agrees: what is open has exactly its untraded units left.
  for (ParticipantId account = 1; account <= 40; ++account) {
    for (const auto& o : market.open_orders(account)) {
      CHECK(o.remaining == o.units - bought[o.id]);
      CHECK(std::string(o.state()) == (bought[o.id] > 0 ? "partially filled" : "open"));
    }
  }
}

TEST_CASE("orders expire when their delivery window begins, offers when they can no longer hold an hour") {
  Market market;
  // Neither crosses (bid below ask), so both rest until they expire.
  const auto order = market.submit(1, order_entry(simple_order(10, 1'000, kHour + 2), "gpu.h100", 1));
  const auto offer = market.submit(100'001, offer_entry(simple_offer(10, 5'000, kHour + 3), "gpu.h100", 2));

  market.now = (kHour + 1) * 3600 + 3599;  // the last second of the hour before the order's window
  const auto later = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  market.run_until([&] { return std::chrono::steady_clock::now() > later; }, "ticks");
  CHECK(market.open_orders(1).size() == 1);
  CHECK(market.open_orders(100'001).size() == 1);
  for (const auto& t : market.ticks) CHECK(t.expired.empty());

  market.now = (kHour + 2) * 3600;  // the order's window has begun; the offer ends an hour later
  market.run_until([&] { return !market.ticks.empty() && !market.ticks.back().expired.empty(); }, "expiries");
  const auto& expired = market.ticks.back().expired;
  REQUIRE(expired.size() == 2);
  CHECK((!expired[0].offer && expired[0].id == order && expired[0].participant == 1 && expired[0].remaining == 10));
  CHECK(
      (expired[1].offer && expired[1].id == offer && expired[1].participant == 100'001 && expired[1].remaining == 10));
  CHECK(market.open_orders(1).empty());
  CHECK(market.open_orders(100'001).empty());

  // The owner's cancel of an expired order is refused as not open.
  std::optional<gateway::Decision> decision;
  market.exchange->cancel(trader(1), wire::Side::order, order, [&](gateway::Decision d) { decision = d; });
  market.run_until([&] { return decision.has_value(); }, "the cancel's answer");
  REQUIRE(std::holds_alternative<gateway::Rejection>(*decision));
  CHECK(std::get<gateway::Rejection>(*decision).code == wire::RejectCode::unknown_id);
}

TEST_CASE("a close takes the batch and the expired in one pass: classes in name order, the expired left out") {
  ledger::OpenBook book;
  const std::vector<std::string> classes = {"gpu.h100", "cpu.x86", "gpu.a100", "cpu.x86", "gpu.h100", "gpu.a100"};
  constexpr Hour kNow = 1000;
  for (std::uint64_t k = 0; k < classes.size(); ++k) {
    ledger::OpenOrder order;
    order.participant = 10 + k;
    order.resource_class = classes[k];
    order.order.id = k + 1;
    order.order.window_begin = k % 3 == 2 ? kNow : kNow + 5;  // every third order's window has begun
    order.order.window_end = kNow + 9;
    order.order.units = 10;
    order.remaining = 7;
    book.orders.insert_or_assign(order.order.id, order);
    ledger::OpenOffer offer;
    offer.participant = 100 + k;
    offer.resource_class = classes[classes.size() - 1 - k];
    offer.offer.id = k + 1;
    offer.offer.window_begin = kNow;
    offer.offer.window_end = k == 0 ? kNow + 1 : kNow + 9;  // the first can no longer hold an hour
    offer.remaining = 4;
    book.offers.insert_or_assign(offer.offer.id, offer);
  }
  std::vector<ClearedBatch::Expiry> expired;
  const Batch batch = snapshot_book(book, 7, kNow, true, expired);
  CHECK(batch.number == 7);
  CHECK(batch.resource_classes == std::vector<std::string>{"cpu.x86", "gpu.a100", "gpu.h100"});
  REQUIRE(batch.orders.size() == 4);
  for (const BuyOrder& order : batch.orders) {
    REQUIRE(book.orders.contains(order.id));
    const ledger::OpenOrder& open = *book.orders.find(order.id);
    CHECK(batch.resource_classes[order.resource_class] == open.resource_class);
    CHECK(order.units == 7);
    CHECK(order.participant == open.participant);
  }
  REQUIRE(batch.offers.size() == 5);
  for (const SellOffer& offer : batch.offers) {
    REQUIRE(book.offers.contains(offer.id));
    CHECK(batch.resource_classes[offer.resource_class] == book.offers.find(offer.id)->resource_class);
    CHECK(offer.units == 4);
  }
  CHECK(std::is_sorted(batch.orders.begin(), batch.orders.end(),
                       [](const BuyOrder& a, const BuyOrder& b) { return a.id < b.id; }));
  REQUIRE(expired.size() == 3);
  CHECK((!expired[0].offer && expired[0].id == 3 && expired[0].participant == 12 && expired[0].remaining == 7));
  CHECK((!expired[1].offer && expired[1].id == 6));
  CHECK((expired[2].offer && expired[2].id == 1 && expired[2].participant == 100 && expired[2].remaining == 4));

  // Without a batch to clear, only the expired are listed.
  std::vector<ClearedBatch::Expiry> only;
  const Batch none = snapshot_book(book, 8, kNow, false, only);
  CHECK(none.orders.empty());
  CHECK(none.offers.empty());
  CHECK(only.size() == 3);
}

TEST_CASE("intake goes on while a batch is solved; cancels wait for its commit") {
  Market market;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> solving{false};
  market.before_solve = [&] {
    solving = true;
    released.wait();
  };
  const auto filled = market.submit(1, order_entry(simple_order(10, 6'000, kHour + 5), "gpu.h100", 1));
  const auto resting = market.submit(1, order_entry(simple_order(10, 100, kHour + 5), "gpu.h100", 2));
  market.submit(100'001, offer_entry(simple_offer(10, 2'000, kHour + 48), "gpu.h100", 3));
  market.run_until([&] { return solving.load(); }, "the batch to be in the solver");

  std::optional<gateway::Decision> cancel_filled, cancel_resting;
  market.exchange->cancel(trader(1), wire::Side::order, filled, [&](gateway::Decision d) { cancel_filled = d; });
  market.exchange->cancel(trader(1), wire::Side::order, resting, [&](gateway::Decision d) { cancel_resting = d; });
  // A new order is taken and made durable while the batch is still being solved...
  const auto arrived = market.submit(2, order_entry(simple_order(5, 6'000, kHour + 5), "gpu.h100", 4));
  CHECK(arrived > resting);
  // ...but the cancels wait for the commit.
  const auto wait = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  market.run_until([&] { return std::chrono::steady_clock::now() > wait; }, "a while");
  CHECK_FALSE(cancel_filled.has_value());
  CHECK_FALSE(cancel_resting.has_value());
  CHECK(market.cleared() == 0);

  release.set_value();
  market.run_until([&] { return cancel_filled && cancel_resting; }, "the cancels' answers");
  REQUIRE(market.cleared() >= 1);
  CHECK(market.ticks.front().contracts.size() == 1);
  CHECK(market.ticks.front().contracts.front().order == filled);
  // The batch filled the first order completely, so its cancel comes too late; the resting one is cancelled.
  REQUIRE(std::holds_alternative<gateway::Rejection>(*cancel_filled));
  CHECK(std::get<gateway::Rejection>(*cancel_filled).code == wire::RejectCode::unknown_id);
  CHECK(std::holds_alternative<gateway::Accepted>(*cancel_resting));
  CHECK(market.open_orders(1).empty());
}

TEST_CASE("a ledger task from any thread comes after every submission made before it") {
  Market market(std::chrono::hours(1));
  // Submitted on the io thread (the test's) and staged there, to be handed to the writer with whatever else
  // that wake-up of the io thread brings.
  std::optional<gateway::Decision> first, second;
  market.exchange->submit(trader(1), order_entry(simple_order(10, 6'000, kHour + 5), "gpu.h100", 1),
                          [&](gateway::Decision d) { first = d; });
  // A task from another thread, as the batch cycle records a batch from its solver thread, comes after it.
  std::promise<std::size_t> seen_elsewhere;
  std::thread([&] {
    market.exchange->with_ledger([&](ledger::Ledger& l) { seen_elsewhere.set_value(l.open_book().orders.size()); });
  }).join();
  // So does a task from the io thread, after a second submission.
  market.exchange->submit(trader(1), order_entry(simple_order(10, 6'000, kHour + 5), "gpu.h100", 2),
                          [&](gateway::Decision d) { second = d; });
  std::optional<std::size_t> seen_here;
  market.exchange->with_ledger([&](ledger::Ledger& l) {
    const std::size_t open = l.open_book().orders.size();
    asio::post(market.io, [&, open] { seen_here = open; });
  });
  market.run_until([&] { return first && second && seen_here; }, "the answers and the io thread's task");
  CHECK(std::holds_alternative<gateway::Accepted>(*first));
  CHECK(std::holds_alternative<gateway::Accepted>(*second));
  CHECK(seen_elsewhere.get_future().get() == 1);
  CHECK(*seen_here == 2);
}

TEST_CASE("a batch closes early once batch-size new orders and offers wait") {
  Market market(std::chrono::hours(1), 3);  // the timer alone would wait an hour
  market.submit(1, order_entry(simple_order(10, 6'000, kHour + 5), "gpu.h100", 1));
  market.submit(1, order_entry(simple_order(10, 6'000, kHour + 5), "gpu.h100", 2));
  CHECK(market.cleared() == 0);
  market.submit(100'001, offer_entry(simple_offer(15, 2'000, kHour + 48), "gpu.h100", 3));
  market.run_until([&] { return market.cleared() == 1; }, "the early close");
  CHECK(market.ticks.back().units_traded == 15);
  CHECK(market.ticks.back().book_orders == 1);  // 5 units of the second order are left
}

TEST_CASE("a latency histogram counts each value in every bucket whose bound it does not exceed") {
  LatencyHistogram h;
  for (const std::int64_t us : {40, 250, 251, 1'000, 2'400, 20'000'000}) h.observe(std::chrono::microseconds(us));
  const auto& bounds = LatencyHistogram::kBoundsUs;
  const auto at_most = [&](std::int64_t bound_us) {
    const auto k = std::find(bounds.begin(), bounds.end(), bound_us) - bounds.begin();
    REQUIRE(k < static_cast<std::ptrdiff_t>(bounds.size()));
    return h.at_most(static_cast<std::size_t>(k));
  };
  CHECK(at_most(50) == 1);
  CHECK(at_most(250) == 2);  // a bound is inclusive, as Prometheus's le says
  CHECK(at_most(500) == 3);
  CHECK(at_most(1'000) == 4);
  CHECK(at_most(2'500) == 5);
  CHECK(at_most(10'000'000) == 5);  // 20 s is only in +Inf, that is the count
  CHECK(h.count() == 6);
  CHECK(h.sum_us() == 20'003'941);
}

TEST_CASE("the metrics endpoint serves Prometheus text at /metrics and nothing else") {
  LatencyHistogram solve;
  solve.observe(std::chrono::microseconds(300));
  solve.observe(std::chrono::microseconds(20'000));
  PrometheusText text;
  text.counter("ewx_orders_accepted_total", "Orders accepted.", 42);
  text.histogram("ewx_solve_seconds", "Solve time.", solve);
  const std::string expected_lines[] = {"# TYPE ewx_orders_accepted_total counter\n",
                                        "ewx_orders_accepted_total 42\n",
                                        "ewx_solve_seconds_bucket{le=\"0.000100\"} 0\n",
                                        "ewx_solve_seconds_bucket{le=\"0.000500\"} 1\n",
                                        "ewx_solve_seconds_bucket{le=\"0.050000\"} 2\n",
                                        "ewx_solve_seconds_bucket{le=\"+Inf\"} 2\n",
                                        "ewx_solve_seconds_sum 0.020300\n",
                                        "ewx_solve_seconds_count 2\n"};
  for (const auto& line : expected_lines) CHECK_MESSAGE(text.text().find(line) != std::string::npos, line);

  asio::io_context io;
  std::atomic<int> scrapes = 0;
  MetricsEndpoint endpoint(io, "127.0.0.1", 0, [&] {
    ++scrapes;
    return text.text();
  });
  endpoint.start();
  std::thread server([&] { io.run(); });
  namespace http = boost::beast::http;
  const auto get = [&](const std::string& target) {
    asio::io_context client_io;
    boost::beast::tcp_stream stream(client_io);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), endpoint.port()));
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "localhost");
    request.keep_alive(false);
    http::write(stream, request);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return response;
  };
  const auto metrics = get("/metrics");
  CHECK(metrics.result() == http::status::ok);
  CHECK(std::string(metrics[http::field::content_type]).starts_with("text/plain; version=0.0.4"));
  CHECK(metrics.body() == text.text());
  CHECK(scrapes == 1);
  CHECK(get("/").result() == http::status::not_found);
  CHECK(scrapes == 1);
  asio::post(io, [&] { endpoint.stop(); });
  server.join();
}
