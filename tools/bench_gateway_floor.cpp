// ewx-bench-gateway-floor: ewxd's gateway with nothing behind it, the peer that says what the machine
// allows before any journal is written.
//
// scripts/bench-gateway holds ewxd to a latency target (p99 at most 1 ms at 100,000 requests a second)
// on a 2-core virtual machine it shares with the load generator, in hours when the host stalls those
// cores for milliseconds. Whether a miss is ewxd's or the machine's is then a question for a peer measured
// in the same run: the same load, over the same gateway (gateway/server: sessions, frames, the Verifier,
// authentication, rate limits), answered by a market that takes every order, offer and cancel at once
// and writes nothing. What it leaves is the loopback both ways, the load generator and the io thread
// sharing the cores, and the host's stalls: a floor that no journal, however fast, could go below.
//
// It is a benchmark's instrument, not an exchange: it gives ids in sequence, recognises no resend (a
// client order id used twice gets two ids), cancels whatever it is asked to, and answers auditors from an
// empty ledger in its data directory. It prints the same `event=started listen=...` line as ewxd, so the
// scripts start both alike, and stops on SIGTERM or SIGINT.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>

#include "gateway/asio.hpp"
#include "gateway/market.hpp"
#include "gateway/server.hpp"
#include "matcher/topology.hpp"
#include "tools/read_file.hpp"

namespace {

namespace asio = boost::asio;
using namespace ewx;

// Takes everything at once, on the io thread (the gateway's executor, as gateway/market.hpp asks).
class AcceptingMarket final : public gateway::Market {
 public:
  explicit AcceptingMarket(ledger::Ledger& empty) : empty_(empty) {}

  void submit(const gateway::Participant&, ledger::JournalEntry, Done<gateway::Decision> done) override {
    done(gateway::Accepted{next_id_++, false});
  }
  void cancel(const gateway::Participant&, wire::Side, std::uint64_t id, Done<gateway::Decision> done) override {
    done(gateway::Accepted{id, false});
  }
  void open_orders(const gateway::Participant&, Done<std::vector<gateway::OpenOrderView>> done) override { done({}); }
  void read_ledger(LedgerQuery query, Done<std::vector<std::uint8_t>> done) override { done(query(empty_)); }

 private:
  ledger::Ledger& empty_;
  std::uint64_t next_id_ = 1;
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", data_dir, participants_file;
  CLI::App app{"ewx-bench-gateway-floor: the gateway answering every request at once, journalling nothing"};
  app.add_option("--listen", listen, "address:port to accept participants on (port 0: any free one)")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "where its empty ledger for auditors' queries is made")->required();
  app.add_option("--participants", participants_file, "participants file (as ewxd's)")->required();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);

  gateway::ServerConfig config;
  const auto at = gateway::parse_host_port(listen);
  if (!at) {
    spdlog::error("event=failed error=\"--listen '{}': expected address:port\"", listen);
    return 2;
  }
  config.address = at->host;
  config.port = at->port;
  try {
    const gateway::Participants participants =
        gateway::Participants::parse(tools::read_whole_file(participants_file), participants_file);
    auto opened = ledger::Ledger::open(std::filesystem::path(data_dir) / "ledger", true, {});
    if (!opened.is_ok()) {
      spdlog::error("event=failed error=\"{}\"", opened.status().message());
      return 3;
    }
    AcceptingMarket market(*opened.value());
    const Topology topology = default_topology();

    asio::io_context io;
    gateway::Server server(io, config, participants, topology, market);
    server.start();
    spdlog::info("event=started listen={}:{} metrics= participants={} market=accepting-at-once", config.address,
                 server.port(), participants.size());
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) server.stop();
    });
    io.run();
    spdlog::info("event=stopped acks={}", server.stats().acks_sent);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("event=failed error=\"{}\"", e.what());
    return 1;
  }
}
