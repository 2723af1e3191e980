"""Image backbones shared by model families: LAVT's multimodal Swin with pixel-word attention."""
