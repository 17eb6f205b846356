"""Exercise 4.4: stochastic detailed-balance residuals along sequences (eqs. 4.11, 4.15).

Check your solution with ``python -m exercises.check ex04_4``.
"""

import numpy as np  # noqa: F401


def sdb_residuals(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized, log_reward):
    """One residual per transition of each sequence's chain of prefixes, time-major.

    Inputs (K prefixes per chain, B sequences, V tokens)
        log_flows     (K, B): log F at prefixes 0..K-1 of each chain
        fwd_logits    (K, B, V): logits of the forward policy pi(a | prefix_k) (intended token)
        bwd_logits    (K, B, V): logits of the backward policy P_B(a | prefix_k): which
                      intended token led to prefix_k from its (unique) parent
        dyn_logprobs  (K - 1, B, V): log Phat(x | prefix_k, a_{k+1}), ALREADY log-softmaxed;
                      or None for the deterministic DB baseline (drop that term)
        intended      (K, B) int: a_{k+1} = intended[k + 1] is the token the policy proposed at
                      prefix k; row 0 is not used
        realized      (K, B) int: x_{k+1} = realized[k + 1] is the token the environment
                      appended there; row 0 is not used
        log_reward    (B,): log R of each complete sequence (already floored)

    Returns r, array (K - 1, B): for k = 0..K-2, with a = intended[k + 1], x = realized[k + 1],

        (4.15)  r_k = log F_k + log pi_k[a] + log Phat_k[x] - g_k - log P_B,{k+1}[a]
                g_k = log F_{k+1} for k < K - 2,    g_{K-2} = log R

    where log pi_k = log_softmax(fwd_logits[k]) and log P_B,k = log_softmax(bwd_logits[k]).
    Without the Phat term this is detailed balance (4.11) with F(x) := R(x).

    Check: compared with ``reference.gflownet.losses.stochastic_db_loss`` on chains with
    K in {2, 5, 6, 8, 9}, with and without the dynamics term, noisy tokens and logits of size
    ~50; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 4.4: implement sdb_residuals (eq. 4.15)")
