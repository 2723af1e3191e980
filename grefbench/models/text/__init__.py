"""Text encoders shared by model families: BERT, its tokenizer and packaged pretrained weights."""
