#pragma once

// The chaos run (issue 12): events produced while sluice members are killed with -9 and
// restarted, sinks go down and come back, the broker restarts and the group scales out and
// in, all at seeded random times. Shared by bench/chaos (the full run, printing its figures)
// and the short chaos integration test (the same run, smaller, with assertions).
#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::testing {

struct ChaosPlan {
  std::int64_t events = 1'000'000;
  int partitions = 12;
  double produce_rate = 3'000;  // events/s; production then lasts events / rate seconds
  int kills = 20;               // kill -9 of a random member, restarted at once
  int sink_outages = 3;         // a random sink stopped, and started again after `outage`
  std::chrono::seconds outage{30};
  int broker_restarts = 1;      // killed or cleanly stopped (seeded), started after broker_down
  std::chrono::seconds broker_down{15};
  int peak_members = 3;         // 1 -> peak_members at a third of the production
  bool scale_back = true;       // -> 1 again at two thirds
  std::uint64_t seed = 1;
  int broker_port = 9196;       // a broker of its own (it is restarted), ports +1 and +2 too
  int commit_interval_ms = 0;   // 0: sluice's default
  bool sink_progress = true;    // delivery.sink_progress
  std::chrono::seconds settle{300};  // how long delivery may take after production ends
};

struct SinkTally {
  std::string name;
  std::uint64_t requests = 0;    // events recorded, duplicates included
  std::uint64_t lost = 0;        // events in the topic the sink never recorded
  std::uint64_t duplicates = 0;  // records beyond the first of an event
  // Duplicates by the chaos action that last preceded their arrival: what caused them, as near
  // as timing tells ("kill -9 while a sink was down", "sink back up", "scale out", ...).
  std::map<std::string, std::uint64_t> duplicates_after;
};

struct ChaosReport {
  std::int64_t events_in_topic = 0;
  std::vector<SinkTally> sinks;
  bool committed_reach_end = false;  // after everything arrived
  bool members_exit_cleanly = false;  // SIGTERM at the end: exit status 0
  std::int64_t dead_letters = 0;
  int kills = 0, outages = 0, broker_restarts = 0, scale_events = 0;
  double production_seconds = 0;
  double wall_seconds = 0;  // production start until everything arrived and was committed
  std::string dir;          // logs and records
};

// Runs the plan, writing what it does as it goes to `log`. Throws if the run cannot be set up
// (broker, topics, sinks); a run that loses events returns a report that says so.
ChaosReport runChaos(const ChaosPlan& plan, std::ostream& log);
// The report as the lines bench/chaos prints.
void printChaosReport(const ChaosPlan& plan, const ChaosReport& report, std::ostream& out);

}  // namespace sluice::testing
