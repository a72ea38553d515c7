// The expression language: literals, operators, NULL handling, promotion, functions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "catch.hpp"
#include "helpers.hpp"

using namespace qt;
using isoflow::Expression;
using std::nullopt;
using B = std::optional<bool>;
using D = std::optional<double>;
using I = std::optional<std::int64_t>;
using S = std::optional<std::string>;

namespace {

// Three-valued inputs: every combination of TRUE, FALSE and NULL for a and b.
Batch truth_table() {
    Batch b;
    b.add_column("a", bools({true, true, true, false, false, false, nullopt, nullopt, nullopt}));
    b.add_column("b", bools({true, false, nullopt, true, false, nullopt, true, false, nullopt}));
    return b;
}

Batch numbers() {
    Batch b;
    b.add_column("i", ints({7, -7, 0, nullopt}));
    b.add_column("d", doubles({2.0, 2.5, nullopt, 0.0}));
    b.add_column("s", strings({"abc", "Hello", nullopt, ""}));
    return b;
}

}  // namespace

TEST_CASE("literals and their types") {
    CHECK(scalar<std::int64_t>("42") == I(42));
    CHECK(scalar<std::int64_t>("-9223372036854775808") == I(std::numeric_limits<std::int64_t>::min()));
    CHECK(scalar<double>("4.25") == D(4.25));
    CHECK(scalar<double>("1e3") == D(1000.0));
    CHECK(scalar<double>(".5") == D(0.5));
    CHECK(scalar<std::string>("'it''s'") == S("it's"));
    CHECK(scalar<std::string>("'a\\'b'") == S("a'b"));
    CHECK(scalar<bool>("TRUE") == B(true));
    CHECK(scalar<bool>("false") == B(false));
    CHECK(scalar<bool>("NULL") == B());
    // 2012-01-01 is 15340 days after 1970-01-01.
    CHECK(scalar<std::int64_t>("TIMESTAMP '2012-01-01 00:00:00'") == I(15340LL * 86400 * 1000000));
    CHECK(scalar<std::int64_t>("TIMESTAMP '2012-01-01T01:00:00.5+01:00'") == I(15340LL * 86400 * 1000000 + 500000));
    CHECK(Expression::compile("TIMESTAMP '2012-01-01'", one_row().schema()).type() == DataType::timestamp);
    CHECK(Expression::compile("42", one_row().schema()).type() == DataType::int64);
    CHECK(Expression::compile("4.2", one_row().schema()).type() == DataType::float64);
}

TEST_CASE("column references are case-insensitive and may be back-quoted") {
    Batch b;
    b.add_column("Amount", doubles({1.5, nullopt}));
    b.add_column("odd name-1", ints({3, 4}));
    CHECK(eval<double>("AMOUNT", b) == std::vector<D>{1.5, nullopt});
    CHECK(eval<double>("amount", b) == std::vector<D>{1.5, nullopt});
    CHECK(eval<std::int64_t>("`odd name-1` * 2", b) == std::vector<I>{6, 8});
    CHECK(Expression::compile("aMoUnT + `odd name-1`", b.schema()).columns() ==
          std::vector<std::string>{"Amount", "odd name-1"});
}

TEST_CASE("operator precedence follows Spark SQL") {
    CHECK(scalar<std::int64_t>("1 + 2 * 3") == I(7));
    CHECK(scalar<std::int64_t>("(1 + 2) * 3") == I(9));
    CHECK(scalar<std::int64_t>("10 - 4 - 3") == I(3));
    CHECK(scalar<std::int64_t>("2 * 3 % 4") == I(2));
    CHECK(scalar<std::int64_t>("-2 * -3") == I(6));
    CHECK(scalar<bool>("TRUE OR FALSE AND FALSE") == B(true));  // AND binds tighter
    CHECK(scalar<bool>("NOT 1 = 2") == B(true));                // NOT (1 = 2)
    CHECK(scalar<bool>("NOT FALSE AND FALSE") == B(false));     // (NOT FALSE) AND FALSE
    CHECK(scalar<bool>("1 + 1 BETWEEN 2 AND 3 AND 2 > 1") == B(true));
    CHECK(scalar<bool>("1 = 1 IS NULL") == B(false));           // (1 = 1) IS NULL
    CHECK(scalar<bool>("! (1 > 2)") == B(true));
    CHECK(scalar<std::int64_t>("3 -- a comment\n + 1") == I(4));
}

TEST_CASE("three-valued AND, OR and NOT") {
    const Batch b = truth_table();
    //                                    TT     TF     TN       FT     FF     FN     NT       NF     NN
    CHECK(eval<bool>("a AND b", b) == std::vector<B>{true, false, nullopt, false, false, false, nullopt, false, nullopt});
    CHECK(eval<bool>("a OR b", b) == std::vector<B>{true, true, true, true, false, nullopt, true, nullopt, nullopt});
    CHECK(eval<bool>("NOT a", b) == std::vector<B>{false, false, false, true, true, true, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("a AND NULL", b) ==
          std::vector<B>{nullopt, nullopt, nullopt, false, false, false, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("a OR NULL", b) ==
          std::vector<B>{true, true, true, nullopt, nullopt, nullopt, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("a = b", b) == std::vector<B>{true, false, nullopt, false, true, nullopt, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("a > b", b) == std::vector<B>{false, true, nullopt, false, false, nullopt, nullopt, nullopt, nullopt});
}

TEST_CASE("arithmetic with NULLs and numeric promotion") {
    const Batch b = numbers();  // i: 7, -7, 0, NULL   d: 2.0, 2.5, NULL, 0.0
    CHECK(Expression::compile("i + i", b.schema()).type() == DataType::int64);
    CHECK(Expression::compile("i + d", b.schema()).type() == DataType::float64);
    CHECK(Expression::compile("i / i", b.schema()).type() == DataType::float64);
    CHECK(Expression::compile("i % 3", b.schema()).type() == DataType::int64);
    CHECK(eval<std::int64_t>("i + 1", b) == std::vector<I>{8, -6, 1, nullopt});
    CHECK(eval<std::int64_t>("i - 10", b) == std::vector<I>{-3, -17, -10, nullopt});
    CHECK(eval<std::int64_t>("i * i", b) == std::vector<I>{49, 49, 0, nullopt});
    CHECK(eval<double>("i + d", b) == std::vector<D>{9.0, -4.5, nullopt, nullopt});
    CHECK(eval<double>("i / 2", b) == std::vector<D>{3.5, -3.5, 0.0, nullopt});  // `/` is always double
    CHECK(eval<double>("i / d", b) == std::vector<D>{3.5, -2.8, nullopt, nullopt});  // x / 0 is NULL
    CHECK(eval<double>("d / 0", b) == std::vector<D>{nullopt, nullopt, nullopt, nullopt});
    CHECK(eval<std::int64_t>("i % 3", b) == std::vector<I>{1, -1, 0, nullopt});  // sign of the dividend
    CHECK(eval<std::int64_t>("i % 0", b) == std::vector<I>{nullopt, nullopt, nullopt, nullopt});
    CHECK(eval<double>("d % 2", b) == std::vector<D>{0.0, 0.5, nullopt, 0.0});
    CHECK(eval<double>("-d", b) == std::vector<D>{-2.0, -2.5, nullopt, -0.0});
    CHECK(eval<std::int64_t>("-i", b) == std::vector<I>{-7, 7, 0, nullopt});
    CHECK(eval<std::int64_t>("i + NULL", b) == std::vector<I>{nullopt, nullopt, nullopt, nullopt});
    // Overflow wraps around as in Spark's non-ANSI mode.
    CHECK(scalar<std::int64_t>("9223372036854775807 + 1") == I(std::numeric_limits<std::int64_t>::min()));
    // A string in arithmetic is read as a double.
    CHECK(scalar<double>("'1.5' + 1") == D(2.5));
}

TEST_CASE("comparisons: NULL, promotion, strings, timestamps, NaN") {
    const Batch b = numbers();
    CHECK(eval<bool>("i > d", b) == std::vector<B>{true, false, nullopt, nullopt});
    CHECK(eval<bool>("i = 7", b) == std::vector<B>{true, false, false, nullopt});
    CHECK(eval<bool>("i == 7.0", b) == std::vector<B>{true, false, false, nullopt});
    CHECK(eval<bool>("i <> 7", b) == std::vector<B>{false, true, true, nullopt});
    CHECK(eval<bool>("i != 7", b) == std::vector<B>{false, true, true, nullopt});
    CHECK(eval<bool>("i <= 0", b) == std::vector<B>{false, true, true, nullopt});
    CHECK(eval<bool>("i >= 0", b) == std::vector<B>{true, false, true, nullopt});
    CHECK(eval<bool>("i < 0", b) == std::vector<B>{false, true, false, nullopt});
    CHECK(eval<bool>("i = NULL", b) == std::vector<B>{nullopt, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("s < 'b'", b) == std::vector<B>{true, true, nullopt, true});  // byte order: 'H' < 'b'
    CHECK(eval<bool>("s = 'abc'", b) == std::vector<B>{true, false, nullopt, false});

    Batch t;
    const std::int64_t day = 86400LL * 1000000;
    t.add_column("timestamp", timestamps({15340 * day - 1, 15340 * day, 15340 * day + 1, nullopt}));
    // The DLT documentation's example: the string is cast to a timestamp.
    CHECK(eval<bool>("timestamp > '2012-01-01'", t) == std::vector<B>{false, false, true, nullopt});
    CHECK(eval<bool>("'2012-01-01 00:00:00' <= timestamp", t) == std::vector<B>{false, true, true, nullopt});
    CHECK(eval<bool>("timestamp = TIMESTAMP '2012-01-01 00:00:00'", t) == std::vector<B>{false, true, false, nullopt});

    // Spark orders NaN above every number and equal to itself.
    CHECK(scalar<bool>("CAST('NaN' AS DOUBLE) = CAST('NaN' AS DOUBLE)") == B(true));
    CHECK(scalar<bool>("CAST('NaN' AS DOUBLE) > 1e308") == B(true));
    CHECK(scalar<bool>("1.0 < CAST('NaN' AS DOUBLE)") == B(true));
    CHECK(scalar<bool>("CAST('NaN' AS DOUBLE) < 1.0") == B(false));
}

TEST_CASE("IS NULL, BETWEEN, IN and LIKE with NULLs") {
    const Batch b = numbers();
    CHECK(eval<bool>("i IS NULL", b) == std::vector<B>{false, false, false, true});
    CHECK(eval<bool>("d IS NOT NULL", b) == std::vector<B>{true, true, false, true});
    CHECK(eval<bool>("isnull(s)", b) == std::vector<B>{false, false, true, false});
    CHECK(eval<bool>("i BETWEEN 0 AND 7", b) == std::vector<B>{true, false, true, nullopt});
    CHECK(eval<bool>("i NOT BETWEEN 0 AND 7", b) == std::vector<B>{false, true, false, nullopt});
    CHECK(eval<bool>("i BETWEEN NULL AND 0", b) == std::vector<B>{false, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("i IN (7, 0)", b) == std::vector<B>{true, false, true, nullopt});
    CHECK(eval<bool>("i NOT IN (7, 0)", b) == std::vector<B>{false, true, false, nullopt});
    CHECK(eval<bool>("i IN (7, NULL)", b) == std::vector<B>{true, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("i NOT IN (7, NULL)", b) == std::vector<B>{false, nullopt, nullopt, nullopt});
    CHECK(eval<bool>("s IN ('abc', 'x')", b) == std::vector<B>{true, false, nullopt, false});
    CHECK(eval<bool>("s LIKE 'a%'", b) == std::vector<B>{true, false, nullopt, false});
    CHECK(eval<bool>("s LIKE '%l%o'", b) == std::vector<B>{false, true, nullopt, false});
    CHECK(eval<bool>("s LIKE '_bc'", b) == std::vector<B>{true, false, nullopt, false});
    CHECK(eval<bool>("s LIKE 'H_l%'", b) == std::vector<B>{false, true, nullopt, false});
    CHECK(eval<bool>("s NOT LIKE '%'", b) == std::vector<B>{false, false, nullopt, false});
    CHECK(eval<bool>("s LIKE ''", b) == std::vector<B>{false, false, nullopt, true});
    CHECK(scalar<bool>("'50%' LIKE '50\\%'") == B(true));
    CHECK(scalar<bool>("'500' LIKE '50\\%'") == B(false));
    CHECK(scalar<bool>("'a_c' LIKE 'a\\_c'") == B(true));
    CHECK(scalar<bool>("'abc' LIKE 'a\\_c'") == B(false));
    CHECK(scalar<bool>("'héllo' LIKE 'h_llo'") == B(true));  // '_' is one character, not one byte
    CHECK(scalar<bool>("'abcbd' LIKE '%b_'") == B(true));
    CHECK(scalar<bool>("'abcbde' LIKE '%b_'") == B(false));
}

TEST_CASE("CASE WHEN, with and without ELSE, and the simple form") {
    const Batch b = numbers();  // i: 7, -7, 0, NULL
    CHECK(eval<std::string>("CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' ELSE 'zero or null' END", b) ==
          std::vector<S>{"pos", "neg", "zero or null", "zero or null"});
    CHECK(eval<std::int64_t>("CASE WHEN i > 0 THEN i END", b) == std::vector<I>{7, nullopt, nullopt, nullopt});
    CHECK(eval<double>("CASE WHEN i > 0 THEN 1 ELSE d END", b) == std::vector<D>{1.0, 2.5, nullopt, 0.0});
    CHECK(eval<std::string>("CASE i WHEN 7 THEN 'seven' WHEN 0 THEN 'zero' END", b) ==
          std::vector<S>{"seven", nullopt, "zero", nullopt});
    CHECK(eval<bool>("CASE WHEN i IS NULL THEN NULL ELSE i > 0 END", b) == std::vector<B>{true, false, false, nullopt});
}

TEST_CASE("CAST between every type") {
    CHECK(scalar<std::int64_t>("CAST('12' AS BIGINT)") == I(12));
    CHECK(scalar<std::int64_t>("CAST(' 12 ' AS INT)") == I(12));
    CHECK(scalar<std::int64_t>("CAST('1.9' AS INT)") == I(1));
    CHECK(scalar<std::int64_t>("CAST('x' AS INT)") == I());
    CHECK(scalar<std::int64_t>("CAST(-2.7 AS BIGINT)") == I(-2));
    CHECK(scalar<std::int64_t>("CAST(TRUE AS INT)") == I(1));
    CHECK(scalar<std::int64_t>("CAST(TIMESTAMP '1970-01-01 00:01:00' AS BIGINT)") == I(60));
    CHECK(scalar<double>("CAST('2.5' AS DOUBLE)") == D(2.5));
    CHECK(scalar<double>("CAST('abc' AS DOUBLE)") == D());
    CHECK(scalar<double>("CAST(3 AS DOUBLE)") == D(3.0));
    CHECK(scalar<bool>("CAST('yes' AS BOOLEAN)") == B(true));
    CHECK(scalar<bool>("CAST('0' AS BOOLEAN)") == B(false));
    CHECK(scalar<bool>("CAST('maybe' AS BOOLEAN)") == B());
    CHECK(scalar<bool>("CAST(0 AS BOOLEAN)") == B(false));
    CHECK(scalar<std::string>("CAST(12 AS STRING)") == S("12"));
    CHECK(scalar<std::string>("CAST(1.5 AS STRING)") == S("1.5"));
    CHECK(scalar<std::string>("CAST(2.0 AS STRING)") == S("2.0"));
    CHECK(scalar<std::string>("CAST(1e10 AS STRING)") == S("1.0E10"));
    CHECK(scalar<std::string>("CAST(FALSE AS STRING)") == S("false"));
    CHECK(scalar<std::string>("CAST(TIMESTAMP '2012-03-04 05:06:07.25' AS STRING)") == S("2012-03-04 05:06:07.25"));
    CHECK(scalar<std::int64_t>("CAST('2012-01-01' AS TIMESTAMP)") == I(15340LL * 86400 * 1000000));
    CHECK(scalar<std::int64_t>("CAST('2012-02-30' AS TIMESTAMP)") == I());
    CHECK(scalar<std::string>("CAST(NULL AS STRING)") == S());
    CHECK(Expression::compile("CAST(x AS VARCHAR(10))", one_row().schema()).type() == DataType::string);

    const Batch b = numbers();
    CHECK(eval<std::string>("CAST(i AS STRING)", b) == std::vector<S>{"7", "-7", "0", nullopt});
    CHECK(eval<double>("CAST(s AS DOUBLE)", b) == std::vector<D>{nullopt, nullopt, nullopt, nullopt});
}

TEST_CASE("functions with NULLs") {
    const Batch b = numbers();  // i: 7, -7, 0, NULL   d: 2.0, 2.5, NULL, 0.0   s: abc, Hello, NULL, ''
    CHECK(eval<std::int64_t>("abs(i)", b) == std::vector<I>{7, 7, 0, nullopt});
    CHECK(eval<double>("abs(-d)", b) == std::vector<D>{2.0, 2.5, nullopt, 0.0});
    CHECK(eval<double>("coalesce(d, i, 99)", b) == std::vector<D>{2.0, 2.5, 0.0, 0.0});
    CHECK(eval<std::int64_t>("coalesce(NULL, i)", b) == std::vector<I>{7, -7, 0, nullopt});
    CHECK(eval<std::string>("coalesce(s, 'none')", b) == std::vector<S>{"abc", "Hello", "none", ""});
    CHECK(eval<std::int64_t>("length(s)", b) == std::vector<I>{3, 5, nullopt, 0});
    CHECK(scalar<std::int64_t>("length('héllo')") == I(5));
    CHECK(eval<std::string>("lower(s)", b) == std::vector<S>{"abc", "hello", nullopt, ""});
    CHECK(eval<std::string>("upper(s)", b) == std::vector<S>{"ABC", "HELLO", nullopt, ""});
    CHECK(scalar<std::string>("trim('  a b  ')") == S("a b"));
    CHECK(scalar<std::string>("trim(NULL)") == S());
    CHECK(scalar<double>("round(2.5)") == D(3.0));
    CHECK(scalar<double>("round(-2.5)") == D(-3.0));
    CHECK(scalar<double>("round(2.675, 2)") == D(2.68));  // half up on the decimal text, as Spark
    CHECK(scalar<double>("round(1.2345, 3)") == D(1.235));
    CHECK(scalar<double>("round(1234.5, -2)") == D(1200.0));
    CHECK(scalar<std::int64_t>("round(1250, -2)") == I(1300));
    CHECK(scalar<std::int64_t>("round(-1250, -2)") == I(-1300));
    CHECK(scalar<std::int64_t>("round(7)") == I(7));
    CHECK(eval<double>("round(d)", b) == std::vector<D>{2.0, 3.0, nullopt, 0.0});
    CHECK(scalar<double>("sqrt(16)") == D(4.0));
    CHECK(std::isnan(*scalar<double>("sqrt(-1)")));
    CHECK(scalar<double>("ln(1)") == D(0.0));
    CHECK(scalar<double>("ln(0)") == D());
    CHECK(scalar<double>("ln(-3)") == D());
    CHECK(scalar<double>("exp(0)") == D(1.0));
    CHECK(scalar<double>("pow(2, 10)") == D(1024.0));
    CHECK(scalar<double>("power(NULL, 2)") == D());
    CHECK(eval<double>("sqrt(d)", b)[2] == D());
    CHECK(scalar<bool>("isnan(CAST('NaN' AS DOUBLE))") == B(true));
    CHECK(scalar<bool>("isnan(1.0)") == B(false));
    CHECK(scalar<bool>("isnan(NULL)") == B(false));  // isnan is never NULL
    CHECK(eval<double>("greatest(i, d)", b) == std::vector<D>{7.0, 2.5, 0.0, 0.0});
    CHECK(eval<double>("least(i, d)", b) == std::vector<D>{2.0, -7.0, 0.0, 0.0});
    CHECK(scalar<std::int64_t>("greatest(1, NULL, 3)") == I(3));
    CHECK(scalar<std::int64_t>("least(NULL, NULL)") == I());
    CHECK(scalar<std::string>("greatest('b', 'abc')") == S("b"));

    const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    const auto now = scalar<std::int64_t>("current_timestamp()");
    const auto after = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    REQUIRE(now.has_value());
    CHECK(*now >= before);
    CHECK(*now <= after);
    CHECK(scalar<bool>("current_timestamp > TIMESTAMP '2020-01-01 00:00:00'") == B(true));
}

TEST_CASE("results over several chunks match a row-by-row reference") {
    // 3000 rows cross two chunk boundaries and end in a partial word.
    constexpr std::size_t n = 3000;
    Column a(DataType::float64), c(DataType::int64), s(DataType::string), f(DataType::boolean);
    for (std::size_t r = 0; r < n; ++r) {
        (r % 7 == 3) ? a.append_null() : a.append_double(static_cast<double>(r % 100) / 10.0);
        (r % 11 == 5) ? c.append_null() : c.append_int64(static_cast<std::int64_t>(r % 13) - 6);
        (r % 17 == 0) ? s.append_null() : s.append_string(r % 2 ? "odd" : "even");
        (r % 5 == 1) ? f.append_null() : f.append_bool(r % 3 == 0);
    }
    Batch b;
    b.add_column("a", std::move(a));
    b.add_column("c", std::move(c));
    b.add_column("s", std::move(s));
    b.add_column("f", std::move(f));
    const auto got = eval<bool>("(a > 4.5 AND c <= 2) OR (s = 'odd' AND f)", b);
    const auto sum = eval<double>("a * c + 1", b);
    REQUIRE(got.size() == n);
    for (std::size_t r = 0; r < n; ++r) {
        const bool a_null = r % 7 == 3, c_null = r % 11 == 5, s_null = r % 17 == 0, f_null = r % 5 == 1;
        const double av = static_cast<double>(r % 100) / 10.0;
        const auto cv = static_cast<std::int64_t>(r % 13) - 6;
        // Kleene logic written out by hand.
        const B left = (a_null || c_null) ? (((!a_null && !(av > 4.5)) || (!c_null && !(cv <= 2))) ? B(false) : B())
                                          : B(av > 4.5 && cv <= 2);
        const B right = (s_null || f_null) ? (((!s_null && r % 2 == 0) || (!f_null && r % 3 != 0)) ? B(false) : B())
                                           : B(r % 2 == 1 && r % 3 == 0);
        B expected;
        if (left == B(true) || right == B(true)) expected = true;
        else if (left == B(false) && right == B(false)) expected = false;
        REQUIRE(got[r] == expected);
        REQUIRE(sum[r] == ((a_null || c_null) ? D() : D(av * static_cast<double>(cv) + 1)));
    }
    CHECK(Expression::compile("(a > 4.5 AND c <= 2) OR (s = 'odd' AND f)", b.schema()).count_true(b) ==
          static_cast<std::size_t>(std::count(got.begin(), got.end(), B(true))));
}

TEST_CASE("an expression evaluates a batch whose columns moved, and rejects a changed type") {
    Batch compiled_for;
    compiled_for.add_column("a", ints({1}));
    compiled_for.add_column("b", ints({2}));
    const Expression e = Expression::compile("b - a", compiled_for.schema());
    Batch moved;
    moved.add_column("b", ints({10, 20}));
    moved.add_column("a", ints({1, 2}));
    CHECK(values<std::int64_t>(e.evaluate(moved)) == std::vector<I>{9, 18});

    Batch retyped;
    retyped.add_column("a", ints({1}));
    retyped.add_column("b", doubles({2.0}));
    const std::string msg = message_of<isoflow::schema_error>([&] { (void)e.evaluate(retyped); });
    CHECK(msg == "column 'b' is double in the batch but was bigint when the expression 'b - a' was compiled");
    Batch missing;
    missing.add_column("a", ints({1}));
    CHECK(message_of<isoflow::schema_error>([&] { (void)e.evaluate(missing); }) ==
          "column 'b' used by the expression 'b - a' is missing from the batch (did you mean 'a'?)");
}
