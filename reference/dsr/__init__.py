"""Chapter 3: dynamical systems reconstruction with piecewise-linear RNNs.

``models`` (PLRNN, ALRNN, shallow PLRNN; ``dendritic``: dendPLRNN), ``forcing`` (sparse and
generalized teacher forcing with hand-derived BPTT, regularisers, adaptive alpha),
``kernels`` (numba twins), ``train``, ``experiments``, ``cli``; ``data``, ``metrics`` (with
``lyapunov`` and the input ``checks``), ``symbolic``, ``plots`` complete the chapter.
"""
