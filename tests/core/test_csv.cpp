// CSV parsing: numbers, header rules, and errors naming the line and the column.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/csv.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_csv(text, "data.csv");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Csv, ParsesNumbersAndSelectsColumns) {
  auto t = parse_csv("x, y ,c\n1,2,3\n-4.5e-1,  5 ,6\n\n", "d");
  ASSERT_EQ(t.columns, (std::vector<std::string>{"x", "y", "c"}));
  ASSERT_EQ(t.rows(), 2);
  EXPECT_DOUBLE_EQ(t.at(1, 0), -0.45);
  auto s = t.select({"c", "x"}, "d");
  EXPECT_EQ(s.columns, (std::vector<std::string>{"c", "x"}));
  EXPECT_DOUBLE_EQ(s.at(1, 0), 6.0);
  EXPECT_DOUBLE_EQ(s.at(1, 1), -0.45);
}

TEST(Csv, BadCellsNameTheLineAndColumn) {
  EXPECT_EQ(error_of("x,y\n1,2\n3,nan\n"), "'data.csv' line 3, column 'y': 'nan' is not finite; remove or fix that row");
  EXPECT_NE(error_of("x,y\n1,inf\n").find("line 2, column 'y'"), std::string::npos);
  EXPECT_NE(error_of("x,y\n1,abc\n").find("'abc' is not a number"), std::string::npos);
  EXPECT_NE(error_of("x,y\n1,\n").find("empty cell"), std::string::npos);
  EXPECT_NE(error_of("x,y\n1,2,3\n").find("3 cells, the header has 2"), std::string::npos);
  EXPECT_NE(error_of("1,2\n3,4\n").find("must name the columns"), std::string::npos);
  EXPECT_NE(error_of("").find("is empty"), std::string::npos);
  EXPECT_NE(error_of("x,y\n").find("no data rows"), std::string::npos);
}

TEST(Csv, UnknownColumnListsTheAvailableOnes) {
  auto t = parse_csv("x,y\n1,2\n", "d.csv");
  try {
    t.select({"z"}, "d.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "'d.csv' has no column 'z'; available columns: x, y");
  }
}

TEST(Csv, WriteThenReadIsExact) {
  Table t;
  t.columns = {"a", "b"};
  t.values = {0.1, -1e-300, 3.0, 1.0 / 3.0};
  const auto path = std::filesystem::temp_directory_path() / "nfp_test_csv.csv";
  write_csv(path, t);
  auto back = read_csv(path);
  EXPECT_EQ(back.columns, t.columns);
  EXPECT_EQ(back.values, t.values);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nfp
