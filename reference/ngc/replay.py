"""A replay memory of transitions, shared by the ANGC agent and the DQN twin of chapter 5."""

from __future__ import annotations

import numpy as np

from reference.backend import xp


class ReplayMemory:
    """A ring buffer of transitions ``(o, a, r, o', D)``; the oldest is overwritten first."""

    def __init__(self, capacity, obs_dim, dtype="float64"):
        if int(capacity) != capacity or capacity < 1:
            raise ValueError(f"capacity: expected a positive integer, got {capacity}")
        if int(obs_dim) != obs_dim or obs_dim < 1:
            raise ValueError(f"obs_dim: expected a positive integer, got {obs_dim}")
        self.capacity, self.obs_dim = int(capacity), int(obs_dim)
        self.obs = np.zeros((self.capacity, self.obs_dim), dtype=dtype)
        self.next_obs = np.zeros((self.capacity, self.obs_dim), dtype=dtype)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=dtype)
        self.terminated = np.zeros(self.capacity, dtype=dtype)
        self.size = 0
        self._next = 0

    def __len__(self):
        return self.size

    def add(self, obs, action, reward, next_obs, terminated):
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        if obs.shape != (self.obs_dim,) or next_obs.shape != (self.obs_dim,):
            raise ValueError(
                f"obs, next_obs: expected shape ({self.obs_dim},), got {obs.shape}, "
                f"{next_obs.shape}"
            )
        i = self._next
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.actions[i], self.rewards[i] = int(action), float(reward)
        self.terminated[i] = float(bool(terminated))
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size, rng):
        """``batch_size`` transitions drawn uniformly with replacement, as a dict of arrays."""
        if self.size == 0:
            raise ValueError("sample: the replay memory is empty")
        idx = rng.integers(0, self.size, size=batch_size)
        return {
            "obs": xp.asarray(self.obs[idx]),
            "actions": self.actions[idx],
            "rewards": xp.asarray(self.rewards[idx]),
            "next_obs": xp.asarray(self.next_obs[idx]),
            "terminated": xp.asarray(self.terminated[idx]),
        }
