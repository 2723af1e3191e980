"""Baselines that are not learned models: the floors every GRES model must clear."""
