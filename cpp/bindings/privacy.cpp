#include <pybind11/stl.h>

#include <array>
#include <stdexcept>
#include <string>

#include "bindings.hpp"
#include "scalegen/common/limits.hpp"
#include "scalegen/privacy/discrete_noise.hpp"

namespace scalegen::bindings {

using namespace scalegen::privacy;

void bind_privacy(py::module_& m) {
  // The GIL stays held: a stream is one position in one keystream, never shared by two threads.
  py::class_<ChaCha20Stream>(m, "PrivacyNoiseStream", py::module_local(),
                             "A ChaCha20 keystream and the exact discrete samplers drawing from it.")
      .def(py::init([](const py::bytes& key) {
             const std::string k = key;
             if (k.size() != 32) throw std::invalid_argument("the key must be 32 bytes");
             std::array<std::uint8_t, 32> a{};
             std::copy(k.begin(), k.end(), a.begin());
             return ChaCha20Stream(a);
           }),
           py::arg("key"))
      .def_property_readonly("words_used", &ChaCha20Stream::words_used, "32-bit words drawn so far.")
      .def(
          "words",
          [](ChaCha20Stream& s, std::int64_t n) {
            check_tensor_bytes(n, 4, "keystream words");
            py::array_t<std::uint32_t> out(n);
            for (std::int64_t i = 0; i < n; ++i) out.mutable_data()[i] = s.next_u32();
            return out;
          },
          py::arg("n"), "The next n keystream words.")
      .def(
          "discrete_laplace",
          [](ChaCha20Stream& s, std::uint64_t num, std::uint64_t den, std::int64_t n) {
            const auto x = discrete_laplace_n(s, num, den, n);
            return to_numpy(x, {py::ssize_t(n)});
          },
          py::arg("num"), py::arg("den"), py::arg("n"), "n draws of the discrete Laplace of scale num/den.")
      .def(
          "discrete_gaussian",
          [](ChaCha20Stream& s, std::uint64_t num, std::uint64_t den, std::int64_t n) {
            const auto x = discrete_gaussian_n(s, num, den, n);
            return to_numpy(x, {py::ssize_t(n)});
          },
          py::arg("num"), py::arg("den"), py::arg("n"), "n draws of the discrete Gaussian with sigma^2 = num/den.")
      .def(
          "permute_and_flip",
          [](ChaCha20Stream& s, const CArray<std::int64_t>& scores, std::uint64_t eps_num, std::uint64_t eps_den,
             std::uint64_t sensitivity) {
            if (scores.ndim() != 1) throw std::invalid_argument("the scores must be 1-D");
            return permute_and_flip(s, scores.data(), scores.shape(0), eps_num, eps_den, sensitivity);
          },
          py::arg("scores"), py::arg("eps_num"), py::arg("eps_den"), py::arg("sensitivity"),
          "Permute-and-flip over integer scores with epsilon eps_num/eps_den: the chosen index.");
}

}  // namespace scalegen::bindings
