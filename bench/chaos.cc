// The chaos run (issue 12, part 4): 1M events over 12 partitions to three sinks while, at
// seeded random times, a sluice member is killed with -9 and restarted (20 times), a sink is
// down for 30 s (3 times), the broker is restarted (once) and the group scales 1 -> 3 -> 1.
// Prints events lost per sink (must be 0), duplicate deliveries per sink, whether the
// committed offsets reach the end offsets, dead letters and wall time; exits non-zero if
// anything was lost or left uncommitted. Runs on a broker of its own (port 9196 by default),
// started and stopped by itself. About 7 minutes for the defaults.
//   chaos [--events N] [--kills K] [--outages N] [--seed S] ...   (--help lists them)
#include <CLI/CLI.hpp>

#include <iostream>
#include <random>

#include "chaos.h"

using namespace sluice::testing;

int main(int argc, char** argv) {
  ChaosPlan plan;
  plan.seed = std::random_device{}();
  int outage_s = static_cast<int>(plan.outage.count());
  int broker_down_s = static_cast<int>(plan.broker_down.count());
  bool no_scale_back = false;
  CLI::App cli{"sluice chaos run: kills, sink outages, a broker restart and scaling while "
               "events flow; prints what was lost and duplicated"};
  cli.add_option("--events", plan.events, "events to produce")->capture_default_str();
  cli.add_option("--partitions", plan.partitions)->capture_default_str();
  cli.add_option("--rate", plan.produce_rate, "events/s produced")->capture_default_str();
  cli.add_option("--kills", plan.kills, "kill -9 of a random member")->capture_default_str();
  cli.add_option("--outages", plan.sink_outages, "sink outages")->capture_default_str();
  cli.add_option("--outage-seconds", outage_s, "length of each sink outage")->capture_default_str();
  cli.add_option("--broker-restarts", plan.broker_restarts)->capture_default_str();
  cli.add_option("--broker-down-seconds", broker_down_s)->capture_default_str();
  cli.add_option("--peak-members", plan.peak_members, "members after the scale-out")
      ->capture_default_str();
  cli.add_flag("--no-scale-back", no_scale_back, "stay at the peak instead of going back to 1");
  cli.add_option("--seed", plan.seed, "random seed (printed; default: a new one)");
  cli.add_option("--commit-interval-ms", plan.commit_interval_ms,
                 "kafka.commit_interval_ms for sluice (0: sluice's default)")
      ->capture_default_str();
  bool no_progress = false;
  cli.add_flag("--no-sink-progress", no_progress, "delivery.sink_progress: false");
  cli.add_option("--broker-port", plan.broker_port, "port of the run's own broker (+1, +2 too)")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  plan.sink_progress = !no_progress;
  plan.outage = std::chrono::seconds(outage_s);
  plan.broker_down = std::chrono::seconds(broker_down_s);
  plan.scale_back = !no_scale_back;

  const ChaosReport report = runChaos(plan, std::cout);
  printChaosReport(plan, report, std::cout);
  std::uint64_t lost = 0;
  for (const auto& s : report.sinks) lost += s.lost;
  return lost == 0 && report.committed_reach_end && report.dead_letters == 0 &&
                 report.members_exit_cleanly
             ? 0
             : 1;
}
