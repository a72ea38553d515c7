// The readers agree with Python's json and csv modules on tricky inputs.
#include <simdjson.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "catch.hpp"
#include "io_test_util.hpp"
#include "isoflow/io.hpp"

using namespace isoflow;

namespace {
std::vector<std::string> run_python(const std::string& kind, const std::string& file) {
    const std::string cmd = std::string(ISOFLOW_PYTHON) + " " + ISOFLOW_SOURCE_DIR + "/tests/io/python_parse.py " +
                            kind + " '" + file + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    REQUIRE(pipe);
    std::vector<std::string> lines;
    std::string line;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) {
        line += buf.data();
        if (!line.empty() && line.back() == '\n') {
            line.pop_back();
            lines.push_back(line);
            line.clear();
        }
    }
    return lines;
}
}  // namespace

TEST_CASE("JSON Lines: same values as Python's json module") {
    io_test::TempDir dir;
    const std::string text =
        "{\"a\": \"tab\\there \\\"quoted\\\" back\\\\slash\", \"b\": 1, \"c\": -0.5, \"d\": true}\n"
        "{\"a\": \"\\u00e9\\u4e2d\\ud83d\\ude00 / \\/\", \"b\": 12345678901234, \"c\": 1e-07, \"d\": null}\n"
        "{\"a\": \"\", \"b\": -7, \"c\": 2.5E+20, \"d\": false, \"e\": {\"x\": [1, \"y\", null]}}\n"
        "  {\"a\":\"caf\u00c3\u00a9 utf8\",\"b\":0,\"c\":100000.0,\"d\":true,\"e\":[]}  \r\n"
        "\n"
        "{\"b\": 3, \"a\": \"order differs\", \"c\": 0.1, \"d\": false, \"e\": {}}\n";
    const auto file = (dir / "t.json").string();
    io_test::write_file(file, text);
    const auto expected = run_python("json", file);
    REQUIRE(expected.size() == 5);
    const Batch b = read_json(file);  // no inference: every column a string
    REQUIRE(b.num_rows() == expected.size());
    simdjson::dom::parser parser;
    for (std::size_t r = 0; r < expected.size(); ++r) {
        simdjson::dom::object obj = parser.parse(expected[r]);
        std::size_t keys = 0;
        for (auto [key, value] : obj) {
            ++keys;
            const auto& col = b.column(key);
            INFO("row " << r << " key " << key);
            if (value.is_null()) {
                CHECK(col.is_null(r));
            } else {
                REQUIRE(col.is_valid(r));
                CHECK(std::string(col.string_at(r)) == std::string(std::string_view(value)));
            }
        }
        CHECK(keys >= 4);
    }
    CHECK(b.column("_rescued_data").null_count() == b.num_rows());
}

TEST_CASE("CSV: same fields as Python's csv module") {
    io_test::TempDir dir;
    const std::string text =
        "id,text,other\r\n"
        "1,\"comma, inside\",x\r\n"
        "2,\"line\nbreak\",\"doubled \"\"quotes\"\"\"\r\n"
        "3,,\"\"\n"
        "\n"
        "4,  spaces  ,\"\u00e9\"\n"
        "5,\"a\"\"\",end";
    const auto file = (dir / "t.csv").string();
    io_test::write_file(file, text);
    const auto expected = run_python("csv", file);
    REQUIRE(expected.size() == 6);  // header + 5 rows
    ReadOptions o;
    o.null_value = "<no null token>";
    const Batch b = read_csv(file, o);
    REQUIRE(b.num_rows() == 5);
    simdjson::dom::parser parser;
    simdjson::dom::array header = parser.parse(expected[0]);
    std::vector<std::string> names;
    for (auto h : header) names.emplace_back(std::string_view(h));
    REQUIRE(names.size() == 3);
    for (std::size_t r = 1; r < expected.size(); ++r) {
        simdjson::dom::array row = parser.parse(expected[r]);
        std::size_t c = 0;
        for (auto v : row) {
            INFO("row " << r << " column " << names[c]);
            CHECK(std::string(b.column(names[c]).string_at(r - 1)) == std::string(std::string_view(v)));
            ++c;
        }
        CHECK(c == names.size());
    }
}
