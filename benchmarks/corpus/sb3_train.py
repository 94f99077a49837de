"""Stable-Baselines3 on CPU: its real console tables (``verbose=1``) and ``EvalCallback`` lines.

    python benchmarks/corpus/sb3_train.py ppo|sac STEPS   # needs stable-baselines3 (2.x) and gymnasium

``tests/data/real_sb3_ppo.log`` is ``ppo 12288``, ``real_sb3_sac.log`` ``sac 2000``.
"""

import sys

import gymnasium as gym
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import EvalCallback

torch.set_num_threads(1)
kind, steps = sys.argv[1], int(sys.argv[2])
env_id = "CartPole-v1" if kind == "ppo" else "Pendulum-v1"
evaluation = EvalCallback(gym.make(env_id), eval_freq=4096 if kind == "ppo" else 1000, n_eval_episodes=3)
model = (PPO if kind == "ppo" else SAC)("MlpPolicy", env_id, verbose=1, seed=0, device="cpu")
model.learn(total_timesteps=steps, callback=evaluation)
