#include <simdjson.h>

#include <cmath>
#include <string>

#include "catch.hpp"
#include "io_test_util.hpp"
#include "isoflow/io.hpp"

using namespace isoflow;
using io_test::str;

namespace {
ReadOptions typed() {
    ReadOptions o;
    o.infer_column_types = true;
    return o;
}
}  // namespace

TEST_CASE("JSON Lines: inference of every type, int64 widening, nested values as JSON text") {
    const std::string text =
        "{\"id\": 1, \"x\": 1, \"ok\": true, \"t\": \"2024-03-01T12:30:00Z\", \"s\": \"a\", \"n\": {\"k\": [1, 2]}}\n"
        "{\"id\": 2, \"x\": 2.5, \"ok\": false, \"t\": \"2024-03-01T14:30:00+02:00\", \"s\": \"b\", \"n\": [true]}\n";
    const Batch b = read_json_text(text, typed());
    REQUIRE(b.num_rows() == 2);
    CHECK(b.column("id").type() == DataType::int64);
    CHECK(b.column("x").type() == DataType::float64);
    CHECK(b.column("ok").type() == DataType::boolean);
    CHECK(b.column("t").type() == DataType::timestamp);
    CHECK(b.column("s").type() == DataType::string);
    CHECK(b.column("n").type() == DataType::string);
    CHECK(b.column("x").double_values()[0] == 1.0);
    CHECK(b.column("x").double_values()[1] == 2.5);
    CHECK(b.column("ok").bool_values()[0] == 1);
    // Both timestamps are the same instant in UTC: 2024-03-01T12:30:00Z.
    const std::int64_t expected = (19783LL * 86400 + 12 * 3600 + 30 * 60) * 1'000'000;
    CHECK(b.column("t").int64_values()[0] == expected);
    CHECK(b.column("t").int64_values()[1] == expected);
    CHECK(str(b, "n", 0) == "{\"k\":[1,2]}");
    CHECK(str(b, "n", 1) == "[true]");
    CHECK(b.column("_rescued_data").null_count() == 2);
}

TEST_CASE("JSON: single quotes, NaN, Infinity and -Infinity are accepted as Spark does") {
    const Batch b = read_json_text(
        "{'cust_id': 0, 'Time': 0.0, 'V1': NaN, 'name': 'it\\'s \"q\"'}\n"
        "{'cust_id': 1, 'Time': 1.5, 'V1': Infinity, 'name': 'x'}\n"
        "{\"cust_id\": 2, \"Time\": 2.0, \"V1\": -Infinity, \"name\": \"y\"}\n",
        typed());
    REQUIRE(b.num_rows() == 3);
    CHECK(b.column("V1").type() == DataType::float64);
    CHECK(std::isnan(b.column("V1").double_values()[0]));
    CHECK(b.column("V1").double_values()[1] == INFINITY);
    CHECK(b.column("V1").double_values()[2] == -INFINITY);
    CHECK(str(b, "name", 0) == "it's \"q\"");
    CHECK(b.column("cust_id").int64_values()[1] == 1);
    CHECK(b.column("_rescued_data").null_count() == 3);
}

TEST_CASE("JSON: top-level array and one pretty-printed object per file") {
    const Batch a = read_json_text("[\n {\"a\": 1},\n {\"a\": 2, \"b\": \"x\"}\n]\n", typed());
    REQUIRE(a.num_rows() == 2);
    CHECK(a.column("a").int64_values()[1] == 2);
    CHECK(str(a, "b", 0) == "<null>");
    CHECK(str(a, "b", 1) == "x");
    const Batch o = read_json_text("{\n  \"a\": 7,\n  \"b\": \"y\"\n}\n", typed());
    REQUIRE(o.num_rows() == 1);
    CHECK(o.column("a").int64_values()[0] == 7);
    const Batch e = read_json_text("", typed());
    CHECK(e.num_rows() == 0);
    const Batch ea = read_json_text("[]", typed());
    CHECK(ea.num_rows() == 0);
}

TEST_CASE("Without inference every column is a string and numbers keep their text") {
    const Batch b = read_json_text("{\"a\": 12, \"b\": 0.0, \"c\": true, \"d\": null, \"e\": 1e5}\n");
    for (const auto& f : b.schema().fields()) CHECK(f.type == DataType::string);
    CHECK(str(b, "a", 0) == "12");
    CHECK(str(b, "b", 0) == "0.0");
    CHECK(str(b, "c", 0) == "true");
    CHECK(str(b, "d", 0) == "<null>");
    CHECK(str(b, "e", 0) == "100000.0");
}

TEST_CASE("Schema hints override inference and add columns") {
    ReadOptions o = typed();
    o.schema_hints = "cust_id BIGINT, Time DOUBLE, extra STRING";
    const Batch b = read_json_text("{\"cust_id\": 1, \"Time\": 3}\n", o);
    CHECK(b.column("Time").type() == DataType::float64);
    CHECK(b.column("Time").double_values()[0] == 3.0);
    CHECK(b.column("extra").is_null(0));
    ReadOptions bad;
    bad.schema_hints = "cust_id WHATEVER";
    try {
        (void)read_json_text("{}", bad);
        FAIL("expected config_error");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()).find("WHATEVER") != std::string::npos);
    }
}

TEST_CASE("A value that does not fit is null and kept in _rescued_data with file and line") {
    ReadOptions o;
    o.schema = Schema({Field{"Amount", DataType::float64}, Field{"n", DataType::int64}});
    const Batch b = read_json_text("{\"Amount\": 1.5, \"n\": 1}\n\n{\"Amount\": \"12,5\", \"n\": 2.5}\n", o, "in.json");
    REQUIRE(b.num_rows() == 2);
    CHECK(b.column("Amount").is_null(1));
    CHECK(b.column("n").is_null(1));
    const std::string rescued = str(b, "_rescued_data", 1);
    simdjson::dom::parser p;
    simdjson::dom::element doc = p.parse(rescued);
    CHECK(std::string_view(doc["Amount"]) == "12,5");
    CHECK(double(doc["n"]) == 2.5);
    CHECK(std::string_view(doc["_file"]) == "in.json");
    CHECK(int64_t(doc["_line"]) == 3);
}

TEST_CASE("Malformed JSON records: rescue, skip_file, fail") {
    const std::string text = "{\"a\": 1}\n{\"a\": 2,, }\n{\"a\": 3}\n";
    SECTION("rescue keeps the raw text and counts it") {
        auto reader = FileReader::over_text(text, FileFormat::json, typed(), "f.json");
        const Batch b = reader.read_all();
        REQUIRE(b.num_rows() == 3);
        CHECK(reader.stats().malformed_records == 1);
        CHECK(b.column("a").is_null(1));
        simdjson::dom::parser p;
        simdjson::dom::element doc = p.parse(str(b, "_rescued_data", 1));
        CHECK(std::string_view(doc["_corrupt_record"]) == "{\"a\": 2,, }");
        CHECK(int64_t(doc["_line"]) == 2);
    }
    SECTION("skip_file drops the whole file and reports it") {
        ReadOptions o = typed();
        o.on_malformed = OnMalformed::skip_file;
        auto reader = FileReader::over_text(text, FileFormat::json, o, "f.json");
        const Batch b = reader.read_all();
        CHECK(b.num_rows() == 0);
        REQUIRE(reader.stats().skipped_files.size() == 1);
        CHECK(reader.stats().skipped_files[0].reason.find("f.json:2:9: ") != std::string::npos);
    }
    SECTION("fail names file, line, column and what was expected") {
        ReadOptions o = typed();
        o.on_malformed = OnMalformed::fail;
        try {
            (void)read_json_text(text, o, "f.json");
            FAIL("expected parse_error");
        } catch (const parse_error& e) {
            const std::string m = e.what();
            CHECK(m.find("f.json:2:9: ") != std::string::npos);
            CHECK(m.find("expected a quoted field name") != std::string::npos);
        }
    }
    SECTION("a record that is not an object") {
        const Batch b = read_json_text("[1, 2]\n", typed());
        CHECK(b.num_rows() == 2);
        CHECK(str(b, "_rescued_data", 0).find("_corrupt_record") != std::string::npos);
    }
}

TEST_CASE("Schema evolution modes") {
    const std::string text = "{\"a\": 1}\n{\"a\": 2, \"b\": \"new\"}\n";
    ReadOptions o = typed();
    o.infer_sample_rows = 1;  // the sample sees only `a`
    SECTION("addNewColumns adds a nullable column and reports it") {
        auto reader = FileReader::over_text(text, FileFormat::json, o, "e.json");
        const Batch b = reader.read_all();
        CHECK(str(b, "b", 0) == "<null>");
        CHECK(str(b, "b", 1) == "new");
        REQUIRE(reader.stats().schema_changes.size() == 1);
        CHECK(reader.stats().schema_changes[0].added[0].name == "b");
    }
    SECTION("rescue keeps the schema") {
        o.schema_evolution_mode = SchemaEvolutionMode::rescue;
        const Batch b = read_json_text(text, o);
        CHECK(!b.find_column("b"));
        CHECK(str(b, "_rescued_data", 1).find("\"b\": \"new\"") != std::string::npos);
    }
    SECTION("failOnNewColumns names the file and the field") {
        o.schema_evolution_mode = SchemaEvolutionMode::fail_on_new_columns;
        try {
            (void)read_json_text(text, o, "e.json");
            FAIL("expected schema_error");
        } catch (const schema_error& e) {
            CHECK(std::string(e.what()).find("e.json:2: new field 'b'") != std::string::npos);
            CHECK(std::string(e.what()).find("'b'") != std::string::npos);
        }
    }
    SECTION("none ignores it") {
        o.schema_evolution_mode = SchemaEvolutionMode::none;
        const Batch b = read_json_text(text, o);
        CHECK(!b.find_column("b"));
        CHECK(b.column("_rescued_data").null_count() == 2);
    }
    SECTION("a key differing only by case is rescued") {
        const Batch b = read_json_text("{\"Amount\": 1}\n{\"AMOUNT\": 2}\n", ReadOptions{});
        CHECK(str(b, "_rescued_data", 1).find("\"AMOUNT\": 2") != std::string::npos);
    }
}

TEST_CASE("CSV: RFC 4180 quoting, delimiter, null token, CRLF, short rows") {
    ReadOptions o = typed();
    const Batch b = read_csv_text("id,v,s\r\n1,2.5,\"a,\"\"b\"\"\nc\"\r\n2,,plain\r\n3,7,\"\"\r\n", o, "t.csv");
    REQUIRE(b.num_rows() == 3);
    CHECK(b.column("v").type() == DataType::float64);
    CHECK(str(b, "s", 0) == "a,\"b\"\nc");
    CHECK(b.column("v").is_null(1));
    CHECK(str(b, "s", 2) == "");

    ReadOptions semi;
    semi.delimiter = ';';
    semi.null_value = "NA";
    semi.add_source_line = true;
    const Batch c = read_csv_text("a;b\nx;NA\n\"NA\";y\nshort\n", semi, "s.csv");
    REQUIRE(c.num_rows() == 3);
    CHECK(str(c, "b", 0) == "<null>");
    CHECK(str(c, "a", 1) == "NA");  // quoted: a value, not the null token
    CHECK(c.column("_source_line").int64_values()[2] == 4);
    CHECK(str(c, "_rescued_data", 2).find("expected 2 fields") != std::string::npos);

    ReadOptions fail;
    fail.on_malformed = OnMalformed::fail;
    try {
        (void)read_csv_text("a,b\n1,2\n\"x\"y,3\n", fail, "q.csv");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(std::string(e.what()).find("q.csv:3:4: ") != std::string::npos);
    }
    ReadOptions noheader;
    noheader.header = false;
    const Batch n = read_csv_text("1,2\n3,4\n", noheader);
    CHECK(n.num_rows() == 2);
    CHECK(str(n, "_c1", 1) == "4");
}

TEST_CASE("gzip files are read transparently, and streaming readers bound their batches") {
    io_test::TempDir dir;
    std::string text = "a,b\n";
    for (int i = 0; i < 10; ++i) text += std::to_string(i) + "," + std::to_string(i * 2) + "\n";
    io_test::write_gzip(dir / "d.csv.gz", text);
    ReadOptions o = typed();
    o.batch_rows = 3;
    CsvReader reader((dir / "d.csv.gz").string(), o);
    std::vector<std::size_t> sizes;
    std::int64_t sum = 0;
    while (auto b = reader.next()) {
        sizes.push_back(b->num_rows());
        for (auto v : b->column("b").int64_values()) sum += v;
    }
    CHECK(sizes == std::vector<std::size_t>{3, 3, 3, 1});
    CHECK(sum == 90);

    io_test::write_file(dir / "bad.gz", std::string("\x1f\x8b\x08\x00garbage", 12));
    CHECK_THROWS_AS(read_csv((dir / "bad.gz").string()), io_error);
    CHECK_THROWS_AS(read_json((dir / "missing.json").string()), io_error);
}

TEST_CASE("JSON Lines longer than a read block, and streaming in bounded batches") {
    io_test::TempDir dir;
    std::string text;
    const std::string big(5'000'000, 'x');
    text += "{\"a\": 0, \"s\": \"" + big + "\"}\n";
    for (int i = 1; i < 100; ++i) text += "{\"a\": " + std::to_string(i) + ", \"s\": \"y\"}\n";
    io_test::write_file(dir / "l.json", text);
    ReadOptions o = typed();
    o.batch_rows = 40;
    JsonReader reader((dir / "l.json").string(), o);
    std::size_t rows = 0, batches = 0;
    while (auto b = reader.next()) {
        if (batches == 0) CHECK(b->column("s").string_at(0).size() == big.size());
        rows += b->num_rows();
        ++batches;
        CHECK(b->num_rows() <= 40);
    }
    CHECK(rows == 100);
    CHECK(batches == 3);
}

TEST_CASE("Timestamps: ISO 8601 forms to UTC microseconds") {
    ReadOptions o;
    o.schema = Schema({Field{"t", DataType::timestamp}});
    const Batch b = read_json_text(
        "{\"t\": \"1970-01-01T00:00:01.5Z\"}\n{\"t\": \"1970-01-01 01:00:00+01:00\"}\n{\"t\": \"1969-12-31\"}\n"
        "{\"t\": \"1970-02-30T00:00:00Z\"}\n",
        o);
    const auto v = b.column("t").int64_values();
    CHECK(v[0] == 1'500'000);
    CHECK(v[1] == 0);
    CHECK(v[2] == -86'400'000'000LL);
    CHECK(b.column("t").is_null(3));
    CHECK(str(b, "_rescued_data", 3).find("1970-02-30") != std::string::npos);
}

TEST_CASE("A new JSON field is typed as inference would over the batch: integers widen to double") {
    ReadOptions o = typed();
    o.infer_sample_rows = 1;  // the sample sees only `a`
    SECTION("int64, then a decimal in a later record") {
        auto reader = FileReader::over_text(
            "{\"a\": 1}\n{\"a\": 2, \"b\": 1}\n{\"a\": 3, \"b\": 2.5}\n{\"a\": 4, \"b\": null}\n{\"a\": 5, \"b\": 7}\n",
            FileFormat::json, o, "w.json");
        const Batch b = reader.read_all();
        REQUIRE(b.num_rows() == 5);
        REQUIRE(b.column("b").type() == DataType::float64);
        CHECK(b.column("b").is_null(0));
        CHECK(b.column("b").double_values()[1] == 1.0);
        CHECK(b.column("b").double_values()[2] == 2.5);
        CHECK(b.column("b").is_null(3));
        CHECK(b.column("b").double_values()[4] == 7.0);
        CHECK(b.column("_rescued_data").null_count() == 5);
        REQUIRE(reader.stats().schema_changes.size() == 1);
        CHECK(reader.stats().schema_changes[0].added[0].type == DataType::float64);
        CHECK(reader.schema().field(1).type == DataType::float64);
    }
    SECTION("only nulls at first: the first value decides, also for records with the same keys") {
        const Batch b = read_json_text(
            "{\"a\": 1}\n{\"a\": 2, \"c\": null}\n{\"a\": 3, \"c\": null}\n{\"a\": 4, \"c\": 7}\n{\"a\": 5, \"c\": 7.5}\n"
            "{\"a\": 6, \"t\": null}\n{\"a\": 7, \"t\": true}\n",
            o);
        REQUIRE(b.column("c").type() == DataType::float64);
        CHECK(b.column("c").null_count() == 5);
        CHECK(b.column("c").double_values()[3] == 7.0);
        CHECK(b.column("c").double_values()[4] == 7.5);
        REQUIRE(b.column("t").type() == DataType::boolean);
        CHECK(b.column("t").bool_values()[6] == 1);
        CHECK(b.column("_rescued_data").null_count() == 7);
    }
    SECTION("text in a column that began as integers does not fit (inference would make it a string)") {
        const Batch b = read_json_text("{\"a\": 1}\n{\"a\": 2, \"b\": 1}\n{\"a\": 3, \"b\": \"x\"}\n", o);
        CHECK(b.column("b").type() == DataType::int64);
        CHECK(str(b, "_rescued_data", 2).find("\"b\": \"x\"") != std::string::npos);
    }
    SECTION("once a batch is returned its types are fixed") {
        o.batch_rows = 2;
        auto reader = FileReader::over_text("{\"a\": 1}\n{\"a\": 2, \"b\": 1}\n{\"a\": 3, \"b\": 2.5}\n",
                                            FileFormat::json, o);
        const auto first = reader.next();
        REQUIRE(first);
        CHECK(first->column("b").type() == DataType::int64);
        const auto second = reader.next();
        REQUIRE(second);
        CHECK(second->column("b").type() == DataType::int64);
        CHECK(second->column("b").is_null(0));
        CHECK(str(*second, "_rescued_data", 0).find("\"b\": 2.5") != std::string::npos);
    }
    SECTION("a hinted column keeps its hinted type: no widening") {
        o.schema = Schema({Field{"a", DataType::int64}});
        o.schema_hints = "b BIGINT";
        const Batch b = read_json_text("{\"a\": 1, \"b\": 1}\n{\"a\": 2, \"b\": 2.5}\n", o);
        CHECK(b.column("b").type() == DataType::int64);
        CHECK(b.column("b").is_null(1));
    }
}

TEST_CASE("A new CSV column is inferred from the file's sample, not always a string") {
    ReadOptions o = typed();
    o.schema = Schema({Field{"a", DataType::int64}});
    const Batch b = read_csv_text("a,b,c\n1,2,x\n3,4.5,y\n", o, "n.csv");
    CHECK(b.column("b").type() == DataType::float64);
    CHECK(b.column("b").double_values()[1] == 4.5);
    CHECK(b.column("c").type() == DataType::string);
    o.infer_column_types = false;
    CHECK(read_csv_text("a,b\n1,2\n", o).column("b").type() == DataType::string);
}

TEST_CASE("Schema hints name columns case-insensitively: exact case wins, ambiguity names both") {
    ReadOptions o = typed();
    o.schema_hints = "amount DOUBLE, CUST_ID STRING";
    const Batch b = read_json_text("{\"cust_id\": 1, \"Amount\": 3}\n", o);
    CHECK(b.num_columns() == 3);  // cust_id, Amount, _rescued_data: no extra hinted columns
    CHECK(b.column("Amount").type() == DataType::float64);
    CHECK(b.column("Amount").double_values()[0] == 3.0);
    CHECK(b.column("cust_id").type() == DataType::string);
    CHECK(str(b, "cust_id", 0) == "1");

    ReadOptions two;
    two.schema = Schema({Field{"id", DataType::string}, Field{"ID", DataType::string}});
    two.schema_hints = "ID BIGINT";
    const Batch e = read_json_text("{\"id\": \"a\", \"ID\": 5}\n", two);
    CHECK(e.column("ID").type() == DataType::int64);
    CHECK(e.column("id").type() == DataType::string);
    two.schema_hints = "Id BIGINT";
    try {
        (void)read_json_text("{\"id\": \"a\"}\n", two);
        FAIL("expected schema_error");
    } catch (const schema_error& err) {
        const std::string m = err.what();
        CHECK(m.find("'id'") != std::string::npos);
        CHECK(m.find("'ID'") != std::string::npos);
    }
    try {
        (void)parse_schema_hints("amount DOUBLE, Amount BIGINT");
        FAIL("expected config_error");
    } catch (const config_error& err) {
        CHECK(std::string(err.what()).find("differ only by case") != std::string::npos);
    }
}

TEST_CASE("infer_sample_bytes bounds what inference reads") {
    io_test::TempDir dir;
    std::string text;
    for (int i = 0; i < 50; ++i) text += "{\"x\": " + std::to_string(i) + "}\n";
    const std::size_t ints = text.size();
    text += "{\"x\": 2.5}\n";
    io_test::write_file(dir / "s.json", text);
    ReadOptions o = typed();
    o.infer_sample_bytes = ints;  // the decimal is past the bound
    Batch b = read_json((dir / "s.json").string(), o);
    CHECK(b.column("x").type() == DataType::int64);
    CHECK(b.column("x").is_null(50));
    CHECK(str(b, "_rescued_data", 50).find("\"x\": 2.5") != std::string::npos);
    o.infer_sample_bytes = text.size();
    b = read_json((dir / "s.json").string(), o);
    CHECK(b.column("x").type() == DataType::float64);
    CHECK(b.column("x").double_values()[50] == 2.5);
}

TEST_CASE("Compression: JSON over gzip, and forced gzip or none") {
    io_test::TempDir dir;
    const std::string text = "{\"a\": 1}\n{\"a\": 2}\n";
    io_test::write_gzip(dir / "z.json.gz", text);
    io_test::write_file(dir / "plain.json", text);
    ReadOptions o = typed();
    Batch b = read_json((dir / "z.json.gz").string(), o);
    REQUIRE(b.num_rows() == 2);
    CHECK(b.column("a").int64_values()[1] == 2);
    SECTION("none: the gzip bytes are read as they are, so the records are malformed") {
        o.compression = Compression::none;
        auto reader = JsonReader((dir / "z.json.gz").string(), o);
        b = reader.read_all();
        CHECK(!b.find_column("a"));
        CHECK(reader.stats().malformed_records >= 1);
        CHECK(str(b, "_rescued_data", 0).find("_corrupt_record") != std::string::npos);
    }
    SECTION("gzip: a gzip file is decompressed; a plain file is passed through as zlib does") {
        o.compression = Compression::gzip;
        CHECK(read_json((dir / "z.json.gz").string(), o).column("a").int64_values()[0] == 1);
        b = read_json((dir / "plain.json").string(), o);
        REQUIRE(b.num_rows() == 2);
        CHECK(b.column("a").int64_values()[1] == 2);
    }
}

TEST_CASE("CSV: the quote option, the expected text of malformed rows, rescued values with _file and _line") {
    ReadOptions q;
    q.quote = '\'';
    const Batch b = read_csv_text("a,b\n'x,y',\"z\"\n'it''s',2\n", q);
    REQUIRE(b.num_rows() == 2);
    CHECK(str(b, "a", 0) == "x,y");
    CHECK(str(b, "b", 0) == "\"z\"");  // '"' is an ordinary character now
    CHECK(str(b, "a", 1) == "it's");

    ReadOptions fail;
    fail.on_malformed = OnMalformed::fail;
    try {
        (void)read_csv_text("a,b\n1,2\n3\n", fail, "short.csv");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(std::string(e.what()).find("short.csv:3:2: expected 2 fields (as in the header), found 1") !=
              std::string::npos);
    }
    try {
        (void)read_csv_text("a,b\n\"x\"y,3\n", fail, "q.csv");
        FAIL("expected parse_error");
    } catch (const parse_error& e) {
        CHECK(std::string(e.what()).find("q.csv:2:4: expected the delimiter (,) or the end of the line") !=
              std::string::npos);
    }

    ReadOptions hinted;
    hinted.schema_hints = "n BIGINT";
    const Batch r = read_csv_text("n,s\n1,a\nx,b\n", hinted, "r.csv");
    CHECK(r.column("n").is_null(1));
    simdjson::dom::parser p;
    simdjson::dom::element doc = p.parse(str(r, "_rescued_data", 1));
    CHECK(std::string_view(doc["n"]) == "x");
    CHECK(std::string_view(doc["_file"]) == "r.csv");
    CHECK(int64_t(doc["_line"]) == 3);
}
