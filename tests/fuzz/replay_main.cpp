// Replays fuzz inputs without libFuzzer (GCC builds, CTest): every file under the directories and files given is
// passed once to the target's LLVMFuzzerTestOneInput. A crash or abort fails the run; so does an empty corpus.
//   replay_serve_request tests/fuzz/corpus/serve_request
//
// With --mutate N it then runs N mutants of the corpus, so a build without libFuzzer (the GCC sanitizer build, which
// links the torch layers the clang fuzz build leaves out) can still fuzz: no coverage feedback, each mutant is a
// corpus input with 1-6 random edits (bytes, ranges, tokens taken from the corpus itself or a fixed list of
// boundary values, a splice with another input). Deterministic from --seed. The mutant that crashes, aborts or
// trips a sanitizer is written to --artifacts DIR (default .) as replay-crash-SEED-INDEX before the process dies.
//   replay_json_config --mutate 1000000 --seed 7 --max-seconds 600 tests/fuzz/corpus/json_config
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Present in ASan / UBSan builds; null (weak) elsewhere.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

using Bytes = std::vector<uint8_t>;

// The mutant being run and where it goes if the process dies (filled before each run; read by async-signal-safe
// code only: open / write / close).
const Bytes* g_current = nullptr;
char g_crash_path[4096] = {0};

void save_current() {
  static volatile sig_atomic_t saved = 0;
  if (saved || !g_current || !g_crash_path[0]) return;
  saved = 1;
  const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  size_t off = 0;
  while (off < g_current->size()) {
    const ssize_t n = ::write(fd, g_current->data() + off, g_current->size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  const char* msg = "replay: the crashing mutant is saved to ";
  (void)!::write(2, msg, std::strlen(msg));
  (void)!::write(2, g_crash_path, std::strlen(g_crash_path));
  (void)!::write(2, "\n", 1);
}

void on_signal(int sig) {
  save_current();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Tokens worth inserting: the corpus's own words (keys, numbers, literals) and boundary values of text and binary
// formats.
std::vector<Bytes> tokens_of(const std::vector<Bytes>& corpus) {
  std::set<std::string> words;
  for (const Bytes& in : corpus) {
    std::string w;
    for (size_t i = 0; i <= in.size(); ++i) {
      const int c = i < in.size() ? in[i] : 0;
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '+') {
        w.push_back(static_cast<char>(c));
      } else {
        if (w.size() >= 2 && w.size() <= 40 && words.size() < 4096) words.insert(w);
        w.clear();
      }
    }
  }
  for (const char* s : {"0", "-1", "1", "255", "256", "65535", "2147483647", "-2147483648", "4294967296",
                        "9223372036854775807", "18446744073709551616", "1e308", "-1e308", "1e-320", "3e110", "NaN",
                        "Infinity", "null", "true", "false", "[]", "{}", "\"\"", "[[[[", "\\u0000", "\\ud800", ",",
                        ":", "\""})
    words.insert(s);
  std::vector<Bytes> out;
  for (const std::string& w : words) out.emplace_back(w.begin(), w.end());
  for (const uint64_t v : {0x00ull, 0x7full, 0x80ull, 0xffull, 0x7fffull, 0xffffull, 0x7fffffffull, 0xffffffffull,
                           0x7fffffffffffffffull, 0xffffffffffffffffull}) {
    Bytes b(8);
    std::memcpy(b.data(), &v, 8);
    out.push_back(b);
    out.emplace_back(b.begin(), b.begin() + 4);
  }
  return out;
}

class Mutator {
 public:
  Mutator(const std::vector<Bytes>& corpus, uint64_t seed, size_t max_len)
      : corpus_(corpus), tokens_(tokens_of(corpus)), rng_(seed), max_len_(max_len) {}

  Bytes next() {
    Bytes b = corpus_[pick(corpus_.size())];
    const int edits = 1 + static_cast<int>(pick(6));
    for (int e = 0; e < edits; ++e) edit(b);
    if (b.size() > max_len_) b.resize(max_len_);
    return b;
  }

 private:
  size_t pick(size_t n) { return n ? std::uniform_int_distribution<size_t>(0, n - 1)(rng_) : 0; }

  void edit(Bytes& b) {
    const size_t pos = pick(b.size() + 1);
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << pick(8));
        break;
      case 1:  // a random byte
        if (!b.empty()) b[pick(b.size())] = static_cast<uint8_t>(pick(256));
        break;
      case 2: {  // insert random bytes
        const size_t n = 1 + pick(8);
        for (size_t i = 0; i < n; ++i) b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<uint8_t>(pick(256)));
        break;
      }
      case 3:  // erase a range
        if (pos < b.size()) b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos),
                                    b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), pos + 1 + pick(32))));
        break;
      case 4:  // duplicate a range
        if (pos < b.size()) {
          const Bytes r(b.begin() + static_cast<std::ptrdiff_t>(pos),
                        b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), pos + 1 + pick(64))));
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), r.begin(), r.end());
        }
        break;
      case 5:
      case 6: {  // a token (twice as likely as the other edits): inserted at pos, or written over the bytes there
        const Bytes& t = tokens_[pick(tokens_.size())];
        if (pick(2) == 0 || pos >= b.size()) {
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), t.begin(), t.end());
        } else {
          for (size_t i = 0; i < t.size() && pos + i < b.size(); ++i) b[pos + i] = t[i];
        }
        break;
      }
      default: {  // splice: this input's head with another's tail
        const Bytes& o = corpus_[pick(corpus_.size())];
        const size_t from = pick(o.size() + 1);
        b.resize(pos);
        b.insert(b.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
        break;
      }
    }
  }

  const std::vector<Bytes>& corpus_;
  std::vector<Bytes> tokens_;
  std::mt19937_64 rng_;
  size_t max_len_;
};

int usage(const char* self, const char* why) {
  std::fprintf(stderr, "replay: %s\nusage: %s [--mutate N] [--seed S] [--max-seconds T] [--max-len L] "
               "[--artifacts DIR] CORPUS_DIR_OR_FILE...\n", why, self);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  uint64_t mutate = 0, seed = 1, max_seconds = 0, max_len = 1 << 20;
  std::string artifacts = ".";
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mutate" || a == "--seed" || a == "--max-seconds" || a == "--max-len" || a == "--artifacts") {
      if (i + 1 >= argc) return usage(argv[0], (a + " needs a value").c_str());
      const std::string v = argv[++i];
      if (a == "--artifacts") {
        artifacts = v;
        continue;
      }
      char* end = nullptr;
      errno = 0;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || v[0] == '-') return usage(argv[0], (a + " takes a whole number, not '" + v + "'").c_str());
      (a == "--mutate" ? mutate : a == "--seed" ? seed : a == "--max-seconds" ? max_seconds : max_len) = n;
    } else if (fs::is_directory(a)) {
      for (const auto& e : fs::recursive_directory_iterator(a))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(a)) {
      files.push_back(a);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[i]);
      return 2;
    }
  }
  if (files.empty()) return usage(argv[0], "no inputs (give the corpus directories)");
  std::sort(files.begin(), files.end());  // the same order, so --seed reproduces
  std::vector<Bytes> corpus;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    corpus.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(corpus.back().data(), corpus.back().size());
  }
  std::printf("replayed %zu inputs: no crash\n", files.size());
  if (mutate == 0) return 0;

  std::error_code ec;
  fs::create_directories(artifacts, ec);
  if (!fs::is_directory(artifacts))
    return usage(argv[0], ("--artifacts " + artifacts + ": cannot create the folder for crashing mutants").c_str());
  for (const int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_signal);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
  Mutator mutator(corpus, seed, max_len);
  const auto start = std::chrono::steady_clock::now();
  uint64_t ran = 0;
  for (; ran < mutate; ++ran) {
    if (max_seconds && (ran & 255) == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::seconds(max_seconds))
      break;
    const Bytes input = mutator.next();
    std::snprintf(g_crash_path, sizeof g_crash_path, "%s/replay-crash-%llu-%llu", artifacts.c_str(),
                  static_cast<unsigned long long>(seed), static_cast<unsigned long long>(ran));
    g_current = &input;
    LLVMFuzzerTestOneInput(input.data(), input.size());
    g_current = nullptr;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("ran %llu mutants (seed %llu) in %.0f s, %.0f/s: no crash\n", static_cast<unsigned long long>(ran),
              static_cast<unsigned long long>(seed), secs, secs > 0 ? ran / secs : 0.0);
  return 0;
}
