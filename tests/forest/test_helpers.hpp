// Shared helpers of the forest tests: temporary folders, running Python and the program.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "catch.hpp"

namespace isoflow_test {

// A fresh folder under the system's temporary directory, removed at the end of the scope.
class TempDir {
public:
    explicit TempDir(const std::string& tag) {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("isoflow_" + tag + "_" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

inline std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs a shell command; returns its exit status, its stdout and stderr in files.
struct CommandResult {
    int status;
    std::string out;
    std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The lines of `text`, without their newlines (a last line without one counts too).
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        lines.push_back(text.substr(start, end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return lines;
}

inline CommandResult run_command(const std::string& command, const TempDir& dir) {
    const std::string out = dir / "stdout.txt", err = dir / "stderr.txt";
    const int raw = std::system((command + " > " + quote(out) + " 2> " + quote(err)).c_str());
    const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return {status, slurp(out), slurp(err)};
}

inline std::string python() { return ISOFLOW_PYTHON; }
inline std::string source_path(const std::string& relative) {
    return (std::filesystem::path(ISOFLOW_SOURCE_DIR) / relative).string();
}

// True where /usr/bin/python3 with scikit-learn is present (the test command installs it).
inline bool have_sklearn() {
    return std::system((quote(python()) + " -c 'import sklearn, pandas' > /dev/null 2>&1").c_str()) == 0;
}

}  // namespace isoflow_test
