// Reads CSV records of one file (RFC 4180: quoted fields may hold delimiters, line breaks and
// doubled quotes) into a BatchBuilder. The header row names the columns.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/io/detail/builder.hpp"
#include "isoflow/io/detail/cursor.hpp"
#include "isoflow/io/detail/input.hpp"
#include "isoflow/io/detail/text.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow::detail {

struct CsvField {
    std::size_t begin = 0;  // offset into the record, or into the scratch buffer
    std::size_t size = 0;
    bool quoted = false;
    bool in_scratch = false;  // a quoted field with doubled quotes, unescaped into scratch
};

enum class SplitStatus { ok, need_more, malformed };

// The end of an unquoted field: the first delimiter, '\n' or '\r' at or after `p`, or `end`.
// Eight bytes at a time (a byte equal to c makes x ^ broadcast(c) have a zero byte; the
// lowest zero byte found by the borrow trick is exact), then byte by byte for the tail.
[[nodiscard]] inline const char* find_field_end(const char* p, const char* end, char delimiter) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        constexpr std::uint64_t ones = 0x0101010101010101ULL;
        constexpr std::uint64_t highs = 0x8080808080808080ULL;
        const std::uint64_t d = ones * static_cast<unsigned char>(delimiter);
        auto zero_bytes = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
        while (end - p >= 8) {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            const std::uint64_t hit = zero_bytes(v ^ d) | zero_bytes(v ^ (ones * '\n')) | zero_bytes(v ^ (ones * '\r'));
            if (hit) return p + std::countr_zero(hit) / 8;
            p += 8;
        }
    }
    while (p < end && *p != delimiter && *p != '\n' && *p != '\r') ++p;
    return p;
}

// Splits one record starting at `p`. On ok, `next` is past its line break and `newlines`
// counts the line breaks it spans. On malformed, `error_at` is the offset of the fault and
// `next` the start of the following physical line.
class CsvSplitter {
public:
    CsvSplitter(char delimiter, char quote) : delim_(delimiter), quote_(quote) {}

    std::vector<CsvField> fields;
    std::string scratch;
    std::size_t newlines = 0;
    std::size_t record_size = 0;  // bytes of the record without its line break
    std::size_t error_at = 0;
    std::string expected;

    [[nodiscard]] std::string_view text(const char* record, const CsvField& f) const noexcept {
        return f.in_scratch ? std::string_view(scratch).substr(f.begin, f.size) : std::string_view(record + f.begin, f.size);
    }

    SplitStatus split(const char* p, const char* end, bool eof, const char*& next) {
        fields.clear();
        scratch.clear();
        newlines = 0;
        const char* q = p;
        while (true) {
            CsvField f;
            if (q < end && *q == quote_) {
                f.quoted = true;
                const char* s = ++q;
                bool doubled = false;
                while (true) {
                    while (q < end && *q != quote_) {
                        newlines += *q == '\n';
                        ++q;
                    }
                    if (q >= end) {
                        if (!eof) return SplitStatus::need_more;
                        error_at = static_cast<std::size_t>(s - 1 - p);
                        expected = std::string("expected a closing quote (") + quote_ + ") for the field opened here";
                        record_size = static_cast<std::size_t>(end - p);
                        next = end;
                        return SplitStatus::malformed;
                    }
                    if (q + 1 < end && q[1] == quote_) {
                        doubled = true;
                        q += 2;
                        continue;
                    }
                    if (q + 1 >= end && !eof) return SplitStatus::need_more;
                    break;
                }
                if (doubled) {
                    f.in_scratch = true;
                    f.begin = scratch.size();
                    for (const char* c = s; c < q; ++c) {
                        scratch += *c;
                        if (*c == quote_) ++c;
                    }
                    f.size = scratch.size() - f.begin;
                } else {
                    f.begin = static_cast<std::size_t>(s - p);
                    f.size = static_cast<std::size_t>(q - s);
                }
                ++q;  // closing quote
                if (q < end && *q != delim_ && *q != '\n' && *q != '\r') {
                    error_at = static_cast<std::size_t>(q - p);
                    expected = std::string("expected the delimiter (") + delim_ +
                               ") or the end of the line after a closing quote";
                    return skip_line(p, q, end, eof, next);
                }
            } else {
                const char* s = q;
                q = find_field_end(q, end, delim_);
                if (q >= end && !eof) return SplitStatus::need_more;
                f.begin = static_cast<std::size_t>(s - p);
                f.size = static_cast<std::size_t>(q - s);
            }
            fields.push_back(f);
            if (q >= end) {
                record_size = static_cast<std::size_t>(q - p);
                next = q;
                return SplitStatus::ok;
            }
            if (*q == delim_) {
                ++q;
                continue;
            }
            record_size = static_cast<std::size_t>(q - p);
            if (*q == '\r') {
                ++q;
                if (q >= end && !eof) return SplitStatus::need_more;
                if (q < end && *q == '\n') ++q;
            } else {
                ++q;
            }
            ++newlines;
            next = q;
            return SplitStatus::ok;
        }
    }

private:
    SplitStatus skip_line(const char* p, const char* q, const char* end, bool eof, const char*& next) {
        while (q < end && *q != '\n') ++q;
        if (q >= end && !eof) return SplitStatus::need_more;
        record_size = static_cast<std::size_t>(q - p);
        if (record_size && p[record_size - 1] == '\r') --record_size;
        if (q < end) {
            ++q;
            ++newlines;
        }
        next = q;
        return SplitStatus::malformed;
    }

    char delim_;
    char quote_;
};

class CsvCursor final : public RecordCursor {
public:
    CsvCursor(std::string path, std::string display_name, const ReadOptions& options)
        : path_(std::move(path)), name_(std::move(display_name)), options_(&options),
          splitter_(options.delimiter, options.quote) {}
    CsvCursor(std::string_view text, std::string display_name, const ReadOptions& options)
        : name_(std::move(display_name)), options_(&options), splitter_(options.delimiter, options.quote),
          text_(text), in_memory_(true) {}

    [[nodiscard]] bool done() const noexcept override { return done_; }
    [[nodiscard]] bool skipped() const noexcept { return skip_; }
    [[nodiscard]] const std::string& skip_reason() const noexcept { return skip_reason_; }

    void sample(TypeInference& inference) override {
        open();
        while (buffer_.size() < options_->infer_sample_bytes && input_ && buffer_.fill(*input_)) {
        }
        const char* p = buffer_.begin();
        const char* end = buffer_.end();
        const char* stop = p + std::min(buffer_.size(), options_->infer_sample_bytes);
        for (const auto& n : header_) inference.observe_name(n);
        std::size_t rows = 0;
        while (p < stop && rows < options_->infer_sample_rows) {
            const char* next = p;
            if (*p == '\n' || *p == '\r') {
                ++p;
                continue;
            }
            const SplitStatus st = splitter_.split(p, end, buffer_.eof(), next);
            if (st == SplitStatus::need_more) break;
            if (st == SplitStatus::ok) {
                ensure_names(splitter_.fields.size());
                for (std::size_t i = 0; i < splitter_.fields.size() && i < header_.size(); ++i) {
                    const CsvField& f = splitter_.fields[i];
                    const std::string_view t = splitter_.text(p, f);
                    inference.observe(header_[i], is_null(f, t) ? ValueRef{} : ValueRef{ValueKind::text, t, false});
                }
                ++rows;
            }
            p = next;
        }
    }

    bool read_into(BatchBuilder& builder, std::size_t max_rows) override {
        if (done_) return false;
        open();
        map_columns(builder);
        const std::size_t limit = builder.rows() + max_rows;
        while (builder.rows() < limit) {
            const char* p = buffer_.begin();
            const char* end = buffer_.end();
            if (p == end) {
                if (input_ && buffer_.fill(*input_)) continue;
                done_ = true;
                break;
            }
            if (*p == '\n' || *p == '\r') {  // blank line
                if (*p == '\n') ++line_;
                buffer_.consume(1);
                builder.stats().bytes += 1;
                continue;
            }
            const char* next = p;
            builder.begin_record(line_ + 1);
            if (!map_.empty()) {
                std::size_t newlines = 0;
                const std::size_t rescued_before = builder.stats().rescued_values;
                if (read_fused(builder, p, end, next, newlines)) {
                    builder.end_record();
                    line_ += newlines;
                    builder.stats().bytes += static_cast<std::size_t>(next - p);
                    buffer_.consume_to(next);
                    continue;
                }
                // Undone, counters included: the general path below sees the record afresh.
                builder.abort_record();
                builder.stats().rescued_values = rescued_before;
                builder.begin_record(line_ + 1);
                next = p;
            }
            const SplitStatus st = splitter_.split(p, end, buffer_.eof(), next);
            if (st == SplitStatus::need_more) {
                builder.abort_record();
                if (input_ && buffer_.fill(*input_)) continue;
                // fill() said end of file: split again knowing it.
                continue;
            }
            const std::uint64_t line = line_ + 1;
            const std::string_view raw(p, splitter_.record_size);
            if (st == SplitStatus::malformed) {
                if (!malformed(builder, raw, splitter_.error_at, line, splitter_.expected)) return false;
            } else if (splitter_.fields.size() != map_.size()) {
                const std::size_t at = splitter_.fields.size() > map_.size()
                                           ? splitter_.fields[map_.size()].begin
                                           : splitter_.record_size;
                const std::string expected = "expected " + std::to_string(map_.size()) + " fields (as in the " +
                                             (options_->header ? "header" : "first row") + "), found " +
                                             std::to_string(splitter_.fields.size());
                if (!malformed(builder, raw, at, line, expected)) return false;
            } else {
                put_fields(builder, p);
                builder.end_record();
            }
            line_ += splitter_.newlines;
            builder.stats().bytes += static_cast<std::size_t>(next - p);
            buffer_.consume_to(next);
        }
        return !done_;
    }

private:
    bool malformed(BatchBuilder& builder, std::string_view raw, std::size_t at, std::uint64_t line,
                   const std::string& expected) {
        if (!handle_malformed(builder, raw, raw, at, line, expected, skip_reason_)) {
            skip_ = true;
            done_ = true;
            return false;
        }
        return true;
    }

    [[nodiscard]] bool is_null(const CsvField& f, std::string_view t) const noexcept {
        return !f.quoted && t == options_->null_value;
    }

    // Splits and converts one record in a single pass, without the field list: each field is
    // converted into its column as soon as its end is known, and a number in a double column
    // is parsed straight from the text (the parse itself finds the end of the field). The
    // calls on the builder are those put_fields makes for the same record. Gives up (returns
    // false; the caller undoes the record and takes the general path) on a quoted field, a
    // record cut by the end of the buffer, or a record with the wrong number of fields.
    bool read_fused(BatchBuilder& builder, const char* p, const char* end, const char*& next,
                    std::size_t& newlines) {
        const bool eof = buffer_.eof();
        const char delim = options_->delimiter;
        const char quote = options_->quote;
        const std::string_view null_value = options_->null_value;
        const std::size_t n = map_.size();
        const char* q = p;
        for (std::size_t i = 0; i < n; ++i) {
            if (q != end && *q == quote) return false;
            const int col = map_[i];
            const char* e = nullptr;
            if (numbers_in_place_ && col >= 0 && builder.type(col) == DataType::float64) {
                double d;
                const char* num_end = parse_double_prefix(q, end, d);
                if (num_end && (num_end != end ? *num_end == delim || *num_end == '\n' || *num_end == '\r' : eof)) {
                    e = num_end;
                    const std::string_view t(q, static_cast<std::size_t>(e - q));
                    if (same_text(t, null_value)) {
                        put_text(builder, i, col, t, true);
                    } else if (builder.claim(col)) {
                        builder.column(col).append_double(d);
                    } else {
                        builder.rescue_value(header_[i], ValueRef{ValueKind::text, t, false});
                    }
                }
            }
            if (!e) {
                e = find_field_end(q, end, delim);
                if (e == end && !eof) return false;
                const std::string_view t(q, static_cast<std::size_t>(e - q));
                if (col != BatchBuilder::ignore) put_text(builder, i, col, t, same_text(t, null_value));
            }
            q = e;
            if (i + 1 < n) {
                if (q == end || *q != delim) return false;  // too few fields
                ++q;
                continue;
            }
            if (q == end) {
                newlines = 0;  // the last line, without a line break (eof is known here)
            } else if (*q == '\n') {
                ++q;
                newlines = 1;
            } else if (*q == '\r') {
                ++q;
                if (q == end && !eof) return false;
                if (q != end && *q == '\n') ++q;
                newlines = 1;
            } else {
                return false;  // a delimiter: too many fields
            }
        }
        next = q;
        return true;
    }

    // One unquoted field's text into column `col` (not ignore), as put_fields does it.
    void put_text(BatchBuilder& builder, std::size_t i, int col, std::string_view t, bool null) {
        const ValueRef v = null ? ValueRef{} : ValueRef{ValueKind::text, t, false};
        if (col == BatchBuilder::rescue || !builder.claim(col)) return builder.rescue_value(header_[i], v);
        if (builder.type(col) == DataType::float64 && !null && !t.empty()) {
            double d;
            const char* e = t.data() + t.size();
            if (parse_double_prefix(t.data(), e, d) == e) return builder.column(col).append_double(d);
        }
        builder.put(col, v);
    }

    void put_fields(BatchBuilder& builder, const char* record) {
        for (std::size_t i = 0; i < map_.size(); ++i) {
            const int col = map_[i];
            if (col == BatchBuilder::ignore) continue;
            const CsvField& f = splitter_.fields[i];
            const std::string_view t = splitter_.text(record, f);
            const ValueRef v = is_null(f, t) ? ValueRef{} : ValueRef{ValueKind::text, t, false};
            if (col == BatchBuilder::rescue || !builder.claim(col)) {
                builder.rescue_value(header_[i], v);
                continue;
            }
            if (builder.type(col) == DataType::float64 && v.kind == ValueKind::text && !t.empty()) {
                double d;
                const char* e = t.data() + t.size();
                if (parse_double_prefix(t.data(), e, d) == e) {
                    builder.column(col).append_double(d);
                    continue;
                }
            }
            builder.put(col, v);
        }
    }

    void ensure_names(std::size_t n) {
        while (header_.size() < n) header_.push_back("_c" + std::to_string(header_.size()));
    }

    void open() {
        if (opened_) return;
        opened_ = true;
        if (in_memory_) {
            buffer_.assign(text_);
        } else {
            input_ = std::make_unique<InputFile>(path_, options_->compression);
            buffer_.fill(*input_);
        }
        if (buffer_.view().substr(0, 3) == "\xEF\xBB\xBF") buffer_.consume(3);
        if (!options_->header) return;
        // The header: the first non-blank record.
        while (true) {
            const char* p = buffer_.begin();
            const char* end = buffer_.end();
            if (p == end) {
                if (input_ && buffer_.fill(*input_)) continue;
                return;
            }
            if (*p == '\n' || *p == '\r') {
                if (*p == '\n') ++line_;
                buffer_.consume(1);
                continue;
            }
            const char* next = p;
            const SplitStatus st = splitter_.split(p, end, buffer_.eof(), next);
            if (st == SplitStatus::need_more) {
                if (input_) buffer_.fill(*input_);
                continue;
            }
            if (st == SplitStatus::malformed) {
                const TextPosition at = position_in(std::string_view(p, splitter_.record_size), splitter_.error_at, line_ + 1);
                throw_error<parse_error>(name_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                                         ": header row: " + splitter_.expected);
            }
            for (std::size_t i = 0; i < splitter_.fields.size(); ++i) {
                std::string n(splitter_.text(p, splitter_.fields[i]));
                if (n.empty()) n = "_c" + std::to_string(i);
                header_.push_back(std::move(n));
            }
            line_ += splitter_.newlines;
            buffer_.consume_to(next);
            header_bytes_ = static_cast<std::size_t>(next - p);
            return;
        }
    }

    void map_columns(BatchBuilder& builder) {
        if (mapped_) return;
        mapped_ = true;
        // A number parsed in place ends where the field ends only if the delimiter cannot be
        // part of a number.
        const char dl = options_->delimiter;
        numbers_in_place_ = !(is_digit(dl) || dl == '.' || dl == '-' || dl == '+' || dl == 'e' || dl == 'E' ||
                              dl == '\n' || dl == '\r');
        builder.stats().bytes += header_bytes_;
        if (!options_->header) {
            // Names come from the width of the first record.
            const char* next = buffer_.begin();
            const char* p = buffer_.begin();
            while (p < buffer_.end() && (*p == '\n' || *p == '\r')) ++p;
            if (p < buffer_.end() && splitter_.split(p, buffer_.end(), true, next) != SplitStatus::malformed)
                ensure_names(splitter_.fields.size());
        }
        if (options_->infer_column_types && options_->schema_evolution_mode == SchemaEvolutionMode::add_new_columns) {
            builder.begin_record(0);
            bool brings_new = false;
            for (const auto& n : header_) brings_new |= builder.find(n) == BatchBuilder::unknown;
            builder.abort_record();
            if (brings_new) {
                // A column this file brings is typed as the first columns were: by inference
                // over this file's first records (the same sample bounds). Only then, so that
                // files without new columns are not sampled. Sampling names the fields of a
                // record wider than the header; the header stays as it is for mapping.
                const std::size_t names = header_.size();
                TypeInference inference;
                sample(inference);
                header_.resize(names);
                builder.set_file(std::string(builder.file()), inference.result(true));
            }
        }
        std::vector<std::string> fresh;
        for (const auto& n : header_) {
            builder.begin_record(0);
            int col = builder.find(n);
            if (col == BatchBuilder::unknown) {
                if (options_->schema_evolution_mode == SchemaEvolutionMode::fail_on_new_columns) {
                    bool differs_by_case = false;
                    for (const auto& f : builder.fields()) differs_by_case |= iequals(f.name, n);
                    if (!differs_by_case) fresh.push_back(n);
                    col = BatchBuilder::rescue;
                } else {
                    col = builder.resolve_unknown(n, ValueRef{});
                }
            }
            map_.push_back(col);
        }
        builder.abort_record();
        if (!fresh.empty()) {
            std::string names;
            for (const auto& n : fresh) names += (names.empty() ? "'" : ", '") + n + "'";
            throw_error<schema_error>("'" + name_ + "': new field" + (fresh.size() > 1 ? "s " : " ") + names +
                                      " not in the schema (schema_evolution_mode is failOnNewColumns)");
        }
    }

    std::string path_;
    std::string name_;
    const ReadOptions* options_;
    CsvSplitter splitter_;
    std::string_view text_;
    bool in_memory_ = false;
    bool opened_ = false;
    bool mapped_ = false;
    bool numbers_in_place_ = false;
    std::unique_ptr<InputFile> input_;
    BlockBuffer buffer_;
    std::vector<std::string> header_;
    std::vector<int> map_;
    std::size_t header_bytes_ = 0;
    std::uint64_t line_ = 0;
    bool done_ = false;
    bool skip_ = false;
    std::string skip_reason_;
};

}  // namespace isoflow::detail
