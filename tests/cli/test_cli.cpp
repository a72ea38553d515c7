// The isoflow program: generate, train, score and demo, run as a user runs them.
#include <fstream>
#include <string>

#include "forest/test_helpers.hpp"

namespace {

using isoflow_test::quote;
using isoflow_test::run_command;
using isoflow_test::lines_of;
using isoflow_test::slurp;
using isoflow_test::TempDir;

std::string cli() { return quote(ISOFLOW_CLI); }

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto comma = line.find(',', start);
        out.push_back(line.substr(start, comma - start));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

}  // namespace

TEST_CASE("generate: card transactions, deterministic by seed, with planted frauds", "[cli][generate]") {
    TempDir dir("cli_generate");
    REQUIRE(run_command(cli() + " generate --rows 20000 --fraud-rate 0.01 --seed 5 --output " + quote(dir / "a.csv"), dir).status == 0);
    REQUIRE(run_command(cli() + " generate --rows 20000 --fraud-rate 0.01 --seed 5 --output " + quote(dir / "b.csv"), dir).status == 0);
    REQUIRE(run_command(cli() + " generate --rows 20000 --fraud-rate 0.01 --seed 6 --output " + quote(dir / "c.csv"), dir).status == 0);
    const std::string a = slurp(dir / "a.csv");
    CHECK(a == slurp(dir / "b.csv"));
    CHECK(a != slurp(dir / "c.csv"));
    const auto lines = lines_of(a);
    REQUIRE(lines.size() == 20001);
    const auto header = split(lines[0]);
    REQUIRE(header.size() == 32);
    CHECK(header[0] == "cust_id");
    CHECK(header[1] == "Time");
    CHECK(header[2] == "V1");
    CHECK(header[29] == "V28");
    CHECK(header[30] == "Amount");
    CHECK(header[31] == "label");
    int frauds = 0;
    double previous_time = -1;
    bool increasing = true;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto fields = split(lines[i]);
        REQUIRE(fields.size() == 32);
        frauds += fields[31] == "1";
        const double t = std::stod(fields[1]);
        increasing = increasing && t >= previous_time;
        previous_time = t;
    }
    CHECK(increasing);
    CHECK(frauds > 150);  // 1% of 20,000 = 200 expected
    CHECK(frauds < 250);
}

TEST_CASE("demo: an isolation forest finds the planted frauds, but not trivially", "[cli][demo]") {
    TempDir dir("cli_demo");
    const auto r = run_command(cli() + " demo --rows 60000 --seed 3 --workdir " + quote(dir / "work"), dir);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const auto at = r.out.find("ROC AUC");
    REQUIRE(at != std::string::npos);
    const auto colon = r.out.find(": ", at);
    REQUIRE(colon != std::string::npos);
    const double auc = std::stod(r.out.substr(colon + 2));
    CHECK(auc > 0.9);
    CHECK(auc < 1.0);
    CHECK(contains(r.out, "rows/s"));
}

TEST_CASE("train and score: columns by name, any order, extra columns ignored", "[cli][train][score]") {
    TempDir dir("cli_train_score");
    REQUIRE(run_command(cli() + " generate --rows 3000 --seed 2 --output " + quote(dir / "t.csv"), dir).status == 0);
    auto r = run_command(cli() + " train --input " + quote(dir / "t.csv") + " --output " + quote(dir / "m.iforest") +
                             " --exclude label,cust_id,Time --seed 4 --contamination 0.02",
                         dir);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    r = run_command(cli() + " score --model " + quote(dir / "m.iforest") + " --input " + quote(dir / "t.csv") +
                        " --output " + quote(dir / "s.csv") + " --keep cust_id,label",
                    dir);
    REQUIRE(r.status == 0);
    const auto scored = lines_of(slurp(dir / "s.csv"));
    REQUIRE(scored.size() == 3001);
    CHECK(scored[0] == "cust_id,label,score,decision,is_anomaly");
    const auto original = lines_of(slurp(dir / "t.csv"));
    int anomalies = 0;
    for (std::size_t i = 1; i < scored.size(); ++i) {
        const auto f = split(scored[i]);
        REQUIRE(f.size() == 5);
        CHECK(f[0] == split(original[i])[0]);
        const double score = std::stod(f[2]), decision = std::stod(f[3]);
        CHECK(score < 0.0);
        CHECK(score >= -1.0);
        CHECK(f[4] == (decision < 0 ? "true" : "false"));
        anomalies += f[4] == "true";
    }
    CHECK(anomalies >= 50);  // contamination 0.02 of 3000 rows on the training data itself
    CHECK(anomalies <= 70);

    // The same rows with the columns reversed, renamed in another case, and an extra column.
    std::ofstream shuffled(dir / "shuffled.csv");
    for (std::size_t i = 0; i < original.size(); ++i) {
        auto f = split(original[i]);
        if (i == 0) for (auto& name : f) for (auto& c : name) c = static_cast<char>(std::toupper(c));
        shuffled << (i == 0 ? "extra" : "\"x,y\"");
        for (auto it = f.rbegin(); it != f.rend(); ++it) shuffled << ',' << *it;
        shuffled << '\n';
    }
    shuffled.close();
    r = run_command(cli() + " score --model " + quote(dir / "m.iforest") + " --input " + quote(dir / "shuffled.csv") +
                        " --output " + quote(dir / "s2.csv"),
                    dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const auto again = lines_of(slurp(dir / "s2.csv"));
    REQUIRE(again.size() == scored.size());
    for (std::size_t i = 1; i < again.size(); ++i) {
        const auto a = split(again[i]), b = split(scored[i]);
        CHECK(a[0] == b[2]);
    }

    // A JSON model scores the same as the binary one; JSON Lines input works too.
    REQUIRE(run_command(cli() + " train --input " + quote(dir / "t.csv") + " --output " + quote(dir / "m.json") +
                            " --exclude label,cust_id,Time --seed 4 --contamination 0.02", dir).status == 0);
    std::ofstream jsonl(dir / "t.jsonl");
    const auto header = split(original[0]);
    for (std::size_t i = 1; i < original.size(); ++i) {
        const auto f = split(original[i]);
        jsonl << '{';
        for (std::size_t k = 0; k < f.size(); ++k) jsonl << (k ? ", " : "") << '"' << header[k] << "\": " << f[k];
        jsonl << "}\n";
    }
    jsonl.close();
    // gzip-compressed CSV reads the same.
    REQUIRE(run_command("(gzip -c " + quote(dir / "t.csv") + " > " + quote(dir / "t.csv.gz") + ")", dir).status == 0);
    r = run_command(cli() + " score --model " + quote(dir / "m.iforest") + " --input " + quote(dir / "t.csv.gz") +
                        " --output " + quote(dir / "gz.csv") + " --keep cust_id,label",
                    dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(dir / "gz.csv") == slurp(dir / "s.csv"));

    r = run_command(cli() + " score --model " + quote(dir / "m.json") + " --input " + quote(dir / "t.jsonl") +
                        " --output " + quote(dir / "s3.csv") + " --keep cust_id,label",
                    dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(dir / "s3.csv") == slurp(dir / "s.csv"));

    // Training reads JSON Lines too: the same rows give the same model, hence the same scores.
    r = run_command(cli() + " train --input " + quote(dir / "t.jsonl") + " --output " + quote(dir / "m_jsonl.json") +
                        " --exclude label,cust_id,Time --seed 4 --contamination 0.02",
                    dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    r = run_command(cli() + " score --model " + quote(dir / "m_jsonl.json") + " --input " + quote(dir / "t.csv") +
                        " --output " + quote(dir / "s4.csv") + " --keep cust_id,label",
                    dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(dir / "s4.csv") == slurp(dir / "s.csv"));
}

TEST_CASE("bad input: status 1 and one line naming file, line and column", "[cli][errors]") {
    TempDir dir("cli_errors");
    std::ofstream(dir / "bad_value.csv") << "a,b,c\n1,2,3\n4,oops,6\n7,8,9\n";
    auto r = run_command(cli() + " train --input " + quote(dir / "bad_value.csv") + " --output " + quote(dir / "m") +
                             " --features a,b,c",
                         dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "bad_value.csv:3: column 2 ('b'): expected a number, got 'oops'"));
    CHECK(lines_of(r.err).size() == 1);

    // The value that does not fit comes after the rows that inference looked at.
    std::string late = "a,b\n";
    for (int i = 0; i < 12000; ++i) late += std::to_string(i) + "," + std::to_string(i * 0.5) + "\n";
    late += "1,12;5\n";
    std::ofstream(dir / "late.csv") << late;
    r = run_command(cli() + " train --input " + quote(dir / "late.csv") + " --output " + quote(dir / "m"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "late.csv:12002: column 2 ('b'): expected a number, got '12;5'"));

    std::ofstream(dir / "short.csv") << "a,b,c\n1,2,3\n4,5\n";
    r = run_command(cli() + " train --input " + quote(dir / "short.csv") + " --output " + quote(dir / "m"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "short.csv:3:4: expected 3 fields"));

    std::ofstream(dir / "empty.csv") << "";
    r = run_command(cli() + " train --input " + quote(dir / "empty.csv") + " --output " + quote(dir / "m"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "empty.csv"));

    std::ofstream(dir / "header_only.csv") << "a,b\n";
    r = run_command(cli() + " train --input " + quote(dir / "header_only.csv") + " --output " + quote(dir / "m"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "no data rows"));

    r = run_command(cli() + " train --input " + quote(dir / "missing.csv") + " --output " + quote(dir / "m"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "missing.csv"));

    std::ofstream(dir / "good.csv") << "a,b\n1,2\n3,4\n5,7\n";
    REQUIRE(run_command(cli() + " train --input " + quote(dir / "good.csv") + " --output " + quote(dir / "m") + " --seed 1", dir).status == 0);
    std::ofstream(dir / "other.csv") << "a,c\n1,2\n";
    r = run_command(cli() + " score --model " + quote(dir / "m") + " --input " + quote(dir / "other.csv") + " --output " + quote(dir / "o.csv"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "feature 'b'"));
    std::ofstream(dir / "not_a_model") << "hello";
    r = run_command(cli() + " score --model " + quote(dir / "not_a_model") + " --input " + quote(dir / "good.csv") + " --output " + quote(dir / "o.csv"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "not an isoflow model"));
}

TEST_CASE("bad usage: status 2 and the usage text", "[cli][errors]") {
    TempDir dir("cli_usage");
    auto r = run_command(cli(), dir);
    CHECK(r.status == 2);
    r = run_command(cli() + " train --input x.csv", dir);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--output"));
    CHECK(contains(r.err, "Usage"));
    r = run_command(cli() + " train --input x.csv --output m --colour blue", dir);
    CHECK(r.status == 2);
    r = run_command(cli() + " train --input x.csv --output m --trees 0", dir);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "n_estimators"));
    r = run_command(cli() + " train --input x.csv --output m --max-samples lots", dir);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "max_samples"));
    r = run_command(cli() + " --help", dir);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "train"));
}
