"""The LLM-to-SLM model (arXiv 2402.16844) and the plain baselines, as one module: how a prompt enters an SLM.

Prompt source, per batch of prompt token ids x [B, m] (padded, with mask):
- plain (no LLM): inputs = E_slm(x)                                   x tokenized by the SLM's own tokenizer
- LLM-to-SLM:     H = LLM_encoder(x) [B, m, d_llm] (frozen, eval mode, no grad)
                  Z = round_to_wire(out_proj(relu(in_proj(H)))) [B, m, d_slm]    projector runs_on "encoder"
                  Z = out_proj(relu(in_proj(round_to_wire(H))))  [B, m, d_slm]    projector runs_on "decoder"
                  inputs = E_slm(x) + Z ("add") or Z ("projection_only")  x tokenized by the LLM's tokenizer
  (the wire rounding sits where the encoder service's output crosses the wire: after the projector when it runs on
  the encoder, before it when it runs on the decoder; docs/bundle.md step 4)
Then, by SLM kind:
- encoder_decoder (T5): inputs is the SLM encoder's inputs_embeds; the decoder starts from
  decoder_start_token_id and runs as usual.
- decoder_only (GPT-2): the sequence is inputs (m positions) followed by the embedding of the separator
  token (decoder_start_token_id) and of each generated token; positions 0.. as GPT-2 adds them.
In both, the logits after the decoder-side input k predict answer token k+1; the answer ends with eos.
"""
import torch
from torch import nn
import torch.nn.functional as F

from data import pad

WIRE_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
PROJECTOR_PLACEMENTS = ("encoder", "decoder")


class Projector(nn.Module):
    """Linear(d_llm, d_slm) -> ReLU -> Linear(d_slm, d_slm); tensor names are the bundle's (docs/bundle.md)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.in_proj = nn.Linear(d_in, d_out)    # weight [d_out, d_in], bias [d_out]
        self.out_proj = nn.Linear(d_out, d_out)  # weight [d_out, d_out], bias [d_out]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out_proj(F.relu(self.in_proj(hidden)))


def round_to_wire(z: torch.Tensor, wire_dtype: torch.dtype) -> torch.Tensor:
    """Z as the wire delivers it (round to nearest even in wire_dtype, back to float32); the gradient passes
    straight through so training sees exactly what inference sees."""
    rounded = z.to(wire_dtype).to(z.dtype)
    return z + (rounded - z).detach()


class ConditionedSLM(nn.Module):
    """An SLM whose prompt comes either from its own embeddings (baseline) or through a frozen LLM encoder."""

    def __init__(self, slm: nn.Module, kind: str, decoder_start_token_id: int, eos_token_id: int,
                 llm_encoder: nn.Module = None, projector: Projector = None, prompt_input: str = "add",
                 wire_dtype: str = "float16", projector_runs_on: str = "encoder"):
        super().__init__()
        if kind not in ("encoder_decoder", "decoder_only"):
            raise ValueError(f"unknown SLM kind {kind!r}")
        if prompt_input not in ("add", "projection_only"):
            raise ValueError(f"unknown prompt_input {prompt_input!r}")
        if projector_runs_on not in PROJECTOR_PLACEMENTS:
            raise ValueError(f"unknown projector_runs_on {projector_runs_on!r}, expected one of {PROJECTOR_PLACEMENTS}")
        self.slm, self.kind, self.projector = slm, kind, projector
        self.start_id, self.eos_id = decoder_start_token_id, eos_token_id
        self.prompt_input, self.wire_dtype = prompt_input, WIRE_DTYPES[wire_dtype]
        self.projector_runs_on = projector_runs_on
        # A plain attribute, not a submodule: the frozen LLM is neither trained nor saved with the SLM.
        self.__dict__["llm_encoder"] = llm_encoder
        if llm_encoder is not None:
            llm_encoder.eval()
            llm_encoder.requires_grad_(False)
        self.hidden_cache = None  # example index -> H [m, d_llm], filled by cache_hidden()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.slm.get_input_embeddings()(ids)

    @torch.no_grad()
    def llm_hidden(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """H = last_hidden_state of the frozen LLM encoder (after its final layer norm) [B, m, d_llm]."""
        return self.llm_encoder(input_ids=ids, attention_mask=mask).last_hidden_state

    @torch.no_grad()
    def cache_hidden(self, examples: list, batch_size: int = 128) -> None:
        """Computes H once for training examples (the LLM is frozen, so H never changes)."""
        self.hidden_cache = {}
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            ids, mask = pad([e["prompt"] for e in batch], 0)
            hidden = self.llm_hidden(ids, mask)
            for row, example in enumerate(batch):
                self.hidden_cache[example["index"]] = hidden[row, :len(example["prompt"])].clone()

    def wire_encoding(self, hidden: torch.Tensor) -> torch.Tensor:
        """What the encoder service ships, as the decoder receives it: Z = wire(P) [B, m, d_slm] when the projector
        runs on the encoder, Hw = wire(H) [B, m, d_llm] when it runs on the decoder."""
        if self.projector_runs_on == "decoder":
            return hidden.to(self.wire_dtype).to(hidden.dtype)  # H is frozen (no grad): a plain rounding
        return round_to_wire(self.projector(hidden), self.wire_dtype)

    def projection(self, hidden: torch.Tensor) -> torch.Tensor:
        """Z [B, m, d_slm] exactly as the decoder forms it: the received encoding itself (runs_on encoder) or the
        projector applied to Hw in float32 and not rounded again (runs_on decoder)."""
        encoding = self.wire_encoding(hidden)
        return self.projector(encoding) if self.projector_runs_on == "decoder" else encoding

    def prompt_embeddings(self, examples: list, use_cache: bool = False) -> tuple:
        """(inputs [B, m, d_slm], mask [B, m]) for the prompt positions, right-padded."""
        ids, mask = pad([e["prompt"] for e in examples], 0)
        if self.llm_encoder is None:
            return self.embed(ids), mask
        if use_cache and self.hidden_cache is not None:
            hidden = torch.zeros(ids.shape[0], ids.shape[1], self.projector.in_proj.in_features)
            for row, example in enumerate(examples):
                hidden[row, :len(example["prompt"])] = self.hidden_cache[example["index"]]
        else:
            hidden = self.llm_hidden(ids, mask)
        z = self.projection(hidden)
        if self.prompt_input == "add":
            z = z + self.embed(ids)
        return z * mask.unsqueeze(-1).to(z.dtype), mask

    def loss(self, examples: list, use_cache: bool = True) -> torch.Tensor:
        """Mean token cross-entropy of answer + eos given the prompt (prompt positions carry no loss)."""
        inputs, mask = self.prompt_embeddings(examples, use_cache=use_cache)
        targets, target_mask = pad([e["answer"] + [self.eos_id] for e in examples], self.eos_id)
        decoder_ids, _ = pad([[self.start_id] + e["answer"] for e in examples], self.eos_id)
        if self.kind == "encoder_decoder":
            logits = self.slm(inputs_embeds=inputs, attention_mask=mask, decoder_input_ids=decoder_ids,
                              decoder_attention_mask=target_mask).logits
        else:
            logits = self.decoder_only_logits(inputs, mask, decoder_ids, target_mask)
        labels = targets.masked_fill(target_mask == 0, -100)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    def decoder_only_logits(self, inputs, mask, decoder_ids, decoder_mask) -> torch.Tensor:
        """Logits at the decoder-side positions of [prompt m_b | start, answer], packed per row so that each
        row's decoder side follows its own prompt directly (positions stay 0..m_b+n-1). Packing and unpacking
        are gathers, not per-row slices: a per-row slice's backward materialises a full-size zero gradient per
        row, which made GPT-2 training ~10x slower."""
        lengths = mask.sum(1, keepdim=True)  # [B, 1]
        answer_lengths = decoder_mask.sum(1, keepdim=True)
        total = int((lengths + answer_lengths).max())
        positions = torch.arange(total).unsqueeze(0)  # [1, total]
        in_prompt = positions < lengths
        prompt_index = positions.clamp(max=inputs.shape[1] - 1)
        answer_index = (positions - lengths).clamp(min=0, max=decoder_ids.shape[1] - 1)
        width = inputs.shape[-1]
        prompt_part = inputs.gather(1, prompt_index.expand(inputs.shape[0], -1).unsqueeze(-1).expand(-1, -1, width))
        answer_part = self.embed(decoder_ids.gather(1, answer_index))
        sequence = torch.where(in_prompt.unsqueeze(-1), prompt_part, answer_part)
        attention = (positions < lengths + answer_lengths).long()
        logits = self.slm(inputs_embeds=sequence, attention_mask=attention).logits
        read = (lengths + torch.arange(decoder_ids.shape[1]).unsqueeze(0)).clamp(max=total - 1)  # [B, width]
        return logits.gather(1, read.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
