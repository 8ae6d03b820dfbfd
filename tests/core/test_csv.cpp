// CSV parsing: numbers, header rules, RFC 4180 quoting (and files from Python's csv module in every quoting
// mode), and errors naming the line and the column.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

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

// A 5 MB cell (or column name) is cut in the message, not echoed whole (nfp::truncate_for_message).
TEST(Csv, LongValuesAreCutInMessages) {
  const std::string big(5 << 20, 'q');
  const std::string e = error_of("x,y\n1," + big + "\n");
  EXPECT_LT(e.size(), 300u) << e.substr(0, 300);
  EXPECT_NE(e.find("line 2, column 'y': 'qqqq"), std::string::npos) << e;
  EXPECT_NE(e.find("... (5242880 characters)' is not a number"), std::string::npos) << e;
  auto t = parse_csv("x," + big + "\n1,2\n", "d.csv");
  try {
    t.select({big + "z"}, "d.csv");
    FAIL();
  } catch (const Error& err) {
    EXPECT_LT(std::string(err.what()).size(), 600u);
  }
  EXPECT_EQ(truncate_for_message("short"), "short");
  EXPECT_EQ(truncate_for_message("a\nb\tc\x01"), "a\\nb\\tc\\x01");  // one line whatever the value holds
  EXPECT_EQ(truncate_for_message("abcdefghij", 4), "abcd... (10 characters)");
  EXPECT_EQ(truncate_for_message("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9... (4 characters)");  // not inside a character
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

// RFC 4180: quoted names and numbers, commas, doubled quotes and line breaks inside quotes, CRLF records.
TEST(Csv, QuotedFieldsFollowRfc4180) {
  auto t = parse_csv("\"x\",\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\"1.5\",2,3,4\r\n5,\"6\",7 , 8\r\n", "q");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "a, b", "say \"hi\"", "two\nlines"}));
  ASSERT_EQ(t.rows(), 2);
  EXPECT_DOUBLE_EQ(t.at(0, 0), 1.5);
  EXPECT_DOUBLE_EQ(t.at(1, 1), 6.0);
  EXPECT_DOUBLE_EQ(t.at(1, 3), 8.0);
  EXPECT_EQ(t.column_index("a, b", "q"), 1u);
  // the line numbers in messages count the line break inside the quoted header
  EXPECT_EQ(error_of("\"x\ny\",z\n1,2\n3,q\n"), "'data.csv' line 4, column 'z': 'q' is not a number");
  EXPECT_NE(error_of("x,\"y\n1,2\n").find("line 1: a quoted field is never closed"), std::string::npos);
  EXPECT_NE(error_of("x,\"y\"z\n1,2\n").find("text after a closing quote"), std::string::npos);
  EXPECT_EQ(split_names("x, \"a, b\",y"), (std::vector<std::string>{"x", "a, b", "y"}));
  // and what it reads, it writes back: such names are quoted on the way out
  const auto path = std::filesystem::temp_directory_path() / ("nfp_csv_q_" + std::to_string(::getpid()) + ".csv");
  write_csv(path, t);
  const Table back = read_csv(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.columns, t.columns);
  EXPECT_EQ(back.values, t.values);
}

// What pandas / Python users write: csv.writer in each quoting mode, default CRLF line endings.
TEST(Csv, ReadsWhatPythonsCsvModuleWritesInEveryQuotingMode) {
  if (std::system("python3 -c 'import csv' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_csv_py_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string script = (dir / "write.py").string();
  std::ofstream(script) << "import csv, sys\n"
                           "for mode in ('MINIMAL', 'ALL', 'NONNUMERIC', 'NONE'):\n"
                           "    with open(sys.argv[1] + '/' + mode + '.csv', 'w', newline='') as f:\n"
                           "        w = csv.writer(f, quoting=getattr(csv, 'QUOTE_' + mode), escapechar='\\\\')\n"
                           "        w.writerow(['x', 'y', 'speed (m/s)'])\n"
                           "        w.writerows([[0.5, -1.25, 3.0], [1e-3, 2, 40]])\n";
  ASSERT_EQ(std::system(("python3 " + script + " " + dir.string()).c_str()), 0);
  for (const char* mode : {"MINIMAL", "ALL", "NONNUMERIC", "NONE"}) {
    const Table t = read_csv(dir / (std::string(mode) + ".csv"));
    EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "y", "speed (m/s)"})) << mode;
    ASSERT_EQ(t.rows(), 2) << mode;
    EXPECT_DOUBLE_EQ(t.at(0, 1), -1.25) << mode;
    EXPECT_DOUBLE_EQ(t.at(1, 0), 1e-3) << mode;
    EXPECT_DOUBLE_EQ(t.select({"speed (m/s)"}, mode).at(1, 0), 40.0) << mode;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nfp
