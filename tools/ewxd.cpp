// ewxd: the exchange daemon. It listens for participants (gateway/server), decides and journals what they
// send (exchange/exchange), clears the book in batches (exchange/batch_cycle: every --batch-interval, or
// sooner when --batch-size new orders wait), records each batch in the ledger in one synced write, and tells
// both parties of every contract, the owners of every fill and expiry, and subscribers every batch. It
// serves Prometheus metrics on its own port (exchange/metrics) and logs one key=value line per event.
//
// It stops gracefully on SIGTERM or SIGINT: no new connections, no new batch; the batch in flight is
// recorded and announced, every submission already taken answered, the journal's last group written, then
// exit 0. After a crash (SIGKILL, power) it comes back from the ledger alone: acknowledged orders are in the
// journal, a batch is either wholly recorded or not at all, and an unrecorded one is cleared again.
//
// Options come from flags or from a config file in INI/TOML form (--config FILE, keys named like the long
// flags: `listen = "0.0.0.0:7400"`); flags win. Defaults need no configuration: the data dir ewx-data/exchange,
// its participants file beside the ledger, the built-in topology, 127.0.0.1:7400.
//
// Exit status: 0 after a clean stop, 1 bad configuration or input (the message says which and where),
// 2 usage, 3 the data directory or the listen address cannot be used.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "exchange/batch_cycle.hpp"
#include "exchange/exchange.hpp"
#include "exchange/metrics.hpp"
#include "gateway/asio.hpp"
#include "gateway/server.hpp"
#include "matcher/line_scanner.hpp"
#include "matcher/topology.hpp"
#include "tools/allocator.hpp"
#include "tools/read_file.hpp"
#include "tools/solver_choice.hpp"

namespace {

namespace asio = boost::asio;

struct Options {
  std::string listen = "127.0.0.1:7400";
  std::string data_dir = "ewx-data/exchange";
  std::string participants;  // default: <data_dir>/participants
  bool default_participants = false;
  std::string topology;  // default: built in
  std::string tls_cert, tls_key;
  std::size_t max_connections = 1024;
  std::uint32_t rate_limit = 500'000;
  int idle_timeout_s = 300;
  int batch_interval_ms = 500;
  std::size_t batch_size = 100'000;
  std::string solver = "auto";
  std::uint64_t prepared_log_mib = 64;
  std::uint64_t background_write_mib = 128;
  std::string metrics = "127.0.0.1:7401";
  std::string log_level = "info";
};

struct Failure {
  int exit_code;
  std::string message;
};

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{"ewxd: the East-West compute exchange daemon"};
  app.set_config("--config", "", "read options from this INI/TOML file (flags override it)");
  app.add_option("--listen", o.listen, "address:port to accept participants on")->capture_default_str();
  app.add_option("--data-dir", o.data_dir, "ledger directory (created when new)")->capture_default_str();
  app.add_option("--participants", o.participants, "participants file (default: DATA_DIR/participants)");
  app.add_option("--topology", o.topology, "topology file (default: the built-in 8 hubs and 10 clusters)");
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain: speak TLS (with --tls-key)");
  app.add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert");
  app.add_option("--max-connections", o.max_connections, "connection cap")->capture_default_str();
  app.add_option("--rate-limit", o.rate_limit, "requests per second per connection")->capture_default_str();
  app.add_option("--idle-timeout", o.idle_timeout_s, "seconds of silence before a session is closed")
      ->capture_default_str();
  app.add_option("--batch-interval", o.batch_interval_ms, "milliseconds between batch closes")
      ->capture_default_str()
      ->check(CLI::Range(10, 3'600'000));
  app.add_option("--batch-size", o.batch_size, "close a batch early once this many new orders and offers wait")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
  app.add_option("--solver", o.solver,
                 "where to clear: auto (the condensed network, the fastest measured, with or without a GPU), "
                 "condensed, cpu, parallel or gpu (the GPU's bipartite auction, when usable)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "condensed", "cpu", "parallel", "gpu"}));
  app.add_option("--prepared-log-mib", o.prepared_log_mib,
                 "write each journal log over this many MiB of zeros made in advance, so that the syncs every "
                 "acknowledgment waits for carry no file-system metadata (0: append, as RocksDB does)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{4096}));
  app.add_option("--background-write-mib-per-s", o.background_write_mib,
                 "pace the ledger's writes other than the journal's (memtable flushes, compactions, the spares of "
                 "--prepared-log-mib) to this many MiB a second, 64 KiB at a time, so that the syncs every "
                 "acknowledgment waits for are not queued behind them (0: at the disk's own speed)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{65536}));
  app.add_option("--metrics", o.metrics, "address:port for Prometheus /metrics over HTTP (\"off\": none)")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn or error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  }
  if (o.participants.empty()) {
    o.participants = (std::filesystem::path(o.data_dir) / "participants").string();
    o.default_participants = true;
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) throw Failure{2, "--tls-cert and --tls-key go together"};
  return o;
}

ewx::gateway::ServerConfig server_config(const Options& o) {
  ewx::gateway::ServerConfig config;
  const auto listen = ewx::gateway::parse_host_port(o.listen);
  if (!listen) throw Failure{1, "--listen '" + o.listen + "': expected address:port, the port from 0 to 65535"};
  config.address = listen->host;
  config.port = listen->port;
  config.max_connections = o.max_connections;
  config.requests_per_second = o.rate_limit;
  config.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  if (!o.tls_cert.empty()) {
    auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    try {
      tls->use_certificate_chain_file(o.tls_cert);
      tls->use_private_key_file(o.tls_key, asio::ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      throw Failure{1, "TLS certificate or key (" + o.tls_cert + ", " + o.tls_key + "): " + e.code().message()};
    }
    config.tls = std::move(tls);
  }
  return config;
}

// The default participants file is created on first start, so the demo needs no set-up: 40 enterprises,
// 12 providers and an auditor, readable by the operator only. A file named with --participants must exist.
void write_default_participants(const std::string& path) {
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(path).parent_path());
  const std::string text = ewx::gateway::new_participants_file(40, 12, 1);
  std::FILE* file = std::fopen(path.c_str(), "wx");
  if (!file) throw Failure{3, "cannot create " + path};
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (std::fclose(file) != 0 || !written) throw Failure{3, "cannot write " + path};
  spdlog::info("event=participants_written file={} enterprises=40 providers=12 auditors=1", path);
}

ewx::gateway::Participants load_participants(const std::string& path, bool is_default) {
  if (!std::filesystem::exists(path)) {
    if (!is_default)
      throw Failure{1, "participants file " + path + " not found (write one with `ewx admin participants`)"};
    write_default_participants(path);
  }
  try {
    return ewx::gateway::Participants::parse(ewx::tools::read_whole_file(path), path);
  } catch (const std::exception& e) {
    throw Failure{1, e.what()};
  }
}

ewx::Topology load_topology(const std::string& path) {
  if (path.empty()) return ewx::default_topology();
  try {
    return ewx::parse_topology(ewx::tools::read_whole_file(path), path);
  } catch (const std::exception& e) {
    throw Failure{1, e.what()};
  }
}

// What /metrics shows of the batches, beyond what the exchange, its writer and the server count themselves.
struct BatchMetrics {
  std::uint64_t batches = 0, failed = 0, contracts = 0, expired = 0;
  std::uint64_t units = 0;
  std::int64_t last_orders = 0, last_offers = 0, last_contracts = 0, book_orders = 0, book_offers = 0;
  ewx::LatencyHistogram solve, commit;
};

std::string render_metrics(const ewx::Exchange& exchange, const ewx::gateway::Server& server, const BatchMetrics& m) {
  const auto& x = exchange.counters();
  const auto s = server.stats();
  ewx::PrometheusText t;
  t.counter("ewx_orders_accepted_total", "Orders (bids) accepted, durable in the journal.", x.orders_accepted);
  t.counter("ewx_offers_accepted_total", "Capacity offers accepted, durable in the journal.", x.offers_accepted);
  t.counter("ewx_cancels_accepted_total", "Cancels accepted.", x.cancels_accepted);
  t.counter("ewx_resends_total", "Resends answered with the first submission's id.", x.resends);
  t.gauge("ewx_client_order_ids", "Client order ids known (what makes resends idempotent).",
          static_cast<std::int64_t>(exchange.client_order_ids().size()));
  t.counter("ewx_client_order_id_copy_rounds_total",
            "Rounds of the client-order-id table's growth beside the io thread (a copy into a bigger table each).",
            exchange.client_order_ids().rounds());
  t.counter("ewx_rejects_total", "Requests answered with a Reject.", s.rejects_sent);
  t.counter("ewx_acks_total", "Requests answered with an Ack.", s.acks_sent);
  t.counter("ewx_frames_received_total", "Frames received from participants.", s.frames_received);
  t.gauge("ewx_connections_open", "Participant connections open now.", static_cast<std::int64_t>(s.connections_open));
  t.counter("ewx_connections_accepted_total", "Participant connections accepted.", s.connections_accepted);
  t.counter("ewx_connections_refused_total", "Connections refused at the cap.", s.connections_refused);
  t.gauge("ewx_book_orders", "Orders open in the book after the last batch.", m.book_orders);
  t.gauge("ewx_book_offers", "Offers open in the book after the last batch.", m.book_offers);
  t.counter("ewx_batches_total", "Batches cleared and recorded.", m.batches);
  t.counter("ewx_batches_failed_total", "Batches that could not be cleared or recorded.", m.failed);
  t.gauge("ewx_batch_orders", "Orders in the last batch.", m.last_orders);
  t.gauge("ewx_batch_offers", "Offers in the last batch.", m.last_offers);
  t.gauge("ewx_batch_contracts", "Contracts of the last batch.", m.last_contracts);
  t.counter("ewx_contracts_total", "Contracts recorded.", m.contracts);
  t.counter("ewx_units_traded_total", "Units traded.", m.units);
  t.counter("ewx_expired_total", "Orders and offers closed because their window passed.", m.expired);
  t.histogram("ewx_solve_seconds", "Time to clear a batch exactly.", m.solve);
  t.histogram("ewx_ledger_commit_seconds", "Time to record a batch (one synced write).", m.commit);
  t.histogram("ewx_journal_sync_seconds", "Time of each journal sync, which acknowledgments wait for.", x.journal_sync);
  t.histogram("ewx_intake_to_durable_seconds",
              "Time from a submission's or cancel's hand-over to the journal to its durable answer, both on the io "
              "thread: ewxd's own part of an acknowledgment's latency, without the sockets' queues.",
              x.intake_to_durable);
  t.counter("ewx_journal_groups_total", "Journal writes (group commits).", exchange.writer().groups_written());
  t.counter("ewx_journal_syncs_total", "Syncs of the journal, each making every group written before it durable.",
            exchange.writer().syncs());
  t.gauge("ewx_journal_largest_group", "Most entries one journal write has carried.",
          static_cast<std::int64_t>(exchange.writer().largest_group()));
  const auto logs = exchange.writer().log_files();
  t.counter("ewx_journal_logs_prepared_total",
            "Write-ahead logs written over a spare made in advance (--prepared-log-mib), whose syncs carry no "
            "file-system metadata.",
            logs.prepared);
  t.counter("ewx_journal_logs_appended_total",
            "Write-ahead logs appended to because no spare was ready (none counted with --prepared-log-mib 0).",
            logs.appended);
  t.counter("ewx_journal_spares_recycled_total",
            "Spares for the write-ahead log made by overwriting a log the ledger was done with, instead of a new "
            "file: no blocks allocated, none freed.",
            logs.recycled);
  t.counter("ewx_ledger_paced_write_bytes_total",
            "Bytes of the ledger's writes other than the journal's (memtable flushes, compactions, log spares), "
            "paced by --background-write-mib-per-s.",
            exchange.writer().paced_write_bytes());
  return t.text();
}

// Tells everyone what a tick did: each party of each contract, each owner of a fill or expiry, and every
// subscriber the batch summary.
void announce(ewx::gateway::Server& server, const ewx::ClearedBatch& tick) {
  using ewx::wire::Side;
  for (const auto& x : tick.expired)
    server.notify_expired(x.participant, {x.offer ? Side::offer : Side::order, x.id, x.remaining, tick.closed_at});
  if (!tick.cleared) return;
  for (const auto& c : tick.contracts) {
    server.notify_contract(c.buyer, c);
    server.notify_contract(c.seller, c);
  }
  for (const auto& f : tick.fills)
    server.notify_fill(f.participant, {f.offer ? Side::offer : Side::order, f.id, f.units, f.remaining, tick.number});
  const ewx::ledger::BatchRecord& r = *tick.record;
  server.publish_batch({r.number, r.cleared_at, static_cast<std::uint32_t>(tick.orders),
                        static_cast<std::uint32_t>(tick.offers), static_cast<std::uint32_t>(r.contract_count),
                        tick.units_traded, r.total_surplus, r.log_size, r.log_root});
}

void account(BatchMetrics& m, const ewx::ClearedBatch& tick) {
  m.expired += tick.expired.size();
  m.book_orders = static_cast<std::int64_t>(tick.book_orders);
  m.book_offers = static_cast<std::int64_t>(tick.book_offers);
  if (!tick.error.empty()) ++m.failed;
  if (!tick.cleared) return;
  ++m.batches;
  m.contracts += tick.contracts.size();
  m.units += static_cast<std::uint64_t>(tick.units_traded);
  m.last_orders = static_cast<std::int64_t>(tick.orders);
  m.last_offers = static_cast<std::int64_t>(tick.offers);
  m.last_contracts = static_cast<std::int64_t>(tick.contracts.size());
  m.solve.observe(tick.solve_time);
  m.commit.observe(tick.commit_time);
}

void log_tick(const ewx::ClearedBatch& tick) {
  if (!tick.expired.empty()) spdlog::info("event=expired count={} at={}", tick.expired.size(), tick.closed_at);
  if (!tick.cleared) return;
  spdlog::info(
      "event=batch_cleared batch={} orders={} offers={} contracts={} units={} surplus_fen_per_hour={} "
      "book_orders={} book_offers={} snapshot_us={} solve_us={} commit_us={} log_size={}",
      tick.number, tick.orders, tick.offers, tick.contracts.size(), tick.units_traded,
      ewx::to_string(tick.total_surplus), tick.book_orders, tick.book_offers, tick.snapshot_time.count(),
      tick.solve_time.count(), tick.commit_time.count(), tick.record->log_size);
}

// For the end-to-end crash tests: EWXD_CRASH_AT=POINT:N kills the daemon with SIGKILL the N-th time the
// ledger reaches POINT (journal-before-write, journal-after-write, journal-after-sync, commit-before-write,
// commit-after-write),
// exactly where a power cut could strike. Not a flag, so that no operator sets it by accident.
void arm_crash_point(ewx::Exchange& exchange) {
  const char* spec = std::getenv("EWXD_CRASH_AT");
  if (!spec || !*spec) return;
  const std::string text(spec);
  const auto colon = text.find(':');
  const std::string point = text.substr(0, colon);
  const long times = colon == std::string::npos ? 1 : std::atol(text.c_str() + colon + 1);
  spdlog::warn("event=crash_armed point={} times={}", point, times);
  exchange.with_ledger([point, times](ewx::ledger::Ledger& ledger) {
    ledger.set_crash_hook([point, times, seen = 0L](const char* at) mutable {
      if (point == at && ++seen == times) ::raise(SIGKILL);
    });
  });
}

int serve(const Options& options) {
  const ewx::gateway::ServerConfig config = server_config(options);
  const ewx::gateway::Participants participants = load_participants(options.participants, options.default_participants);
  const ewx::Topology topology = load_topology(options.topology);
  const auto solve = ewx::tools::choose_solver(options.solver);
  if (!solve) throw Failure{2, "--solver " + options.solver + " cannot be served here"};
  std::optional<ewx::gateway::HostPort> metrics_at;
  if (options.metrics != "off") {
    metrics_at = ewx::gateway::parse_host_port(options.metrics);
    if (!metrics_at) throw Failure{1, "--metrics '" + options.metrics + "': expected address:port or off"};
  }

  asio::io_context io;
  auto opened = ewx::Exchange::open(std::filesystem::path(options.data_dir) / "ledger", true, io,
                                    {.prepared_log_bytes = options.prepared_log_mib << 20,
                                     .background_write_bytes_per_second = options.background_write_mib << 20});
  if (!opened.is_ok()) throw Failure{3, opened.status().message()};
  ewx::Exchange& exchange = *opened.value();
  arm_crash_point(exchange);

  ewx::gateway::Server server(io, config, participants, topology, exchange);
  BatchMetrics batch_metrics;
  ewx::BatchCycleConfig cycle_config;
  cycle_config.interval = std::chrono::milliseconds(options.batch_interval_ms);
  cycle_config.batch_size = options.batch_size;
  cycle_config.solver = ewx::tools::batch_clearer(options.solver, *solve);
  ewx::BatchCycle cycle(io, exchange, topology, cycle_config, [&](const ewx::ClearedBatch& tick) {
    log_tick(tick);
    account(batch_metrics, tick);
    announce(server, tick);
  });
  exchange.on_accepted([&cycle] { cycle.arrived(); });
  std::optional<ewx::MetricsEndpoint> metrics;
  try {
    server.start();
    if (metrics_at) {
      metrics.emplace(io, metrics_at->host, metrics_at->port,
                      [&] { return render_metrics(exchange, server, batch_metrics); });
      metrics->start();
    }
  } catch (const std::exception& e) {
    throw Failure{3, e.what()};
  }
  cycle.start();
  const ewx::tools::AllocatorInfo allocator = ewx::tools::allocator_info();
  spdlog::info(
      "event=started listen={}:{} metrics={} data_dir={} participants={} hubs={} clusters={} batch_interval_ms={} "
      "batch_size={} allocator={}/{} thp={}",
      config.address, server.port(), metrics ? fmt::format("{}:{}", metrics_at->host, metrics->port()) : "off",
      options.data_dir, participants.size(), topology.hubs.size(), topology.clusters.size(), options.batch_interval_ms,
      options.batch_size, allocator.name, allocator.version, allocator.thp);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("event=stopping signal={}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    cycle.stop();
    server.stop();
    if (metrics) metrics->stop();
  });
  io.run();
  exchange.stop();
  const auto& counted = exchange.counters();
  spdlog::info("event=stopped orders={} offers={} cancels={} resends={} batches={} contracts={}",
               counted.orders_accepted, counted.offers_accepted, counted.cancels_accepted, counted.resends,
               batch_metrics.batches, batch_metrics.contracts);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    spdlog::set_level(spdlog::level::from_str(options.log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
    return serve(options);
  } catch (const Failure& failure) {
    spdlog::error("event=failed exit={} error=\"{}\"", failure.exit_code, failure.message);
    return failure.exit_code;
  }
}
