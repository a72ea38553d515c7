// Compile errors show the expression, a caret under the offending token and what was expected.
#include "catch.hpp"
#include "helpers.hpp"

using namespace qt;
using isoflow::Expression;

namespace {

Batch readings() {
    Batch b;
    b.add_column("Amount", doubles({1.0}));
    b.add_column("Time", ints({1}));
    b.add_column("Name", strings({"x"}));
    return b;
}

std::string compile_error(const std::string& text) {
    try {
        (void)Expression::compile(text, readings().schema());
    } catch (const isoflow::error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("typical mistakes give these exact messages") {
    CHECK(compile_error("Amout IS NOT NULL OR Time IS NOT NULL") ==
          "expression, column 1: unknown column 'Amout' (did you mean 'Amount'?)\n"
          "  Amout IS NOT NULL OR Time IS NOT NULL\n"
          "  ^^^^^");
    CHECK(compile_error("(Amount > 1 OR Time > 2") ==
          "expression, column 24: expected ')' to close the '(' at column 1 but found the end of the expression\n"
          "  (Amount > 1 OR Time > 2\n"
          "                         ^");
    CHECK(compile_error("Amount + TRUE > 0") ==
          "expression, column 8: type mismatch: '+' needs numbers but got double and boolean\n"
          "  Amount + TRUE > 0\n"
          "         ^");
    CHECK(compile_error("Amount AND Time IS NOT NULL") ==
          "expression, column 1: AND expects boolean operands, but 'Amount' is double\n"
          "  Amount AND Time IS NOT NULL\n"
          "  ^^^^^^");
    CHECK(compile_error("Amount IS NOT NUL") ==
          "expression, column 15: expected NULL after IS NOT but found 'NUL'\n"
          "  Amount IS NOT NUL\n"
          "                ^^^");
    CHECK(compile_error("lenght(Name) > 3") ==
          "expression, column 1: unknown function 'lenght' (did you mean 'length'?)\n"
          "  lenght(Name) > 3\n"
          "  ^^^^^^");
    CHECK(compile_error("Name = 'abc") ==
          "expression, column 8: unterminated string literal: expected a closing '\n"
          "  Name = 'abc\n"
          "         ^");
    CHECK(compile_error("Amount > 0 AND Time > TRUE") ==
          "expression, column 21: type mismatch: cannot compare bigint with boolean in 'Time > TRUE'\n"
          "  Amount > 0 AND Time > TRUE\n"
          "                      ^");
}

TEST_CASE("other syntax and type errors point at the right token") {
    auto has = [](const std::string& msg, const std::string& part) {
        INFO(msg);
        CHECK(msg.find(part) != std::string::npos);
    };
    has(compile_error("Amount > > 1"), "column 10: expected an expression (a column, a literal, a function call or '(') but found '>'");
    has(compile_error("Amount > 1 Time"), "column 12: expected an operator (such as AND, OR, = or +) or the end of the expression but found 'Time'");
    has(compile_error("Amount BETWEEN 1 OR 2"), "column 18: expected AND between the bounds of BETWEEN but found 'OR'");
    has(compile_error("Amount IN 1, 2"), "column 11: expected '(' to open the IN list but found '1'");
    has(compile_error("Amount IN (1, 2"), "column 16: expected ')' or ',' in the IN list but found the end of the expression");
    has(compile_error("CASE WHEN Amount > 1 THEN 1"), "expected WHEN, ELSE or END in CASE but found the end of the expression");
    has(compile_error("CAST(Amount AS money)"), "column 16: expected a type (BIGINT, INT, DOUBLE, FLOAT, BOOLEAN, STRING or TIMESTAMP) but found 'money'");
    has(compile_error("Amount # 2"), "column 8: unexpected character '#'");
    has(compile_error("12abc > 1"), "column 1: malformed number '12abc'");
    has(compile_error("pow(Amount)"), "pow() takes 2 arguments but was given 1: pow(base, exponent)");
    has(compile_error("coalesce()"), "coalesce() takes at least 1 argument but was given 0");
    has(compile_error("NOT Amount"), "NOT expects boolean operands, but 'Amount' is double");
    has(compile_error("CASE WHEN Time THEN 1 END"), "column 11: WHEN expects boolean operands, but 'Time' is bigint");
    has(compile_error("CASE WHEN Time > 1 THEN TRUE ELSE 2 END"), "type mismatch: CASE mixes boolean ('TRUE') and bigint ('2')");
    has(compile_error("Name LIKE Name"), "LIKE expects a string literal pattern such as 'abc%' but got 'Name'");
    has(compile_error("TIMESTAMP '2012-13-01'"), "column 11: invalid TIMESTAMP literal '2012-13-01'");
    has(compile_error("abs(Amount > 1)"), "abs() expects a number but 'Amount > 1' is boolean");
    has(compile_error("round(Amount, Time)"), "round() expects an integer literal scale but got 'Time'");
    has(compile_error("CAST(Amount > 1 AS TIMESTAMP)"), "cannot cast boolean to timestamp");
    has(compile_error("`Amount"), "unterminated quoted name: expected a closing `");
    has(compile_error("Amount = AND"), "but found 'AND'");
}

TEST_CASE("syntax errors are parse_error, resolution and type errors schema_error") {
    const auto schema = readings().schema();
    CHECK_FALSE(message_of<isoflow::parse_error>([&] { (void)Expression::compile("Amount >", schema); }).empty());
    CHECK_FALSE(message_of<isoflow::schema_error>([&] { (void)Expression::compile("Amt > 1", schema); }).empty());
    CHECK_FALSE(message_of<isoflow::schema_error>([&] { (void)Expression::compile("Name - 1 > TRUE", schema); }).empty());
}

TEST_CASE("the origin names where the text came from, and multi-line text names the line") {
    const auto schema = readings().schema();
    const std::string msg = message_of<isoflow::schema_error>(
        [&] { (void)Expression::compile("Amount > 0\n  AND Tme > 1", schema, "pipeline.json: expectation 'valid'"); });
    CHECK(msg ==
          "pipeline.json: expectation 'valid', line 2, column 7: unknown column 'Tme' (did you mean 'Time' or 'Name'?)\n"
          "    AND Tme > 1\n"
          "        ^^^");
}

TEST_CASE("an ambiguous column is reported with both names") {
    Batch b;
    b.add_column("amount", doubles({1.0}));
    b.add_column("AMOUNT", doubles({2.0}));
    // An exact-case match wins; any other spelling is ambiguous.
    CHECK(eval<double>("AMOUNT", b) == std::vector<std::optional<double>>{2.0});
    const std::string msg = message_of<isoflow::schema_error>([&] { (void)Expression::compile("Amount > 1", b.schema()); });
    CHECK(msg.find("column 1: column reference 'Amount' is ambiguous: it matches both 'amount' and 'AMOUNT'") !=
          std::string::npos);
}
