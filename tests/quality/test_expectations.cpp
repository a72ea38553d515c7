// Expectations: actions, groups, the SQL clause form, metrics, quarantine.
#include "catch.hpp"
#include "helpers.hpp"

using namespace qt;
using isoflow::DatasetMetrics;
using isoflow::Expectation;
using isoflow::ExpectationAction;
using isoflow::TableExpectations;
using std::nullopt;

namespace {

// Every combination of NULL / non-NULL Amount and Time, with the reader's source columns.
Batch seed_batch() {
    Batch b;
    b.add_column("Time", ints({10, nullopt, 30, nullopt}));
    b.add_column("Amount", doubles({1.5, 2.5, nullopt, nullopt}));
    b.add_column("_source_file", strings({"landing/a.json", "landing/a.json", "landing/b.json", "landing/b.json"}));
    b.add_column("_source_line", ints({1, 2, 1, 2}));
    return b;
}

const char* const kSeed =
    "CONSTRAINT valid_transaction_reading EXPECT (AMOUNT IS NOT NULL OR TIME IS NOT NULL) ON VIOLATION DROP ROW";

}  // namespace

TEST_CASE("the seed's constraint keeps exactly the rows with Amount or Time") {
    TableExpectations silver("silver");
    silver.add_sql(kSeed);
    REQUIRE(silver.expectations().size() == 1);
    CHECK(silver.expectations()[0].name() == "valid_transaction_reading");
    CHECK(silver.expectations()[0].action() == ExpectationAction::drop);
    CHECK(silver.expectations()[0].constraint() == "AMOUNT IS NOT NULL OR TIME IS NOT NULL");

    const auto r = silver.apply(seed_batch());
    REQUIRE(r.output.num_rows() == 3);
    CHECK(values<std::int64_t>(r.output.column("Time")) == std::vector<std::optional<std::int64_t>>{10, nullopt, 30});
    CHECK(values<double>(r.output.column("Amount")) == std::vector<std::optional<double>>{1.5, 2.5, nullopt});
    CHECK(values<std::string>(r.output.column("_source_file")) ==
          std::vector<std::optional<std::string>>{"landing/a.json", "landing/a.json", "landing/b.json"});
    CHECK(r.metrics.dropped_records == 1);
    CHECK(r.quarantine.num_rows() == 0);
    CHECK(r.metrics.to_json() ==
          R"({"dataset":"silver","expectations":[{"name":"valid_transaction_reading","passed_records":3,"failed_records":1}],"dropped_records":1,"quarantined_records":0})");
}

TEST_CASE("warn keeps every row and counts the violations, NULL is a violation") {
    TableExpectations t("bronze");
    t.expect("positive_amount", "Amount > 0");  // NULL Amount is not TRUE
    const auto r = t.apply(seed_batch());
    CHECK(r.output.num_rows() == 4);
    const auto* m = r.metrics.find("positive_amount");
    REQUIRE(m != nullptr);
    CHECK(m->passed_records == 2);
    CHECK(m->failed_records == 2);
    CHECK(r.metrics.dropped_records == 0);
}

TEST_CASE("drop removes every row that fails any drop expectation") {
    TableExpectations t("silver");
    t.expect_or_drop("has_time", "Time IS NOT NULL");
    t.expect_or_drop("small", "Amount < 2");
    const auto r = t.apply(seed_batch());
    // Row 1 passes both; row 2 has no Time; rows 3 and 4 have NULL Amount (not < 2).
    REQUIRE(r.output.num_rows() == 1);
    CHECK(values<std::int64_t>(r.output.column("Time")) == std::vector<std::optional<std::int64_t>>{10});
    CHECK(r.metrics.dropped_records == 3);
    CHECK(r.metrics.find("has_time")->failed_records == 2);
    CHECK(r.metrics.find("small")->failed_records == 3);
}

TEST_CASE("fail throws naming the expectation, the table and the failing row with its file and line") {
    TableExpectations t("silver");
    t.expect("anything", "TRUE");
    t.expect_or_fail("has_amount", "Amount IS NOT NULL");
    const std::string msg = message_of<isoflow::expectation_violation>([&] { (void)t.apply(seed_batch()); });
    CHECK(msg ==
          "expectation 'has_amount' on table 'silver' failed (ON VIOLATION FAIL UPDATE): Amount IS NOT NULL is not "
          "true for {Time: 30, Amount: NULL} at file 'landing/b.json', line 1; 2 of 4 rows of the batch violate it");
    // A failed update adds nothing to the run totals.
    CHECK(t.totals().expectations.empty());

    Batch plain;
    plain.add_column("x", ints({1, -1}));
    TableExpectations u("gold");
    u.expect_or_fail("positive", "x > 0");
    const std::string msg2 = message_of<isoflow::expectation_violation>([&] { (void)u.apply(plain); });
    CHECK(msg2.find("for {x: -1} (row 2 of the batch)") != std::string::npos);

    TableExpectations ok("gold");
    ok.expect_or_fail("positive", "x > -5");
    CHECK(ok.apply(plain).output.num_rows() == 2);
}

TEST_CASE("quarantine moves failing rows to <table>_quarantine with the names they failed") {
    TableExpectations t("silver");
    t.expect_or_quarantine("has_amount", "Amount IS NOT NULL");
    t.expect("early", "Time < 20");  // warn: listed for quarantined rows too, row kept otherwise
    CHECK(t.quarantine_table() == "silver_quarantine");
    const auto r = t.apply(seed_batch());
    REQUIRE(r.output.num_rows() == 2);
    REQUIRE(r.quarantine.num_rows() == 2);
    CHECK(values<std::int64_t>(r.quarantine.column("Time")) == std::vector<std::optional<std::int64_t>>{30, nullopt});
    CHECK(values<std::int64_t>(r.quarantine.column("_source_line")) == std::vector<std::optional<std::int64_t>>{1, 2});
    CHECK(values<std::string>(r.quarantine.column("_failed_expectations")) ==
          std::vector<std::optional<std::string>>{R"(["has_amount","early"])", R"(["has_amount","early"])"});
    CHECK(r.metrics.dropped_records == 2);
    CHECK(r.metrics.quarantined_records == 2);
    CHECK(r.metrics.find("early")->failed_records == 3);  // Time 30 and two NULLs
}

TEST_CASE("a row failing both drop and quarantine expectations is quarantined, listing both") {
    TableExpectations t("silver");
    t.expect_or_drop("has_time", "Time IS NOT NULL");
    t.expect_or_quarantine("has_amount", "Amount IS NOT NULL");
    const auto r = t.apply(seed_batch());
    CHECK(r.output.num_rows() == 1);
    REQUIRE(r.quarantine.num_rows() == 2);
    CHECK(values<std::string>(r.quarantine.column("_failed_expectations")) ==
          std::vector<std::optional<std::string>>{R"(["has_amount"])", R"(["has_time","has_amount"])"});
    CHECK(r.metrics.dropped_records == 3);
    CHECK(r.metrics.quarantined_records == 2);
}

TEST_CASE("groups: expect_all, expect_all_or_drop, expect_all_or_fail, expect_all_or_quarantine") {
    const TableExpectations::Group group{{"has_time", "Time IS NOT NULL"}, {"has_amount", "Amount IS NOT NULL"}};
    {
        TableExpectations t("t");
        t.expect_all(group);
        const auto r = t.apply(seed_batch());
        CHECK(r.output.num_rows() == 4);
        CHECK(r.metrics.find("has_time")->failed_records == 2);
        CHECK(r.metrics.find("has_amount")->failed_records == 2);
        for (const auto& e : t.expectations()) CHECK(e.action() == ExpectationAction::warn);
    }
    {
        TableExpectations t("t");
        t.expect_all_or_drop(group);
        const auto r = t.apply(seed_batch());
        CHECK(r.output.num_rows() == 1);  // only row 1 has both
        CHECK(r.metrics.dropped_records == 3);
    }
    {
        TableExpectations t("t");
        t.expect_all_or_fail(group);
        const std::string msg = message_of<isoflow::expectation_violation>([&] { (void)t.apply(seed_batch()); });
        CHECK(msg.find("expectation 'has_time' on table 't' failed") == 0);
        CHECK(msg.find("at file 'landing/a.json', line 2") != std::string::npos);
    }
    {
        TableExpectations t("t");
        t.expect_all_or_quarantine(group);
        const auto r = t.apply(seed_batch());
        CHECK(r.quarantine.num_rows() == 3);
        CHECK(values<std::string>(r.quarantine.column("_failed_expectations")) ==
              std::vector<std::optional<std::string>>{R"(["has_time"])", R"(["has_amount"])",
                                                      R"(["has_time","has_amount"])"});
    }
}

TEST_CASE("C++ predicates: over a whole batch and row by row") {
    TableExpectations t("silver");
    t.add(Expectation(
        "even_line",
        [](const Batch& b, std::span<std::uint8_t> pass) {
            const auto lines = b.column("_source_line").int64_values();
            for (std::size_t i = 0; i < pass.size(); ++i) pass[i] = lines[i] % 2 == 0;
        },
        ExpectationAction::drop, "_source_line is even"));
    t.add(Expectation::from_row_predicate(
        "from_a", [](const Batch& b, std::size_t row) { return b.column("_source_file").string_at(row) == "landing/a.json"; },
        ExpectationAction::fail));
    const std::string msg = message_of<isoflow::expectation_violation>([&] { (void)t.apply(seed_batch()); });
    CHECK(msg.find("expectation 'from_a' on table 'silver' failed (ON VIOLATION FAIL UPDATE): C++ predicate is not "
                   "true for {Time: 30, Amount: NULL} at file 'landing/b.json', line 1") == 0);

    TableExpectations u("silver");
    u.add(t.expectations()[0]);
    const auto r = u.apply(seed_batch());
    CHECK(r.output.num_rows() == 2);
    CHECK(values<std::int64_t>(r.output.column("_source_line")) == std::vector<std::optional<std::int64_t>>{2, 2});
    CHECK(u.expectations()[0].constraint() == "_source_line is even");
    CHECK_FALSE(u.expectations()[0].to_sql().has_value());
}

TEST_CASE("metrics add up over a run and serialise in DLT's shape") {
    TableExpectations t("silver");
    t.add_sql(kSeed);
    t.expect("positive", "Amount > 0");
    (void)t.apply(seed_batch());
    Batch second;
    second.add_column("Time", ints({nullopt, 5}));
    second.add_column("Amount", doubles({nullopt, -1.0}));
    (void)t.apply(second);
    const DatasetMetrics& total = t.totals();
    CHECK(total.dataset == "silver");
    CHECK(total.dropped_records == 2);
    REQUIRE(total.expectations.size() == 2);
    CHECK(total.expectations[0] == isoflow::ExpectationMetrics{"valid_transaction_reading", 4, 2});
    CHECK(total.expectations[1] == isoflow::ExpectationMetrics{"positive", 2, 4});
    CHECK(total.to_json() ==
          R"({"dataset":"silver","expectations":[{"name":"valid_transaction_reading","passed_records":4,"failed_records":2},)"
          R"({"name":"positive","passed_records":2,"failed_records":4}],"dropped_records":2,"quarantined_records":0})");
    t.reset_totals();
    CHECK(t.totals().expectations.empty());

    DatasetMetrics odd{"we\"ird", {{"a\\b", 1, 0}}, 0, 0};
    CHECK(odd.to_json() ==
          R"({"dataset":"we\"ird","expectations":[{"name":"a\\b","passed_records":1,"failed_records":0}],"dropped_records":0,"quarantined_records":0})");
}

TEST_CASE("the SQL clause form: actions, several clauses, quoted names, errors") {
    auto all = Expectation::parse_all(
        "CONSTRAINT a EXPECT (x > 0), CONSTRAINT `b c` EXPECT ((x)) ON VIOLATION FAIL UPDATE,\n"
        "constraint q expect (x IN (1, 2)) on violation quarantine row");
    REQUIRE(all.size() == 3);
    CHECK(all[0].name() == "a");
    CHECK(all[0].action() == ExpectationAction::warn);
    CHECK(all[1].name() == "b c");
    CHECK(all[1].constraint() == "(x)");
    CHECK(all[1].action() == ExpectationAction::fail);
    CHECK(all[2].action() == ExpectationAction::quarantine);
    CHECK(all[2].constraint() == "x IN (1, 2)");
    CHECK(*all[1].to_sql() == "CONSTRAINT `b c` EXPECT ((x)) ON VIOLATION FAIL UPDATE");
    CHECK(Expectation::parse(*all[2].to_sql()).constraint() == "x IN (1, 2)");

    CHECK(message_of<isoflow::parse_error>([] { (void)Expectation::parse("CONSTRAINT v EXPECT (x > 0) ON VIOLATION DELETE ROW"); }) ==
          "constraint clause, column 42: expected DROP ROW, FAIL UPDATE or QUARANTINE ROW after ON VIOLATION but found 'DELETE'\n"
          "  CONSTRAINT v EXPECT (x > 0) ON VIOLATION DELETE ROW\n"
          "                                           ^^^^^^");
    CHECK(message_of<isoflow::parse_error>([] { (void)Expectation::parse("CONSTRAINT v EXPECT x > 0"); })
              .find("column 21: expected '(' after EXPECT but found 'x'") != std::string::npos);
    CHECK(message_of<isoflow::parse_error>([] { (void)Expectation::parse("CONSTRAINT v EXPECT (x > ) ON VIOLATION DROP ROW"); })
              .find("column 26: expected an expression") != std::string::npos);
    CHECK(message_of<isoflow::parse_error>([] { (void)Expectation::parse("CONSTRAINT EXPECT (x)"); })
              .find("expected the constraint's name after CONSTRAINT but found 'EXPECT'") != std::string::npos);
}

TEST_CASE("names are unique per table, and constraints are checked against the schema") {
    TableExpectations t("silver");
    t.expect("v", "Amount > 0");
    CHECK(message_of<isoflow::config_error>([&] { t.expect_or_drop("v", "Time > 0"); }) ==
          "expectation 'v' is defined twice on table 'silver': expectation names must be unique per table");
    TableExpectations other("gold");
    other.expect("v", "Amount > 0");  // the same name on another table is fine
    CHECK(other.expectations().size() == 1);

    TableExpectations bad("silver");
    bad.expect("typo", "Amonut > 0");
    CHECK(message_of<isoflow::schema_error>([&] { bad.compile(seed_batch().schema()); }) ==
          "table 'silver', expectation 'typo', column 1: unknown column 'Amonut' (did you mean 'Amount'?)\n"
          "  Amonut > 0\n"
          "  ^^^^^^");
    TableExpectations not_bool("silver");
    not_bool.expect("sum", "Amount + 1");
    CHECK(message_of<isoflow::schema_error>([&] { (void)not_bool.apply(seed_batch()); }) ==
          "table 'silver', expectation 'sum': the constraint 'Amount + 1' is double, expected a boolean condition");
    CHECK(message_of<isoflow::parse_error>([] { (void)Expectation("broken", "Amount >"); })
              .find("expectation 'broken', column 9: expected an expression") == 0);
}

TEST_CASE("projections and filters") {
    const Batch b = seed_batch();
    const auto p = isoflow::Projection::compile("time, Amount * 2 AS double_amount, coalesce(Amount, 0) fixed, Time + 1", b.schema());
    CHECK(p.output_schema().to_string() == "Time BIGINT, double_amount DOUBLE, fixed DOUBLE, Time + 1 BIGINT");
    const Batch out = p.apply(b);
    CHECK(values<double>(out.column("double_amount")) == std::vector<std::optional<double>>{3.0, 5.0, nullopt, nullopt});
    CHECK(values<double>(out.column("fixed")) == std::vector<std::optional<double>>{1.5, 2.5, 0.0, 0.0});
    CHECK(values<std::int64_t>(out.column("Time + 1")) == std::vector<std::optional<std::int64_t>>{11, nullopt, 31, nullopt});

    const auto star = isoflow::Projection::compile("*, Amount IS NULL AS no_amount", b.schema());
    CHECK(star.output_schema().size() == 5);
    CHECK(values<bool>(star.apply(b).column("no_amount")) == std::vector<std::optional<bool>>{false, false, true, true});
    CHECK(message_of<isoflow::schema_error>([&] { (void)isoflow::Projection::compile("Time, Amount AS time", b.schema()); })
              .find("duplicate output column name 'time'") != std::string::npos);

    const auto f = isoflow::Filter::compile("WHERE Amount > 2 OR Time > 20", b.schema());
    CHECK(f.condition().text() == "Amount > 2 OR Time > 20");
    CHECK(f.mask(b) == std::vector<std::uint8_t>{0, 1, 1, 0});
    CHECK(f.apply(b).num_rows() == 2);
    CHECK(message_of<isoflow::schema_error>([&] { (void)isoflow::Filter::compile("Amount + 1", b.schema()); })
              .find("WHERE expects a boolean condition but this expression is double") != std::string::npos);
}
