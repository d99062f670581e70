// ewx-loadgen: many participants trading at once against a running ewxd, to measure what the gateway
// sustains: answered submissions per second, and submit-to-answer latency percentiles.
//
// Each connection logs in as one participant from the operator's participants file: enterprises bid from the
// eastern hubs, providers offer capacity in the clusters, and both cancel some of their own earlier orders
// (--mix gives the shares). Every request is pipelined through the async client.
//
// Two modes:
//  - --rate 0 (default): as fast as the server answers, each connection keeping --window requests in flight.
//    This measures throughput.
//  - --rate R: R requests per second in total, each sent when it falls due (in groups every 50 microseconds
//    when they fall due faster). Latency is measured from when each request was due, not from when it was
//    sent, so a stalled server is charged for the requests it held up (no coordinated omission). This
//    measures latency at a given load.
// Only answers to requests due after --warmup seconds are counted.
//
// Two measurements of the whole exchange rather than the gateway:
//  - --notices: every trader subscribes to its own contracts, and the time from each order's due time to its
//    first ContractNotice is reported (submit-to-contract latency: the wait for the batch close, the
//    clearing, the synced commit, the notice).
//  - --burst-orders N --burst-offers M: exactly N bids and M offers, as fast as answered, then the wait for
//    the batch that clears them (run ewxd with --batch-size N+M and a long --batch-interval, so that exactly
//    this batch closes when the last of them is durable). Reports the intake time and the time from the
//    first submission to the BatchCleared notice: intake to durable contracts.
#include <fmt/core.h>
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>

#include "gateway/asio.hpp"
#include "gateway/client.hpp"
#include "matcher/topology.hpp"
#include "tools/read_file.hpp"
#include "tools/request_schedule.hpp"

namespace {

namespace asio = boost::asio;
using namespace ewx;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string server = "127.0.0.1:7400";
  std::string participants;
  int connections = 8;
  double seconds = 5;
  double warmup = 1;
  std::uint64_t rate = 0;
  int window = 1000;
  std::vector<int> mix = {60, 30, 10};  // bids, offers, cancels (percent)
  bool tls = false;
  std::string ca;
  bool json = false;
  std::uint64_t seed = 1;
  bool notices = false;
  std::uint64_t burst_orders = 0, burst_offers = 0;
  bool burst() const { return burst_orders + burst_offers > 0; }
};

constexpr auto kPacing = std::chrono::microseconds(50);

// A latency as the figures keep it: whole nanoseconds, saturated at what 32 bits hold (4.3 s).
std::uint32_t nanoseconds_u32(Clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return static_cast<std::uint32_t>(std::min<std::int64_t>(ns, UINT32_MAX));
}

const char* const kClasses[] = {"gpu.h100", "gpu.a100", "gpu.910b", "cpu.c8", "cpu.c32"};
const char* const kEastHubs[] = {"bth", "yrd", "gba"};

struct Stats {
  std::vector<std::uint32_t> latency_ns;
  // Of each latency, the part before the request was sent: how far this program's pacing fell behind (its
  // timer, or its thread waiting for a core), which the server is charged for but did not cause.
  std::vector<std::uint32_t> send_lag_ns;
  std::vector<std::uint32_t> in_flight_ns;  // the rest: from the send to the answer's arrival
  std::uint64_t sent = 0, accepted = 0, duplicates = 0;
  std::map<std::string, std::uint64_t> rejected;
  std::uint64_t counted = 0;                  // answers in the measured window
  std::vector<std::uint32_t> to_contract_us;  // --notices: due time to the order's first contract notice
  // --burst: the first submission, the last answer, and the batch that cleared them.
  Clock::time_point first_sent, last_answer, cleared;
  std::optional<gateway::BatchSummary> batch;
};

class Trader {
 public:
  Trader(asio::io_context& io, const gateway::Participant& who, std::uint64_t index, std::uint64_t seed)
      : client(io), participant(who), random(seed), client_id_base((seed & 0xffffff) << 40 | (index & 0xfff) << 28) {}

  gateway::AsyncClient client;
  const gateway::Participant& participant;
  std::mt19937_64 random;
  std::uint64_t client_id_base;
  std::uint64_t sequence = 0;
  std::vector<std::uint64_t> open_ids;
  int outstanding = 0;
  // Gets every answer, with the time its request was due.
  // `cancel`: the request was a cancel (a cancel of an order filled or expired meanwhile is refused as
  // unknown_id, which is the market at work, not an error).
  std::function<void(Clock::time_point due, Clock::time_point sent, const gateway::Answer&, bool cancel)> on_answer;
  // --notices: accepted orders not yet in a contract, with their due times.
  std::unordered_map<std::uint64_t, Clock::time_point> awaiting_contract;
  bool enterprise() const { return participant.role == gateway::Role::enterprise; }

  // Sends one request due at `due`, at `sent` (the caller's clock reading for the burst it sends: a clock
  // read per request cost this program a few percent of its CPU at a million requests a second).
  void send(const Options& o, Clock::time_point due, Clock::time_point sent) {
    ++outstanding;
    const int roll = static_cast<int>(random() % 100);
    const bool enterprise = participant.role == gateway::Role::enterprise;
    // Accepted orders and offers become candidates for later cancels; accepted cancels do not.
    const auto answer_to = [this, due, sent, &o](bool remember) {
      return [this, due, sent, remember, &o](const gateway::Answer& a) {
        --outstanding;
        if (a.accepted && !a.duplicate && remember) open_ids.push_back(a.id);
        if (a.accepted && !a.duplicate && remember && o.notices && this->enterprise())
          awaiting_contract.emplace(a.id, due);
        on_answer(due, sent, a, !remember);
      };
    };
    if (roll < o.mix[2] && !open_ids.empty() && !o.burst()) {
      const std::size_t k = random() % open_ids.size();
      const std::uint64_t id = open_ids[k];
      open_ids[k] = open_ids.back();
      open_ids.pop_back();
      client.cancel(enterprise ? wire::Side::order : wire::Side::offer, id, answer_to(false));
      return;
    }
    const auto done = answer_to(true);
    const Hour now = static_cast<Hour>(std::time(nullptr) / 3600);
    const Hour begin = now + 1 + static_cast<Hour>(random() % 12);
    const char* resource_class = kClasses[random() % std::size(kClasses)];
    if (enterprise) {
      gateway::OrderRequest order;
      order.client_order_id = client_id_base | ++sequence;
      order.hub = kEastHubs[random() % std::size(kEastHubs)];
      order.resource_class = resource_class;
      order.units = 1 + static_cast<Units>(random() % 64);
      order.bid = 2000 + static_cast<Fen>(random() % 4000);
      order.max_latency_ms = 40;
      order.min_green_percent = static_cast<std::int32_t>(random() % 3) * 20;
      order.window_begin = begin;
      order.window_end = begin + 1 + static_cast<Hour>(random() % 24);
      client.submit(order, done);
    } else {
      const auto& clusters = default_topology().clusters;
      gateway::OfferRequest offer;
      offer.client_order_id = client_id_base | ++sequence;
      offer.cluster = clusters[random() % clusters.size()].key;
      offer.resource_class = resource_class;
      offer.units = 8 + static_cast<Units>(random() % 512);
      offer.ask = 1500 + static_cast<Fen>(random() % 3000);
      offer.green_percent = static_cast<std::int32_t>(random() % 101);
      offer.window_begin = begin - 1;
      offer.window_end = begin + 48;
      client.submit(offer, done);
    }
  }
};

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{"ewx-loadgen: trade against a running ewxd and report throughput and latency"};
  app.add_option("--server", o.server, "host:port")->capture_default_str();
  app.add_option("--participants", o.participants, "the participants file (names and secrets)")->required();
  app.add_option("--connections", o.connections, "sessions, alternating enterprises and providers")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "how long to send")->capture_default_str();
  app.add_option("--warmup", o.warmup, "seconds at the start left out of the figures")->capture_default_str();
  app.add_option("--rate", o.rate, "requests per second in total; 0: as fast as answered")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--window", o.window, "requests in flight per connection, at most")->capture_default_str();
  app.add_option("--mix", o.mix, "percent bids, offers, cancels")->expected(3)->capture_default_str();
  app.add_flag("--tls", o.tls, "connect with TLS");
  app.add_option("--ca", o.ca, "TLS: CA certificate");
  app.add_flag("--json", o.json, "one JSON object instead of a table");
  app.add_option("--seed", o.seed, "random seed (also makes client order ids distinct between runs)");
  app.add_flag("--notices", o.notices, "measure each order's submit-to-first-contract-notice latency");
  app.add_option("--burst-orders", o.burst_orders, "burst: exactly this many bids, then wait for their batch");
  app.add_option("--burst-offers", o.burst_offers, "burst: exactly this many offers");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  }
  return o;
}

std::vector<std::unique_ptr<Trader>> make_traders(asio::io_context& io, const Options& o,
                                                  const gateway::Participants& participants) {
  const auto enterprises = participants.with_role(gateway::Role::enterprise);
  const auto providers = participants.with_role(gateway::Role::provider);
  if (enterprises.empty() || providers.empty())
    throw std::runtime_error(o.participants + " needs at least one enterprise and one provider");
  // Connections split between the roles as bids and offers are split in the mix.
  const int bid_share = o.mix[0] * 100 / std::max(1, o.mix[0] + o.mix[1]);
  std::vector<std::unique_ptr<Trader>> traders;
  int e = 0, p = 0;
  for (int k = 0; k < o.connections; ++k) {
    const bool enterprise = (k * 100 / o.connections) < bid_share ? true : false;
    const gateway::Participant& who =
        enterprise ? *enterprises[e++ % enterprises.size()] : *providers[p++ % providers.size()];
    traders.push_back(std::make_unique<Trader>(io, who, static_cast<std::uint64_t>(k), o.seed * 1'000'003 + k));
  }
  return traders;
}

struct Result {
  Stats stats;
  double measured_seconds = 0;
};

Result run(const Options& o, const gateway::Participants& participants) {
  asio::io_context io;
  auto traders = make_traders(io, o, participants);
  gateway::Endpoint endpoint;
  const auto server = gateway::parse_host_port(o.server);
  if (!server) throw std::runtime_error("--server '" + o.server + "': expected host:port, the port from 0 to 65535");
  endpoint.host = server->host;
  endpoint.port = server->port;
  endpoint.tls = o.tls;
  endpoint.ca_file = o.ca;

  Result result;
  Stats& stats = result.stats;
  int logged_in = 0;
  std::string failure;
  for (auto& t : traders) {
    asio::co_spawn(io, t->client.connect(endpoint, {t->participant.name, t->participant.secret}),
                   [&](std::exception_ptr e, wire::Role) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& error) {
                         failure = error.what();
                       }
                       io.stop();
                       return;
                     }
                     ++logged_in;
                   });
  }
  while (logged_in < static_cast<int>(traders.size()) && failure.empty() && io.run_one() > 0) {
  }
  if (!failure.empty()) throw std::runtime_error(failure);

  // Subscriptions: own contracts for --notices; batch summaries (one connection is enough) for --burst.
  std::uint64_t burst_left[2] = {o.burst_orders, o.burst_offers};  // bids, offers still to send
  const std::uint64_t burst_total = o.burst_orders + o.burst_offers;
  std::uint64_t answered = 0;
  for (std::size_t k = 0; k < traders.size(); ++k) {
    Trader& t = *traders[k];
    const bool batches = o.burst() && k == 0;
    if (!batches && !o.notices) continue;
    t.client.request(wire::CreateSubscribe(t.client.builder(), batches, o.notices), [](const wire::Envelope&) {});
    t.client.on_notice([&, trader = &t](const wire::Envelope& e) {
      const auto now = Clock::now();
      if (const auto* notice = e.payload_as_ContractNotice(); notice && notice->contract() && trader->enterprise()) {
        const auto waiting = trader->awaiting_contract.find(notice->contract()->order());
        if (waiting == trader->awaiting_contract.end()) return;
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - waiting->second).count();
        stats.to_contract_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX)));
        trader->awaiting_contract.erase(waiting);
      } else if (const auto* summary = e.payload_as_BatchCleared(); summary && o.burst()) {
        if (answered == burst_total && !stats.batch) {
          stats.batch = gateway::from_wire(*summary);
          stats.cleared = now;
        }
      }
    });
  }

  const auto start = Clock::now();
  stats.first_sent = start;
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto stop_at =
      o.burst() ? Clock::time_point::max()
                : start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  const std::size_t expected = o.rate ? static_cast<std::size_t>(o.rate * o.seconds) : 1u << 22;
  stats.latency_ns.reserve(expected);
  stats.send_lag_ns.reserve(expected);
  stats.in_flight_ns.reserve(expected);
  // Room for every id a trader may keep for a later cancel: grown by doubling instead, a trader's list
  // was copied into fresh pages at each doubling, a pause of milliseconds in the middle of the measurement.
  for (auto& trader : traders) trader->open_ids.reserve(expected / traders.size() + 1);
  bool sending = true;

  std::function<void(Trader&, Clock::time_point now)> refill;
  for (auto& trader : traders)
    trader->on_answer = [&, trader = trader.get()](Clock::time_point due, Clock::time_point sent,
                                                   const gateway::Answer& a, bool cancel) {
      const auto now = Clock::now();
      ++answered;
      stats.last_answer = now;
      if (due >= measure_from && due < stop_at) {
        ++stats.counted;
        stats.latency_ns.push_back(nanoseconds_u32(now - due));
        stats.send_lag_ns.push_back(nanoseconds_u32(sent - due));
        stats.in_flight_ns.push_back(nanoseconds_u32(now - sent));
      }
      if (a.accepted)
        ++(a.duplicate ? stats.duplicates : stats.accepted);
      else if (cancel && a.code == wire::RejectCode::unknown_id)
        ++stats.rejected["cancel of an order already filled or expired"];
      else
        ++stats.rejected[wire::EnumNameRejectCode(a.code)];
      if (o.rate == 0 && sending) refill(*trader, now);
    };
  refill = [&](Trader& t, Clock::time_point now) {
    std::uint64_t* left = o.burst() ? &burst_left[t.enterprise() ? 0 : 1] : nullptr;
    while (t.outstanding < o.window && t.client.is_open() && (!left || *left > 0)) {
      t.send(o, now, now);
      ++stats.sent;
      if (left) --*left;
    }
    if (o.burst() && burst_left[0] == 0 && burst_left[1] == 0) sending = false;
  };

  asio::steady_timer tick(io);
  // Each wake-up sends every request due by then (tools/request_schedule.hpp), each charged from its own due
  // time, and sleeps until the next one is due, but at least kPacing: at 100,000 a second a wake-up per
  // request would cost the cores the server shares, so requests go out in fives; at 20,000 a second and below
  // each goes out on its own. The thread's timer slack is cut from Linux's default 50 us to 1 us so that the
  // wake-ups are kept. As fast as answered (--rate 0), the timer only ends the load.
  if (o.rate > 0) ::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  const RequestSchedule schedule(start, std::max<std::uint64_t>(o.rate, 1), stop_at);
  std::function<void()> pace;
  std::size_t next_trader = 0;
  pace = [&] {
    const auto now = Clock::now();
    if (o.rate > 0)
      for (const auto due_now = schedule.due_by(now); stats.sent < due_now; ++stats.sent)
        traders[next_trader++ % traders.size()]->send(o, schedule.due(stats.sent), now);
    if (now >= stop_at || (o.rate > 0 && stats.sent == schedule.total())) {
      sending = false;
      return;
    }
    tick.expires_at(o.rate > 0 ? std::max(now + kPacing, schedule.due(stats.sent)) : stop_at);
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) pace();
    });
  };
  if (o.rate == 0)
    for (auto& t : traders) refill(*t, Clock::now());
  if (!o.burst()) pace();

  // Send until stop_at (or the burst is sent), then wait for every answer: at most 10 s, or 10 minutes for a
  // burst and its batch. --notices waits 2 s more for the last contract notices.
  const auto drain_deadline = o.burst() ? Clock::now() + std::chrono::minutes(10) : stop_at + std::chrono::seconds(10);
  auto until = drain_deadline;
  while (io.run_one_until(until) > 0) {
    if (sending) continue;
    bool waiting = false;
    for (auto& t : traders) waiting |= t->outstanding > 0 && t->client.is_open();
    if (waiting) continue;
    if (o.burst()) {
      if (stats.batch) break;
    } else if (o.notices) {
      if (until == drain_deadline) until = Clock::now() + std::chrono::seconds(2);
    } else {
      break;
    }
  }
  for (auto& t : traders) t->client.close();
  result.measured_seconds = o.burst() ? std::chrono::duration<double>(stats.last_answer - start).count()
                                      : std::chrono::duration<double>(stop_at - measure_from).count();
  return result;
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

void print_burst(const Options& o, const Result& r) {
  const Stats& s = r.stats;
  const std::uint64_t total = o.burst_orders + o.burst_offers;
  const double to_cleared = s.batch ? std::chrono::duration<double>(s.cleared - s.first_sent).count() : 0;
  if (o.json) {
    fmt::print(
        "{{\"burst_orders\": {}, \"burst_offers\": {}, \"accepted\": {}, \"intake_s\": {:.3f}, \"cleared\": {}, "
        "\"to_cleared_s\": {:.3f}, \"batch\": {}, \"batch_orders\": {}, \"batch_offers\": {}, \"contracts\": {}, "
        "\"units\": {}}}\n",
        o.burst_orders, o.burst_offers, s.accepted, r.measured_seconds, s.batch.has_value(), to_cleared,
        s.batch ? s.batch->number : 0, s.batch ? s.batch->orders : 0, s.batch ? s.batch->offers : 0,
        s.batch ? s.batch->contracts : 0, s.batch ? s.batch->units : 0);
    return;
  }
  fmt::print("burst: {} bids and {} offers over {} connections; {} accepted (durable) in {:.3f} s ({:.0f}/s)\n",
             o.burst_orders, o.burst_offers, o.connections, s.accepted, r.measured_seconds,
             static_cast<double>(total) / r.measured_seconds);
  if (s.batch)
    fmt::print(
        "batch {}: {} orders, {} offers -> {} contracts, {} units; recorded and announced {:.3f} s after the "
        "first submission\n",
        s.batch->number, s.batch->orders, s.batch->offers, s.batch->contracts, s.batch->units, to_cleared);
  else
    fmt::print("no batch was announced after the burst (is ewxd running with --batch-size {}?)\n", total);
}

void print(const Options& o, Result& r) {
  if (o.burst()) return print_burst(o, r);
  Stats& s = r.stats;
  const double throughput = static_cast<double>(s.counted) / r.measured_seconds;
  const double p50 = percentile(s.latency_ns, 0.50), p99 = percentile(s.latency_ns, 0.99),
               p999 = percentile(s.latency_ns, 0.999);
  const double max = s.latency_ns.empty() ? 0 : *std::max_element(s.latency_ns.begin(), s.latency_ns.end()) / 1000.0;
  const double lag_p50 = percentile(s.send_lag_ns, 0.50), lag_p99 = percentile(s.send_lag_ns, 0.99),
               lag_p999 = percentile(s.send_lag_ns, 0.999);
  const double flight_p50 = percentile(s.in_flight_ns, 0.50), flight_p99 = percentile(s.in_flight_ns, 0.99),
               flight_p999 = percentile(s.in_flight_ns, 0.999);
  std::uint64_t rejected = 0;
  std::string reasons;
  for (const auto& [code, n] : s.rejected) {
    rejected += n;
    reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : ", ", code, n);
  }
  if (o.json) {
    fmt::print(
        "{{\"connections\": {}, \"rate\": {}, \"window\": {}, \"seconds\": {}, \"sent\": {}, \"accepted\": {}, "
        "\"duplicates\": {}, \"rejected\": {}, \"answers_per_second\": {:.0f}, \"p50_us\": {:.1f}, \"p99_us\": {:.1f}, "
        "\"p999_us\": {:.1f}, \"max_us\": {:.1f}, \"send_lag_p50_us\": {:.1f}, \"send_lag_p99_us\": {:.1f}, "
        "\"send_lag_p999_us\": {:.1f}, \"in_flight_p50_us\": {:.1f}, \"in_flight_p99_us\": {:.1f}, "
        "\"in_flight_p999_us\": {:.1f}}}\n",
        o.connections, o.rate, o.window, r.measured_seconds, s.sent, s.accepted, s.duplicates, rejected, throughput,
        p50, p99, p999, max, lag_p50, lag_p99, lag_p999, flight_p50, flight_p99, flight_p999);
    return;
  }
  fmt::print("{} connections, {}, {:.1f} s measured after {:.1f} s warm-up\n", o.connections,
             o.rate ? fmt::format("{} requests/s offered", o.rate) : fmt::format("window {} per connection", o.window),
             r.measured_seconds, o.warmup);
  fmt::print("sent {}, accepted {} (durable), resends {}, rejected {}{}\n", s.sent, s.accepted, s.duplicates, rejected,
             reasons.empty() ? "" : " (" + reasons + ")");
  fmt::print("{:>14} {:>10} {:>10} {:>10} {:>10}\n", "answers/s", "p50 us", "p99 us", "p99.9 us", "max us");
  fmt::print("{:>14.0f} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f}\n", throughput, p50, p99, p999, max);
  if (o.rate > 0)
    fmt::print(
        "of which the load generator's own lag behind schedule: p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us; "
        "from send to answer: p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us\n",
        lag_p50, lag_p99, lag_p999, flight_p50, flight_p99, flight_p999);
  if (o.notices) {
    auto& c = s.to_contract_us;
    const std::uint32_t slowest = c.empty() ? 0 : *std::max_element(c.begin(), c.end());
    std::sort(c.begin(), c.end());
    const auto at = [&](double p) {
      return c.empty() ? 0.0 : c[std::min(c.size() - 1, std::size_t(p * c.size()))] / 1000.0;
    };
    fmt::print("submit to first contract notice: {} orders traded, p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms\n",
               c.size(), at(0.5), at(0.99), slowest / 1000.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  try {
    const auto participants =
        gateway::Participants::parse(tools::read_whole_file(options.participants), options.participants);
    Result result = run(options, participants);
    print(options, result);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ewx-loadgen: {}\n", e.what());
    return 1;
  }
}
