"""knob's settings-model trainer: data, tokenizer, the `mu` model in JAX, GGUF export."""
