"""Sinusoidal PE on randomized positions (Ruoss et al. 2023): see nn/pe/_randomized.py. Params: none."""

from posenc.nn.pe._randomized import randomized
from posenc.nn.pe.sinusoidal import SinusoidalPE

PE = randomized(SinusoidalPE, "sinusoidal")
