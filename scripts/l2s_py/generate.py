"""Greedy decoding (KV-cached, batched) and held-out evaluation: BLEU (sacrebleu), exact match, time."""
import time

import sacrebleu
import torch

from model import ConditionedSLM


@torch.no_grad()
def greedy_batch(model: ConditionedSLM, examples: list, max_new_tokens: int) -> list:
    """Greedy answer ids (eos excluded) for a batch. Decoder-only batches must share one prompt length, so no
    padding ever shifts a position; greedy() groups them that way."""
    inputs, mask = model.prompt_embeddings(examples)
    batch = inputs.shape[0]
    start = torch.full((batch, 1), model.start_id, dtype=torch.long)
    if model.kind == "encoder_decoder":
        encoder_outputs = model.slm.get_encoder()(inputs_embeds=inputs, attention_mask=mask)
        out = model.slm(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=start, use_cache=True)
    else:
        if int(mask.sum(1).min()) != inputs.shape[1]:
            raise ValueError("decoder-only greedy_batch needs prompts of one length")
        # Prompt, separator and every generated token but the last need a position embedding.
        max_new_tokens = min(max_new_tokens, model.slm.config.n_positions - inputs.shape[1])
        out = model.slm(inputs_embeds=torch.cat([inputs, model.embed(start)], dim=1), use_cache=True)
    generated = []
    finished = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_new_tokens):
        next_ids = out.logits[:, -1].argmax(-1)
        generated.append(next_ids)
        finished |= next_ids == model.eos_id
        if bool(finished.all()):
            break
        step = next_ids.unsqueeze(1)
        if model.kind == "encoder_decoder":
            out = model.slm(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=step,
                            cache=out.cache, use_cache=True)
        else:
            out = model.slm(input_ids=step, cache=out.cache, use_cache=True)
    ids = torch.stack(generated, dim=1).tolist()
    return [row[:row.index(model.eos_id)] if model.eos_id in row else row for row in ids]


def greedy(model: ConditionedSLM, examples: list, max_new_tokens: int, batch_size: int) -> list:
    """Greedy answers for all examples, in input order."""
    model.eval()
    key = (lambda e: len(e["prompt"])) if model.kind == "decoder_only" else (lambda e: 0)
    groups = {}
    for position, example in enumerate(examples):
        groups.setdefault(key(example), []).append(position)
    results = [None] * len(examples)
    for positions in groups.values():
        for start in range(0, len(positions), batch_size):
            chunk = positions[start:start + batch_size]
            for position, ids in zip(chunk, greedy_batch(model, [examples[p] for p in chunk], max_new_tokens)):
                results[position] = ids
    return results


def evaluate(model: ConditionedSLM, examples: list, detokenize, max_new_tokens: int, batch_size: int = 64,
             timing_examples: int = 0) -> dict:
    """BLEU and exact match of greedy answers against the references; optionally the mean batch-1 latency."""
    hypotheses = [detokenize(ids) for ids in greedy(model, examples, max_new_tokens, batch_size)]
    references = [e["response"] for e in examples]
    result = {"examples": len(examples),
              "bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
              "exact_match": round(100.0 * sum(h == r for h, r in zip(hypotheses, references)) / len(examples), 2)}
    if timing_examples:
        subset = examples[:timing_examples]
        tokens, begin = 0, time.perf_counter()
        for example in subset:
            tokens += len(greedy_batch(model, [example], max_new_tokens)[0]) + 1
        elapsed = time.perf_counter() - begin
        result["ms_per_example_batch1"] = round(1000 * elapsed / len(subset), 2)
        result["ms_per_token_batch1"] = round(1000 * elapsed / tokens, 3)
    result["samples"] = [{"prompt_ids": e["prompt"], "hypothesis": h, "reference": r}
                         for e, h, r in list(zip(examples, hypotheses, references))[:3]]
    return result
