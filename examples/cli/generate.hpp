// `isoflow generate`: synthetic card transactions shaped like the Kaggle credit-card data
// (Time, V1..V28 from a PCA, Amount), with planted frauds and their labels.
//
// Normal rows: V1..V28 are correlated Gaussian components with variances that fall off as a
// PCA's do, with a heavy-tailed minority; Amount is log-normal (most purchases are small, a few
// are large). Frauds differ the way real ones do: a handful of components (V14, V12, V10, V17,
// V3 down; V4, V11 up) shift by an amount that varies from fraud to fraud, so some frauds look
// almost normal, and amounts are either tiny (card testing) or large.
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <isoflow/core/detail/text.hpp>
#include <isoflow/forest/detail/random.hpp>

namespace isoflow_cli {

struct GenerateOptions {
    std::int64_t rows = 100'000;
    double fraud_rate = 0.002;
    std::uint64_t seed = 1;
};

struct Transaction {
    std::int64_t cust_id;
    double time;
    double v[28];
    double amount;
    int label;
};

class TransactionGenerator {
public:
    explicit TransactionGenerator(const GenerateOptions& options)
        : options_(options), rng_(isoflow::detail::Xoshiro256::for_stream(options.seed, 0x7a11)) {
        for (int j = 0; j < 28; ++j) scale_[j] = 2.0 * std::pow(0.91, j) + 0.25;
    }

    Transaction next() {
        Transaction t{};
        t.cust_id = static_cast<std::int64_t>(std::floor(std::pow(rng_.uniform(), 2.0) * 20'000.0));
        time_ += -std::log(1.0 - rng_.uniform()) * 0.6;
        t.time = std::round(time_ * 1000.0) / 1000.0;
        // Correlated components: each mixes its own factor with its neighbour's.
        const bool heavy = rng_.uniform() < 0.05;
        const double spread = heavy ? 2.5 : 1.0;
        double previous = normal();
        for (int j = 0; j < 28; ++j) {
            const double own = normal();
            t.v[j] = scale_[j] * spread * (0.85 * own + 0.35 * previous);
            previous = own;
        }
        t.amount = std::round(std::exp(3.0 + 1.3 * normal()) * 100.0) / 100.0;
        t.label = rng_.uniform() < options_.fraud_rate ? 1 : 0;
        if (t.label) plant_fraud(t);
        return t;
    }

private:
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u = 0, v = 0, s = 0;
        do {
            u = 2.0 * rng_.uniform() - 1.0;
            v = 2.0 * rng_.uniform() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        const double factor = std::sqrt(-2.0 * std::log(s) / s);
        spare_ = v * factor;
        has_spare_ = true;
        return u * factor;
    }

    void plant_fraud(Transaction& t) {
        // Severity from almost nothing to strong: frauds are found, but not all trivially.
        const double severity = 0.15 + 1.1 * rng_.uniform() * rng_.uniform() + 0.35 * rng_.uniform();
        struct Shift { int component; double amount; };
        static constexpr Shift shifts[] = {{14, -7.0}, {12, -6.0}, {10, -5.0}, {17, -6.0},
                                           {3, -4.5},  {4, 4.0},   {11, 3.5},  {16, -3.5}};
        for (const auto& s : shifts) t.v[s.component - 1] += severity * s.amount * (0.7 + 0.6 * rng_.uniform());
        t.amount = rng_.uniform() < 0.45 ? std::round((0.5 + rng_.uniform()) * 100.0) / 100.0
                                         : std::round(std::exp(5.2 + 0.9 * normal()) * 100.0) / 100.0;
    }

    GenerateOptions options_;
    isoflow::detail::Xoshiro256 rng_;
    double scale_[28];
    double time_ = 0.0;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

inline std::string csv_header() {
    std::string h = "cust_id,Time";
    for (int j = 1; j <= 28; ++j) h += ",V" + std::to_string(j);
    return h + ",Amount,label\n";
}

inline void append_csv_row(std::string& out, const Transaction& t) {
    char buffer[64];
    out += std::to_string(t.cust_id);
    std::snprintf(buffer, sizeof buffer, ",%.3f", t.time);
    out += buffer;
    for (double v : t.v) {
        std::snprintf(buffer, sizeof buffer, ",%.6f", v);
        out += buffer;
    }
    std::snprintf(buffer, sizeof buffer, ",%.2f,%d\n", t.amount, t.label);
    out += buffer;
}

// Writes `rows` transactions as CSV; returns the number of frauds.
inline std::int64_t generate_csv(const GenerateOptions& options, const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) throw std::runtime_error(path + ": cannot open the file for writing");
    TransactionGenerator generator(options);
    std::string chunk = csv_header();
    std::int64_t frauds = 0;
    for (std::int64_t i = 0; i < options.rows; ++i) {
        const Transaction t = generator.next();
        frauds += t.label;
        append_csv_row(chunk, t);
        if (chunk.size() > (1 << 20)) {
            std::fwrite(chunk.data(), 1, chunk.size(), file);
            chunk.clear();
        }
    }
    std::fwrite(chunk.data(), 1, chunk.size(), file);
    const bool failed = std::ferror(file) != 0;
    if (std::fclose(file) != 0 || failed) throw std::runtime_error(path + ": write failed (disk full?)");
    return frauds;
}

}  // namespace isoflow_cli

namespace isoflow_cli {

enum class LandingFormat { json, jsonl, csv, pydict };

struct LandingOptions {
    std::string directory;
    std::string labels;             // CSV of tx_id,label (labels never go into landing files)
    std::int64_t rows_per_file = 1000;
    LandingFormat format = LandingFormat::jsonl;
    double files_per_second = 0.0;  // 0: as fast as possible
    double null_rate = 0.0;         // share of rows with Amount and/or Time missing
    std::int64_t first_tx_id = 0;
};

// One record in the chosen format (a JSON object, a Python dict, or a CSV row).
inline void append_record(std::string& out, const Transaction& t, std::int64_t tx_id, std::int64_t timestamp_us,
                          LandingFormat format, bool null_amount, bool null_time) {
    char buffer[64];
    const bool py = format == LandingFormat::pydict;
    auto number = [&](double v, const char* fmt) {
        std::snprintf(buffer, sizeof buffer, fmt, v);
        out += buffer;
    };
    if (format == LandingFormat::csv) {
        out += std::to_string(tx_id) + "," + std::to_string(t.cust_id) + ",";
        if (!null_time) number(t.time, "%.3f");
        for (double v : t.v) number(v, ",%.6f");
        out += ",";
        if (!null_amount) number(t.amount, "%.2f");
        out += ',';
        out += isoflow::detail::format_timestamp(timestamp_us);  // ISO 8601, as in the JSON forms
        out += '\n';
        return;
    }
    const char q = py ? '\'' : '"';
    auto key = [&](const char* name) {
        out += q;
        out += name;
        out += q;
        out += ": ";
    };
    out += '{';
    key("tx_id");
    out += std::to_string(tx_id) + ", ";
    key("cust_id");
    out += std::to_string(t.cust_id) + ", ";
    key("Time");
    if (null_time) out += py ? "None" : "null"; else number(t.time, "%.3f");
    for (int j = 0; j < 28; ++j) {
        out += ", ";
        const std::string name = "V" + std::to_string(j + 1);
        key(name.c_str());
        number(t.v[j], "%.6f");
    }
    out += ", ";
    key("Amount");
    if (null_amount) out += py ? "None" : "null"; else number(t.amount, "%.2f");
    out += ", ";
    key("timestamp");
    out += q;
    out += isoflow::detail::format_timestamp(timestamp_us);
    out += q;
    out += "}";
    out += format == LandingFormat::json ? "" : "\n";
}

struct LandingResult {
    std::int64_t rows = 0;    // transactions written (fewer than asked when keep_going stopped it)
    std::int64_t files = 0;
    std::int64_t frauds = 0;  // among them
};

// Writes transactions as files into a landing directory, each written under a hidden name and
// renamed into place when complete, and (when landing.labels is set) replaces the labels file
// with the labels of the transactions written.
inline LandingResult generate_landing(const GenerateOptions& options, const LandingOptions& landing,
                                      const std::function<bool()>& keep_going = [] { return true; }) {
    namespace fs = std::filesystem;
    fs::create_directories(landing.directory);
    if (landing.rows_per_file < 1) throw std::runtime_error("--rows-per-file: expected a count >= 1");
    const std::int64_t per_file = (landing.format == LandingFormat::json || landing.format == LandingFormat::pydict)
                                      ? 1 : landing.rows_per_file;
    TransactionGenerator generator(options);
    isoflow::detail::Xoshiro256 nulls = isoflow::detail::Xoshiro256::for_stream(options.seed, 0x4e11);
    std::string labels = "tx_id,label\n";
    std::int64_t frauds = 0;
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t base_us = 1'700'000'000'000'000;  // 2023-11-14
    const char* extension = landing.format == LandingFormat::csv ? ".csv" : ".json";
    std::int64_t file_index = 0;
    std::int64_t row = 0;
    for (; row < options.rows && keep_going(); ++file_index) {
        std::string body;
        if (landing.format == LandingFormat::csv) {
            body = "tx_id,cust_id,Time";
            for (int j = 1; j <= 28; ++j) body += ",V" + std::to_string(j);
            body += ",Amount,timestamp\n";
        }
        for (std::int64_t k = 0; k < per_file && row < options.rows; ++k, ++row) {
            const Transaction t = generator.next();
            const std::int64_t tx_id = landing.first_tx_id + row;
            const bool missing = nulls.uniform() < landing.null_rate;
            const double which = nulls.uniform();
            append_record(body, t, tx_id, base_us + static_cast<std::int64_t>(t.time * 1e6), landing.format,
                          missing && which < 0.7, missing && which >= 0.4);
            labels += std::to_string(tx_id) + "," + std::to_string(t.label) + "\n";
            frauds += t.label;
        }
        char name[64];
        std::snprintf(name, sizeof name, "tx-%09lld%s", static_cast<long long>(landing.first_tx_id + file_index), extension);
        const fs::path final_path = fs::path(landing.directory) / name;
        const fs::path temporary = fs::path(landing.directory) / (std::string(".") + name + ".tmp");
        {
            std::FILE* f = std::fopen(temporary.c_str(), "wb");
            if (!f) throw std::runtime_error(temporary.string() + ": cannot open the file for writing");
            const bool ok = std::fwrite(body.data(), 1, body.size(), f) == body.size();
            if (std::fclose(f) != 0 || !ok) throw std::runtime_error(temporary.string() + ": write failed (disk full?)");
        }
        fs::rename(temporary, final_path);
        if (landing.files_per_second > 0) {
            const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(file_index + 1) /
                                                                       landing.files_per_second));
            std::this_thread::sleep_until(due);
        }
    }
    if (!landing.labels.empty()) {
        std::FILE* f = std::fopen(landing.labels.c_str(), "wb");
        if (!f) throw std::runtime_error(landing.labels + ": cannot open the file for writing");
        const bool ok = std::fwrite(labels.data(), 1, labels.size(), f) == labels.size();
        if (std::fclose(f) != 0 || !ok) throw std::runtime_error(landing.labels + ": write failed (disk full?)");
    }
    return LandingResult{row, file_index, frauds};
}

}  // namespace isoflow_cli
