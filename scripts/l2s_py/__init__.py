"""Python reference of l2s's LLM-to-SLM method: data, bundle format, conditioned SLM, training, evaluation."""
