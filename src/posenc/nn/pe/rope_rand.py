"""RoPE on randomized positions (Ruoss et al. 2023): see nn/pe/_randomized.py. Params: those of `rope`."""

from posenc.nn.pe._randomized import randomized
from posenc.nn.pe.rope import RoPE

PE = randomized(RoPE, "rope")
