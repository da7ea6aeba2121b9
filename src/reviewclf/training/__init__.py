"""Training: data splits, tokenizer fitting, models, the loop and the run directory. Needs torch."""
