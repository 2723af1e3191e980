"""LAVT (Yang et al., CVPR 2022; yz93/LAVT-RIS) in pure PyTorch, loading the official checkpoints unchanged."""
