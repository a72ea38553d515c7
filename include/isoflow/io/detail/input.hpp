// Reading files in blocks, plain or gzip-compressed (zlib), into a buffer that keeps a few
// readable bytes past its end, which simdjson requires.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "isoflow/core/error.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow::detail {

inline constexpr std::size_t input_padding = 64;  // >= SIMDJSON_PADDING

class InputFile {
public:
    InputFile(std::string path, Compression compression) : path_(std::move(path)) {
        file_ = std::fopen(path_.c_str(), "rb");
        if (!file_)
            throw_error<io_error>("cannot open '" + path_ + "': " + std::strerror(errno));
        bool gzip = compression == Compression::gzip;
        if (compression == Compression::detect) {
            unsigned char magic[2] = {0, 0};
            const std::size_t n = std::fread(magic, 1, 2, file_);
            gzip = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
            std::rewind(file_);
        }
        if (gzip) {
            std::fclose(file_);
            file_ = nullptr;
            gz_ = gzopen(path_.c_str(), "rb");
            if (!gz_) throw_error<io_error>("cannot open '" + path_ + "' as gzip: " + std::strerror(errno));
            gzbuffer(gz_, 1u << 17);
        } else {
            std::setvbuf(file_, nullptr, _IONBF, 0);
        }
    }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    ~InputFile() {
        if (file_) std::fclose(file_);
        if (gz_) gzclose(gz_);
    }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }

    // Reads up to n bytes; 0 means end of file. Errors (I/O, corrupt gzip) throw io_error.
    [[nodiscard]] std::size_t read(char* dst, std::size_t n) {
        if (gz_) {
            std::size_t total = 0;
            while (total < n) {
                const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - total, 1u << 30));
                const int got = gzread(gz_, dst + total, chunk);
                if (got < 0) {
                    int code = 0;
                    const char* msg = gzerror(gz_, &code);
                    throw_error<io_error>("cannot read '" + path_ + "': gzip data is corrupt (" +
                                          (msg ? msg : "unknown error") + ")");
                }
                if (got == 0) {
                    int code = Z_OK;
                    const char* msg = gzerror(gz_, &code);
                    if (code != Z_OK && code != Z_STREAM_END)
                        throw_error<io_error>("cannot read '" + path_ + "': gzip data is corrupt or truncated (" +
                                              (msg ? msg : "unknown error") + ")");
                    break;
                }
                total += static_cast<std::size_t>(got);
            }
            return total;
        }
        const std::size_t got = std::fread(dst, 1, n, file_);
        if (got < n && std::ferror(file_))
            throw_error<io_error>("cannot read '" + path_ + "': " + std::strerror(errno));
        return got;
    }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
    gzFile gz_ = nullptr;
};

// A growable window over a file: [begin, end) holds unconsumed bytes, followed by at least
// input_padding readable bytes.
class BlockBuffer {
public:
    // Blocks of 256 KiB: each read lands in cache (level 2) just before it is parsed, where a
    // large block would be copied out to memory and read back.
    explicit BlockBuffer(std::size_t block = std::size_t{1} << 18) : block_(block) {}

    [[nodiscard]] const char* begin() const noexcept { return data_.get() + begin_; }
    [[nodiscard]] const char* end() const noexcept { return data_.get() + end_; }
    [[nodiscard]] std::string_view view() const noexcept { return {begin(), end_ - begin_}; }
    [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
    // Bytes readable from `p` onwards, padding included (for simdjson's padded_string_view).
    [[nodiscard]] std::size_t capacity_from(const char* p) const noexcept {
        return static_cast<std::size_t>(data_.get() + capacity_ + input_padding - p);
    }
    [[nodiscard]] bool eof() const noexcept { return eof_; }

    void consume(std::size_t n) noexcept { begin_ += n; }
    void consume_to(const char* p) noexcept { begin_ = static_cast<std::size_t>(p - data_.get()); }

    // Moves the unconsumed bytes to the front and reads at least one more block (growing the
    // buffer when the unconsumed part is large). Returns false at end of file.
    bool fill(InputFile& in) {
        if (eof_) return false;
        const std::size_t keep = end_ - begin_;
        if (!data_ || keep + block_ > capacity_) {
            const std::size_t new_capacity = std::max(keep + block_, capacity_ * 2);
            std::unique_ptr<char[]> fresh(new char[new_capacity + input_padding]);
            if (keep) std::memcpy(fresh.get(), data_.get() + begin_, keep);
            data_ = std::move(fresh);
            capacity_ = new_capacity;
        } else if (keep && begin_) {
            std::memmove(data_.get(), data_.get() + begin_, keep);
        }
        begin_ = 0;
        end_ = keep;
        const std::size_t got = in.read(data_.get() + end_, std::min(capacity_ - end_, std::max(block_, keep)));
        end_ += got;
        std::memset(data_.get() + end_, 0, input_padding);
        if (got == 0) eof_ = true;
        return got > 0;
    }

    // Holds a copy of `text` as the whole input (for readers over in-memory text).
    void assign(std::string_view text) {
        data_.reset(new char[text.size() + input_padding]);
        if (!text.empty()) std::memcpy(data_.get(), text.data(), text.size());
        std::memset(data_.get() + text.size(), 0, input_padding);
        capacity_ = text.size();
        begin_ = 0;
        end_ = text.size();
        eof_ = true;
    }

    // Reads the rest of the file.
    void fill_all(InputFile& in) {
        while (fill(in)) {
        }
    }

private:
    std::size_t block_;
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    bool eof_ = false;
};

}  // namespace isoflow::detail
