// kafka_tool: the Kafka chores of the demo and the benchmarks (create a topic, produce
// numbered JSON events, show a group's committed offsets against the end offsets).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "kafka_client.h"

using namespace sluice::testing;

int main(int argc, char** argv) {
  CLI::App cli{"Kafka helper for sluice's demo, tests and benchmarks"};
  std::string bootstrap = "127.0.0.1:9092";
  cli.add_option("-b,--bootstrap", bootstrap, "Kafka bootstrap servers");
  cli.require_subcommand(1);

  std::string topic;
  int partitions = 1;
  CLI::App* create = cli.add_subcommand("create-topic", "Create a topic (no error if it exists)");
  create->add_option("topic", topic)->required();
  create->add_option("partitions", partitions)->required()->check(CLI::Range(1, 10000));

  ProduceOptions po;
  CLI::App* produce = cli.add_subcommand("produce", "Produce numbered JSON events {\"seq\":N}");
  produce->add_option("topic", topic)->required();
  produce->add_option("count", po.count)->required()->check(CLI::Range(1, 1'000'000'000));
  produce->add_option("--partitions", po.partitions, "spread round-robin over this many");
  produce->add_option("--bytes", po.body_bytes, "pad each body to about this many bytes");
  produce->add_option("--rate", po.rate_per_sec, "events per second (0: as fast as possible)");
  produce->add_option("--first-seq", po.first_seq, "sequence number of the first event");

  std::string group;
  CLI::App* offsets = cli.add_subcommand("offsets", "Committed vs end offsets of a group");
  offsets->add_option("group", group)->required();
  offsets->add_option("topic", topic)->required();
  offsets->add_option("partitions", partitions)->required();

  CLI11_PARSE(cli, argc, argv);
  try {
    if (create->parsed()) {
      createTopic(bootstrap, topic, partitions, true);
      std::cout << "topic " << topic << " ready with " << partitions << " partitions\n";
    } else if (produce->parsed()) {
      const auto counts = produceEvents(bootstrap, topic, po);
      std::int64_t total = 0;
      for (const auto& [p, n] : counts) total += n;
      std::cout << "produced " << total << " events to " << topic << "\n";
    } else if (offsets->parsed()) {
      const auto committed = committedOffsets(bootstrap, group, topic, partitions);
      const auto end = endOffsets(bootstrap, topic, partitions);
      std::int64_t lag = 0, total_end = 0;
      for (const auto& [p, e] : end) {
        const auto c = committed.at(p);
        const auto l = c < 0 ? e : e - c;
        lag += l;
        total_end += e;
        std::cout << topic << "[" << p << "] committed " << (c < 0 ? std::string("none") : std::to_string(c))
                  << " end " << e << " lag " << l << "\n";
      }
      std::cout << "total: end " << total_end << ", lag " << lag << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "kafka_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
