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
