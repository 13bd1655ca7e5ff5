#pragma once
// Shared helpers of the binding files: conversion only, no algorithms.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

namespace scalegen::bindings {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

/// Copies a vector into a new numpy array of the given shape.
template <class T, class Alloc>
py::array_t<T> to_numpy(const std::vector<T, Alloc>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

/// Copies a numpy array into a vector.
template <class T>
std::vector<T> to_vector(const CArray<T>& a) {
  return std::vector<T>(a.data(), a.data() + a.size());
}

void bind_common(py::module_& m);
void bind_mixture(py::module_& m);
void bind_bayesnet(py::module_& m);
void bind_nn(py::module_& m);
void bind_metrics(py::module_& m);
void bind_privacy(py::module_& m);

}  // namespace scalegen::bindings
