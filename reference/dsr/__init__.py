"""Chapter 3: dynamical systems reconstruction with piecewise-linear RNNs (PLRNN family)."""
