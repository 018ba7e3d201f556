// Latency benchmark: events produced at a steady rate below what sluice can carry, three
// recording sinks, the real sluice binary; prints how long each event took from its Kafka
// timestamp (set when the producer made it, millisecond resolution) until each sink had read
// it: median, p90, p99 and the largest, over every sink's first delivery of every event. The
// producer's own linger (librdkafka's linger.ms, 5 ms) is part of every figure.
//   latency_bench [--events N] [--rate R] [--partitions P]
#include <CLI/CLI.hpp>
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "kafka_client.h"
#include "pipeline.h"

using namespace sluice::testing;
using namespace std::chrono_literals;

namespace {

// Well below what sluice carries, so that queues stay empty and only the way itself counts.
struct Load {
  std::int64_t events = 3'000;
  double rate = 500;
  int partitions = 6;
};

}  // namespace

int main(int argc, char** argv) {
  Load load;
  CLI::App cli{"sluice latency benchmark (needs the local Kafka: scripts/kafka-local start)"};
  cli.add_option("--events", load.events);
  cli.add_option("--rate", load.rate, "events per second the producer sends");
  cli.add_option("--partitions", load.partitions);
  CLI11_PARSE(cli, argc, argv);
  const auto [events, rate, partitions] = load;

  Pipeline pl("latency", partitions);
  for (const char* s : {"a", "b", "c"}) pl.startSink(s);
  const auto i = pl.startSluice(pl.writeConfig());
  // Warm up: until one event has reached every sink, sluice has joined and connected.
  pl.produce(1);
  if (!pl.waitForAllSinks(pl.expectedKeys(pl.end()), 60s)) {
    std::cerr << "sluice did not deliver the warm-up event\n";
    return 1;
  }
  ProduceOptions po;
  po.count = events;
  po.first_seq = 1;
  po.partitions = partitions;
  po.body_bytes = 300;
  po.rate_per_sec = rate;
  produceEvents(pl.bootstrap(), pl.topic(), po);
  const auto end = pl.end();
  if (!pl.waitForAllSinks(pl.expectedKeys(end), 120s)) {
    std::cerr << "not every event reached every sink\n";
    return 1;
  }
  std::map<std::pair<std::int32_t, std::int64_t>, std::int64_t> produced_ms;
  for (const auto& r : readTopic(pl.bootstrap(), pl.topic(), static_cast<std::size_t>(events + 1),
                                 60s)) {
    produced_ms[{r.partition, r.offset}] = r.timestamp_ms;
  }
  std::vector<double> ms;
  for (std::size_t s = 0; s < 3; ++s) {
    std::map<std::pair<std::int32_t, std::int64_t>, std::int64_t> first_arrival;
    for (const auto& r : pl.records(s).all) {
      auto [it, fresh] = first_arrival.try_emplace({r.partition, r.offset}, r.arrival_us);
      if (!fresh) it->second = std::min(it->second, r.arrival_us);
    }
    for (const auto& [coordinates, arrival_us] : first_arrival) {
      auto p = produced_ms.find(coordinates);
      // The warm-up event (seq 0: partition 0, offset 0) waited for sluice to join.
      if (p == produced_ms.end() || p->second < 0 || coordinates == std::make_pair(0, 0L)) {
        continue;
      }
      ms.push_back(static_cast<double>(arrival_us - p->second * 1000) / 1000.0);
    }
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1))];
  };
  std::cout << "latency over " << ms.size() << " deliveries (" << events << " events at " << rate
            << "/s, 3 sinks, " << partitions << " partitions), Kafka timestamp -> sink, ms:\n"
            << "  p50 " << at(0.5) << "  p90 " << at(0.9) << "  p99 " << at(0.99) << "  max "
            << ms.back() << "\n";
  pl.sluice(i).signal(SIGTERM);
  pl.sluice(i).wait(30s);
  return 0;
}
