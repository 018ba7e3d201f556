// Throughput benchmark: a backlog of events already in Kafka, three recording sinks, and the
// real sluice binary; prints events/s through all sinks, sluice's CPU time and peak RSS.
//   throughput_bench [--events N] [--partitions P] [--bytes B] [--delay-share 0.01]
//                    [--transform build/transforms/heavy.wasm --workers 2]
//                    [--sink-transform c=build/transforms/heavy.wasm] [--replicas 2]
// With a transform it also prints when each sink had everything: a sink transform delays its
// own sink only.
//   throughput_bench --benthos PATH   the same backlog, sinks and figures with Benthos in
//                                     sluice's place (bench/peers/README.md)
//   throughput_bench --naive PATH     the same with the hand-written Rust service
//                                     (bench/peers/naive-rust) in sluice's place
#include <CLI/CLI.hpp>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>
#include <thread>

#include "pipeline.h"
#include "proc_stats.h"

using namespace sluice::testing;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  CLI::App cli{"sluice throughput benchmark (needs the local Kafka: scripts/kafka-local start)"};
  std::int64_t events = 200'000;
  int partitions = 12;
  std::size_t bytes = 300;
  std::string delivery;
  cli.add_option("--events", events);
  cli.add_option("--partitions", partitions);
  cli.add_option("--bytes", bytes);
  std::uint32_t window = 0;
  cli.add_option("--window", window, "every sink's max_in_flight (default: sluice's)");
  bool fixed = false;
  cli.add_flag("--fixed", fixed, "every sink's concurrency: fixed (the window is max_in_flight)");
  bool http2 = false;
  cli.add_flag("--http2", http2, "every sink http2: true (h2c, prior knowledge; needs libcurl 8)");
  std::uint32_t batch = 1;
  cli.add_option("--batch", batch, "every sink's batch.max_events (default 1: no batching)");
  std::vector<std::string> properties;
  cli.add_option("--kafka-property", properties,
                 "KEY=VALUE under kafka.properties (repeatable), e.g. queued.max.messages.kbytes=4096");
  cli.add_option("--delivery-yaml", delivery,
                 "extra keys inside delivery:, each line indented two spaces");
  std::string transform;
  cli.add_option("--transform", transform,
                 "a pipeline transform module (e.g. build/transforms/identity.wasm)");
  std::string transform_config;
  cli.add_option("--transform-config", transform_config, "its config, as YAML flow, e.g. {size: 48}");
  std::uint32_t workers = 0;
  cli.add_option("--workers", workers, "transform worker threads (default: the cores)");
  std::string benthos;
  cli.add_option("--benthos", benthos,
                 "run this Benthos binary (bench/peers/build-benthos) in sluice's place: "
                 "kafka_franz -> fan_out -> three http_client, the same Idempotency-Key");
  std::uint32_t benthos_in_flight = 64;
  cli.add_option("--benthos-in-flight", benthos_in_flight,
                 "max_in_flight of each Benthos http_client output (its default: 64)");
  std::string naive;
  cli.add_option("--naive", naive,
                 "run this hand-written service (bench/peers/build-naive-rust) in sluice's "
                 "place: tokio, rdkafka, reqwest, a join of three POSTs per event");
  std::uint32_t naive_window = 16;
  cli.add_option("--naive-window", naive_window,
                 "events in flight per partition in the hand-written service (default 16)");
  std::vector<std::string> sink_transforms;
  cli.add_option("--sink-transform", sink_transforms,
                 "SINK=MODULE: a sink's own transform (a, b or c; repeatable); its config is "
                 "--transform-config");
  double delay_share = 0;
  cli.add_option("--delay-share", delay_share,
                 "share of sink c's requests it answers --delay-ms late (slow-sink isolation)");
  int delay_ms = 2000;
  cli.add_option("--delay-ms", delay_ms, "sink c's extra delay for --delay-share (default 2000)");
  std::size_t replicas = 1;
  cli.add_option("--replicas", replicas,
                 "sluice processes in the one consumer group (as replicas scale it); the CPU, "
                 "RSS and thread figures are their sums")
      ->check(CLI::Range(1, 12));
  CLI11_PARSE(cli, argc, argv);
  // Bad combinations are refused before anything touches the broker.
  const bool other_peer = !benthos.empty() || !naive.empty();
  if (!benthos.empty() && !naive.empty()) {
    std::cerr << "--benthos and --naive: one peer per run\n";
    return 2;
  }
  if (other_peer && (http2 || !transform.empty() || !sink_transforms.empty())) {
    std::cerr << "--benthos and --naive run HTTP/1.1 without transforms\n";
    return 2;
  }
  if (other_peer && replicas > 1) {
    std::cerr << "--replicas is for sluice\n";
    return 2;
  }
  if (!naive.empty() && batch > 1) {
    std::cerr << "--naive sends one request per event; --batch is for sluice and --benthos\n";
    return 2;
  }

  Pipeline pl("bench", partitions);
  ProduceOptions po;
  po.count = events;
  po.partitions = partitions;
  po.body_bytes = bytes;
  const auto p0 = std::chrono::steady_clock::now();
  produceEvents(pl.bootstrap(), pl.topic(), po);
  const double produce_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  pl.startSink("a");
  pl.startSink("b");
  if (delay_share > 0) {
    pl.startSink("c", {"--delay-share", std::to_string(delay_share), "--delay-ms",
                       std::to_string(delay_ms)});
  } else {
    pl.startSink("c");
  }

  const auto t0 = std::chrono::steady_clock::now();
  const double busy0 = machineBusySeconds();
  ConfigOptions options;
  // The keys are spliced into the YAML: without a final newline the next key would join the
  // last line.
  if (!delivery.empty() && delivery.back() != '\n') delivery += '\n';
  options.delivery_extra = delivery;
  options.sink_max_in_flight = window;
  if (batch > 1) {
    for (const char* s : {"a", "b", "c"}) {
      options.sink_extra[s] = "    batch: {max_events: " + std::to_string(batch) + "}\n";
    }
  }
  if (fixed) {
    for (const char* s : {"a", "b", "c"}) options.sink_extra[s] += "    concurrency: fixed\n";
  }
  if (http2) {
    for (const char* s : {"a", "b", "c"}) options.sink_extra[s] += "    http2: true\n";
  }
  for (const auto& st : sink_transforms) {
    const auto eq = st.find('=');
    if (eq == std::string::npos || eq != 1 || std::string("abc").find(st[0]) == std::string::npos) {
      std::cerr << "--sink-transform wants SINK=MODULE with SINK one of a, b, c; got " << st << "\n";
      return 2;
    }
    std::string& extra = options.sink_extra[st.substr(0, 1)];
    extra += "    transform:\n      module: " +
             std::filesystem::absolute(st.substr(eq + 1)).string() + "\n";
    if (!transform_config.empty()) extra += "      config: " + transform_config + "\n";
    extra += "      workers: " + std::to_string(workers) + "\n";
  }

  for (const auto& p : properties) {
    const auto eq = p.find('=');
    if (eq == std::string::npos) {
      std::cerr << "--kafka-property wants KEY=VALUE, got " << p << "\n";
      return 2;
    }
    options.kafka_properties[p.substr(0, eq)] = p.substr(eq + 1);
  }
  if (!transform.empty()) {
    options.extra += "transform:\n  module: " + std::filesystem::absolute(transform).string() +
                     "\n  workers: " + std::to_string(workers) + "\n";
    if (!transform_config.empty()) options.extra += "  config: " + transform_config + "\n";
  }
  std::unique_ptr<ChildProcess> peer;
  std::vector<ChildProcess*> procs;  // what runs in sluice's place: the peer or each replica
  if (!naive.empty()) {
    std::vector<std::string> args{naive, "--brokers", pl.bootstrap(), "--topic", pl.topic(),
                                  "--group", pl.group(), "--window",
                                  std::to_string(naive_window)};
    for (std::size_t s = 0; s < 3; ++s) {
      args.push_back("--sink");
      args.push_back("http://127.0.0.1:" + std::to_string(pl.sinkPort(s)) + "/ingest");
    }
    peer = std::make_unique<ChildProcess>(args, pl.dir() + "/naive.log");
    procs.push_back(peer.get());
  } else if (!benthos.empty()) {
    // At-least-once as sluice: kafka_franz commits an offset once fan_out has every
    // output's acknowledgement; the Idempotency-Key is the record's coordinates, as sluice's,
    // and the same Sluice-Source-* headers go along. Batched (--batch N), each output sends
    // what sluice sends: a JSON array of up to N events with the matching
    // Sluice-Idempotency-Keys and Sluice-Source-Offsets lists (its batches may mix
    // partitions, so Sluice-Source-Partition is left out).
    const std::string config = pl.dir() + "/benthos.yaml";
    std::ofstream y(config);
    y << "http: {enabled: false}\nlogger: {level: WARN}\n"
      << "input:\n  kafka_franz:\n    seed_brokers: [" << pl.bootstrap() << "]\n"
      << "    topics: [" << pl.topic() << "]\n    consumer_group: " << pl.group() << "\n"
      << "    start_from_oldest: true\n"
      << "output:\n  broker:\n    pattern: fan_out\n    outputs:\n";
    for (std::size_t s = 0; s < 3; ++s) {
      y << "      - http_client:\n          url: http://127.0.0.1:" << pl.sinkPort(s) << "/ingest\n"
        << "          verb: POST\n          max_in_flight: " << benthos_in_flight << "\n"
        << "          headers:\n            Content-Type: application/json\n"
        // The headers sluice sends with each event (the recording sink files them too).
        << "            Sluice-Source-Topic: '${! meta(\"kafka_topic\") }'\n"
        << "            Sluice-Attempt: '1'\n";
      if (batch <= 1) {
        y << "            Idempotency-Key: '\"${! meta(\"kafka_topic\") }/"
             "${! meta(\"kafka_partition\") }/${! meta(\"kafka_offset\") }\"'\n"
          << "            Sluice-Source-Partition: '${! meta(\"kafka_partition\") }'\n"
          << "            Sluice-Source-Offset: '${! meta(\"kafka_offset\") }'\n";
        continue;
      }
      y << "            Sluice-Idempotency-Keys: '${! meta(\"sluice_keys\") }'\n"
        << "            Sluice-Source-Offsets: '${! meta(\"sluice_offsets\") }'\n"
        << "          batching:\n            count: " << batch << "\n            period: 5ms\n"
        << "            processors:\n"
        << "              - mapping: |\n"
        << "                  root.k = \"\\\"%s/%s/%s\\\"\".format(meta(\"kafka_topic\"), "
           "meta(\"kafka_partition\"), meta(\"kafka_offset\"))\n"
        << "                  root.o = meta(\"kafka_offset\")\n"
        << "                  root.v = this\n"
        << "              - archive: {format: json_array}\n"
        << "              - mapping: |\n"
        << "                  meta sluice_keys = this.map_each(e -> e.k).join(\", \")\n"
        << "                  meta sluice_offsets = this.map_each(e -> e.o).join(\", \")\n"
        << "                  root = this.map_each(e -> e.v)\n";
    }
    y.close();
    peer = std::make_unique<ChildProcess>(std::vector<std::string>{benthos, "-c", config},
                                          pl.dir() + "/benthos.log");
    procs.push_back(peer.get());
  } else {
    const std::string config = pl.writeConfig(options);
    for (std::size_t r = 0; r < replicas; ++r) procs.push_back(&pl.sluice(pl.startSluice(config)));
  }
  const std::string who = !naive.empty() ? "naive" : !benthos.empty() ? "benthos" : "sluice";
  // Each process's own peak, summed: the replicas' peaks need not coincide, so this is the
  // memory a box must have for them, not what they held at one moment.
  std::vector<long> rss(procs.size(), 0);
  std::vector<long> threads(procs.size(), 0);
  const auto sample = [&] {
    for (std::size_t p = 0; p < procs.size(); ++p) {
      rss[p] = std::max(rss[p], peakRssKib(procs[p]->pid()));
      threads[p] = std::max(threads[p], threadCount(procs[p]->pid()));
    }
  };
  std::array<double, 3> sink_secs{0, 0, 0};  // when each sink had every event
  const ChildProcess* exited = nullptr;  // a process under test that ended early (bad config)
  const bool all = waitFor(
      [&] {
        for (ChildProcess* p : procs) {
          if (!p->running()) exited = p;
        }
        if (exited != nullptr) return true;
        sample();
        // Counting lines is cheaper than parsing keys; confirm the keys once at the end.
        bool every = true;
        for (std::size_t s = 0; s < 3; ++s) {
          if (sink_secs[s] > 0) continue;
          if (pl.recordCount(s) < static_cast<std::size_t>(events)) {
            every = false;
          } else {
            sink_secs[s] =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          }
        }
        return every;
      },
      600s, 100ms);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (exited != nullptr) {
    std::cerr << who << " (pid " << exited->pid() << ") exited before the sinks had every "
              << "event; its log is in " << pl.dir() << "\n";
    return 1;
  }
  const double busy = machineBusySeconds() - busy0;
  double cpu = 0;
  for (const ChildProcess* p : procs) cpu += cpuSeconds(p->pid());
  sample();
  const long rss_sum = std::accumulate(rss.begin(), rss.end(), 0L);
  const long threads_sum = std::accumulate(threads.begin(), threads.end(), 0L);
  bool complete = all;
  for (std::size_t s = 0; s < 3; ++s) complete = complete && pl.sinkHasAll(s, expected);

  if (delay_share > 0) {
    std::cout << "sink c answers " << delay_share * 100 << "% of its requests " << delay_ms
              << " ms late\n";
  }
  if (!transform.empty() || !sink_transforms.empty()) {
    std::cout << "transform:";
    if (!transform.empty()) std::cout << " pipeline " << transform;
    for (const auto& st : sink_transforms) std::cout << " sink " << st;
    if (!transform_config.empty()) std::cout << " config " << transform_config;
    std::cout << " on " << (workers ? std::to_string(workers) : std::string("all the cores'"))
              << " worker(s)\n";
  }
  {  // every sink's own rate: the slow-sink comparison needs the undelayed run's too
    for (std::size_t s = 0; s < 3; ++s) {
      // From its first record to its last, as the slow-sink test measures a sink's rate.
      const auto records = pl.records(s);
      std::int64_t first = INT64_MAX, last = INT64_MIN;
      for (const auto& rec : records.all) {
        first = std::min(first, rec.arrival_us);
        last = std::max(last, rec.arrival_us);
      }
      const double span = last > first ? static_cast<double>(last - first) / 1e6 : 0;
      std::cout << "  sink " << "abc"[s];
      if (sink_secs[s] > 0) {
        std::cout << " had all in " << sink_secs[s] << " s = "
                  << static_cast<long>(static_cast<double>(events) / sink_secs[s]) << " events/s;";
      } else {
        std::cout << " did not get every event;";
      }
      std::cout << " first to last record " << span << " s = "
                << static_cast<long>(span > 0 ? static_cast<double>(records.all.size()) / span : 0)
                << " events/s\n";
    }
  }
  std::cout << "backlog: " << events << " events of ~" << bytes << " B on " << partitions
            << " partitions (produced in " << produce_s << " s)\n"
            << "delivered to 3 sinks: " << (complete ? "all" : "NOT ALL") << " in " << secs
            << " s = " << static_cast<long>(static_cast<double>(events) / secs)
            << " events/s (" << static_cast<long>(3.0 * static_cast<double>(events) / secs)
            << " deliveries/s" << (batch > 1 ? ", batched" : ", one request each")
            << (http2 ? ", h2c" : "") << ")\n"
            << who << " cpu: " << cpu << " s (" << cpu / secs * 100 << "% of one core), "
            << static_cast<long>(static_cast<double>(events) / cpu) << " events per cpu-second\n"
            << who << " peak rss: " << static_cast<double>(rss_sum) / 1024.0
            << " MiB, threads: " << threads_sum << "\n";
  // Sinks, broker and peer share the machine: how busy it was says whether a faster peer
  // could have been any faster here.
  std::cout << "machine: " << busy / secs * 100 << "% of one core busy of "
            << std::thread::hardware_concurrency() << " (" << who << " "
            << cpu / secs * 100 << "%, the rest is the sinks, the broker and this bench)\n";
  if (procs.size() > 1) {
    std::cout << procs.size() << " replicas, each at most "
              << static_cast<double>(*std::max_element(rss.begin(), rss.end())) / 1024.0
              << " MiB\n";
  }
  if (peer) {
    peer->signal(SIGTERM);
    peer->wait(30s);
    return complete ? 0 : 1;
  }
  // What sluice fetched from Kafka, from its statistics (every 5 s) in its totals at exit: a
  // partition paused for back-pressure is fetched again when it resumes.
  std::this_thread::sleep_for(5500ms);
  for (ChildProcess* p : procs) p->signal(SIGTERM);
  double fetched = 0;
  bool reported = false;
  for (std::size_t r = 0; r < procs.size(); ++r) {
    procs[r]->wait(30s);
    const std::string log = pl.sluiceLog(r);
    const auto at = log.rfind("fetched ");
    if (at == std::string::npos) continue;
    fetched += std::strtod(log.c_str() + at + 8, nullptr);
    reported = true;
  }
  if (reported) {
    std::cout << "fetched from kafka: " << fetched / 1048576.0 << " MiB of messages for "
              << static_cast<double>(events) * static_cast<double>(bytes) / 1048576.0
              << " MiB of bodies delivered (x"
              << fetched / (static_cast<double>(events) * static_cast<double>(bytes)) << ")\n";
  }
  return complete ? 0 : 1;
}
