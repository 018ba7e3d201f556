#include "validate/validator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

ValidationConfig config(std::string schema = "none", std::size_t max_bytes = 1024) {
  ValidationConfig c;
  c.schema = std::move(schema);
  c.max_bytes = max_bytes;
  return c;
}

TEST(Validator, AcceptsJsonAndRejectsWhatIsNot) {
  Validator v(config());
  EXPECT_FALSE(v.check(R"({"a":1})").has_value());
  EXPECT_FALSE(v.check("[1,2]").has_value());
  auto bad = v.check(R"({"a":)");
  ASSERT_TRUE(bad.has_value());
  EXPECT_STREQ(bad->reason, "invalid_json");
  EXPECT_EQ(bad->where, "byte 5");
  EXPECT_TRUE(v.check("").has_value());
  EXPECT_TRUE(v.check("{} trailing").has_value());
}

// A poison pill: before, the recursive parser ran out of stack on this and every group member
// that took the partition next crashed on the same record.
TEST(Validator, DeepNestingIsInvalidNotACrash) {
  Validator v(config("none", 1 << 20));
  const std::string deep(500'000, '[');
  auto bad = v.check(deep);
  ASSERT_TRUE(bad.has_value());
  EXPECT_STREQ(bad->reason, "invalid_json");
  EXPECT_NE(bad->detail.find("max_depth"), std::string::npos) << bad->detail;
  EXPECT_EQ(bad->where, "byte 128");  // the 129th '[' is one level too many
  // The same against the default schema, which walks the document as it parses.
  Validator with_schema(config("default", 1 << 20));
  const std::string deep_object = R"({"a":)" + std::string(500'000, '[');
  bad = with_schema.check(deep_object);
  ASSERT_TRUE(bad.has_value());
  EXPECT_STREQ(bad->reason, "invalid_json");
  // At the limit it is fine.
  EXPECT_FALSE(v.check(std::string(128, '[') + std::string(128, ']')).has_value());
  EXPECT_TRUE(v.check(std::string(129, '[') + std::string(129, ']')).has_value());
  auto shallow = config("none", 1 << 20);
  shallow.max_depth = 2;
  EXPECT_TRUE(Validator(shallow).check(R"({"a":{"b":{}}})").has_value());
  EXPECT_FALSE(Validator(shallow).check(R"({"a":{"b":1}})").has_value());
}

TEST(Validator, BytesAfterTheDocumentAreInvalidEvenANul) {
  Validator v(config());
  using namespace std::string_literals;
  auto nul = v.check("{\"a\":1}\0x"s);
  ASSERT_TRUE(nul.has_value());
  EXPECT_STREQ(nul->reason, "invalid_json");
  EXPECT_EQ(nul->where, "byte 7");
  EXPECT_TRUE(v.check("{\"a\":1}\0"s).has_value());
  EXPECT_TRUE(v.check("1\0"s).has_value());
  EXPECT_TRUE(v.check("{\"a\":\0}"s).has_value());
  EXPECT_FALSE(v.check("{\"a\":1} \r\n\t").has_value());  // whitespace is fine
}

TEST(Validator, InvalidUtf8IsInvalid) {
  Validator v(config());
  EXPECT_TRUE(v.check("\"caf\xe9\"").has_value());        // Latin-1, not UTF-8
  EXPECT_TRUE(v.check("{\"k\":\"\xc3\x28\"}").has_value());  // broken sequence
  EXPECT_TRUE(v.check("{\"\xff\":1}").has_value());           // in a key
  EXPECT_FALSE(v.check("{\"k\":\"caf\xc3\xa9\"}").has_value());
}

TEST(Validator, OnlyAWholeByteOrderMarkIsSkipped) {
  Validator v(config());
  EXPECT_FALSE(v.check("\xEF\xBB\xBF{\"a\":1}").has_value());
  // RapidJSON's stream skipped each BOM byte on its own: a stray one passed and then broke
  // the batch array, which drops only the whole mark.
  EXPECT_TRUE(v.check("\xBB{\"a\":1}").has_value());
  EXPECT_TRUE(v.check("\xBF{\"a\":1}").has_value());
  EXPECT_TRUE(v.check("\xEF\xBB{\"a\":1}").has_value());
}

TEST(Validator, RejectsOversizedEvents) {
  Validator v(config("none", 10));
  EXPECT_FALSE(v.check(R"({"a":12})").has_value());
  auto big = v.check(R"({"a":123456})");
  ASSERT_TRUE(big.has_value());
  EXPECT_STREQ(big->reason, "too_large");
}

TEST(Validator, JsonCheckCanBeTurnedOff) {
  auto c = config();
  c.json = false;
  Validator v(c);
  EXPECT_FALSE(v.check("not json at all").has_value());
}

TEST(Validator, DefaultSchemaWantsAnObject) {
  Validator v(config("default"));
  EXPECT_FALSE(v.check(R"({"id":"e1","type":"order"})").has_value());
  auto arr = v.check("[1]");
  ASSERT_TRUE(arr.has_value());
  EXPECT_STREQ(arr->reason, "schema_mismatch");
  EXPECT_NE(std::string(defaultEventSchema()).find("draft-04"), std::string::npos);
}

TEST(Validator, SchemaFileSaysWhereTheEventFailed) {
  const auto path = std::filesystem::temp_directory_path() / "sluice-validator-test.json";
  std::ofstream(path) << R"({"type":"object","required":["id"],
    "properties":{"id":{"type":"string"},"n":{"type":"integer","minimum":0}}})";
  Validator v(config(path.string()));
  EXPECT_FALSE(v.check(R"({"id":"x","n":3})").has_value());
  auto missing = v.check(R"({"n":3})");
  ASSERT_TRUE(missing.has_value());
  EXPECT_STREQ(missing->reason, "schema_mismatch");
  EXPECT_NE(missing->detail.find("required"), std::string::npos) << missing->detail;
  auto negative = v.check(R"({"id":"x","n":-1})");
  ASSERT_TRUE(negative.has_value());
  EXPECT_EQ(negative->where, "#/n");
  EXPECT_NE(negative->detail.find("minimum"), std::string::npos) << negative->detail;
  std::filesystem::remove(path);
}

TEST(Validator, BadSchemaFailsAtStartUp) {
  const auto path = std::filesystem::temp_directory_path() / "sluice-validator-bad.json";
  std::ofstream(path) << "{not json";
  EXPECT_THROW(Validator(config(path.string())), std::runtime_error);
  std::filesystem::remove(path);
  EXPECT_THROW(Validator(config("/nonexistent/schema.json")), std::runtime_error);
}

}  // namespace
}  // namespace sluice
